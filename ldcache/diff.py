"""Differences between two caches: entries added, removed and changed, and file-level
differences (layout, byte order, generator, glibc-hwcaps names, entry order).

Entries are compared by meaning, not by encoding: a glibc-hwcaps entry is identified by
its subdirectory *name* and ISA level (the index into the name list is an artefact of
the file), a legacy entry by its hwcap mask.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .format import Cache, Entry

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["CacheDiff", "Change", "EntryKey", "diff_caches", "entry_key"]

#: (soname, path, flags, osversion, hwcaps name, ISA level, legacy hwcap)
if TYPE_CHECKING:  # pragma: no cover
    EntryKey = tuple[bytes, bytes, int, int, Optional[bytes], int, int]
else:
    EntryKey = tuple


def hwcaps_name(cache: Cache, e: Entry) -> bytes | None:
    if e.hwcaps_name is not None:
        return e.hwcaps_name
    index = e.hwcaps_index
    if index is None:
        return None
    if index < len(cache.hwcaps):
        return cache.hwcaps[index]
    return b"#%d" % index


def entry_key(cache: Cache, e: Entry) -> EntryKey:
    """What an entry means, independent of how its file encodes it."""
    return (e.soname, e.path, e.flags, e.osversion, hwcaps_name(cache, e), e.isa_level,
            e.legacy_hwcap)


@dataclass(frozen=True)
class Change:
    """The same library (SONAME, and path or kind) with different properties."""

    old: EntryKey
    new: EntryKey

    @property
    def fields(self) -> list[str]:
        names = ("soname", "path", "flags", "osversion", "hwcaps", "isa_level", "hwcap")
        return [n for n, a, b in zip(names, self.old, self.new) if a != b]


@dataclass
class CacheDiff:
    added: list[EntryKey] = field(default_factory=list)
    removed: list[EntryKey] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    #: File-level differences: name → (value in A, value in B).
    header: dict[str, tuple[object, object]] = field(default_factory=dict)
    #: Same entries, different order (the loader's binary search and tie-breaks see it).
    order_changed: bool = False

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed or self.header
                    or self.order_changed)

    @property
    def entries_equal(self) -> bool:
        return not (self.added or self.removed or self.changed or self.order_changed)


def _kind(k: EntryKey) -> tuple[object, ...]:
    # flags, hwcaps name, ISA level, legacy hwcap: "which variant of the library".
    return (k[2], k[4], k[6])


def diff_caches(a: Cache, b: Cache, *, ignore_generator: bool = False) -> CacheDiff:
    """What changes from cache ``a`` to cache ``b``."""
    d = CacheDiff()
    for name in ("layout", "byte_order", "generator", "hwcaps"):
        if name == "generator" and ignore_generator:
            continue
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            d.header[name] = (va, vb)
    ka = [entry_key(a, e) for e in a.entries]
    kb = [entry_key(b, e) for e in b.entries]
    # Pair entries SONAME by SONAME: identical ones first, then the same path (flags or
    # hwcap changed), then the same variant (path changed); the rest are added/removed.
    by_name_a: dict[bytes, list[EntryKey]] = {}
    by_name_b: dict[bytes, list[EntryKey]] = {}
    for k in ka:
        by_name_a.setdefault(k[0], []).append(k)
    for k in kb:
        by_name_b.setdefault(k[0], []).append(k)
    for soname in sorted(set(by_name_a) | set(by_name_b)):
        left = list(by_name_a.get(soname, []))
        right = list(by_name_b.get(soname, []))
        for k in list(left):
            if k in right:
                left.remove(k)
                right.remove(k)
        for match in (lambda x, y: x[1] == y[1], lambda x, y: _kind(x) == _kind(y)):
            for k in list(left):
                other = next((r for r in right if match(k, r)), None)
                if other is not None:
                    left.remove(k)
                    right.remove(other)
                    d.changed.append(Change(k, other))
        d.removed.extend(left)
        d.added.extend(right)
    if not (d.added or d.removed or d.changed) and ka != kb:
        d.order_changed = True
    return d


def key_text(k: EntryKey) -> str:
    """``soname (flags 0x0303, hwcap "x86-64-v3") => path``."""
    extra = [f"flags {k[2]:#06x}"]
    if k[4] is not None:
        extra.append(f'hwcaps "{os.fsdecode(k[4])}"' + (f" isa {k[5]}" if k[5] else ""))
    if k[6]:
        extra.append(f"hwcap {k[6]:#x}")
    if k[3]:
        extra.append(f"osversion {k[3]:#x}")
    return f"{os.fsdecode(k[0])} ({', '.join(extra)}) => {os.fsdecode(k[1])}"
