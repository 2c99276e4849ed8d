"""Concurrent runs on one root.

* 32 ``ldcache build`` at once end in the cache a serial run writes (byte for byte), the
  same tree of links, and no temporary file.
* ``cdi-hook update-ldcache`` runs at once, each with its own folder: NVIDIA's hook writes
  one drop-in per run, so "equal" means: the final cache is valid, it is exactly what a
  serial build of the *final* tree (its final configuration, all drop-ins) writes, and
  therefore holds every run's folder — no run's update is lost — and no temporary file
  is left.

Runs are ordered by the run lock (:func:`ldcache.apply.locked`, an advisory ``flock`` on
the root directory).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest
from support.gcclib import install_library
from support.hookroots import glibc_rootfs, state, write_bundle
from support.synthroots import image_root, tree

from ldcache.format import parse

PROJECT = Path(__file__).resolve().parent.parent
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT), "PYTHONDONTWRITEBYTECODE": "1"}
RUNS = int(os.environ.get("LDCACHE_CONCURRENT_RUNS", "32"))


def temporaries(root: Path) -> List[str]:
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, ds, fs in os.walk(root)
                  for n in ds + fs if n.startswith(".") and ".ldcache-" in n)


def _start_all(cmds: List[List[str]], stdins: List[bytes]) -> List[subprocess.CompletedProcess]:
    procs = [subprocess.Popen(c, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=ENV, cwd="/") for c in cmds]
    # Feed every stdin first (the hook reads its OCI state), then collect.
    out = []
    for p, data in zip(procs, stdins):
        try:
            p.stdin.write(data)  # type: ignore[union-attr]
            p.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass
        p.stdin = None
    for p, c in zip(procs, cmds):
        stdout, stderr = p.communicate(timeout=300)
        out.append(subprocess.CompletedProcess(c, p.returncode, stdout, stderr))
    return out


def _root(top: Path) -> Path:
    root = image_root(top)
    (root / "var/cache").mkdir(parents=True)
    return root


def test_concurrent_builds_equal_a_serial_run(tmp_path: Path) -> None:
    serial = _root(tmp_path / "serial")
    p = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(serial)],
                       env=ENV, capture_output=True, cwd="/")
    assert p.returncode == 0, p.stderr.decode()
    want = (serial / "etc/ld.so.cache").read_bytes()

    root = _root(tmp_path / "shared")
    t0 = time.monotonic()
    results = _start_all([[sys.executable, "-m", "ldcache", "build", "-r", str(root)]] * RUNS,
                         [b""] * RUNS)
    took = time.monotonic() - t0
    failed = [r.stderr.decode() for r in results if r.returncode != 0]
    assert not failed, failed[0]
    assert (root / "etc/ld.so.cache").read_bytes() == want
    assert temporaries(root) == []
    assert tree(root) == tree(serial)
    print(f"\n{RUNS} concurrent builds: {took:.1f} s, all exit 0, cache == serial cache")


def test_concurrent_hooks_lose_no_folder(tmp_path: Path) -> None:
    n = max(2, RUNS // 2)
    bundle = tmp_path / "bundle"
    rootfs = glibc_rootfs(bundle / "rootfs")
    write_bundle(bundle)
    folders = []
    for i in range(n):
        folder = f"/opt/gpu{i}"
        install_library(rootfs / folder.lstrip("/") / f"libgpu{i}.so.1.0", f"libgpu{i}.so.1",
                        symbol=f"gpu{i}")
        folders.append(folder)
    cmds = [[sys.executable, "-m", "ldcache_hook", "update-ldcache", "--folder", f]
            for f in folders]
    t0 = time.monotonic()
    results = _start_all(cmds, [state(bundle)] * n)
    took = time.monotonic() - t0
    failed = [r.stderr.decode() for r in results if r.returncode != 0]
    assert not failed, failed[0]
    assert temporaries(rootfs) == []
    final = (rootfs / "etc/ld.so.cache").read_bytes()
    cache = parse(final)
    # Consistent with the final configuration: a serial build of the final tree (into
    # another file, same generator) writes the same bytes.
    check = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(rootfs),
                            "-C", "/etc/check.cache", "--generator",
                            os.fsdecode(cache.generator or b"")],
                           env=ENV, capture_output=True, cwd="/")
    assert check.returncode == 0, check.stderr.decode()
    assert (rootfs / "etc/check.cache").read_bytes() == final, \
        "the final cache is not what the final configuration gives"
    names = {e.soname for e in cache.entries}
    missing = [f for i, f in enumerate(folders) if f"libgpu{i}.so.1".encode() not in names]
    assert not missing, f"lost updates: {missing}"
    dropins = [x for x in os.listdir(rootfs / "etc/ld.so.conf.d") if x.startswith("00-nvcr-")]
    assert len(dropins) == n
    print(f"\n{n} concurrent update-ldcache runs: {took:.1f} s, every folder in the cache")


def test_lock_is_exclusive_and_bounded(tmp_path: Path) -> None:
    """The run lock excludes a second holder, and a holder that never lets go costs a
    waiter at most the wait (the run then goes on unlocked)."""
    from ldcache.inroot import Root
    from ldcache.lock import locked

    (tmp_path / "etc").mkdir()
    with Root(str(tmp_path)) as a, Root(str(tmp_path)) as b:
        with locked(a) as held_a:
            assert held_a
            with locked(a) as again:  # reentrant for the same Root
                assert again
            t0 = time.monotonic()
            with locked(b, wait=0.3) as held_b:
                assert not held_b
            assert 0.25 < time.monotonic() - t0 < 2
        with locked(b, wait=0.3) as held_b:
            assert held_b


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_build_waits_for_a_lock_holder(tmp_path: Path) -> None:
    """A build started while another process holds the lock writes only after release."""
    import fcntl

    root = _root(tmp_path / "r")
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        p = subprocess.Popen([sys.executable, "-m", "ldcache", "build", "-r", str(root)],
                             env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/")
        time.sleep(1.5)
        assert not (root / "etc/ld.so.cache").exists(), "wrote while the lock was held"
        fcntl.flock(fd, fcntl.LOCK_UN)
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
        assert (root / "etc/ld.so.cache").exists()
    finally:
        os.close(fd)
    shutil.rmtree(root)
