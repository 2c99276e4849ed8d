"""Crash safety: ``ldcache build`` and ``cdi-hook update-ldcache`` killed at every step.

Each run is driven by :mod:`faultinject`: the CLI runs in a child process that SIGKILLs
itself just before, or just after, its Nth call of ``os.write`` / ``rename`` / ``fsync``
/ ``symlink`` / ``unlink`` — for every N the run makes.  After each kill:

* the cache is byte for byte the complete old one or the complete new one;
* a rerun without faults succeeds and writes exactly the new cache, and afterwards no
  temporary file (``.NAME.ldcache-XXXXXX``) is left anywhere in the root — the rerun
  removed whatever the killed run left (:mod:`ldcache.apply`).

Also: a full file system (a small tmpfs) and a read-only ``/etc`` (a read-only bind
mount) give one clear error line and leave the old cache intact.

``LDCACHE_CRASH_FULL=1`` additionally runs the hook on a distroless root (no
``/etc/ld.so.conf``); the default run covers every kill point of both programs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from support.common import VECTORS, requires_root
from support.faultinject import count, kill_at
from support.hookroots import distroless_rootfs, glibc_rootfs, nvidia_dir, state, write_bundle
from support.synthroots import image_root

from ldcache.format import parse

OLD = (VECTORS / "bookworm-amd64-new.cache").read_bytes()
NV = "usr/lib/nvidia"
TEMP_MARK = ".ldcache-"


def temporaries(root: Path) -> List[str]:
    """Every name under ``root`` that is an ldcache temporary."""
    out = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            if n.startswith(".") and TEMP_MARK in n:
                out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


# ------------------------------------------------------------------------------ setups

class Setup:
    """How to make a fresh root in the "old" state and how to run the program on it."""

    def __init__(self, name: str, make: Callable[[Path], Tuple[Path, List[str], bytes]],
                 prog: str) -> None:
        self.name = name
        self.make = make
        self.prog = prog


def _build_root(top: Path) -> Tuple[Path, List[str], bytes]:
    root = image_root(top / "root")
    (root / "var/cache").mkdir(parents=True)  # the aux cache is written too
    (root / "etc/ld.so.cache").write_bytes(OLD)
    return root, ["build", "-r", str(root)], b""


def _hook_root(top: Path, distroless: bool = False) -> Tuple[Path, List[str], bytes]:
    bundle = top / "bundle"
    rootfs = (distroless_rootfs if distroless else glibc_rootfs)(bundle / "rootfs")
    nvidia_dir(rootfs / NV)
    (rootfs / "etc").mkdir(exist_ok=True)
    (rootfs / "etc/ld.so.cache").write_bytes(OLD)
    write_bundle(bundle)
    return rootfs, ["update-ldcache", "--folder", "/" + NV], state(bundle)


SETUPS = [
    Setup("build", _build_root, "ldcache"),
    Setup("hook", _hook_root, "cdi-hook"),
]
if os.environ.get("LDCACHE_CRASH_FULL"):
    SETUPS.append(Setup("hook-distroless", lambda t: _hook_root(t, True), "cdi-hook"))


def _reference(tmp: Path, setup: Setup) -> Tuple[bytes, List[str]]:
    """The new cache a clean run writes, and that run's call trace."""
    root, args, stdin = setup.make(tmp / "reference")
    r = count(setup.prog, args, stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    new = (root / "etc/ld.so.cache").read_bytes()
    assert new != OLD
    parse(new)
    assert temporaries(root) == []
    return new, r.trace


@pytest.mark.parametrize("setup", SETUPS, ids=lambda s: s.name)
def test_killed_at_every_step(tmp_path: Path, setup: Setup) -> None:
    new, trace = _reference(tmp_path, setup)
    assert {"write", "rename", "fsync"} <= set(trace), trace
    points = [(n, when) for n in range(1, len(trace) + 1) for when in ("before", "after")]
    outcomes: Dict[str, int] = {"old": 0, "new": 0}
    left_temps = 0
    for i, (n, when) in enumerate(points):
        root, args, stdin = setup.make(tmp_path / f"run{i}")
        r = kill_at(setup.prog, args, n, when, stdin=stdin)
        where = f"killed {when} call {n} ({trace[n - 1]}) of {len(trace)}"
        assert r.killed, f"{where}: exit {r.returncode}: {r.stderr.decode()}"
        data = (root / "etc/ld.so.cache").read_bytes()
        assert data in (OLD, new), f"{where}: the cache is neither the old nor the new one"
        outcomes["old" if data == OLD else "new"] += 1
        if temporaries(root):
            left_temps += 1
        rerun = count(setup.prog, args, stdin=stdin)
        assert rerun.returncode == 0, f"{where}: rerun failed: {rerun.stderr.decode()}"
        assert (root / "etc/ld.so.cache").read_bytes() == new, f"{where}: rerun differs"
        assert temporaries(root) == [], f"{where}: rerun left {temporaries(root)}"
        shutil.rmtree(root.parent if setup.prog == "ldcache" else root.parent.parent)
    # The kill points really did straddle the write, and some left debris to clean.
    assert outcomes["old"] and outcomes["new"], outcomes
    assert left_temps, "no kill point left a temporary file: the cleanup went untested"
    print(f"\n{setup.name}: {len(points)} kill points ({len(trace)} calls x before/after): "
          f"old cache {outcomes['old']}x, new {outcomes['new']}x, temporaries left by "
          f"{left_temps} kills, all removed by the rerun")


def test_fault_injection_really_kills(tmp_path: Path) -> None:
    """The wrapper counts and kills: a kill before the first rename leaves the old cache."""
    root, args, _ = _build_root(tmp_path)
    trace = count("ldcache", ["build", "-r", str(tmp_path / "nothing")]).trace
    assert trace == []  # a failed run (no such root) writes nothing
    first_write = kill_at("ldcache", args, 1, "before")
    assert first_write.killed
    assert (root / "etc/ld.so.cache").read_bytes() == OLD


# ----------------------------------------------------------------------------- full disk, read-only

def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def _run_cli(prog: str, args: List[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    if prog == "ldcache":
        cmd = [sys.executable, "-m", "ldcache", *args]
    else:
        cmd = [sys.executable, "-m", "ldcache_hook", *args]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run(cmd, input=stdin, capture_output=True, env=env, cwd="/",
                          timeout=120)


def _one_line_error(p: subprocess.CompletedProcess, *fragments: str) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr.decode())
    last = p.stderr.decode().splitlines()[-1]
    assert "Traceback" not in p.stderr.decode(), p.stderr.decode()
    assert any(f in last for f in fragments), last
    return last


@pytest.fixture
def etc_mount(tmp_path: Path):
    """A root whose /etc is a mount point (unmounted at the end)."""
    requires_root()
    mounted: List[Path] = []

    def mount(etc: Path, *options: str) -> None:
        try:
            _mount(*options, str(etc))
        except subprocess.CalledProcessError as e:
            pytest.skip(f"cannot mount here (needs CAP_SYS_ADMIN): {e.stderr.decode().strip()}")
        mounted.append(etc)

    yield mount
    for m in reversed(mounted):
        _umount(m)


@pytest.mark.parametrize("prog", ["ldcache", "cdi-hook"])
def test_disk_full(tmp_path: Path, etc_mount, prog: str) -> None:
    """/etc on a tmpfs with no room for the new cache: one error line, old cache intact."""
    if prog == "ldcache":
        root, args, stdin = _build_root(tmp_path)
    else:
        root, args, stdin = _hook_root(tmp_path)
    saved = tmp_path / "etc-saved"
    shutil.copytree(root / "etc", saved, symlinks=True)
    shutil.rmtree(root / "etc")
    (root / "etc").mkdir()
    # Room for the old files (and the hook's drop-in) but not for a second cache.
    size = len(OLD) * 2 + 64 * 1024
    etc_mount(root / "etc", "-t", "tmpfs", "-o", f"size={size}", "tmpfs")
    shutil.copytree(saved, root / "etc", symlinks=True, dirs_exist_ok=True)
    # Fill the file system to the last byte.
    fd = os.open(root / "etc/filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 4096, 512, 64, 1):
            try:
                while True:
                    os.write(fd, b"x" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    p = _run_cli(prog, args, stdin)
    line = _one_line_error(p, "No space left on device")
    # ldcache fails writing the cache; the hook already at its drop-in.
    assert "ld.so.cache" in line or "ld.so.conf.d" in line, line
    assert (root / "etc/ld.so.cache").read_bytes() == OLD
    assert temporaries(root) == []  # write_atomic removed its own temporary


@pytest.mark.parametrize("prog", ["ldcache", "cdi-hook"])
def test_read_only_etc(tmp_path: Path, etc_mount, prog: str) -> None:
    """/etc a read-only bind mount: one error line, old cache intact."""
    if prog == "ldcache":
        root, args, stdin = _build_root(tmp_path)
    else:
        root, args, stdin = _hook_root(tmp_path)
    etc = root / "etc"
    etc_mount(etc, "--bind", str(etc))
    _mount("-o", "remount,bind,ro", str(etc))
    p = _run_cli(prog, args, stdin)
    _one_line_error(p, "Read-only file system")
    assert (root / "etc/ld.so.cache").read_bytes() == OLD
    assert temporaries(root) == []
