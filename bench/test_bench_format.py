"""Cache parse / build / print of a 10,000-entry cache (issue: the cache format)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchlib import FLOOR_CMD, ROUNDS, budget, interleaved, ldcache_cmd, ms, report

from ldcache.format import Cache, Entry, build, parse
from ldcache.glibc import behaviour
from ldcache.printer import listing

N = 10_000
GENERATOR = b"ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36"


def big_cache() -> Cache:
    entries = []
    for i in range(N):
        soname = b"libbench%05d.so.%d" % (i, i % 7)
        entries.append(Entry(soname, b"/usr/lib/x86_64-linux-gnu/" + soname, 0x303))
    entries.sort(key=lambda e: e.soname, reverse=True)
    return Cache(entries=tuple(entries), generator=GENERATOR)


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bench") / "ld.so.cache"
    path.write_bytes(build(big_cache()))
    return path


def test_parse(benchmark, cache_file):
    data = cache_file.read_bytes()
    result = benchmark(parse, data)
    assert len(result.entries) == N


def test_build(benchmark):
    cache = big_cache()
    data = benchmark(build, cache)
    assert parse(data) == cache


def test_print_in_process(benchmark, cache_file):
    data = cache_file.read_bytes()
    out = benchmark(listing, data, str(cache_file).encode(), behaviour("2.36", debian=True))
    assert out.count(b"\n") == N + 2


def test_print_whole_process(cache_file, ldconfig, tmp_path):
    """`ldcache print` of a small cache (a Debian image's, 100 entries) ≤ floor + 5 ms, and of
    10,000 entries ≤ floor + 15 ms, whole process; ldconfig -p for comparison."""
    small = tmp_path / "small.cache"
    small.write_bytes(build(Cache(entries=big_cache().entries[:100], generator=GENERATOR)))
    cmds = {"floor": FLOOR_CMD}
    for name, path in (("small", small), ("10k", cache_file)):
        cmds[name] = ldcache_cmd("print", "--glibc", "2.36", "-C", str(path))
        cmds[f"ldconfig {name}"] = [ldconfig, "-p", "-C", str(path)]
    # (tens of ms a round: three times the rounds, for medians that hold on a machine
    # whose speed drifts by a quarter within a run, as CI's did)
    t = interleaved(cmds, 3 * ROUNDS)
    f = t["floor"].median
    for name, allowed in (("small", 5), ("10k", 15)):
        o, c = t[name].median, t[f"ldconfig {name}"].median
        report(f"print {name}: ldcache {ms(o)}, ldconfig -p {ms(c)}, floor {ms(f)}")
        budget(f"print {name}: ldcache − floor", (o - f) * 1000, allowed, " ms")
