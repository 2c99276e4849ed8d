"""`_dl_cache_libcmp` order: the byte key against a direct, character-by-character reading of
the algorithm (spec §3.1), on random names; the machine's ldconfig is the oracle for the
resulting cache order in test_build.py and test_debian_roots.py."""

from __future__ import annotations

import random
import re

import pytest

from ldcache.libcmp import libcmp, libcmp_key


def reference(p1: bytes, p2: bytes, signed: bool) -> int:
    """glibc's loop, written out: digit runs as numbers, bytes as plain char."""
    def char(c: int) -> int:
        return c - 256 if signed and c >= 0x80 else c

    a, b = p1 + b"\0", p2 + b"\0"
    i = j = 0
    while a[i] != 0:
        if 0x30 <= a[i] <= 0x39:
            if 0x30 <= b[j] <= 0x39:
                v1 = v2 = 0
                while 0x30 <= a[i] <= 0x39:
                    v1 = v1 * 10 + a[i] - 0x30
                    i += 1
                while 0x30 <= b[j] <= 0x39:
                    v2 = v2 * 10 + b[j] - 0x30
                    j += 1
                if v1 != v2:
                    return v1 - v2
            else:
                return 1
        elif 0x30 <= b[j] <= 0x39:
            return -1
        elif a[i] != b[j]:
            return char(a[i]) - char(b[j])
        else:
            i += 1
            j += 1
    return char(a[i]) - char(b[j])


ALPHABET = b"lib.so-_x9012345678Ab\x7f\x80\xc3\xff"


def _name(rng: random.Random) -> bytes:
    out = bytearray()
    for _ in range(rng.randint(0, 10)):
        if rng.random() < 0.3:
            out += str(rng.randint(0, 10 ** rng.randint(1, 9))).encode()  # fits an int
        else:
            out.append(rng.choice(ALPHABET))
    return bytes(out)


def _longest_run(name: bytes) -> int:
    return max((len(r) for r in re.findall(rb"[0-9]+", name)), default=0)


@pytest.mark.parametrize("signed", [True, False])
def test_key_order_equals_reference(signed: bool) -> None:
    rng = random.Random(42 + signed)
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    for _ in range(20_000):
        a, b = _name(rng), _name(rng)
        if rng.random() < 0.2:
            b = a[: rng.randint(0, len(a))] + _name(rng)  # shared prefixes
        if _longest_run(a) > 9 or _longest_run(b) > 9:
            continue  # values beyond a C int: see test_long_digit_runs_wrap
        assert libcmp(a, b, signed) == sign(reference(a, b, signed)), (a, b)


@pytest.mark.parametrize("signed", [True, False])
def test_every_pair_of_bytes_equals_reference(signed: bool) -> None:
    """The rank tables, byte by byte: every pair of one-byte names, and each against a
    digit and the end of the name."""
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    names = [bytes([c]) for c in range(1, 256)]
    for a in names:
        for b in names + [b"", b"7"]:
            assert libcmp(a, b, signed) == sign(reference(a, b, signed)), (a, b)
            assert libcmp(b"x" + a + b"y", b"x" + b, signed) == \
                sign(reference(b"x" + a + b"y", b"x" + b, signed)), (a, b)


def test_documented_cases() -> None:
    assert libcmp(b"libq.so.010", b"libq.so.10") == 0
    assert libcmp(b"libq.so.10", b"libq.so.9a") > 0
    assert libcmp(b"lib\xc3", b"liba") < 0 < libcmp(b"lib\xc3", b"liba", signed=False)


def test_long_digit_runs_wrap_and_never_fail() -> None:
    """glibc accumulates a C int: runs wrap at 32 bits.  Very long runs (beyond Python's
    int() digit limit) are handled too."""
    assert libcmp(b"lib4294967296", b"lib0") == 0
    assert libcmp(b"lib2147483648", b"lib1") < 0  # wraps negative
    huge = b"lib" + b"9" * 10_000
    assert isinstance(libcmp_key(huge), bytes)
    assert libcmp(huge, huge + b"x") < 0
