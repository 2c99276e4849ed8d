"""Measuring ldcache against glibc's ldconfig and NVIDIA's hook, in the same run.

Every figure is a whole-process wall time (the median over ``LDCACHE_BENCH_ROUNDS`` rounds;
default 15, CI's short mode 7) taken by :func:`interleaved`: the commands take turns round
by round, so that load from elsewhere on the machine hits them alike.  The *floor* is the
bare interpreter, ``python3 -I -S -c pass``: what any Python program pays before its first
line, and the part of a budget no change to ldcache can remove.  ldcache runs as its
launcher and console script start it — ``-I -S`` with this checkout on ``sys.path``.

Every budget is a hard assertion (:func:`budget`); the line it prints says what was measured
and what the issue asks for, so a run shows both.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

ROUNDS = int(os.environ.get("LDCACHE_BENCH_ROUNDS", "15"))
PROJECT = Path(__file__).resolve().parent.parent
PEER = PROJECT.parent / "shared/peers/nvidia-cdi-hook"
FLOOR_CMD = [sys.executable, "-I", "-S", "-c", "pass"]
RESULTS: List[str] = []

#: ldcache's command line as its console script runs it, minus ``site`` (whose cost depends
#: on what else the environment installed, not on ldcache).
_LDCACHE = (f"import sys\nsys.path.insert(0, {str(PROJECT)!r})\n"
            "from ldcache.cli import main\nmain()\n")


def ldcache_cmd(*args: str) -> List[str]:
    return [sys.executable, "-I", "-S", "-c", _LDCACHE, *args]


class Run:
    """One command's rounds: wall times (s)."""

    def __init__(self) -> None:
        self.times: List[float] = []

    @property
    def median(self) -> float:
        return statistics.median(self.times)


_RSS_SOURCE = r"""
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
/* rss CMD ARGS...: run CMD, print its peak RSS in KiB (wait4's ru_maxrss), exit with its
   status.  A child of this small process: ru_maxrss carries a forking parent's own
   high-water mark into the child, so measuring from pytest would count pytest. */
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) { execvp(argv[1], argv + 1); _exit(127); }
    int status; struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) return 2;
    fprintf(stderr, "maxrss %ld\n", ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
"""


def peak_rss_kib(cmd: Sequence[str]) -> int:
    """Peak resident set size of one run of ``cmd`` (KiB), by wait4 in a small parent."""
    from support.gcclib import compile_c

    tool = compile_c(_RSS_SOURCE, ["-O2"], name="bench-rss")
    p = subprocess.run([str(tool), *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert p.returncode == 0, (cmd, p.stderr[-2000:])
    return int(p.stderr.decode().rsplit("maxrss ", 1)[1])


def run_once(cmd: Sequence[str], env: Optional[Dict[str, str]] = None,
             stdin: Optional[bytes] = None) -> float:
    """Wall time of one run of ``cmd``; it must succeed."""
    r = None
    if stdin is not None:
        r, w = os.pipe()
        os.write(w, stdin)
        os.close(w)
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=r, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    if r is not None:
        os.close(r)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.wait()
    elapsed = time.perf_counter() - t
    proc.stderr.close()
    assert proc.returncode == 0, (cmd, err.decode(errors="replace")[-2000:])
    return elapsed


def interleaved(cmds: Dict[str, Sequence[str]], rounds: int = ROUNDS, *,
                prepare: Optional[Callable[[str], None]] = None,
                stdin: Optional[Dict[str, bytes]] = None,
                env: Optional[Dict[str, str]] = None,
                warmup: Optional[Sequence[str]] = None) -> Dict[str, Run]:
    """Each command ``rounds`` times (after one warm-up run each), taking turns.

    ``prepare(name)`` runs, untimed, before every run of command ``name`` (a fresh copy of
    a root, as at a container start).  ``warmup``: the commands given a warm-up run (default
    all; twins of one root share their page cache, so warming one warms both)."""
    out = {k: Run() for k in cmds}
    for k, cmd in cmds.items():
        if warmup is not None and k not in warmup:
            continue
        if prepare is not None:
            prepare(k)
        run_once(cmd, env, (stdin or {}).get(k))
    for _ in range(rounds):
        for k, cmd in cmds.items():
            if prepare is not None:
                prepare(k)
            out[k].times.append(run_once(cmd, env, (stdin or {}).get(k)))
    return out


def report(line: str) -> None:
    RESULTS.append(line)
    print(line)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def budget(what: str, measured: float, limit: float, unit: str, goal: str = "") -> None:
    """Report ``measured`` against ``limit`` and assert it (the bench's only verdict).
    ``goal``: the issue's target where it is stricter than the asserted limit."""
    ok = measured <= limit
    line = f"{what}: {measured:.2f}{unit} (budget ≤ {limit:g}{unit}: {'met' if ok else 'MISSED'})"
    if goal:
        line += f"; issue's goal {goal}"
    report(line)
    assert ok, line


def growth_exponent(sizes: Sequence[int], times: Sequence[float]) -> float:
    """The least-squares slope of log(time) over log(size): 1.0 is linear."""
    import math

    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            / sum((x - mx) ** 2 for x in xs))
