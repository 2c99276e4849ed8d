"""The fuzz targets' seeds and every input that ever failed, replayed; a short
property-based run of each target; the known reader limitations the fuzzer found.

The coverage-guided runs themselves are ``fuzz/run.py`` (``.ci/run`` runs it for about a
minute; ``fuzz/README.md`` has the long command)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
sys.path.insert(0, str(FUZZ))

import targets  # noqa: E402

from ldcache.format import Cache, build, parse  # noqa: E402


def _inputs():
    for name in targets.TARGETS:
        for label, data in {**targets.seeds(name), **targets.regressions(name)}.items():
            yield pytest.param(name, data, id=f"{name}-{label}")


@pytest.mark.parametrize("target,data", list(_inputs()))
def test_replay(target: str, data: bytes) -> None:
    with targets.bounded():
        targets.TARGETS[target](data)


def test_there_are_seeds_and_regressions() -> None:
    assert len(targets.seeds("cache")) >= 50
    assert len(targets.seeds("elf")) >= 5
    assert targets.regressions("cache")


def test_targets_reject_what_they_should() -> None:
    """The targets are not vacuous: an undocumented exception escapes them."""
    import ldcache.format as fmt

    real = fmt.parse

    def broken(data: bytes) -> Cache:
        raise KeyError("bug")

    fmt.parse = broken
    try:
        with pytest.raises(KeyError):
            targets.cache_target((FUZZ.parent / "vectors/bookworm-amd64-new.cache").read_bytes())
    finally:
        fmt.parse = real


def test_bounded_catches_a_hang() -> None:
    with pytest.raises(targets.Hang):
        with targets.bounded(0.2):
            while True:
                pass


_FAST = settings(max_examples=150, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(st.binary(max_size=2048))
def test_cache_random(data: bytes) -> None:
    with targets.bounded():
        targets.cache_target(data)


@_FAST
@given(st.binary(max_size=2048))
def test_elf_random(data: bytes) -> None:
    with targets.bounded():
        targets.elf_target(b"\x7fELF" + data)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([b"include /etc/ld.so.conf.d/*.conf", b"include a.conf",
                                 b"include /etc/ld.so.conf", b"/usr/lib", b"/opt/lib",
                                 b"hwcap 3 x", b"include sub/*.conf", b"/x=libc5", b"\0",
                                 b"include /etc/other.conf", b"# c", b"  \t"]),
                max_size=40))
def test_conf_random(lines: list) -> None:
    # (Include storms end at ConfLimits.max_files after ~1 s alone; seen past 10 s on a
    # loaded 2-core machine late in the whole suite: 6x the bound, still far from a hang.)
    with targets.bounded(6 * targets.INPUT_SECONDS):
        targets.conf_target(b"\n".join(lines))


# --- what the fuzzer found in the cache reader (format.py), now regression tests ----------

def test_empty_new_cache_without_endian_flag_is_the_same_in_both_orders() -> None:
    """fuzz/regressions/cache/empty-old-to-big-new: with no entries, no strings and no
    endianness flag a new cache has the same bytes in both orders; it reads back to them."""
    big = build(Cache(layout="new", byte_order="big", string_table="merged", endian_flag=False))
    little = build(Cache(layout="new", byte_order="little", string_table="merged",
                         endian_flag=False))
    assert big == little
    assert build(parse(big)) == big


def test_empty_new_big_cache_with_strings_keeps_its_order() -> None:
    """Without the flag, the order whose entry count and string table fit the file wins."""
    c = Cache(layout="new", byte_order="big", string_table="merged", endian_flag=False,
              extra_strings=(b"x86-64-v3",))
    assert parse(build(c)).byte_order == "big"


def test_compat_big_with_empty_old_table() -> None:
    """fuzz/regressions/cache/compat-big-empty-old-table: an empty old table does not
    decide the byte order (an empty s390x root built with -c compat)."""
    c = Cache(layout="compat", byte_order="big", string_table="merged", endian_flag=True,
              generator=b"ldconfig")
    data = build(c)
    assert parse(data).byte_order == "big"
    assert build(parse(data)) == data


def test_empty_compat_cache_stays_compat() -> None:
    """fuzz/regressions/cache/empty-compat-read-as-old: a hidden new header with nothing after
    it (an empty glibc 2.31/2.32 root's default layout) is still found."""
    c = Cache(layout="compat", byte_order="little", string_table="concat")
    data = build(c)
    assert parse(data).layout == "compat"
    assert build(parse(data)) == data
