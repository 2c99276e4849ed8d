"""Race a hostile root against ldcache: one program per case, run by tests/test_races.py.

    racer.py chmod ROOT HOST MODE TRIES SECONDS
        In a private mount namespace, bind-mount HOST (outside the root, with ``card0`` 0600)
        at ROOT/elsewhere/dri — a volume, as a runtime would mount one — and run
        ``cdi-hook chmod --mode 755 --path /dev/dri/card0`` TRIES times (at most SECONDS)
        while a second process swaps ROOT/dev with a symlink to /elsewhere
        (``renameat2(RENAME_EXCHANGE)``).  MODE: ``openat2`` or ``walk`` (the in-root
        resolver), or ``naive`` (the control: the hook's former check-then-act, lstat of
        every component followed by a chmod by path).
    racer.py libc ROOT MODE TRIES SECONDS
        Run root detection and a whole ``build`` TRIES times while a second process
        truncates ROOT's libc and writes it back.  MODE: ``openat2`` or ``walk``, or
        ``mmap`` (the control: the banner searched in a mapping, as detection once did).

Prints one JSON line of counts.  A process killed by a signal says so by its exit status.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNS = 0x00020000
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_PR_SET_PDEATHSIG = 1


def _racer(loop) -> int:
    """Fork a process running ``loop()`` until it is killed; its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the case
            if os.getppid() == 1:
                os._exit(0)
            loop()
        finally:
            os._exit(0)
    return pid


def _stop(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _set_mode(mode: str) -> None:
    if mode == "walk":
        os.environ["LDCACHE_NO_OPENAT2"] = "1"
    else:
        os.environ.pop("LDCACHE_NO_OPENAT2", None)


# ------------------------------------------------------------------------------ chmod


def _naive_chmod(root: str, path: bytes, mode: int) -> None:
    """The former hook: no symlink seen in any component, then chmod by path."""
    import stat

    from ldcache.errors import RootError
    from ldcache.inroot import Root

    with Root(root) as r:
        prefix = b""
        for comp in path.split(b"/")[1:]:
            prefix += b"/" + comp
            try:
                if stat.S_ISLNK(r.stat(prefix, follow=False).st_mode):
                    return
            except RootError:
                return
        try:
            r.chmod(path, mode, follow=False)
        except RootError:
            pass


def race_chmod(root: Path, host: Path, mode: str, tries: int, seconds: float) -> dict:
    if _libc.unshare(_CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", str(host), str(root / "elsewhere/dri")], check=True)
    _set_mode(mode)
    from ldcache_hook.main import run

    tripwire = host / "card0"
    real = os.open(root / "dev/dri/card0", os.O_RDONLY)  # the file inside the root
    a, b = os.fsencode(root / "dev"), os.fsencode(root / "devx")

    def swap() -> None:
        while True:
            _libc.renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE)

    state = json.dumps({"ociVersion": "1.0.2", "id": "race", "status": "creating",
                        "pid": 1, "root": str(root)}).encode()
    counts = {"tries": 0, "hits": 0, "acted": 0, "skipped": 0, "failed": 0}
    pid = _racer(swap)
    deadline = time.monotonic() + seconds
    try:
        while counts["tries"] < tries and time.monotonic() < deadline:
            counts["tries"] += 1
            os.fchmod(real, 0o600)
            if mode == "naive":
                _naive_chmod(str(root), b"/dev/dri/card0", 0o755)
            else:
                rc = run("cdi-hook", ["chmod", "--mode", "755", "--path", "/dev/dri/card0"],
                         stdin=io.BytesIO(state), env={})
                counts["failed"] += rc != 0
            if os.stat(tripwire).st_mode & 0o7777 != 0o600:
                counts["hits"] += 1
                os.chmod(tripwire, 0o600)
            if os.fstat(real).st_mode & 0o7777 == 0o755:
                counts["acted"] += 1
            else:
                counts["skipped"] += 1
            if mode == "naive" and counts["hits"]:
                break  # the control has shown what it must
    finally:
        _stop(pid)
    return counts


# ------------------------------------------------------------------------------ libc


_BANNER = re.compile(rb"GNU C Library (\([^)\n]{0,200}\) )?([a-z]{1,20}) release version "
                     rb"(\d+\.\d+(?:\.\d+)?)")


def _mmap_banner(path: Path) -> bool:
    """The former detection: the banner searched in a mapping of the whole file."""
    import mmap

    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            m = mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ)
        except ValueError:  # shorter than fstat said a moment ago
            return False
        with m:
            return _BANNER.search(m) is not None  # type: ignore[call-overload]
    finally:
        os.close(fd)


def race_libc(root: Path, mode: str, tries: int, seconds: float) -> dict:
    _set_mode(mode)
    from ldcache.build import BuildOptions, run_build
    from ldcache.detect import describe_root, detect_glibc
    from ldcache.errors import LdcacheError
    from ldcache.inroot import Root

    libc = next(root.glob("lib/*-linux-gnu/libc.so.6"))
    data = libc.read_bytes()

    def shrink_and_grow() -> None:
        fd = os.open(libc, os.O_RDWR)
        while True:
            os.ftruncate(fd, 4096)
            time.sleep(0.0005)
            os.pwrite(fd, data, 0)
            time.sleep(0.005)  # whole for a while, so that both states are met

    counts = {"tries": 0, "detected": 0, "not_detected": 0, "built": 0, "errors": 0}
    sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    pid = _racer(shrink_and_grow)
    deadline = time.monotonic() + seconds
    try:
        while counts["tries"] < tries and time.monotonic() < deadline:
            counts["tries"] += 1
            if mode == "mmap":
                counts["detected" if _mmap_banner(libc) else "not_detected"] += 1
                continue
            with Root(root) as r:
                found = detect_glibc(r) is not None
                counts["detected" if found else "not_detected"] += 1
                saved, sys.stderr = sys.stderr, sink  # build's warnings (files that shrank)
                try:
                    describe_root(r)
                    run_build(BuildOptions(root=str(root), ignore_aux=True), root=r)
                    counts["built"] += 1
                except (LdcacheError, OSError):
                    counts["errors"] += 1  # an ordinary error is allowed; a signal is not
                finally:
                    sys.stderr = saved
    finally:
        _stop(pid)
    return counts


def main(argv: list[str]) -> int:
    if argv[0] == "chmod":
        out = race_chmod(Path(argv[1]), Path(argv[2]), argv[3], int(argv[4]), float(argv[5]))
    elif argv[0] == "libc":
        out = race_libc(Path(argv[1]), argv[2], int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(f"unknown case {argv[0]!r}")
    print(json.dumps(out), flush=True)
    sys.stderr.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
