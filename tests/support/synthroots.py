"""Synthetic roots shaped like real images: the machine's libc and loader plus gcc-built
libraries in every shape ldconfig has rules for.  Built the same way twice, two copies have
the same readdir order, so one can be given to glibc's ldconfig and one to ldcache."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .gcclib import have_gcc, install_library

HOST_TRIPLET = "x86_64-linux-gnu"


def host_libc_dir() -> Path:
    return Path("/lib") / HOST_TRIPLET


def copy_host_runtime(root: Path) -> None:
    """The machine's libc and dynamic loader, where a Debian amd64 image keeps them."""
    libdir = root / "lib" / HOST_TRIPLET
    libdir.mkdir(parents=True, exist_ok=True)
    for name in ("libc.so.6", "ld-linux-x86-64.so.2"):
        shutil.copy2(os.path.realpath(host_libc_dir() / name), libdir / name)
    (root / "lib64").mkdir(exist_ok=True)
    os.symlink(f"/lib/{HOST_TRIPLET}/ld-linux-x86-64.so.2", root / "lib64/ld-linux-x86-64.so.2")
    (root / "usr/lib" / HOST_TRIPLET).mkdir(parents=True, exist_ok=True)
    (root / "etc").mkdir(exist_ok=True)


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)


def image_root(root: Path) -> Path:
    """A root with nearly every shape of library directory ldconfig has a rule for."""
    copy_host_runtime(root)
    write(root / "etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n/opt/dup\n/opt/dup/\n"
          "/opt/../opt/dup2\n/opt/missing\n  /opt/lib2 # trailing comment\n")
    write(root / "etc/ld.so.conf.d/a.conf", "# first\n/opt/lib1\n\n\t/opt/hw\n")
    write(root / "etc/ld.so.conf.d/b.conf", "include nested/*.conf\n")
    write(root / "etc/ld.so.conf.d/nested/c.conf", "/opt/nested\n/usr/local/lib\n")
    write(root / "etc/ld.so.conf.d/B.conf", "/opt/upper\n")
    lib1 = root / "opt/lib1"
    for version in ("1.2.0", "1.10.0", "1.9.0"):
        install_library(lib1 / f"libver.so.{version}", "libver.so.1", symbol=f"v{version[2:4]}"
                        .replace(".", "_"))
    install_library(lib1 / "libnosoname.so", None)
    install_library(lib1 / "libfoo.so.1.0", "libfoo.so.1")
    os.symlink("libfoo.so.1.0", lib1 / "libfoo.so")          # a development link
    os.symlink("libver.so.1.2.0", lib1 / "libverdev.so")      # a link not named by its soname
    os.symlink("missing.so.9", lib1 / "libstale.so.9")        # dangling, removed
    os.symlink("missing.so", lib1 / "libstale2.so")           # dangling, kept (.so only)
    os.symlink("libloop.so.1", lib1 / "libloop.so.1")         # a loop
    os.symlink("/opt/lib2/libreal.so.3", lib1 / "libabs.so.3")            # absolute, in-root
    os.symlink("../../../../../opt/lib2/libreal.so.3", lib1 / "libup.so.3")  # ../ past the top
    write(lib1 / "libscript.so", "/* GNU ld script */\nGROUP ( libfoo.so.1 )\n")
    write(lib1 / "libjunk.so.1", "this is not an ELF file at all, just text\n" * 3)
    write(lib1 / "libempty.so.1", b"")
    write(lib1 / "libtiny.so.1", b"\x7fELF\x02\x01")
    install_library(lib1 / "libtmp.so.1.dpkg-new", "libtmp.so.1")
    install_library(lib1 / "libtmp2.so.1;5f3a", "libtmp2.so.1")
    install_library(lib1 / "libpre.so.1.#prelink#.Ab12Cd", "libpre.so.1")
    install_library(lib1 / "notalib.so.1", "notalib.so.1")
    (lib1 / "libdir.so.1").mkdir()
    install_library(lib1 / "ld-foo.so", "ld-foo.so")
    if have_gcc("-m32"):
        install_library(lib1 / "lib32.so.1", "lib32.so.1", flags=["-m32", "-nostdlib"])
        install_library(lib1 / "lib32c.so.1", "lib32c.so.1", flags=["-m32"])
    lib2 = root / "opt/lib2"
    install_library(lib2 / "libreal.so.3", "libreal.so.3")
    install_library(lib2 / "libver.so.1.0.0", "libver.so.1")   # same soname, later directory
    install_library(lib2 / "libwrong.so.2", "libwrong.so.2")
    install_library(lib2 / "libwrongtarget.so.2.0", "libwrong.so.2")
    write(lib2 / "libfile.so.5", b"")  # a regular file where a soname link would go
    install_library(lib2 / "libfile.so.5.1", "libfile.so.5")
    hw = root / "opt/hw"
    install_hwcaps_levels(hw, "libisa.so.1.0", "libonlyv2.so.1")
    (hw / "glibc-hwcaps/empty").mkdir()
    (hw / "glibc-hwcaps/.hidden").mkdir()
    install_library(root / "opt/dup/libdup.so.1", "libdup.so.1")
    (root / "opt/dup2").mkdir(parents=True)
    install_library(root / "opt/nested/libnested.so.7", "libnested.so.7")
    install_library(root / "opt/upper/libupper.so.1", "libupper.so.1")
    install_library(root / "usr/local/lib/liblocal.so.1", "liblocal.so.1")
    install_library(root / f"usr/lib/{HOST_TRIPLET}/libsys.so.2", "libsys.so.2")
    os.symlink("/opt/lib2", root / "opt/lib2link")
    return root


def install_hwcaps_levels(directory: Path, isa_file: str, onlyv2_file: str) -> None:
    """``libisa.so.1`` in ``directory`` and, as ``isa_file``, in its x86-64-v2/v3/v4
    glibc-hwcaps subdirectories (built for that level), plus ``libonlyv2.so.1`` (as
    ``onlyv2_file``) in x86-64-v2 only."""
    install_library(directory / "libisa.so.1", "libisa.so.1")
    for level in ("v2", "v3", "v4"):
        install_library(directory / f"glibc-hwcaps/x86-64-{level}/{isa_file}", "libisa.so.1",
                        flags=[f"-Wl,-z,x86-64-{level}"])
    install_library(directory / f"glibc-hwcaps/x86-64-v2/{onlyv2_file}", "libonlyv2.so.1",
                    flags=["-Wl,-z,x86-64-v2"])


def tree(root: Path, skip: tuple[str, ...] = ("var/cache/ldconfig",)) -> dict[str, str]:
    """Every path under ``root`` → what it is (symlink target, file size, dir), but for the
    ``skip`` directories and what is in them (by default the aux caches' directory, which
    glibc's ldconfig and ``ldcache build`` each fill with their own, and the hook leaves
    alone)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if any(rel == s or rel.startswith(s + "/") for s in skip):
            continue
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            key = os.path.normpath(os.path.join(rel, name))
            if key in skip:
                continue
            if os.path.islink(p):
                out[key] = "-> " + os.readlink(p)
            elif os.path.isdir(p):
                out[key] = "dir"
            else:
                out[key] = f"file {os.path.getsize(p)}"
    return out


def host_generator(ldconfig: str) -> bytes:
    """The generator string the machine's ldconfig writes."""
    import tempfile

    from ldcache.format import read_cache
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([ldconfig, "-r", d, "-X", "-C", "/c"], check=True, capture_output=True)
        gen = read_cache(os.path.join(d, "c")).generator
        assert gen is not None
        return gen
