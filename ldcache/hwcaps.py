"""Legacy hwcap and platform subdirectories (glibc ≤ 2.36's ldconfig; removed in 2.37).

A directory such as ``/usr/lib/tls/haswell`` carries a legacy hwcap mask computed from its
path components (``elf/ldconfig.c``: ``is_hwcap_platform``, ``path_hwcap``).  The names and
bit numbers are per port, as ldconfig is compiled (``sysdeps/*/dl-procinfo.[ch]``,
``sysdeps/x86/dl-hwcap.h`` with ``IS_IN (ldconfig)``), and some tables grew between 2.31 and
2.36 (powerpc ``mma``/``arch_3_1``/``power10`` in 2.32, s390 names in 2.34/2.35 and ``z16`` in
2.36).  Ports without a ``dl-procinfo.h`` of their own (riscv, loongarch, m68k, hppa, sh,
arc, ia64, or1k, microblaze, nios2, …) use the generic one: no hwcap names, no platforms,
only ``tls`` counts there.

How ldconfig uses the tables:

* ``_dl_string_hwcap(name)`` is the index of ``name`` in the port's hwcap name table;
  ``is_hwcap_platform`` scans such a subdirectory only if ``(1 << index) & HWCAP_IMPORTANT``
  (a C ``int`` shift: indexes ≥ 32, which only powerpc has, are never important);
* ``_dl_string_platform(name)`` is ``_DL_FIRST_PLATFORM + index`` in the platform table (the
  mips, alpha and csky tables return the bare index: their ``_DL_FIRST_PLATFORM`` is 0);
  every platform name is scanned;
* ``path_hwcap`` tries the hwcap table first, then the platforms, then (2.31) the
  ``hwcap N NAME`` names and ``tls`` — so on arm, whose hwcap table contains ``tls`` at
  index 15, a ``tls`` directory is worth bit 15, not bit 63, and on powerpc ``power5``
  is the hwcap bit 18, not the platform.
"""

from __future__ import annotations

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Optional, Union


__all__ = ["LegacyHwcaps", "legacy_hwcaps", "TLS_BIT", "TLS_MASK", "FAMILIES"]

#: The hwcap bit of a ``tls`` directory (≤ 2.36 ``_dl_important_hwcaps``), and its mask.
TLS_BIT = 63
TLS_MASK = 1 << TLS_BIT


class LegacyHwcaps(Record):
    """One port's legacy hwcap tables (a NamedTuple: cheap to define at start-up)."""

    #: hwcap names by bit number (the names ldconfig recognises; "" never matches).
    hwcap_names: tuple[str, ...]
    #: ``HWCAP_IMPORTANT``: bits of ``hwcap_names`` whose subdirectories ldconfig scans.
    important: int
    #: platform names, bits from ``first_platform`` on.
    platforms: tuple[str, ...]
    first_platform: int
    #: extra names from ``hwcap N NAME`` lines in ld.so.conf (glibc ≤ 2.31), by bit number.
    extra: tuple[tuple[int, str], ...] = ()
    #: ``_DL_FIRST_EXTRA`` (≤ 2.31): bit of ``hwcap 0 NAME``.
    first_extra: int = 0

    def hwcap_bit(self, name: bytes) -> int | None:
        """``_dl_string_hwcap``: the index of ``name`` in the hwcap name table."""
        text = _ascii(name)
        if text and text in self.hwcap_names:
            return self.hwcap_names.index(text)
        return None

    def platform_bit(self, name: bytes) -> int | None:
        """``_dl_string_platform``: the bit of platform ``name``."""
        text = _ascii(name)
        if text and text in self.platforms:
            return self.first_platform + self.platforms.index(text)
        return None

    def extra_bit(self, name: bytes) -> int | None:
        """The bit of a ≤2.31 ``hwcap N NAME`` name (lowest bit first, as ldconfig looks)."""
        text = _ascii(name)
        for bit, extra_name in sorted(self.extra):
            if extra_name == text:
                return bit
        return None

    def is_hwcap_platform(self, name: bytes) -> bool:
        """Whether a subdirectory called ``name`` is scanned as a hwcap directory."""
        bit = self.hwcap_bit(name)
        if bit is not None and bit < 32 and (1 << bit) & self.important:
            return True
        return (self.platform_bit(name) is not None or self.extra_bit(name) is not None
                or name == b"tls")

    @property
    def important_mask(self) -> int:
        mask = self.important
        for bit, _ in self.extra:
            mask |= 1 << bit
        return mask

    def path_hwcap(self, path: bytes) -> int:
        """The legacy hwcap mask of a directory path: one bit per trailing hwcap component,
        added (so a repeated component carries) modulo 2**64."""
        value = 0
        while b"/" in path:
            path, _, last = path.rpartition(b"/")
            bit = self.hwcap_bit(last)
            if bit is None:
                bit = self.platform_bit(last)
            if bit is None:
                bit = self.extra_bit(last)
            if bit is None:
                if last != b"tls":
                    break
                bit = TLS_BIT
            value = (value + (1 << bit)) & 0xFFFFFFFFFFFFFFFF
        return value


def _ascii(name: bytes) -> str | None:
    try:
        return name.decode("ascii")
    except UnicodeDecodeError:
        return None


def _bits(*bits: int) -> int:
    out = 0
    for b in bits:
        out |= 1 << b
    return out


# --- the tables ----------------------------------------------------------------------------

# x86 (sysdeps/x86/dl-hwcap.h, dl-procinfo.c): ldconfig — the i386 and the x86-64 build alike
# (IS_IN (ldconfig)) — covers every x86 name, all important.  _DL_FIRST_PLATFORM 48.
_X86 = LegacyHwcaps(hwcap_names=("sse2", "x86_64", "avx512_1"), important=0b111,
                    platforms=("i586", "i686", "haswell", "xeon_phi"), first_platform=48,
                    first_extra=52)

# aarch64 (sysdeps/unix/sysv/linux/aarch64/dl-procinfo.[ch]): 32 names, HWCAP_ATOMICS, no
# platforms.
_AARCH64 = LegacyHwcaps(
    hwcap_names=("fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32",
                 "atomics", "fphp", "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma",
                 "lrcpc", "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512", "sve",
                 "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca",
                 "pacg"),
    important=_bits(8), platforms=(), first_platform=0, first_extra=32)

# arm (sysdeps/unix/sysv/linux/arm/dl-procinfo.[ch]): 27 names (note "tls" at 15), VFP | NEON.
_ARM = LegacyHwcaps(
    hwcap_names=("swp", "half", "thumb", "26bit", "fastmult", "fpa", "vfp", "edsp", "java",
                 "iwmmxt", "crunch", "thumbee", "neon", "vfpv3", "vfpv3d16", "tls", "vfpv4",
                 "idiva", "idivt", "vfpd32", "lpae", "evtstrm", "aes", "pmull", "sha1",
                 "sha2", "crc32"),
    important=_bits(6, 12), platforms=(), first_platform=0, first_extra=27)

# powerpc (sysdeps/powerpc/dl-procinfo.[ch]): 64 names (AT_HWCAP then AT_HWCAP2), ALTIVEC +
# DFP, platforms from 32.
_PPC_NAMES_231 = (
    "ppcle", "true_le", "", "", "", "", "archpmu", "vsx",
    "arch_2_06", "power6x", "dfp", "pa6t", "arch_2_05", "ic_snoop", "smt", "booke",
    "cellbe", "power5+", "power5", "power4", "notb", "efpdouble", "efpsingle", "spe",
    "ucache", "4xxmac", "mmu", "fpu", "altivec", "ppc601", "ppc64", "ppc32",
    "", "", "", "", "", "", "", "",
    "", "", "", "", "", "", "", "",
    "", "", "", "htm-no-suspend", "scv", "darn", "ieee128", "arch_3_00",
    "htm-nosc", "vcrypto", "tar", "isel", "ebb", "dscr", "htm", "arch_2_07")
_PPC_NAMES_232 = _PPC_NAMES_231[:49] + ("mma", "arch_3_1") + _PPC_NAMES_231[51:]
_PPC_PLATFORMS = ("power4", "ppc970", "power5", "power5+", "power6", "ppc-cell-be",
                  "power6x", "power7", "ppca2", "ppc405", "ppc440", "ppc464", "ppc476",
                  "power8", "power9", "power10")
_PPC_231 = LegacyHwcaps(_PPC_NAMES_231, _bits(10, 28), _PPC_PLATFORMS[:15], 32,
                        first_extra=32 + 15)
_PPC_232 = LegacyHwcaps(_PPC_NAMES_232, _bits(10, 28), _PPC_PLATFORMS, 32, first_extra=32 + 16)

# s390 (sysdeps/s390/dl-procinfo.[ch]): ZARCH | LDISP | EIMM | DFP | VX | VXE | VXRS_EXT2,
# platforms from 32.
_S390_NAMES = ("esan3", "zarch", "stfle", "msa", "ldisp", "eimm", "dfp", "edat", "etf3eh",
               "highgprs", "te", "vx", "vxd", "vxe", "gs", "vxe2", "vxp", "sort", "dflt",
               "vxp2", "nnpa", "pcimio", "sie")
_S390_PLATFORMS = ("g5", "z900", "z990", "z9-109", "z10", "z196", "zEC12", "z13", "z14",
                   "z15", "z16")
_S390_IMPORTANT = _bits(1, 4, 5, 6, 11, 13, 15)
_S390_231 = LegacyHwcaps(_S390_NAMES[:19], _S390_IMPORTANT, _S390_PLATFORMS[:10], 32,
                         first_extra=42)
_S390_234 = LegacyHwcaps(_S390_NAMES[:21], _S390_IMPORTANT, _S390_PLATFORMS[:10], 32,
                         first_extra=42)
_S390_235 = LegacyHwcaps(_S390_NAMES, _S390_IMPORTANT, _S390_PLATFORMS[:10], 32,
                         first_extra=42)
_S390_236 = LegacyHwcaps(_S390_NAMES, _S390_IMPORTANT, _S390_PLATFORMS, 32, first_extra=43)

# sparc (sysdeps/sparc/dl-procinfo.[ch]): ULTRA3 | BLKINIT ("v9v") | N2 ("v9v2"), plus V9 in
# the 32-bit build; no platforms.
_SPARC_NAMES = ("flush", "stbar", "swap", "muldiv", "v9", "ultra3", "v9v", "v9v2", "mul32",
                "div32", "fsmuld", "v8plus", "popc", "vis", "vis2", "ASIBlkInit", "fmaf",
                "vis3", "hpc", "random", "trans", "fjfmau", "ima", "cspare", "pause",
                "cbcond", "crypto", "adp")
_SPARC64 = LegacyHwcaps(_SPARC_NAMES, _bits(5, 6, 7), (), 0, first_extra=28)
_SPARC32 = LegacyHwcaps(_SPARC_NAMES, _bits(4, 5, 6, 7), (), 0, first_extra=28)

# mips, alpha, csky: platform names only, returned as bare indexes (bits 0, 1, …).
_MIPS = LegacyHwcaps((), 0, ("loongson2e", "loongson2f", "octeon", "octeon2"), 0)
_ALPHA = LegacyHwcaps((), 0, ("ev4", "ev5", "ev56", "ev6", "ev67"), 0)
_CSKY = LegacyHwcaps((), 0, ("ck610", "ck807", "ck810", "ck860"), 0)

_NONE = LegacyHwcaps(hwcap_names=(), important=0, platforms=(), first_platform=0)

#: Families with tables of their own (everything else is generic).
FAMILIES = ("x86", "aarch64", "arm", "powerpc", "s390", "sparc", "mips", "alpha", "csky")


def _table(family: str, version: tuple[int, int], elf_class: int) -> LegacyHwcaps:
    if family == "x86":
        return _X86
    if family == "aarch64":
        return _AARCH64
    if family == "arm":
        return _ARM
    if family == "powerpc":
        return _PPC_231 if version < (2, 32) else _PPC_232
    if family == "s390":
        if version < (2, 34):
            return _S390_231
        if version < (2, 35):
            return _S390_234
        return _S390_235 if version < (2, 36) else _S390_236
    if family == "sparc":
        return _SPARC32 if elf_class == 32 else _SPARC64
    if family == "mips":
        return _MIPS
    if family == "alpha":
        return _ALPHA
    if family == "csky":
        return _CSKY
    return _NONE


def legacy_hwcaps(family: Union[str, Any], extra: tuple[tuple[int, str], ...] = (), *,
                  version: Optional[tuple[int, int]] = None,
                  elf_class: Optional[int] = None) -> LegacyHwcaps:
    """The legacy hwcap names the ldconfig of port ``family`` knows.

    ``family`` is a port family (``"x86"``, ``"powerpc"``, …) or an
    :class:`~ldcache.arch.Arch` (its family and ELF class are used); ``version`` selects the
    glibc release's tables (default 2.36, the last with legacy hwcaps); ``elf_class`` the
    32- or 64-bit build where the tables differ (sparc; default: the Arch's, else 64).
    ``extra`` are the ≤2.31 ``hwcap N NAME`` names by bit.
    """
    if not isinstance(family, str):
        if elf_class is None:
            elf_class = getattr(family, "elf_class", None)
        family = family.family
    v = (version[0], version[1]) if version else (2, 36)
    base = _table(family, v, elf_class or 64)
    if extra:
        return LegacyHwcaps(base.hwcap_names, base.important, base.platforms,
                            base.first_platform, extra, base.first_extra)
    return base
