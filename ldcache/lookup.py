"""The glibc loader's cache lookup, simulated: which path ``ld.so`` takes for a SONAME.

This follows ``elf/dl-cache.c`` (``_dl_load_cache_lookup`` and ``search_cache``; spec
§10.2–10.3) step by step on a parsed cache, and records why every entry with the wanted
name won or lost:

* the table is searched with a *binary search* by ``_dl_cache_libcmp`` (plain ``char``
  signed or not, as on the target), so a cache that is not sorted as the loader expects
  can hide entries that are there;
* an entry must have flags the loader accepts (``_dl_cache_check_flags``); the first
  acceptable entry whose flags equal ``_DL_CACHE_DEFAULT_ID`` ends the search;
* glibc-hwcaps entries (glibc ≥ 2.33) need an x86 ISA level the CPU has and a
  subdirectory that is active; the active subdirectory with the best priority wins;
* legacy hwcap entries (≤ 2.39 loaders) need their bits in ``AT_HWCAP & hwcap_mask``,
  the TLS bit or the platform bit of ``AT_PLATFORM``; ≥ 2.40 loaders skip them;
* ≤ 2.35 loaders skip entries whose ``osversion`` is above the running kernel's.

What the simulated loader is — its glibc version, architecture, active glibc-hwcaps
subdirectories, CPU ISA level — is a :class:`Loader`; :func:`default_loader` derives it
from a root and (for the CPU) from this machine.  Which of these rules a glibc version's
loader follows is read from its :class:`~ldcache.glibc.Behaviour` (``glibc_hwcaps``, the
``loader_*`` fields and the ``*_hwcaps_subdirs`` lists); nothing here compares versions.
"""

from __future__ import annotations

import os
import platform as _platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .arch import Arch, host_arch, loader_flags
from .cacheflags import arch_word
from .format import Cache, Entry
from .glibc import Behaviour, behaviour
from .hwcaps import TLS_MASK
from .libcmp import libcmp

__all__ = [
    "Candidate",
    "Loader",
    "Lookup",
    "active_hwcaps",
    "builtin_hwcaps_subdirs",
    "cpu_x86_64_level",
    "default_loader",
    "lookup",
    "parse_kernel_version",
]

#: x86-64 micro-architecture levels by the feature flags of ``/proc/cpuinfo`` that define
#: them (x86-64 psABI; glibc ``sysdeps/x86/get-isa-level.h``).
_X86_64_LEVELS: tuple[tuple[int, frozenset[str]], ...] = (
    (2, frozenset({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"})),
    (3, frozenset({"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe"})),
    (4, frozenset({"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"})),
)


def cpu_x86_64_level(cpuinfo: str | None = None) -> int | None:
    """The highest x86-64 level (1 = baseline … 4 = x86-64-v4) of this machine's CPU, from
    ``/proc/cpuinfo`` (or the text given), or None when that cannot be read."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                cpuinfo = f.read(1 << 20)
        except OSError:
            return None
    flags: set[str] | None = None
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            flags = set(value.split())
            break
    if flags is None:
        return None
    level = 1
    for n, needed in _X86_64_LEVELS:
        if not needed <= flags:
            break
        level = n
    return level


def builtin_hwcaps_subdirs(arch: Arch, version: tuple[int, int]) -> tuple[str, ...]:
    """``_dl_hwcaps_subdirs`` of ``arch``'s loader in glibc ``version``, best first."""
    b = behaviour(version)
    if arch.name in ("x86_64", "x32"):
        return b.x86_64_hwcaps_subdirs
    if arch.name == "ppc64le":
        return b.ppc64le_hwcaps_subdirs
    if arch.name == "s390x":
        return b.s390x_hwcaps_subdirs
    return ()


def active_hwcaps(arch: Arch, version: tuple[int, int], *, isa_level: int | None,
                  prepend: Sequence[str] = (), mask: Sequence[str] | None = None,
                  ) -> tuple[str, ...]:
    """The loader's glibc-hwcaps priority list (best first), as ``_dl_important_hwcaps``
    builds it: ``--glibc-hwcaps-prepend`` names, then the built-in subdirectories the CPU
    supports, filtered by ``--glibc-hwcaps-mask``.  On x86-64 ``isa_level`` (1–4) says
    which built-in subdirectories are supported; elsewhere none are known to be, unless
    the caller names them."""
    if not behaviour(version).glibc_hwcaps:
        return ()
    builtin = builtin_hwcaps_subdirs(arch, version)
    if arch.name in ("x86_64", "x32"):
        level = isa_level or 1
        builtin = tuple(n for n in builtin if int(n[-1]) <= level)
    else:
        builtin = ()
    if mask is not None:
        builtin = tuple(n for n in builtin if n in mask)
    return tuple(prepend) + builtin


@dataclass(frozen=True)
class Loader:
    """The loader whose lookup is simulated."""

    arch: Arch
    #: glibc version of ``ld.so``: its :attr:`behaviour` decides which rules apply.
    version: tuple[int, int] = (2, 42)
    #: Active glibc-hwcaps subdirectory names, best (priority 1) first.
    hwcaps: tuple[str, ...] = ()
    #: Highest x86-64 ISA level the CPU supports (1 = baseline); None: not checked.
    isa_level: int | None = None
    #: ``AT_HWCAP & hwcap_mask`` for legacy hwcap entries.
    legacy_hwcap: int = 0
    #: ``AT_PLATFORM`` bit (legacy), None when the platform is not one glibc names.
    platform_bit: int | None = None
    #: Running kernel version as ``_dl_discover_osversion`` gives it (≤ 2.35 loaders).
    kernel: int = 0

    @property
    def behaviour(self) -> Behaviour:
        """The version switches of this loader's glibc (the ``loader_*`` fields and
        ``glibc_hwcaps`` are the ones about ``ld.so``)."""
        return behaviour(self.version)

    @property
    def default_flags(self) -> int:
        return loader_flags(self.arch, self.behaviour)[0]

    @property
    def accepted_flags(self) -> frozenset[int]:
        return loader_flags(self.arch, self.behaviour)[1]


@dataclass
class Candidate:
    """One cache entry with the wanted SONAME, and what the loader made of it."""

    index: int
    entry: Entry
    #: "chosen", "lost", "rejected" or "not-reached".
    verdict: str = "not-reached"
    reason: str = ""
    #: glibc-hwcaps priority (1 = best), 0 when inactive, None for other entries.
    priority: int | None = None


@dataclass
class Lookup:
    soname: bytes
    loader: Loader
    #: The path the loader opens, or None (then it searches the default directories).
    path: bytes | None = None
    candidates: list[Candidate] = field(default_factory=list)
    #: Table indices the binary search compared, in order.
    probes: list[int] = field(default_factory=list)
    #: Whole-cache facts: which table was searched, why the cache is ignored, …
    notes: list[str] = field(default_factory=list)
    #: The table searched: "new", "old", or None when the loader ignores the cache.
    table: str | None = None


def parse_kernel_version(release: str) -> int:
    """``uname -r`` text → ``_dl_discover_osversion``'s value (``0xMMmmpp``)."""
    parts: list[int] = []
    for piece in release.split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        parts.append(int(digits) if digits else 0)
        if len(digits) != len(piece):
            break
    while len(parts) < 3:
        parts.append(0)
    return (parts[0] << 16) | (min(parts[1], 255) << 8) | min(parts[2], 255)


def default_loader(arch: Arch, version: tuple[int, int], *, hwcaps: Sequence[str] | None = None,
                   isa_level: int | None = None, prepend: Sequence[str] = (),
                   mask: Sequence[str] | None = None, legacy_hwcap: int | None = None,
                   platform: str | None = None, kernel: int | None = None) -> Loader:
    """A :class:`Loader` for ``arch`` and glibc ``version``; what is not given is taken
    from this machine where it applies (the CPU's x86-64 level when the machine is x86-64,
    the running kernel) and is otherwise the port's baseline."""
    x86_64 = arch.name in ("x86_64", "x32")
    if isa_level is None and arch.family == "x86":
        try:
            same = host_arch().family == "x86"
        except RuntimeError:
            same = False
        isa_level = (cpu_x86_64_level() if same else None) or 1
    if hwcaps is None:
        active = active_hwcaps(arch, version, isa_level=isa_level, prepend=prepend, mask=mask)
    else:
        active = tuple(hwcaps)
    if legacy_hwcap is None:
        # x86-64 ld.so: AT_HWCAP is HWCAP_X86_64 (bit 1) and hwcap_mask keeps it.
        legacy_hwcap = 1 << 1 if x86_64 else 0
    bit = None
    if platform is not None:
        from .hwcaps import legacy_hwcaps

        bit = legacy_hwcaps(arch.family).platform_bit(platform.encode())
    if kernel is None:
        kernel = parse_kernel_version(_platform.release())
    return Loader(arch=arch, version=version, hwcaps=active,
                  isa_level=isa_level if arch.family == "x86" else None,
                  legacy_hwcap=legacy_hwcap, platform_bit=bit, kernel=kernel)


def _flags_text(flags: int, loader: Loader) -> str:
    word = arch_word(flags, loader.behaviour).lstrip(",")
    return f"{flags:#06x}" + (f" ({word})" if word else "")


def _accepted_text(loader: Loader) -> str:
    return ", ".join(f"{f:#06x}" for f in sorted(loader.accepted_flags))


def _priorities(cache: Cache, active: Sequence[str]) -> list[int]:
    """``glibc_hwcaps_priorities_init``: merge the cache's name list (which ldconfig sorts)
    with the loader's list sorted by name; 0 = not usable."""
    right = sorted(((n.encode(), i + 1) for i, n in enumerate(active)), key=lambda t: t[0])
    # The loader's insertion sort is stable: of two equal names the earlier one (the better
    # priority) comes first and is the one the merge takes.
    result: list[int] = []
    r = 0
    left = list(cache.hwcaps)
    i = 0
    while i < len(left) and r < len(right):
        name, prio = right[r]
        if left[i] == name:
            result.append(prio)
            i += 1
            r += 1
        elif left[i] < name:
            result.append(0)
            i += 1
        else:
            r += 1
    result.extend(0 for _ in left[i:])
    return result


def lookup(cache: Cache, soname: bytes, loader: Loader) -> Lookup:
    """Simulate ``_dl_load_cache_lookup(soname)`` of ``loader`` on ``cache``."""
    out = Lookup(soname, loader)
    arch = loader.arch
    b = loader.behaviour
    if b.loader_checks_endian and cache.endian_flag and cache.layout != "old" \
            and cache.byte_order != arch.byte_order:
        out.notes.append(f"the cache is {cache.byte_order}-endian and the {arch.name} loader "
                         f"is {arch.byte_order}-endian: it ignores the whole cache")
        _mark_all(out, cache, "rejected", "the loader ignores this cache (byte order)")
        return out
    out.table = "old" if cache.layout == "old" else "new"
    if cache.layout == "compat":
        out.notes.append("compat layout: the loader searches the new table")
    entries = cache.entries
    signed = arch.char_signed
    new_table = out.table == "new"
    hwcaps_on = b.glibc_hwcaps and new_table
    prios = _priorities(cache, loader.hwcaps) if hwcaps_on else []
    default_id = loader.default_flags
    accepted = loader.accepted_flags

    left, right = 0, len(entries) - 1
    found_at = None
    while left <= right:
        middle = (left + right) // 2
        out.probes.append(middle)
        cmp = libcmp(soname, entries[middle].soname, signed)
        if cmp == 0:
            found_at = middle
            break
        if cmp < 0:
            left = middle + 1
        else:
            right = middle - 1
    if found_at is None:
        hidden = [i for i, e in enumerate(entries) if e.soname == soname]
        for i in hidden:
            out.candidates.append(Candidate(
                i, entries[i], "not-reached",
                "the binary search did not reach this entry: the table is not sorted in "
                "descending _dl_cache_libcmp order"
                + (" with " + ("signed" if signed else "unsigned") + " char")))
        if not hidden:
            out.notes.append("no entry has this SONAME")
        return out

    left = found_at
    middle = found_at
    while middle > 0 and libcmp(soname, entries[middle - 1].soname, signed) == 0:
        middle -= 1
    best: int | None = None
    best_priority = 0
    stop_reason = ""
    superseded: dict[int, int] = {}
    i = middle
    while i <= right:
        e = entries[i]
        if i > left and libcmp(soname, e.soname, signed) != 0:
            break
        cand = Candidate(i, e)
        out.candidates.append(cand)
        i += 1
        if e.flags not in accepted:
            cand.verdict = "rejected"
            cand.reason = (f"flags {_flags_text(e.flags, loader)} are not accepted by the "
                           f"{arch.name} loader (it accepts {_accepted_text(loader)})")
            continue
        if not b.loader_replaces_fallback and best is not None and e.flags != default_id:
            cand.verdict = "rejected"
            cand.reason = ("a candidate was already found and these flags are not the "
                           f"default {default_id:#06x} (glibc ≤ 2.33 loader)")
            continue
        named = hwcaps_on and e.is_hwcaps
        if new_table:
            if named and arch.family == "x86" and loader.isa_level is not None \
                    and e.isa_level > loader.isa_level - 1:
                cand.verdict = "rejected"
                cand.reason = (f"needs x86-64-v{e.isa_level + 1} (ISA level marker); the "
                               f"CPU supports up to {_level_name(loader.isa_level)}")
                continue
            if not named and best is not None:
                cand.verdict = "not-reached"
                cand.reason = ("a glibc-hwcaps entry was already found; the search stops at "
                               "the first other entry")
                stop_reason = cand.reason
                break
            if not named and e.hwcap:
                if not e.is_hwcaps and not b.loader_legacy_hwcaps:
                    cand.verdict = "rejected"
                    cand.reason = (f"legacy hwcap entry ({e.hwcap:#x}): glibc ≥ 2.40 loaders "
                                   "skip these")
                    continue
                if e.is_hwcaps:
                    cand.verdict = "rejected"
                    cand.reason = ("glibc-hwcaps entry: this loader (glibc ≤ 2.32) does not "
                                   "know glibc-hwcaps")
                    continue
                if _legacy_rejected(e.hwcap, loader):
                    cand.verdict = "rejected"
                    cand.reason = (f"legacy hwcap {e.hwcap:#x} has bits this CPU/platform does "
                                   "not provide")
                    continue
            if b.loader_osversion_check and loader.kernel and e.osversion > loader.kernel:
                cand.verdict = "rejected"
                cand.reason = (f"needs kernel {_kernel_text(e.osversion)}; running "
                               f"{_kernel_text(loader.kernel)}")
                continue
            if named:
                index = e.hwcap & 0xFFFFFFFF
                prio = prios[index] if index < len(prios) else 0
                cand.priority = prio
                name = _hwcaps_name(cache, e)
                if prio == 0:
                    cand.verdict = "rejected"
                    cand.reason = f"glibc-hwcaps subdirectory {name} is not active"
                    continue
                if best is not None and prio >= best_priority:
                    cand.verdict = "lost"
                    cand.reason = (f"{name} (priority {prio}) ranks below "
                                   f"{_hwcaps_name(cache, entries[best])} "
                                   f"(priority {best_priority})")
                    continue
                if best is not None:
                    superseded[best] = i - 1
                best_priority = prio
        if best is not None and best != i - 1:
            superseded.setdefault(best, i - 1)
        best = i - 1
        cand.verdict = "chosen"
        if not named and e.flags == default_id:
            stop_reason = "the search stops at the first acceptable entry with the default flags"
            break
    for cand in out.candidates:
        if cand.index in superseded:
            winner = entries[superseded[cand.index]]
            cand.verdict = "lost"
            if cand.priority:
                cand.reason = (f"{_hwcaps_name(cache, cand.entry)} (priority {cand.priority}) "
                               f"ranks below {_hwcaps_name(cache, winner)}")
            else:
                cand.reason = (f"replaced by the later acceptable entry {_s(winner.path)} "
                               f"(flags {_flags_text(cand.entry.flags, loader)} are not the "
                               f"default {default_id:#06x})")
    # Entries with the name after the point where the search stopped.
    j = i
    while j < len(entries) and entries[j].soname == soname and j <= right:
        if all(c.index != j for c in out.candidates):
            out.candidates.append(Candidate(j, entries[j], "not-reached",
                                            stop_reason or "the search stopped earlier"))
        j += 1
    out.path = entries[best].path if best is not None else None
    if best is None:
        out.notes.append("no acceptable entry: the loader goes on to the default directories")
    return out


def _legacy_rejected(hwcap: int, loader: Loader) -> bool:
    from .hwcaps import legacy_hwcaps

    table = legacy_hwcaps(loader.arch.family)
    platform_mask = ((1 << len(table.platforms)) - 1) << table.first_platform
    exclude = ~(loader.legacy_hwcap | platform_mask | TLS_MASK) & 0xFFFFFFFFFFFFFFFF
    if hwcap & exclude:
        return True
    if table.platforms and hwcap & platform_mask:
        platform = (1 << loader.platform_bit) if loader.platform_bit is not None else -1
        return (hwcap & platform_mask) != platform
    return False


def _mark_all(out: Lookup, cache: Cache, verdict: str, reason: str) -> None:
    for i, e in enumerate(cache.entries):
        if e.soname == out.soname:
            out.candidates.append(Candidate(i, e, verdict, reason))


def _level_name(level: int) -> str:
    return "baseline" if level <= 1 else f"x86-64-v{level}"


def _kernel_text(v: int) -> str:
    return f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"


def _hwcaps_name(cache: Cache, e: Entry) -> str:
    if e.hwcaps_name is not None:
        return _s(e.hwcaps_name)
    index = e.hwcaps_index
    if index is not None and index < len(cache.hwcaps):
        return _s(cache.hwcaps[index])
    return f"#{index}"


def _s(b: bytes) -> str:
    return os.fsdecode(b)


def split_names(values: Iterable[str]) -> list[str]:
    """``a,b`` / ``a:b`` option values → names, in order, empty ones dropped."""
    names: list[str] = []
    for v in values:
        for part in v.replace(":", ",").split(","):
            if part:
                names.append(part)
    return names
