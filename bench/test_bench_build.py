"""`ldcache build` against glibc's `ldconfig` on the same roots, in the same run.

Each root exists twice (hard-linked twins, same readdir order): one for ldcache, one for
ldconfig, and both must write the same cache bytes.  Both run with -X (no link changes, so
every round sees the same tree); cold runs with -i (no aux cache), warm runs with it.

Budgets (asserted; issue 11 asks for ≤ 1.5× ldconfig everywhere):
* large roots — 10 directories × 1,000 libraries with their links, the flat 10,000, and
  50,000 — whole process ≤ 1.5× ldconfig; the 50,000 root's peak RSS ≤ 2× ldconfig's +
  the floor's (:data:`RSS_50K_BUDGET`);
* small real roots (a Debian image, the machine's libdir), where ldconfig's whole run
  takes less time than the interpreter needs to start: see :data:`SMALL_ROOT_BUDGET`.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from benchlib import (
    FLOOR_CMD,
    ROUNDS,
    budget,
    growth_exponent,
    interleaved,
    ldcache_cmd,
    ms,
    peak_rss_kib,
    report,
)
from support.debroots import root_generator
from support.synthroots import host_generator
from workloads import debian_root, flat_root, libdirs_root, machine_root, pair

#: Small real roots: (ldcache − floor) ≤ this × ldconfig's whole run — a guard at what this
#: code measures, with a margin for a loaded machine, far from the issue's goal of 1.5×
#: whole process.  That goal is out of reach of a Python program here: ldconfig builds a
#: Debian image's cache in 2-3 ms, less than `python3 -I -S -c pass` takes (6-8 ms), and
#: the imports alone (~7 ms) cost more again.
SMALL_ROOT_BUDGET = {"cold": 6.0, "warm": 8.0}
LARGE_ROOT_BUDGET = 1.5
#: The 50,000 root's peak RSS over (2 × ldconfig's + the floor's): the issue's bound
#: (measured 0.87× here: ~0.8 KB a library — the plan's entries, the aux cache's records,
#: and while the file is encoded its string table's offsets).
RSS_50K_BUDGET = 1.0


@pytest.fixture(scope="module")
def base(tmp_path_factory, ldconfig):
    if os.geteuid() != 0:
        pytest.skip("ldconfig -r needs root")
    return tmp_path_factory.mktemp("buildbench")


def _generator(root, ldconfig: str) -> str:
    """The generator string the ldconfig that runs on ``root`` writes: the image's own for a
    Debian root, the machine's for the others (the host's libc is theirs)."""
    gen = root_generator(root, "amd64") if (root / "sbin/ldconfig").exists() else \
        host_generator(ldconfig)
    assert gen is not None
    return gen.decode()


def _race(ours, theirs, ldconfig, warm: bool, rounds: int = ROUNDS, floor: bool = True,
          warmup=None):
    extra = [] if warm else ["-i"]
    cmds = {
        "ldcache": ldcache_cmd("build", "-r", str(ours), "-X", *extra,
                               "--generator", _generator(ours, ldconfig)),
        "ldconfig": [ldconfig, "-r", str(theirs), "-X", *extra],
    }
    if floor:
        cmds["floor"] = FLOOR_CMD
    t = interleaved(cmds, rounds, warmup=warmup)
    assert (ours / "etc/ld.so.cache").read_bytes() == \
        (theirs / "etc/ld.so.cache").read_bytes(), "ldcache and ldconfig wrote different caches"
    return t


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
@pytest.mark.parametrize("which", ["debian", "machine"])
def test_small_real_roots(base, ldconfig, which, warm):
    make = {"debian": debian_root, "machine": machine_root}[which]
    ours, theirs = pair(make, base / f"{which}-{warm}")
    t = _race(ours, theirs, ldconfig, warm)
    kind = "warm" if warm else "cold"
    o, c, f = t["ldcache"].median, t["ldconfig"].median, t["floor"].median
    report(f"build {which} {kind}: ldcache {ms(o)}, ldconfig {ms(c)}, floor {ms(f)}; "
           f"ldcache/ldconfig {o / c:.1f}")
    budget(f"build {which} {kind}: (ldcache − floor)/ldconfig", (o - f) / c,
           SMALL_ROOT_BUDGET[kind], "×", goal=f"ldcache/ldconfig ≤ 1.5 (measured {o / c:.1f})")


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_ten_dirs_of_1000(base, ldconfig, warm):
    ours, theirs = pair(libdirs_root, base / f"libdirs-{warm}", 10_000, 10)
    t = _race(ours, theirs, ldconfig, warm)
    o, c = t["ldcache"].median, t["ldconfig"].median
    kind = "warm" if warm else "cold"
    report(f"build 10 dirs × 1,000 (links in place) {kind}: ldcache {ms(o)}, ldconfig {ms(c)}")
    budget(f"build 10×1,000 {kind}: ldcache/ldconfig", o / c, LARGE_ROOT_BUDGET, "×")


def test_flat_10k(base, ldconfig):
    ours, theirs = pair(flat_root, base / "flat", 10_000)
    t = _race(ours, theirs, ldconfig, False)
    o, c = t["ldcache"].median, t["ldconfig"].median
    report(f"build flat 10,000 (no links; ldconfig's quadratic case) cold: ldcache {ms(o)}, "
           f"ldconfig {ms(c)}")
    budget("build flat 10,000 cold: ldcache/ldconfig", o / c, LARGE_ROOT_BUDGET, "×")


SWEEP = (1_000, 5_000, 20_000, 50_000)


def test_size_sweep(base, ldconfig):
    """1,000 to 50,000 libraries (1,000 to a directory, links in place), cold: how both
    grow, and the 50,000 root's time and peak RSS (wait4 on the child)."""
    ours_t, theirs_t = [], []
    for n in SWEEP:
        ours, theirs = pair(libdirs_root, base / f"sweep-{n}", n, n // 1_000)
        rounds = ROUNDS if n <= 5_000 else max(3, ROUNDS // 2)
        # (ldconfig takes ~45 s on 50,000: no warm-up run of its own; the twins share
        # their page cache, so ldcache's warms both)
        t = _race(ours, theirs, ldconfig, False, rounds, floor=False,
                  warmup=None if n <= 5_000 else ("ldcache",))
        ours_t.append(t["ldcache"].median)
        theirs_t.append(t["ldconfig"].median)
        report(f"sweep {n:>6,}: ldcache {ms(ours_t[-1])}, ldconfig {ms(theirs_t[-1])}, "
               f"ratio {ours_t[-1] / theirs_t[-1]:.2f}")
        if n == SWEEP[-1]:
            rss = {"ldcache": peak_rss_kib(ldcache_cmd("build", "-r", str(ours), "-X", "-i",
                                                       "-C", "/etc/ld.so.cache.rss")),
                   "ldconfig": peak_rss_kib([ldconfig, "-r", str(theirs), "-X", "-i", "-C",
                                             "/etc/ld.so.cache.rss"]),
                   "floor": peak_rss_kib(FLOOR_CMD)}
            report("sweep 50,000 peak RSS: " + ", ".join(f"{k} {v / 1024:.1f} MiB"
                                                         for k, v in rss.items()))
        for d in (ours, theirs):  # 50,000 libraries are 250 MB: one size on disk at a time
            subprocess.run(["rm", "-rf", "--", str(d)], check=True)
    report(f"sweep growth exponent (1.0 = linear): ldcache "
           f"{growth_exponent(SWEEP, ours_t):.2f}, ldconfig {growth_exponent(SWEEP, theirs_t):.2f}")
    budget("build 50,000 cold: ldcache/ldconfig", ours_t[-1] / theirs_t[-1], LARGE_ROOT_BUDGET,
           "×")
    budget("build 50,000: peak RSS / (2 × ldconfig's + floor's)",
           rss["ldcache"] / (2 * rss["ldconfig"] + rss["floor"]), RSS_50K_BUDGET, "×")
