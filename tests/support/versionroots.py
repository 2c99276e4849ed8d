"""Synthetic roots whose ldconfig results differ between glibc versions, and the runners that
compare ``ldcache build --glibc V`` with a real ldconfig of version V on twin copies.

The real ldconfigs are the machine's own (Debian 2.36) and the static ones inside the cached
Debian bullseye (2.31), trixie (2.41) and sid (2.43) amd64 roots: static binaries that run
natively here with ``-r ROOT`` on any root, not only their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from . import debroots
from .gcclib import have_gcc, install_library
from .synthroots import copy_host_runtime, host_generator, image_root, write

PROJECT = Path(__file__).resolve().parent.parent.parent

#: glibc version → Debian suite whose amd64 root carries that ldconfig (None: the machine's).
SUITE_OF: Dict[str, Optional[str]] = {"2.31": "bullseye", "2.36": None, "2.41": "trixie",
                                      "2.43": "sid"}
VERSIONS = tuple(SUITE_OF)


@dataclass(frozen=True)
class Oracle:
    version: str
    ldconfig: str
    generator: Optional[bytes]

    def run(self, root: Path, args: Sequence[str]) -> "subprocess.CompletedProcess[bytes]":
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        return subprocess.run([self.ldconfig, "-r", str(root), *args], capture_output=True,
                              env=env, timeout=120)

    def warnings(self, stderr: bytes) -> List[str]:
        prefix = self.ldconfig + ": "
        return sorted(line[len(prefix):] for line in stderr.decode(errors="replace").splitlines()
                      if line.startswith(prefix))


def oracle(version: str) -> Oracle:
    """The real ldconfig of ``version`` (raises debroots.RootUnavailable if it is missing)."""
    suite = SUITE_OF[version]
    if suite is None:
        ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
        if not os.path.exists(ldconfig):
            raise debroots.RootUnavailable("no ldconfig on this machine")
        return Oracle(version, ldconfig, host_generator(ldconfig))
    root = debroots.debian_root(suite, "amd64")
    return Oracle(version, str(debroots.find_ldconfig(root)),
                  debroots.root_generator(root, "amd64"))


def run_ldcache(*args: str) -> "subprocess.CompletedProcess[bytes]":
    return subprocess.run([sys.executable, "-m", "ldcache", *args], capture_output=True,
                          cwd=str(PROJECT), timeout=120)


def ldcache_warnings(stderr: bytes) -> List[str]:
    return sorted(line[len("ldcache: "):] for line in stderr.decode(errors="replace").splitlines()
                  if line.startswith("ldcache: "))


# --- roots ---------------------------------------------------------------------------------

#: a.out ZMAGIC (0413) in the low 16 bits of the first word; ldconfig ≤2.36 calls it libc4.
AOUT_ZMAGIC = b"\x0b\x01\x64\x00" + bytes(124)


def versions_root(root: Path) -> Path:
    """A root with one of each input whose result depends on the glibc version (spec §10):
    ``hwcap`` conf lines (≤2.31 defines a name, later a message), ``dir=TYPE`` (≤2.36), a.out
    and class-less i386 libraries (libc4/ELF/libc5 ≤2.36), ``ld64.so.*`` names (≥2.34),
    package-manager temporary names (≥2.39), ``-gdb.scm`` files (≥2.40), legacy ``tls`` and
    platform subdirectories (≤2.36) and a configured ``tls`` directory."""
    copy_host_runtime(root)
    (root / "var/cache/ldconfig").mkdir(parents=True, exist_ok=True)
    write(root / "etc/ld.so.conf",
          "hwcap 1 myhw\n/opt/hwl\n/opt/t5=libc5\n/opt/t6=glibc2\n/opt/tx=bogus\n/opt/v\n"
          "/opt/v/conftls/tls\n")
    hwl = root / "opt/hwl"
    install_library(hwl / "libhw.so.1", "libhw.so.1")
    install_library(hwl / "myhw/libhw.so.1", "libhw.so.1", symbol="myhw")
    install_library(hwl / "tls/libhw.so.1", "libhw.so.1", symbol="tls")
    install_library(hwl / "tls/myhw/libhw.so.1", "libhw.so.1", symbol="tlsmyhw")
    install_library(hwl / "i686/libhw.so.1", "libhw.so.1", symbol="i686")
    install_library(hwl / "notahwcap/libhidden.so.1", "libhidden.so.1")
    m32 = have_gcc("-m32")
    for d in ("t5", "t6", "tx"):
        if m32:
            install_library(root / f"opt/{d}/lib{d}.so.1", f"lib{d}.so.1",
                            flags=["-m32", "-nostdlib"])
        install_library(root / f"opt/{d}/lib{d}64.so.1", f"lib{d}64.so.1")
    v = root / "opt/v"
    write(v / "libaout.so.1.2", AOUT_ZMAGIC)
    install_library(v / "ld64.so.9", "ld64.so.9")
    install_library(v / "ld.so.5", "ld.so.5")
    install_library(v / "libpkg.so.1.dpkg-tmp", "libpkg.so.1")
    install_library(v / "librpm.so.2;6540ab", "librpm.so.2")
    install_library(v / "libgood.so.1.0", "libgood.so.1")
    write(v / "libgood.so.1.0-gdb.scm", "(define x 1)\n" * 8)
    write(v / "libgood.so.1.0-gdb.gdb", "python print(1)\n" * 8)
    write(v / "libgood.so.1.0-gdb.py", "print(1)\n" * 8)
    install_library(v / "conftls/tls/libct.so.1", "libct.so.1")
    if m32:
        install_library(v / "libi386.so.1", "libi386.so.1", flags=["-m32", "-nostdlib"])
        install_library(v / "libi386c.so.1", "libi386c.so.1", flags=["-m32"])
    return root


def bare_synthetic(name: str) -> Callable[[Path], Path]:
    """A root of vectors/synthetic-roots.json, with the machine's Debian libc and loader
    added when the record has no Debian base (so detection sees a Debian build)."""
    def make(dest: Path) -> Path:
        root = debroots.build_synthetic_root(name, dest)
        if debroots.synthetic_spec(name).get("base") is None:
            copy_host_runtime(root)
        return root
    return make


ROOT_MAKERS: Dict[str, Callable[[Path], Path]] = {
    "image": image_root,
    "versions": versions_root,
    "legacy": bare_synthetic("legacy"),
    "elfclass": bare_synthetic("elfclass"),
    "hwcaps": bare_synthetic("hwcaps"),
    "osversion": bare_synthetic("osversion"),
}


def twin(pristine: Path, dest: Path) -> Path:
    """A hard-linked copy (ldconfig and ldcache only ever replace files in a root)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", "--", str(pristine), str(dest)], check=True)
    return dest
