"""Helpers for benchmarks against glibc's ldconfig, measured in the same run.

Whole-process wall times are medians over ``LDCACHE_BENCH_ROUNDS`` runs (default 15; CI's
short mode uses fewer).  Every budget is a ratio to a reference measured here and now:
``ldconfig`` itself, and the *floor* — the same interpreter doing nothing but
``import construct`` — so the figures mean the same on any machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import Sequence

ROUNDS = int(os.environ.get("LDCACHE_BENCH_ROUNDS", "15"))
FLOOR_CMD = [sys.executable, "-c", "import construct"]
RESULTS: list[str] = []


def wall(cmd: Sequence[str], rounds: int = ROUNDS, env: dict | None = None) -> float:
    """Median wall time of running ``cmd`` (seconds), after one warm-up run."""
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def peak_rss_kib(cmd: Sequence[str]) -> int:
    """Peak resident set size of ``cmd`` (KiB), from wait4's rusage."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, cmd
    return usage.ru_maxrss


def report(line: str) -> None:
    RESULTS.append(line)
    print(line)


def ldcache_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ldcache", *args]


def interleaved(cmds: dict, rounds: int = ROUNDS) -> dict:
    """Median wall time of each command (seconds), the commands taking turns round by round
    so that load from elsewhere on the machine hits them alike; one warm-up run each."""
    times: dict = {k: [] for k in cmds}
    for cmd in cmds.values():
        subprocess.run(cmd, check=True, capture_output=True)
    for _ in range(rounds):
        for k, cmd in cmds.items():
            t = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
