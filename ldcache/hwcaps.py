"""Legacy hwcap and platform subdirectories (glibc ≤ 2.36's ldconfig; removed in 2.37).

A directory such as ``/usr/lib/tls/haswell`` carries a legacy hwcap mask computed from its
path components (``elf/ldconfig.c``: ``is_hwcap_platform``, ``path_hwcap``).  The names and
bit numbers are per port (``sysdeps/*/dl-procinfo.[ch]``, ``dl-hwcap.h`` as compiled for
ldconfig).  Ports not listed here have no hwcap names ldconfig treats as important and no
platform names: only ``tls`` counts there.
"""

from __future__ import annotations

from typing import NamedTuple


__all__ = ["LegacyHwcaps", "legacy_hwcaps", "TLS_BIT"]

TLS_BIT = 63


class LegacyHwcaps(NamedTuple):
    #: hwcap names by bit number (the names ldconfig recognises).
    hwcap_names: tuple[str, ...]
    #: bits of ``hwcap_names`` that ldconfig treats as important (subdirectories it scans).
    important: int
    #: platform names, bits from ``first_platform`` on.
    platforms: tuple[str, ...]
    first_platform: int
    #: extra names from ``hwcap N NAME`` lines in ld.so.conf (glibc ≤ 2.31), by bit number.
    extra: tuple[tuple[int, str], ...] = ()

    def hwcap_bit(self, name: bytes) -> int | None:
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        if text in self.hwcap_names:
            return self.hwcap_names.index(text)
        for bit, extra_name in self.extra:
            if extra_name == text:
                return bit
        return None

    def platform_bit(self, name: bytes) -> int | None:
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        if text in self.platforms:
            return self.first_platform + self.platforms.index(text)
        return None

    def is_hwcap_platform(self, name: bytes) -> bool:
        """Whether a subdirectory called ``name`` is scanned as a hwcap directory."""
        bit = self.hwcap_bit(name)
        if bit is not None and (bit >= 64 or (1 << bit) & self.important_mask):
            return True
        return self.platform_bit(name) is not None or name == b"tls"

    @property
    def important_mask(self) -> int:
        mask = self.important
        for bit, _ in self.extra:
            mask |= 1 << bit
        return mask

    def path_hwcap(self, path: bytes) -> int:
        """The legacy hwcap mask of a directory path: one bit per trailing hwcap component."""
        value = 0
        while b"/" in path:
            path, _, last = path.rpartition(b"/")
            bit = self.hwcap_bit(last)
            if bit is None:
                bit = self.platform_bit(last)
            if bit is None:
                if last != b"tls":
                    break
                bit = TLS_BIT
            value = (value + (1 << bit)) & 0xFFFFFFFFFFFFFFFF
        return value


# ldconfig on x86 (both i386 and x86-64 builds) covers every x86 name.
_X86 = LegacyHwcaps(hwcap_names=("sse2", "x86_64", "avx512_1"), important=0b111,
                    platforms=("i586", "i686", "haswell", "xeon_phi"), first_platform=48)
_NONE = LegacyHwcaps(hwcap_names=(), important=0, platforms=(), first_platform=48)

_BY_FAMILY = {"x86": _X86}


def legacy_hwcaps(family: str, extra: tuple[tuple[int, str], ...] = ()) -> LegacyHwcaps:
    """The legacy hwcap names ldconfig of port ``family`` knows (``"x86"``, …)."""
    base = _BY_FAMILY.get(family, _NONE)
    if extra:
        return LegacyHwcaps(base.hwcap_names, base.important, base.platforms,
                            base.first_platform, extra)
    return base
