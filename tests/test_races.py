"""Roots that change while ldcache works on them (tests/support/racer.py runs each race).

1. ``cdi-hook chmod`` with ``/dev`` swapped, over and over, for a symlink to a directory
   where a host directory is bind-mounted (a volume).  The host file (the tripwire, outside
   the root) must keep its mode in every try.  The control — the hook's former
   check-then-act — must be caught by the same race, or the race proves nothing.
2. Detection and ``build`` with the root's libc truncated and written back meanwhile: no
   run may die of a signal (a mapping touched past a shrunk end is SIGBUS); a shrunk file
   is a "not detected" or an ordinary error.  The control — the banner searched in a
   mapping — must die of SIGBUS under the same racer.

Both run in the two resolver modes (openat2 and the component walk), bounded in tries and
in time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.common import PROJECT, requires_root
from support.synthroots import copy_host_runtime

from ldcache.inroot import openat2_available

RACER = Path(__file__).resolve().parent / "support" / "racer.py"
TRIES = 4000
SECONDS = 20.0
MODES = ["openat2", "walk"]


def _mode(mode: str) -> None:
    if mode == "openat2" and not openat2_available():
        pytest.skip("this kernel has no openat2(RESOLVE_IN_ROOT)")


def _racer(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "PYTHONPATH": os.pathsep.join([str(PROJECT), str(RACER.parent)])}
    return subprocess.run([sys.executable, str(RACER), *args], capture_output=True,
                          env=env, timeout=timeout)


def _counts(p: subprocess.CompletedProcess) -> dict:
    assert p.returncode == 0, (p.returncode, p.stderr.decode(errors="replace")[-3000:])
    assert b"Traceback" not in p.stderr, p.stderr.decode(errors="replace")[-3000:]
    counts = json.loads(p.stdout.splitlines()[-1])
    print(counts)
    return counts


def _chmod_tree(top: Path) -> tuple[Path, Path]:
    if shutil.which("mount") is None:
        pytest.skip("needs mount(8) (util-linux) for the bind mount")
    root, host = top / "rootfs", top / "host"
    (root / "dev/dri").mkdir(parents=True)
    (root / "dev/dri/card0").write_bytes(b"")
    (root / "elsewhere/dri").mkdir(parents=True)  # the mount point of the "volume"
    os.symlink("/elsewhere", root / "devx")  # what /dev becomes every other moment
    host.mkdir()
    (host / "card0").write_bytes(b"host file behind a volume")
    os.chmod(host / "card0", 0o600)
    return root, host


@pytest.mark.parametrize("mode", MODES)
def test_chmod_acts_on_what_it_checked(tmp_path: Path, mode: str) -> None:
    requires_root()
    _mode(mode)
    root, host = _chmod_tree(tmp_path)
    c = _counts(_racer("chmod", str(root), str(host), mode, str(TRIES), str(SECONDS)))
    assert c["hits"] == 0, c
    assert c["failed"] == 0, c
    # The race really ran both ways: some tries found the real /dev, some the symlink.
    assert c["acted"] > 0 and c["skipped"] > 0, c
    assert os.stat(host / "card0").st_mode & 0o7777 == 0o600


def test_chmod_race_catches_check_then_act(tmp_path: Path) -> None:
    """The control: chmod by path after checking every component is caught by this race."""
    requires_root()
    root, host = _chmod_tree(tmp_path)
    c = _counts(_racer("chmod", str(root), str(host), "naive", str(10 * TRIES),
                       str(3 * SECONDS)))
    assert c["hits"] > 0, c


def _libc_root(top: Path) -> Path:
    root = top / "rootfs"
    copy_host_runtime(root)
    if not list(root.glob("lib/*-linux-gnu/libc.so.6")):
        pytest.skip("the machine's libc is not in a multiarch directory")
    return root


@pytest.mark.parametrize("mode", MODES)
def test_shrinking_libc_is_no_signal(tmp_path: Path, mode: str) -> None:
    _mode(mode)
    root = _libc_root(tmp_path)
    c = _counts(_racer("libc", str(root), mode, str(TRIES // 10), str(SECONDS)))
    assert c["tries"] > 0, c
    # Both sides of the race were seen: a whole libc, and one cut short.
    assert c["detected"] > 0 and c["not_detected"] > 0, c


def test_shrinking_libc_kills_a_mapping(tmp_path: Path) -> None:
    """The control: the same racer makes a mapped search die of SIGBUS."""
    root = _libc_root(tmp_path)
    p = _racer("libc", str(root), "mmap", str(5 * TRIES), str(SECONDS))
    assert p.returncode == -signal.SIGBUS, (p.returncode, p.stdout, p.stderr[-2000:])
