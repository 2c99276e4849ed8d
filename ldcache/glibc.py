"""What each glibc version's ldconfig and loader do differently: one table of switches.

Every version-dependent decision in ldcache reads a field of :class:`Behaviour`;
nothing else in the code compares version numbers.  The facts come from
``shared/ldconfig-spec.md`` §10 (diffs of glibc's ``elf/`` between release tags) and
from running real ldconfigs (see ``vectors/``).
"""

from __future__ import annotations

from ._record import Record

__all__ = ["Behaviour", "behaviour", "parse_version", "supported_version",
           "names_distribution_build", "NEWEST", "OLDEST"]

#: The glibc releases ldcache knows (2.43's ldconfig, loader and cache format are 2.42's).
OLDEST = (2, 31)
NEWEST = (2, 43)


class Behaviour(Record):
    """The ldconfig and ``ld.so`` behaviour of one glibc version (and distribution build)."""

    version: tuple[int, int]
    #: ``-c`` default: "compat" up to 2.31, "new" from 2.32.
    default_format: str
    #: "concat" (≤2.32: soname+path appended per entry) or "merged" (≥2.33: tail-merged).
    string_table: str
    #: The new header's flags byte records the byte order (≥2.33; Debian's 2.31 too).
    endian_flag: bool
    #: Extension directory with the generator section (≥2.33).
    extensions: bool
    #: glibc-hwcaps subdirectories and the x86 ISA level (≥2.33): ldconfig scans and records
    #: them, and ``ld.so`` takes the cache's glibc-hwcaps entries and has the
    #: ``--glibc-hwcaps-prepend``/``--glibc-hwcaps-mask`` options (``elf/dl-cache.c``
    #: ``search_cache``, ``elf/dl-hwcaps.c``); older loaders skip those entries.
    glibc_hwcaps: bool
    #: osversion read from the ``.note.ABI-tag`` note, sorted on and printed (≤2.35).
    osversion: bool
    #: Legacy hwcap / platform / tls subdirectories (≤2.36).
    legacy_hwcaps: bool
    #: ld.so.conf ``hwcap N name`` lines define names (≤2.31); later ignored with a message.
    hwcap_conf_lines: bool
    #: libc4/libc5/ELF classification of libraries and ``dir=TYPE`` conf syntax (≤2.36).
    libc5_classification: bool
    #: ``_dl_is_dso`` also accepts ``ld.so.*`` and ``ld64.so.*`` (≥2.34).
    dso_ld_so_names: bool
    #: Skip ``;`` (rpm), ``.dpkg-new`` and ``.dpkg-tmp`` names (≥2.39).
    skip_package_temp_names: bool
    #: 2.37 only: a library without DT_SONAME gets its name cut after the ``.so.N``.
    truncate_implicit_soname: bool
    #: The ≤2.32 old-format writer adds the compat alignment pad to every string offset.
    old_format_pad_bug: bool
    #: ``-v`` directory headers carry ``(from FILE:LINE)`` (≥2.32).
    verbose_origin: bool
    #: ``-p`` prints the IA-64 flag as ``IA-64`` (≤2.38) rather than its number.
    ia64: bool
    #: LoongArch flags and the LoongArch system-directory rule exist (≥2.38).
    loongarch: bool
    #: File-name suffixes whose "not an ELF file" message is suppressed.
    gdb_suffixes: tuple[str, ...]
    #: AArch64 system directories include ``libilp32`` (≤2.41).
    aarch64_ilp32_dirs: bool
    #: RISC-V system directories include ``lib32/ilp32d`` and ``lib32/ilp32`` (≥2.33).
    riscv_ilp32_dirs: bool

    # The dynamic loader's cache lookup (``ld.so``, simulated by ldcache.lookup).
    #: ``ld.so`` ignores the whole cache when the new header's flags byte names the other
    #: byte order (≥2.33: ``cache_file_new_matches_endian``, ``elf/dl-cache.c`` and
    #: ``sysdeps/generic/dl-cache.h``).
    loader_checks_endian: bool
    #: ``search_cache`` (``elf/dl-cache.c``) lets a later acceptable entry replace one it
    #: remembered whose flags are not ``_DL_CACHE_DEFAULT_ID`` (≥2.34, the loader fix for
    #: glibc-hwcaps against flags mismatches); up to 2.33 (``SEARCH_CACHE``) the first
    #: acceptable entry stays and only one with the default flags comes after it.
    loader_replaces_fallback: bool
    #: ``ld.so`` takes legacy hwcap entries (``hwcap`` ≠ 0, not glibc-hwcaps) whose bits
    #: ``AT_HWCAP & hwcap_mask``, ``AT_PLATFORM`` and the TLS bit provide (≤2.39); from 2.40
    #: ``search_cache`` skips every such entry (``elf/dl-cache.c``).
    loader_legacy_hwcaps: bool
    #: ``ld.so`` skips entries whose ``osversion`` is above the running kernel's
    #: (``_dl_discover_osversion``; ``elf/dl-cache.c``, ≤2.35; gone in 2.36 with the
    #: ABI-tag note).
    loader_osversion_check: bool
    #: ``_dl_hwcaps_subdirs`` of the x86-64 and x32 loaders, best first:
    #: ``x86-64-v4`` … ``x86-64-v2`` from 2.33 (``sysdeps/x86_64/dl-hwcaps-subdirs.c``).
    x86_64_hwcaps_subdirs: tuple[str, ...]
    #: ``_dl_hwcaps_subdirs`` of the ppc64le loader, best first: ``power9`` from 2.33,
    #: ``power10`` too from 2.34 (``sysdeps/powerpc/powerpc64/le/dl-hwcaps-subdirs.c``).
    ppc64le_hwcaps_subdirs: tuple[str, ...]
    #: ``_dl_hwcaps_subdirs`` of the s390x loader, best first: ``z15`` … ``z13`` from 2.33,
    #: ``z16`` from 2.36, ``z17`` from 2.42 (``sysdeps/s390/s390-64/dl-hwcaps-subdirs.c``).
    s390x_hwcaps_subdirs: tuple[str, ...]
    #: "%s is for unknown machine %d." only with ``-v`` (Debian patch
    #: ``i386/unsubmitted-quiet-ldconfig.diff`` on the x86 ``readelflib.c``).
    quiet_unknown_machine: bool = False
    #: 2.37–2.38: a missing ``break`` lets ``PT_INTERP`` segments be parsed as
    #: ``PT_GNU_PROPERTY`` notes (x86 ISA level).
    interp_property_fallthrough: bool = False

    @property
    def type_names(self) -> dict[int, str]:
        """``-p`` words for the low byte of the entry flags."""
        if self.libc5_classification:
            return {0: "libc4", 1: "ELF", 2: "libc5", 3: "libc6"}
        return {3: "libc6"}

    @property
    def unknown_type_name(self) -> str:
        return "unknown" if self.libc5_classification else "unknown or unsupported flag"


def digits_end(data: bytes, i: int) -> int:
    """The end of the run of ASCII decimal digits at ``data[i]`` (``i`` when there is none);
    the work is linear in the run's length, whatever it is (the version parser's and the
    libc banner search's)."""
    size = 16
    while True:
        seg = data[i:i + size]
        rest = seg.lstrip(b"0123456789")
        if rest or len(seg) < size:
            return i + len(seg) - len(rest)
        i += size
        size = min(size * 2, 1 << 16)


def parse_version(text: str | bytes) -> tuple[int, int]:
    """``"2.36"`` or ``"2.36-9+deb12u14"`` → ``(2, 36)``; ValueError otherwise.

    What matters is the start of the text (surrounding ASCII white space stripped): ASCII
    digits, ``.``, ASCII digits; anything may follow."""
    raw = text.encode() if isinstance(text, str) else text
    s = raw.strip()
    dot = digits_end(s, 0)
    end = digits_end(s, dot + 1) if 0 < dot < len(s) and s[dot] == 0x2E else 0
    if end <= dot + 1:
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise ValueError(f"not a glibc version: {shown!r}")
    return int(s[:dot]), int(s[dot + 1:end])


def supported_version(text: str) -> tuple[int, int]:
    """A ``--glibc`` argument (``2.36`` or a package version ``2.36-9+deb12u14``) as a
    version ldcache knows; LdcacheError (not a version, or outside the supported range)."""
    from .errors import LdcacheError

    try:
        v = parse_version(text)
    except ValueError as exc:
        raise LdcacheError(str(exc)) from None
    if not OLDEST <= v <= NEWEST:
        raise LdcacheError(f"glibc {text} is not supported (ldcache knows glibc "
                           f"{OLDEST[0]}.{OLDEST[1]} to {NEWEST[0]}.{NEWEST[1]})")
    return v


def names_distribution_build(text: str) -> bool:
    """A ``--glibc`` argument that is a Debian or Ubuntu package version
    (``2.31-13+deb11u11``): it names that distribution's build, defaults and layout."""
    return "deb" in text or "ubuntu" in text


def behaviour(version: tuple[int, int] | str = NEWEST, *, debian: bool = False) -> Behaviour:
    """The behaviour switches of glibc ``version`` (``debian``: Debian's build of it)."""
    v = parse_version(version) if isinstance(version, (str, bytes)) else tuple(version)
    if v < (2, 0):
        raise ValueError(f"not a glibc version: {version!r}")
    return Behaviour(
        version=v,  # type: ignore[arg-type]
        # Debian's 2.31 (bullseye) already defaults to the new layout (measured).
        default_format="compat" if v <= (2, 31) and not debian else "new",
        string_table="concat" if v <= (2, 32) else "merged",
        # Debian backported the endianness flag byte to its 2.31 (bullseye).
        endian_flag=v >= (2, 33) or (debian and v >= (2, 31)),
        extensions=v >= (2, 33),
        glibc_hwcaps=v >= (2, 33),
        osversion=v <= (2, 35),
        legacy_hwcaps=v <= (2, 36),
        hwcap_conf_lines=v <= (2, 31),
        libc5_classification=v <= (2, 36),
        dso_ld_so_names=v >= (2, 34),
        skip_package_temp_names=v >= (2, 39),
        truncate_implicit_soname=v == (2, 37),
        old_format_pad_bug=v <= (2, 32),
        verbose_origin=v >= (2, 32),
        ia64=v <= (2, 38),
        loongarch=v >= (2, 38),
        gdb_suffixes=("-gdb.gdb", "-gdb.py", "-gdb.scm") if v >= (2, 40) else ("-gdb.py",),
        aarch64_ilp32_dirs=v <= (2, 41),
        riscv_ilp32_dirs=v >= (2, 33),
        loader_checks_endian=v >= (2, 33),
        loader_replaces_fallback=v >= (2, 34),
        loader_legacy_hwcaps=v <= (2, 39),
        loader_osversion_check=v <= (2, 35),
        x86_64_hwcaps_subdirs=("x86-64-v4", "x86-64-v3", "x86-64-v2") if v >= (2, 33) else (),
        ppc64le_hwcaps_subdirs=(
            ("power10", "power9") if v >= (2, 34) else ("power9",) if v >= (2, 33) else ()),
        s390x_hwcaps_subdirs=(
            ("z17", "z16", "z15", "z14", "z13") if v >= (2, 42)
            else ("z16", "z15", "z14", "z13") if v >= (2, 36)
            else ("z15", "z14", "z13") if v >= (2, 33) else ()),
        quiet_unknown_machine=debian,
        interp_property_fallthrough=(2, 37) <= v <= (2, 38),
    )
