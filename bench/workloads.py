"""The roots the benchmarks run on: real ones and generated ones of known shape.

* a debootstrapped Debian bookworm root (tests/support/debroots.py), as an image is;
* the machine's own /usr/lib/x86_64-linux-gnu (~1,000 files), hard-linked;
* ``libdirs_root``: N gcc-built libraries with distinct SONAMEs spread over ten
  directories, each with its SONAME link in place — an image after its build's ldconfig
  (the common case: every run checks the links and rewrites the cache);
* ``flat_root``: N libraries in one directory without links (ldconfig's quadratic worst
  case: every library needs a link);
* NVIDIA-named libraries for the hook (the 17 a driver 535 CDI spec mounts).

Generated libraries are copies of one small gcc-built library with its SONAME bytes
rewritten in place (same length), so 50,000 of them are made in seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest
from support.gcclib import build_library
from support.synthroots import copy_host_runtime

PLACEHOLDER = b"libbenchplaceholder0000000.so.1"
#: The libraries NVIDIA's driver 535 CDI spec mounts (file name → SONAME).
NVIDIA_535 = {f"{n}.so.535.104.05": f"{n}.so.{v}" for n, v in (
    ("libcuda", 1), ("libcudadebugger", 1), ("libnvidia-allocator", 1), ("libnvidia-cfg", 1),
    ("libnvidia-eglcore", "535.104.05"), ("libnvidia-glcore", "535.104.05"),
    ("libnvidia-glsi", "535.104.05"), ("libnvidia-glvkspirv", "535.104.05"),
    ("libnvidia-gpucomp", "535.104.05"), ("libnvidia-ml", 1), ("libnvidia-ngx", 1),
    ("libnvidia-nvvm", 4), ("libnvidia-opencl", 1), ("libnvidia-opticalflow", 1),
    ("libnvidia-ptxjitcompiler", 1), ("libnvidia-rtcore", "535.104.05"),
    ("libnvidia-tls", "535.104.05"))}


def _template() -> bytes:
    data = build_library(PLACEHOLDER.decode(), flags=("-Wl,-z,noseparate-code", "-s")
                         ).read_bytes()
    assert data.count(PLACEHOLDER) == 1
    return data


def twin(root: Path, dest: Path) -> Path:
    """A hard-linked copy (same readdir order; both tools only ever replace files)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(root), str(dest)], check=True)
    return dest


def machine_root(base: Path) -> Path:
    src = Path("/usr/lib/x86_64-linux-gnu")
    if not src.is_dir():
        pytest.skip("no /usr/lib/x86_64-linux-gnu on this machine")
    root = base / "machine"
    (root / "usr/lib").mkdir(parents=True)
    subprocess.run(["cp", "-al", str(src), str(root / "usr/lib/")], check=True)
    (root / "etc").mkdir()
    (root / "lib").symlink_to("usr/lib")
    (root / "var/cache").mkdir(parents=True)
    return root


def debian_root(base: Path) -> Path:
    from support.debroots import require_root

    src = require_root("bookworm", "amd64")
    dest = base / "bookworm"
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-al", str(src), str(dest)], check=True)
    return dest


def libdirs_root(base: Path, n: int, dirs: int = 10, *, links: bool = True,
                 name: str = "") -> Path:
    """``n`` libraries in ``dirs`` directories named in /etc/ld.so.conf, SONAME links made."""
    template = _template()
    root = base / (name or f"libdirs-{n}-{dirs}{'' if links else '-nolinks'}")
    copy_host_runtime(root)
    (root / "var/cache").mkdir(parents=True)
    at = template.index(PLACEHOLDER)
    head, tail = template[:at], template[at + len(PLACEHOLDER):]
    conf = []
    for d in range(dirs):
        libdir = root / f"opt/bench/d{d:02d}"
        libdir.mkdir(parents=True)
        conf.append(f"/opt/bench/d{d:02d}")
        for i in range(d, n, dirs):
            soname = b"libbench%018d.so.1" % i
            real = f"libbench{i:018d}.so.1.0"
            fd = os.open(libdir / real, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, head + soname + tail)
            os.close(fd)
            if links:
                os.symlink(real, libdir / soname.decode())
    (root / "etc/ld.so.conf").write_text("\n".join(conf) + "\n")
    return root


def flat_root(base: Path, n: int) -> Path:
    return libdirs_root(base, n, 1, links=False, name=f"flat-{n}")


def nvidia_libraries(libdir: Path, libs: Dict[str, str] = NVIDIA_535) -> None:
    """gcc-built stand-ins named and sonamed as NVIDIA's, as a CDI spec mounts them."""
    libdir.mkdir(parents=True, exist_ok=True)
    for file_name, soname in libs.items():
        shutil.copyfile(build_library(soname, symbol="nv"), libdir / file_name)


def pair(make_root, base: Path, *args: object, **kw: object) -> Tuple[Path, Path]:
    """(ldcache's root, ldconfig's twin)."""
    ours = make_root(base / "ldcache", *args, **kw)
    return ours, twin(ours, base / "ldconfig" / ours.name)
