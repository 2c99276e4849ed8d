"""Cache parse / build / print of a 10,000-entry cache (issue: the cache format)."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchlib import ldcache_cmd, report, wall

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


def test_print_whole_process_budget(cache_file, ldconfig, floor):
    """`ldcache print` of 10,000 entries ≤ 2× the floor, whole process."""
    ours = wall(ldcache_cmd("print", "--glibc", "2.36", "-C", str(cache_file)))
    theirs = wall([ldconfig, "-p", "-C", str(cache_file)])
    report(f"print 10k: ldcache {ours * 1000:.1f} ms, ldconfig -p {theirs * 1000:.1f} ms, "
           f"floor {floor * 1000:.1f} ms; ldcache/floor = {ours / floor:.2f} (budget 2.0), "
           f"ldcache/ldconfig = {ours / theirs:.1f}")
    assert ours <= 2 * floor
