"""Helpers for the cdi-hook tests: container roots, bundles, OCI states, the hook launcher,
gcc-built NVIDIA stand-ins, the dlopen probe, and tripwires outside a root."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from gcclib import _CACHE, build_library, install_library
from synthroots import HOST_TRIPLET, copy_host_runtime

PROJECT = Path(__file__).resolve().parent.parent

#: NVIDIA-style stand-ins: file name → SONAME.
NVIDIA_LIBS = {
    "libcuda.so.535.104.05": "libcuda.so.1",
    "libnvidia-ml.so.535.104.05": "libnvidia-ml.so.1",
    "libnvidia-ptxjitcompiler.so.535.104.05": "libnvidia-ptxjitcompiler.so.1",
}


# --------------------------------------------------------------------------------------------
# the hook as a program


def write_launcher(dest: Path, python: str = sys.executable) -> Path:
    """An isolated launcher (``#!python -IS``) running this checkout's ``hook`` package."""
    code = ("import sys; from ldcache_hook.launcher import write_launcher; "
            "write_launcher(sys.argv[1], sys.argv[2])")
    subprocess.run([python, "-I", "-c", code, str(dest), python], check=True, cwd="/")
    return dest


def run_hook(launcher: Path | str, args: Sequence[str], state: bytes | None = b"",
             *, env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the hook program with ``state`` on standard input (never inheriting ours)."""
    return subprocess.run([str(launcher), *args], input=state if state is not None else b"",
                          capture_output=True, env=dict(env) if env is not None else
                          {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                          cwd=str(cwd) if cwd else "/", timeout=timeout)


# --------------------------------------------------------------------------------------------
# roots and bundles


def glibc_rootfs(root: Path, *, conf: bool = True) -> Path:
    """A small Debian-shaped root: the machine's libc and loader, ``/etc/ld.so.conf``
    including ``/etc/ld.so.conf.d/*.conf`` and a ``libc.conf`` naming ``/usr/local/lib``."""
    root.mkdir(parents=True, exist_ok=True)
    copy_host_runtime(root)
    if conf:
        (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n\n")
        (root / "etc/ld.so.conf.d").mkdir(exist_ok=True)
        (root / "etc/ld.so.conf.d/libc.conf").write_text(
            "# libc default configuration\n/usr/local/lib\n")
        (root / "usr/local/lib").mkdir(parents=True, exist_ok=True)
    return root


def distroless_rootfs(root: Path) -> Path:
    """Only libc and the loader: no /etc at all, no cache, no ldconfig."""
    root.mkdir(parents=True, exist_ok=True)
    copy_host_runtime(root)
    shutil.rmtree(root / "etc")
    return root


def musl_rootfs(root: Path, arch: str = "x86_64") -> Path:
    """An Alpine-shaped root: a musl loader (a stand-in file; never run) and /etc."""
    (root / "lib").mkdir(parents=True, exist_ok=True)
    install_library(root / f"lib/ld-musl-{arch}.so.1", f"libc.musl-{arch}.so.1")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/alpine-release").write_text("3.20.0\n")
    return root


def nvidia_dir(path: Path, libs: Mapping[str, str] = NVIDIA_LIBS) -> Path:
    """A host directory of gcc-built NVIDIA stand-ins with real SONAMEs."""
    path.mkdir(parents=True, exist_ok=True)
    for name, soname in libs.items():
        install_library(path / name, soname, symbol="nv_" + soname.split(".")[0][3:]
                        .replace("-", "_"))
    return path


def write_bundle(bundle: Path, rootfs: str = "rootfs", **config: object) -> Path:
    bundle.mkdir(parents=True, exist_ok=True)
    spec = {"ociVersion": "1.0.2", "root": {"path": rootfs}}
    spec.update(config)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def state(bundle: Path | str | None = None, *, root: str | None = None,
          cid: str = "c1") -> bytes:
    s: Dict[str, object] = {"ociVersion": "1.0.2", "id": cid, "status": "creating",
                            "pid": 1234}
    if bundle is not None:
        s["bundle"] = str(bundle)
    if root is not None:
        s["root"] = root
    return json.dumps(s).encode()


# --------------------------------------------------------------------------------------------
# gcc-built programs and libraries


PROBE_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* For each argument: in a fresh child process, dlopen it by name (no LD_LIBRARY_PATH),
   print "NAME PATH" with the path the loader used (dlinfo's link map); "NAME FAIL why". */
int main(int argc, char **argv) {
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
            struct link_map *lm = 0;
            if (!h) { printf("%s FAIL %s\n", argv[i], dlerror()); return 1; }
            if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
                printf("%s FAIL dlinfo\n", argv[i]); return 1;
            }
            printf("%s %s\n", argv[i], lm->l_name);
            return 0;
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            bad = 1;
    }
    return bad;
}
"""


def build_probe() -> Path:
    """The dlopen probe, dynamically linked against the machine's libc (cached)."""
    key = hashlib.sha256(PROBE_SOURCE.encode()).hexdigest()[:16]
    out = _CACHE / f"probe-{key}"
    if not out.exists():
        _CACHE.mkdir(parents=True, exist_ok=True)
        src = _CACHE / f"probe-{key}.c"
        src.write_text(PROBE_SOURCE)
        tmp = _CACHE / f"probe-{key}.{os.getpid()}.tmp"
        subprocess.run(["gcc", "-O1", "-o", str(tmp), str(src)], check=True,
                       capture_output=True)
        os.replace(tmp, out)
    return out


def parse_probe(output: bytes) -> Dict[str, str]:
    got = {}
    for line in output.decode().splitlines():
        name, _, rest = line.partition(" ")
        got[name] = rest
    return got


def note_asm(section: str, owner: bytes, desc: bytes, note_type: int = 1,
             align: int = 4) -> str:
    """Top-level asm placing one ELF note in an SHT_NOTE section named ``section``."""
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % align)

    body = (len(owner).to_bytes(4, "little") + len(desc).to_bytes(4, "little")
            + note_type.to_bytes(4, "little") + pad(owner) + pad(desc))
    data = ",".join(str(b) for b in body)
    return (f'__asm__(".pushsection {section},\\"a\\",@note\\n.balign {align}\\n'
            f'.byte {data}\\n.popsection\\n");\n')


def compat_library(note: Optional[dict] = None, *, raw_desc: Optional[bytes] = None) -> Path:
    """A gcc-built ``libcuda.so.1`` stand-in, with a ``.note.cuda.fwd_compatibility`` note
    ("NVIDIA Corporation", JSON descriptor) when ``note`` (or ``raw_desc``) is given."""
    code = "int cuInit(unsigned flags) { return (int)flags; }\n"
    if note is not None or raw_desc is not None:
        desc = raw_desc if raw_desc is not None else json.dumps(note).encode() + b"\0"
        code += note_asm(".note.cuda.fwd_compatibility", b"NVIDIA Corporation\0", desc)
    return build_library("libcuda.so.1", code=code)


# --------------------------------------------------------------------------------------------
# tripwires


def snapshot(top: Path) -> Dict[str, Tuple]:
    """Everything under ``top`` (itself included): type, mode, owner, size and content hash
    or link target — compared before and after a hook runs."""
    out: Dict[str, Tuple] = {}

    def one(p: Path, rel: str) -> None:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        else:
            h = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, h)

    one(top, ".")
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            one(p, os.path.relpath(p, top))
    return out


def host_tripwire(top: Path) -> Path:
    """A host directory shaped like the places a hostile image aims at: an ``etc`` with
    ld.so.conf files, a ``lib`` with a library, a private file (0600) and a directory."""
    (top / "etc/ld.so.conf.d").mkdir(parents=True)
    (top / "etc/ld.so.conf").write_text("/host/only\n")
    (top / "etc/ld.so.conf.d/host.conf").write_text("/host/lib\n")
    (top / "etc/ld.so.cache").write_bytes(b"host cache, must survive")
    (top / "etc/ld-musl-x86_64.path").write_text("/host/lib\n")
    install_library(top / "lib/libhost.so.1.0", "libhost.so.1")
    install_library(top / "compat/libcuda.so.999.1.1", "libcuda.so.1")
    (top / "secret").write_text("secret")
    os.chmod(top / "secret", 0o600)
    (top / "private").mkdir()
    os.chmod(top / "private", 0o700)
    (top / "cache").mkdir()
    return top


def files_under(top: Path) -> List[str]:
    return sorted(os.path.relpath(os.path.join(d, n), top)
                  for d, ds, fs in os.walk(top) for n in ds + fs)


def listing(paths: Iterable[Path]) -> List[str]:
    return sorted(str(p) for p in paths)


__all__ = [
    "PROJECT", "NVIDIA_LIBS", "HOST_TRIPLET", "write_launcher", "run_hook", "glibc_rootfs",
    "distroless_rootfs", "musl_rootfs", "nvidia_dir", "write_bundle", "state",
    "build_probe", "parse_probe", "note_asm", "compat_library", "snapshot",
    "host_tripwire", "files_under", "listing", "hook_launcher",
]


# --------------------------------------------------------------------------------------------
# fixtures (import them into a test module to use them)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hook_launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An isolated launcher for this checkout, as ``python3 -m ldcache_hook.launcher`` writes it."""
    d = tmp_path_factory.mktemp("launcher")
    return write_launcher(d / "cdi-hook")
