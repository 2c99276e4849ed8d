"""``_dl_cache_libcmp``: the order of sonames in the cache and the "newest file" rule.

glibc (``elf/dl-cache.c``) compares two names byte by byte, except that runs of decimal
digits compare as numbers (leading zeros ignored; a digit beats any non-digit), and bytes
compare as the target's plain ``char`` — signed on x86, unsigned on most other ports.
Digit runs are accumulated in a C ``int``; like glibc we let long runs wrap at 32 bits.
"""

from __future__ import annotations

import re
from typing import Tuple

__all__ = ["libcmp", "libcmp_key"]

_RUNS = re.compile(rb"[0-9]+|[^0-9]")

Key = Tuple[Tuple[int, int], ...]


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def _char(byte: int, signed: bool) -> int:
    return byte - 256 if signed and byte >= 0x80 else byte


def libcmp_key(name: bytes, signed: bool = True) -> Key:
    """A sort key ordering names as ``_dl_cache_libcmp`` does (ascending)."""
    key = []
    for run in _RUNS.findall(name):
        if run[0] <= 0x39 and run[0] >= 0x30:
            key.append((2, _int32(int(run))))
        else:
            key.append((1, _char(run[0], signed)))
    key.append((1, 0))  # the terminating NUL
    return tuple(key)


def libcmp(a: bytes, b: bytes, signed: bool = True) -> int:
    """<0, 0 or >0 as ``_dl_cache_libcmp(a, b)``."""
    ka, kb = libcmp_key(a, signed), libcmp_key(b, signed)
    return (ka > kb) - (ka < kb)
