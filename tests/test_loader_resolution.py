"""The root's own dynamic linker resolves the libraries of the root's executables the same way
through ldcache's /etc/ld.so.cache as through the one the root's ldconfig writes.

Each root (a Debian ``--foreign`` debootstrap tree: packages unpacked, executables present)
gets an extra library directory from a new ``ld.so.conf.d`` file holding a copy of the root's
``libz.so.1`` — plain and in a legacy ``tls`` subdirectory — so resolving ``libz.so.1``
depends on the cache (without it the loader finds the system copy).  The loader runs
chrooted into a working copy (under qemu-user, copied into the root, where foreign) with an
empty environment, ``--list`` for a sample of executables and ``LD_DEBUG=libs`` for the
search itself; outputs are compared with the load addresses removed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest
from support import debroots

from ldcache.format import parse

PROJECT = Path(__file__).resolve().parent.parent

#: (suite, arch) → the loader path inside the root.
ROOTS: Dict[tuple, str] = {
    ("bookworm", "arm64"): "/lib/ld-linux-aarch64.so.1",
    ("bookworm", "s390x"): "/lib/ld64.so.1",
    ("bullseye", "amd64"): "/lib64/ld-linux-x86-64.so.2",
    ("bookworm", "armhf"): "/lib/ld-linux-armhf.so.3",
    ("bookworm", "ppc64el"): "/lib64/ld64.so.2",
    ("trixie", "amd64"): "/lib64/ld-linux-x86-64.so.2",
}
#: Executables every minbase root has; dpkg-deb and apt need libz.so.1.
PROGRAMS = ["/usr/bin/dpkg-deb", "/usr/bin/apt", "/usr/bin/dpkg", "/bin/bash", "/bin/ls",
            "/usr/bin/gpgv", "/usr/bin/perl", "/sbin/fdisk", "/usr/bin/tar", "/bin/mount",
            "/usr/bin/find", "/usr/bin/sort"]
ADDRESS = re.compile(rb" ?\(0x[0-9a-f]+\)")
PID = re.compile(rb"^\s*\d+:", re.M)


def prepare(suite: str, arch: str, dest: Path) -> Path:
    root = debroots.working_copy(suite, arch, dest, hardlink=True)
    libz = Path(os.path.realpath(root / "lib" / debroots.TRIPLET[arch] / "libz.so.1"))
    (root / "etc/ld.so.conf.d/00-first.conf").write_text("/opt/first\n")
    for sub in ("", "tls"):
        d = root / "opt/first" / sub
        d.mkdir(parents=True)
        shutil.copyfile(libz, d / "libz.so.1")
    qemu = debroots.QEMU[arch]
    if qemu is not None:
        qemu_path = shutil.which(qemu)
        assert qemu_path is not None  # require_root_ldconfig skipped otherwise
        shutil.copy2(qemu_path, root / qemu)  # static: runs inside the chroot
    return root


def run_loader(root: Path, arch: str, loader: str, args: List[str],
               debug: bool = False) -> bytes:
    """``loader ARGS`` chrooted into ``root`` with an empty environment (LD_DEBUG=libs if
    ``debug``): stdout and stderr, load addresses and pids removed."""
    qemu = debroots.QEMU[arch]
    env: Dict[str, str] = {}
    cmd = ["/usr/sbin/chroot", str(root)]
    if qemu is not None:
        cmd.append("/" + qemu)
        if debug:
            cmd += ["-E", "LD_DEBUG=libs"]
    elif debug:
        env["LD_DEBUG"] = "libs"
    proc = subprocess.run(cmd + [loader, *args], capture_output=True, env=env, timeout=120)
    out = proc.stdout + b"\n--stderr--\n" + proc.stderr
    assert proc.returncode == 0, out.decode(errors="replace")
    return PID.sub(b"", ADDRESS.sub(b"", out))


def sample(root: Path) -> List[str]:
    found = []
    for prog in PROGRAMS:
        p = root / prog.lstrip("/")
        if p.is_file() or p.is_symlink():
            real = Path(os.path.realpath(p))
            assert str(real).startswith(str(root.resolve())), prog
            with open(real, "rb") as f:
                assert f.read(4) == b"\x7fELF", f"{prog} is not unpacked"
            found.append(prog)
    assert len(found) >= 8, found
    return found


@pytest.mark.slow
@pytest.mark.parametrize("suite,arch", list(ROOTS), ids=[f"{s}-{a}" for s, a in ROOTS])
def test_loader_resolves_the_same_with_either_cache(tmp_path, suite, arch):
    debroots.require_root(suite, arch)
    debroots.require_root_ldconfig(arch)
    if not Path("/usr/sbin/chroot").exists():
        pytest.skip("no /usr/sbin/chroot")
    loader = ROOTS[(suite, arch)]
    theirs = prepare(suite, arch, tmp_path / "glibc")
    ours = prepare(suite, arch, tmp_path / "ldcache")
    none = prepare(suite, arch, tmp_path / "nocache")
    debroots.run_root_ldconfig(theirs, arch, [])
    got = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(ours)],
                         capture_output=True, cwd=str(PROJECT))
    assert got.returncode == 0, got.stderr.decode()
    (none / "etc/ld.so.cache").unlink(missing_ok=True)
    our_cache = parse((ours / "etc/ld.so.cache").read_bytes())
    assert any(e.path == b"/opt/first/libz.so.1" for e in our_cache.entries)

    programs = sample(theirs)
    for prog in programs:
        listed = run_loader(ours, arch, loader, ["--list", prog])
        assert listed == run_loader(theirs, arch, loader, ["--list", prog]), prog
        assert b"not found" not in listed, prog
    # The search itself, for a program that needs libz.so.1: through the cache, to /opt/first.
    traced = run_loader(ours, arch, loader, ["--list", "/usr/bin/dpkg-deb"], debug=True)
    assert traced == run_loader(theirs, arch, loader, ["--list", "/usr/bin/dpkg-deb"], debug=True)
    assert b"search cache=/etc/ld.so.cache" in traced
    assert re.search(rb"libz\.so\.1 => /opt/first/(tls/)?libz\.so\.1", traced), traced.decode()
    # Control: without a cache the loader finds the system copy, so the cache did matter.
    control = run_loader(none, arch, loader, ["--list", "/usr/bin/dpkg-deb"])
    assert b"/opt/first/" not in control and b"libz.so.1 => /" in control
