"""``_dl_cache_libcmp``: the order of sonames in the cache and the "newest file" rule.

glibc (``elf/dl-cache.c``) compares two names byte by byte, except that runs of decimal
digits compare as numbers (leading zeros ignored; a digit beats any non-digit and the end of
the name), and bytes compare as the target's plain ``char`` — signed on x86, unsigned on most
other ports.  Digit runs are accumulated in a C ``int``; like glibc we let long runs wrap at
32 bits (only the signed wrapped values are compared, where glibc subtracts them).

:func:`libcmp_key` turns a name into a ``bytes`` key whose plain byte order is that order:
each non-digit byte becomes its rank among the non-digit ``char`` values (the end of the
name ranks as NUL), each digit run ``0xff`` and the 32-bit value, offset to sort unsigned.
"""

from __future__ import annotations

__all__ = ["libcmp", "libcmp_key"]

_DIGIT_MARK = b"\xff"
#: Each byte as b"1" if it is an ASCII decimal digit, else b"0": the digit runs of a name
#: are then found with ``bytes.find`` on its translation (no ``re`` at start-up).
_DIGIT_MASK = b"0" * 0x30 + b"1" * 10 + b"0" * (0x100 - 0x3A)

#: Each non-digit byte's rank among the 246 non-digit ``char`` values in the target's
#: order (all below the digit mark; digits map to 0, never used).  Built from ranges, as
#: every command's start-up builds them: plain ``char`` unsigned ranks 0x00-0x2f, then
#: 0x3a-0xff; signed ranks 0x80-0xff (-128..-1) first, then 0x00-0x2f, then 0x3a-0x7f.
_TABLES = {
    False: bytes(range(0x30)) + bytes(10) + bytes(range(0x30, 0xF6)),
    True: bytes(range(0x80, 0xB0)) + bytes(10) + bytes(range(0xB0, 0xF6)) + bytes(range(0x80)),
}


def libcmp_key(name: bytes, signed: bool = True) -> bytes:
    """A key ordering names as ``_dl_cache_libcmp`` does (ascending)."""
    table = _TABLES[signed]
    mask = name.translate(_DIGIT_MASK)
    start = mask.find(b"1")
    if start < 0:
        return b"".join((name.translate(table), table[0:1]))
    parts = []
    pos = 0
    while start >= 0:
        end = mask.find(b"0", start)
        if end < 0:
            end = len(name)
        parts.append(name[pos:start].translate(table))
        # The run's value modulo 2**32 (10**32 is a multiple of 2**32: the last 32 digits
        # decide it), as a signed C int, offset so that its bytes sort like the number.
        value = int(name[max(start, end - 32):end]) & 0xFFFFFFFF
        parts.append(_DIGIT_MARK + (value ^ 0x80000000).to_bytes(4, "big"))
        pos = end
        start = mask.find(b"1", end)
    parts.append(name[pos:].translate(table))
    parts.append(table[0:1])  # the terminating NUL
    return b"".join(parts)


def libcmp(a: bytes, b: bytes, signed: bool = True) -> int:
    """<0, 0 or >0 as ``_dl_cache_libcmp(a, b)``."""
    ka, kb = libcmp_key(a, signed), libcmp_key(b, signed)
    return (ka > kb) - (ka < kb)
