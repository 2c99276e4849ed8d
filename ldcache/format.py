"""The ld.so.cache file format: construct definitions of every layout, and bytes ⇄ :class:`Cache`.

Layouts (glibc ``sysdeps/generic/dl-cache.h``; ``shared/ldconfig-spec.md`` §1):

* **old** — ``ld.so-1.7.0``: a 16-byte header, 12-byte entries, then the strings, whose
  offsets count from the first byte after the entries.
* **new** — ``glibc-ld.so.cache1.1``: a 48-byte header, 24-byte entries (with osversion and
  hwcap), the strings (offsets count from the header), then — glibc ≥ 2.33 — an extension
  directory holding the generator string and the glibc-hwcaps subdirectory names.
* **compat** — an old table whose string area hides a complete new cache.  The old entries
  reuse the new table's strings.

Integers are in the byte order of the machine that wrote the file; both are supported.
The structures are declared with construct in :mod:`ldcache.layouts` — the single source of
truth, readable next to the C header.  This module runs on :mod:`ldcache._codec`, plain
:mod:`struct` formats generated from those declarations (a test keeps them identical and
decodes every vector both ways), because importing construct alone takes longer than
reading and printing a 10,000-entry cache.

Validation is at least as strict as glibc's loader (``elf/dl-cache.c``) and ``ldconfig -p``:
anything malformed raises :class:`~ldcache.errors.CacheFormatError` naming the problem and
the offset.
"""

from __future__ import annotations

import struct
import sys

from ._record import Record
from .errors import CacheFormatError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterable, Iterator, Sequence

__all__ = [
    "Cache",
    "Entry",
    "CacheFormatError",
    "parse",
    "build",
    "read_cache",
    "OLD_MAGIC",
    "NEW_MAGIC",
    "EXTENSION_MAGIC",
    "HWCAP_EXTENSION",
    "LAYOUTS",
    "BYTE_ORDERS",
    "merged_string_table",
    "concat_string_table",
    "old_table_count",
    "hidden_header_offset",
]

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache"
NEW_VERSION = b"1.1"
EXTENSION_MAGIC = 0xEAA42174
TAG_GENERATOR = 0
TAG_GLIBC_HWCAPS = 1
#: Bit 62 of an entry's hwcap: the entry lives in a glibc-hwcaps subdirectory.
HWCAP_EXTENSION = 1 << 62
ISA_LEVEL_MASK = 0x3FF
#: The new header's flags byte (glibc ≥ 2.33): 0 unset, 2 little endian, 3 big endian.
ENDIAN_FLAG = {"little": 2, "big": 3}

LAYOUTS = ("new", "compat", "old")
BYTE_ORDERS = ("little", "big")


# --- The structures ------------------------------------------------------------------------
# Declared with construct in ldcache/layouts.py (the definition of the format); ldcache._codec
# is generated from those declarations, and this module runs on it with plain struct.


class StructureError(ValueError):
    """Bytes that do not match a structure (a wrong constant, too few bytes)."""


class Fields:
    """A parsed structure's fields as attributes (what types.SimpleNamespace gives, without
    importing types at start-up)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:  # (for type checkers: any field name)
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fields) and vars(self) == vars(other)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Fields({inner})"


class _Structure:
    """One compiled structure for one byte order: parse to a dict, build from one."""

    __slots__ = ("name", "struct", "fields", "consts")

    def __init__(self, name: str, order: str, fmt: str,
                 fields: tuple[tuple[str, object], ...]) -> None:
        self.name = name
        self.struct = struct.Struct(("<" if order == "little" else ">") + fmt)
        self.fields = tuple(f for f, _ in fields)
        self.consts = {f: v for f, v in fields if v is not None}

    def sizeof(self) -> int:
        return self.struct.size

    def parse(self, data: bytes, offset: int = 0) -> Fields:
        values = dict(zip(self.fields, self.struct.unpack_from(data, offset)))
        for f, v in self.consts.items():
            if values[f] != v:
                raise StructureError(f"{self.name}.{f} is {values[f]!r}, not {v!r}")
        return Fields(**values)

    def build(self, values: dict[str, Any]) -> bytes:
        merged = dict(values, **self.consts)
        return self.struct.pack(*(merged[f] for f in self.fields))


class _Layout:
    """Every on-disk structure for one byte order."""

    def __init__(self, byte_order: str) -> None:
        from ._codec import SPECS

        self.byte_order = byte_order
        for name, (fmt, fields) in SPECS.items():
            setattr(self, name, _Structure(name, byte_order, fmt, fields))
        self.old_entry_struct = self.old_entry.struct
        self.new_entry_struct = self.new_entry.struct
        self.u32_struct = struct.Struct("<I" if byte_order == "little" else ">I")

    old_header: _Structure
    old_entry: _Structure
    new_header: _Structure
    new_entry: _Structure
    extension_header: _Structure
    extension_section: _Structure


class _Layouts(dict):  # type: ignore[type-arg]
    """The structures of each byte order, made on first use."""

    def __missing__(self, order: str) -> _Layout:
        value = self[order] = _Layout(order)
        return value


_LAYOUT: dict[str, _Layout] = _Layouts()

_LE = _LAYOUT["little"]
OLD_HEADER_SIZE = _LE.old_header.sizeof()  # 16
OLD_ENTRY_SIZE = _LE.old_entry.sizeof()  # 12
NEW_HEADER_SIZE = _LE.new_header.sizeof()  # 48
NEW_ENTRY_SIZE = _LE.new_entry.sizeof()  # 24
EXTENSION_HEADER_SIZE = _LE.extension_header.sizeof()  # 8
EXTENSION_SECTION_SIZE = _LE.extension_section.sizeof()  # 16
#: 32-bit words a new entry is made of (flags, key, value, osversion, hwcap as two).
NEW_ROW_WORDS = NEW_ENTRY_SIZE // 4


# --- The plain value ----------------------------------------------------------------------


class Entry(Record):
    """One cache entry: the loader maps ``soname`` to ``path``."""

    soname: bytes
    path: bytes
    flags: int
    osversion: int = 0
    hwcap: int = 0
    #: The glibc-hwcaps subdirectory name, for entries whose hwcap has bit 62 set.
    #: Informational: :func:`build` encodes ``hwcap`` and :attr:`Cache.hwcaps`.
    hwcaps_name: bytes | None = None

    @property
    def is_hwcaps(self) -> bool:
        """True for a glibc-hwcaps entry (``dl_cache_hwcap_extension``)."""
        return (self.hwcap >> 32) & ~ISA_LEVEL_MASK == HWCAP_EXTENSION >> 32

    @property
    def hwcaps_index(self) -> int | None:
        return self.hwcap & 0xFFFFFFFF if self.is_hwcaps else None

    @property
    def isa_level(self) -> int:
        return (self.hwcap >> 32) & ISA_LEVEL_MASK if self.is_hwcaps else 0

    @property
    def legacy_hwcap(self) -> int:
        """The ≤2.36 legacy hwcap mask (0 for glibc-hwcaps entries)."""
        return 0 if self.is_hwcaps else self.hwcap


class _CacheFields(Record):

    entries: tuple[Entry, ...] = ()
    layout: str = "new"
    byte_order: str = "little"
    #: Generator string of the extension directory; None writes no extension directory
    #: (glibc ≤ 2.32).
    generator: bytes | None = None
    #: glibc-hwcaps subdirectory names, in index order.
    hwcaps: tuple[bytes, ...] = ()
    #: "merged" (glibc ≥ 2.33: interned, tail-merged) or "concat" (≤ 2.32: per entry
    #: soname then path, no sharing).
    string_table: str = "merged"
    #: Whether the new header's flags byte records the byte order (≥ 2.33, Debian 2.31).
    endian_flag: bool = True
    #: Strings in a merged table that no entry references (ldconfig interns every
    #: glibc-hwcaps subdirectory name it meets, used or not).
    extra_strings: tuple[bytes, ...] = ()
    #: ≤2.32 old-layout writer bug: every string offset is this much too large.
    old_offset_bias: int = 0
    #: With ``old_offset_bias``: the entries the writer meant, whose strings the file holds;
    #: ``entries`` is what glibc reads there (the strings 4 bytes into them).  Set by
    #: :func:`parse`, or derived from ``entries`` when a writer gives only those.
    written_entries: tuple[Entry, ...] = ()
    #: compat files with glibc-hwcaps names (glibc 2.33-2.42 writer bug, spec §1.4.3): the
    #: names ldconfig meant (offsets counted from the new header), which :func:`build`
    #: writes; ``hwcaps`` is what glibc reads (the same offsets from the file start).  None
    #: when the two agree or the writer's names are not in the string table.
    written_hwcaps: tuple[bytes, ...] | None = None


class Cache(_CacheFields):
    """A whole ld.so.cache: its entries in file order, and how the file lays them out.

    Every field that a glibc ldconfig varies between versions is here, so that
    :func:`build` reproduces a file written by any glibc from 2.31 to 2.42 byte for byte.
    An immutable value (a named tuple).
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> "Cache":
        self = super().__new__(cls, *args, **kwargs)
        self._check()
        return _as_read(self)

    def _check(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}")
        if self.byte_order not in BYTE_ORDERS:
            raise ValueError(f"unknown byte order {self.byte_order!r}")
        if self.string_table not in ("merged", "concat"):
            raise ValueError(f"unknown string table kind {self.string_table!r}")

    def replace(self, **changes: Any) -> "Cache":
        """A copy with some fields changed."""
        new = self._replace(**changes)
        new._check()
        return new


def _as_found(**fields: Any) -> Cache:
    """A :class:`Cache` of what :func:`parse` read: taken as it is (not re-derived by
    :func:`_as_read`, which could only guess it from the bytes :func:`build` writes)."""
    cache = Cache._make(_CacheFields(**fields))
    cache._check()
    return cache


def _as_read(cache: Cache) -> Cache:
    """``cache`` with ``entries`` and ``hwcaps`` as glibc (``ld.so``, ``ldconfig -p``) reads
    them from the bytes :func:`build` writes, where the writer's bugs make them differ from
    what the writer meant: the ≤2.32 old-layout offset bias, and the compat layout's
    glibc-hwcaps offsets (counted from the new header, read from the file start)."""
    if cache.layout == "old" and cache.old_offset_bias and not cache.written_entries:
        data = build(cache)
        lay = _LAYOUT[cache.byte_order]
        n = lay.old_header.parse(data).nlibs
        base = OLD_HEADER_SIZE + OLD_ENTRY_SIZE * n
        read = tuple(Entry(_cstring(data, base + key), _cstring(data, base + value), flags)
                     for flags, key, value in lay.old_entry_struct.iter_unpack(
                         data[OLD_HEADER_SIZE:base]))
        cache = cache._replace(entries=read, written_entries=cache.entries)
    if cache.layout == "compat" and cache.hwcaps and cache.written_hwcaps is None:
        try:
            names = _hwcaps_names(decode(build(cache)))
        except CacheFormatError:
            names = cache.hwcaps
        if names != cache.hwcaps:
            cache = cache._replace(hwcaps=names, written_hwcaps=cache.hwcaps,
                                   entries=_name_entries(cache.entries, names))
    return cache


def _name_entries(entries: Iterable[Entry], names: Sequence[bytes]) -> tuple[Entry, ...]:
    """``entries`` with the glibc-hwcaps names of ``names`` (by index)."""
    out = []
    for e in entries:
        idx = e.hwcaps_index
        name = names[idx] if idx is not None and idx < len(names) else None
        out.append(e._replace(hwcaps_name=name) if name != e.hwcaps_name else e)
    return tuple(out)


def _cstring(data: bytes, start: int) -> bytes:
    if start >= len(data):
        return b""
    end = data.find(b"\0", start)
    return data[start:] if end < 0 else data[start:end]


# --- String tables ------------------------------------------------------------------------


def merged_string_table(strings: Iterable[bytes]) -> tuple[bytes, dict[bytes, int]]:
    """glibc ≥ 2.33's string table: distinct strings sorted by reversed bytes, descending,
    each stored once, a string that ends another sharing its tail.  Returns the table and
    each string's offset in it."""
    # (no set first: equal strings sort together, and the second of two shares the first)
    ordered = sorted(strings, key=lambda s: s[::-1], reverse=True)
    offsets: dict[bytes, int] = {}
    stored: list[bytes] = []  # (the strings themselves: no copies with their NULs)
    size = 0
    prev = b""
    prev_offset = 0
    for s in ordered:
        if stored and prev.endswith(s):
            offset = prev_offset + len(prev) - len(s)
        else:
            offset = size
            stored.append(s)
            size += len(s) + 1
        offsets[s] = offset
        prev, prev_offset = s, offset
    del ordered
    if stored:
        stored.append(b"")  # (the last NUL, without a copy of the whole table to add it)
    return b"\0".join(stored), offsets


def concat_string_table(entries: Sequence[Entry]) -> tuple[bytes, list[tuple[int, int]]]:
    """glibc ≤ 2.32's string table: each entry's soname then path, NUL-terminated, in
    entry order.  Returns the table and each entry's (key, value) offsets."""
    parts: list[bytes] = []
    positions: list[tuple[int, int]] = []
    size = 0
    for e in entries:
        key = size
        size += len(e.soname) + 1
        positions.append((key, size))
        size += len(e.path) + 1
        parts.append(e.soname + b"\0" + e.path + b"\0")
    return b"".join(parts), positions


# --- Reading ------------------------------------------------------------------------------





class RawCache:
    """A validated file, decoded but not interpreted: what ``ldconfig -p`` and the loader see.

    ``new_entries`` and ``old_entries`` are tuples as stored (flags, key, value[, osversion,
    hwcap]); ``*_base`` is the file offset string offsets of that table count from.  The new
    table's list is made on first use: :meth:`iter_new_entries` reads the rows one by one
    without it (``ldcache print`` of 10,000 entries: ~2 MiB of tuples less, ~500 fewer page
    faults in a fresh process).
    """

    def __init__(self, data: bytes, byte_order: str, old_nlibs: int | None = None,
                 old_base: int = 0) -> None:
        self.data = data
        self.byte_order = byte_order
        self.old_nlibs = old_nlibs
        self.old_entries: list[tuple[int, ...]] = []
        self.old_base = old_base
        self.new_offset: int | None = None
        self.new_header: Fields | None = None
        #: rows of the new table, and the struct they are read with
        self.new_count = 0
        self._new_struct: struct.Struct | None = None
        self._new_list: list[tuple[int, ...]] | None = None
        self.generator: bytes | None = None
        self.hwcaps_offsets: list[int] | None = None
        self.extension_present = False

    @property
    def new_entries(self) -> list[tuple[int, ...]]:
        if self._new_list is None:
            self._new_list = list(self.iter_new_entries())
        return self._new_list

    def iter_new_entries(self) -> "Iterator[tuple[int, ...]]":
        """The new table's rows as stored, read as they are asked for."""
        if self._new_struct is None or not self.new_count:
            return iter(())
        start = self.new_offset + NEW_HEADER_SIZE  # type: ignore[operator]
        return self._new_struct.iter_unpack(
            memoryview(self.data)[start:start + NEW_ENTRY_SIZE * self.new_count])

    def _forget_new(self) -> None:
        """No new table after all (old strings that only looked like a new header)."""
        self.new_offset = self.new_header = self.generator = self.hwcaps_offsets = None
        self.new_count = 0
        self._new_struct = self._new_list = None
        self.extension_present = False

    @property
    def layout(self) -> str:
        if self.new_offset is None:
            return "old"
        return "new" if self.old_nlibs is None else "compat"

    @property
    def strings_start(self) -> int:
        """File offset of the string table."""
        if self.new_offset is None:
            return self.old_base
        return self.new_offset + NEW_HEADER_SIZE + NEW_ENTRY_SIZE * self.new_count

    @property
    def strings_end(self) -> int:
        if self.new_offset is None or self.new_header is None:
            return len(self.data)
        return self.strings_start + self.new_header.len_strings

    def string_at(self, base: int, offset: int, what: str) -> bytes:
        """The NUL-terminated string at ``base + offset``, which must lie in the string table."""
        start = base + offset
        if not self.strings_start <= start < self.strings_end:
            raise CacheFormatError(f"{what} string offset {offset:#x} outside the string table",
                                   start)
        end = self.data.find(b"\0", start, self.strings_end)
        if end < 0:
            raise CacheFormatError(f"{what} string is not NUL-terminated", start)
        return self.data[start:end]


def _guess_order(data: bytes, offset: int, count_size: int, entry_size: int) -> str:
    """Byte order of a header whose only clue is a count: the one whose count fits the file."""
    room = (len(data) - offset - count_size) // entry_size
    little, = struct.unpack_from("<I", data, offset)
    big, = struct.unpack_from(">I", data, offset)
    if little <= room and (big > room or little <= big):
        return "little"
    if big <= room:
        return "big"
    raise CacheFormatError("entry count larger than the file", offset)


def _guess_new_order(data: bytes, offset: int) -> str:
    """Byte order of a new header without an endianness flag (glibc ≤ 2.32): the one whose
    entry count and string table fit the file (little endian when both do, as for an empty
    cache, whose bytes are then the same in both orders)."""
    fits = []
    for order, fmt in (("little", "<II"), ("big", ">II")):
        nlibs, len_strings = struct.unpack_from(fmt, data, offset + 20)
        if offset + NEW_HEADER_SIZE + NEW_ENTRY_SIZE * nlibs + len_strings <= len(data):
            fits.append(order)
    if not fits:
        raise CacheFormatError("entry count and string table larger than the file", offset + 20)
    return fits[0]


def _parse_struct(definition: _Structure, data: bytes, offset: int, what: str) -> Fields:
    if offset + definition.sizeof() > len(data):
        raise CacheFormatError(f"truncated {what}", offset)
    try:
        return definition.parse(data, offset)
    except StructureError as exc:
        raise CacheFormatError(f"bad {what} ({exc})", offset) from None


def decode(data: bytes) -> RawCache:
    """Validate ``data`` and decode its tables (no interpretation of the strings)."""
    if len(data) < OLD_HEADER_SIZE:
        raise CacheFormatError("file too short for a cache header" if data else "empty file",
                               len(data))
    if data.startswith(OLD_MAGIC):
        return _decode_old(data)
    if data.startswith(NEW_MAGIC + NEW_VERSION):
        raw = RawCache(data=data, byte_order="little")
        _decode_new(raw, 0)
        return raw
    if data.startswith(NEW_MAGIC):
        raise CacheFormatError("unsupported new-format version "
                               f"{data[len(NEW_MAGIC):len(NEW_MAGIC) + 3]!r}", len(NEW_MAGIC))
    raise CacheFormatError("not a cache file (bad magic)", 0)


def hidden_header_offset(nlibs: int) -> int:
    """Where glibc's readers look for a compat file's new header in a file whose old
    table has ``nlibs`` entries: the 8-byte boundary after them (ALIGN_CACHE)."""
    return (OLD_HEADER_SIZE + OLD_ENTRY_SIZE * nlibs + 7) & ~7


def _decode_old(data: bytes) -> RawCache:
    if data[len(OLD_MAGIC)] != 0:
        raise CacheFormatError("nonzero byte after the old magic", len(OLD_MAGIC))
    order = _guess_order(data, len(OLD_MAGIC) + 1, 4, OLD_ENTRY_SIZE)
    lay = _LAYOUT[order]
    header = _parse_struct(lay.old_header, data, 0, "old header")
    n = header.nlibs
    base = OLD_HEADER_SIZE + OLD_ENTRY_SIZE * n
    if base > len(data):
        raise CacheFormatError(f"{n} old entries do not fit in the file", OLD_HEADER_SIZE)
    raw = RawCache(data=data, byte_order=order, old_nlibs=n, old_base=base)
    raw.old_entries = list(lay.old_entry_struct.iter_unpack(data[OLD_HEADER_SIZE:base]))
    # A new cache hidden in the old one starts at the next 8-byte boundary (where glibc's
    # writer puts it; its compat writer always makes that boundary the end of the table).
    # glibc's readers (ALIGN_CACHE: 8 everywhere but i386) look there and nowhere else: a
    # new header there is the file's, malformed or not.  The i386 place (4-byte boundary)
    # is used only when a new cache parses there.
    hidden_error: CacheFormatError | None = None
    glibc_offset = hidden_header_offset(n)
    for new_offset in sorted({base, glibc_offset, (base + 3) & ~3}):
        if data.startswith(NEW_MAGIC + NEW_VERSION, new_offset) and \
                len(data) >= new_offset + NEW_HEADER_SIZE:
            try:
                _decode_new(raw, new_offset)
                break
            except CacheFormatError as exc:
                if new_offset == glibc_offset:
                    raise
                # Old strings that merely begin with the new magic (fuzz/regressions/
                # cache/old-string-like-new-header): read on as an old-only file.
                hidden_error = exc
                raw._forget_new()
                raw.byte_order = order
    else:
        # Old layout only: strings run to the end of the file.
        if base == len(data) and n:
            raise CacheFormatError("old entries but no string table", base)
        if hidden_error is not None and not n:
            raise hidden_error
    if raw.new_offset is not None:
        # Readers use the new table of a compat file and never look at the old entries
        # (glibc 2.33-2.36 can write uninitialised offsets there).
        return raw
    for i, (_flags, key, value) in enumerate(raw.old_entries):
        where = OLD_HEADER_SIZE + OLD_ENTRY_SIZE * i
        for off, what in ((key, "old key"), (value, "old value")):
            start = base + off
            if not base <= start < len(data) or data.find(b"\0", start) < 0:
                raise CacheFormatError(f"{what} string offset {off:#x} of entry {i} out of "
                                       "bounds or unterminated", where)
    return raw


def _decode_new(raw: RawCache, offset: int) -> None:
    data = raw.data
    if len(data) < offset + NEW_HEADER_SIZE:
        raise CacheFormatError("truncated new header", offset)
    flag = data[offset + 28]
    if flag & 3 == 2:
        order = "little"
    elif flag & 3 == 3:
        order = "big"
    elif flag & 3 == 1:
        raise CacheFormatError("cache header flags mark the cache invalid", offset + 28)
    elif raw.old_nlibs:
        order = raw.byte_order
    else:
        order = _guess_new_order(data, offset)
    if raw.old_nlibs and order != raw.byte_order:
        raise CacheFormatError("old and new tables disagree on the byte order", offset + 28)
    if flag & ~3:
        raise CacheFormatError(f"unknown bits in the header flags byte {flag:#x}", offset + 28)
    lay = _LAYOUT[order]
    header = _parse_struct(lay.new_header, data, offset, "new header")
    n = header.nlibs
    entries_start = offset + NEW_HEADER_SIZE
    strings_start = entries_start + NEW_ENTRY_SIZE * n
    if strings_start > len(data):
        raise CacheFormatError(f"{n} entries do not fit in the file", offset + 20)
    if strings_start + header.len_strings > len(data):
        raise CacheFormatError(f"string table of {header.len_strings} bytes runs past the end "
                               "of the file", strings_start)
    raw.byte_order = order
    raw.new_offset = offset
    raw.new_header = header
    raw.new_count = n
    raw._new_struct = lay.new_entry_struct
    if header.extension_offset:
        _decode_extensions(raw, lay, header.extension_offset)
    # Every string of every entry must lie in the string table and be NUL-terminated.
    end = strings_start + header.len_strings
    if n and (header.len_strings == 0 or data[end - 1] != 0):
        raise CacheFormatError("string table does not end with NUL", end - 1)
    if not n:
        return
    # The bounds of all the offsets at once (min and max run in C), entry by entry only
    # to name the one that is out.
    lo, hi = _offset_bounds(data, entries_start, strings_start, order)
    if strings_start <= offset + lo and offset + hi < end:
        return
    for i, entry in enumerate(raw.iter_new_entries()):
        for off in (entry[1], entry[2]):
            if not strings_start <= offset + off < end:
                raise CacheFormatError(f"string offset {off:#x} of entry {i} outside the "
                                       "string table", entries_start + NEW_ENTRY_SIZE * i)


def _offset_bounds(data: bytes, start: int, stop: int, order: str) -> tuple[int, int]:
    """The least and the greatest key or value offset of the new table at
    ``data[start:stop]``: read as 32-bit words, six a row (flags, key, value, osversion,
    hwcap's two halves), the rows' words 1 and 2 — through a view of the file's own bytes in
    this machine's byte order (no copy, no list), unpacked in the other."""
    words: Sequence[int]
    if order == sys.byteorder:
        words = memoryview(data)[start:stop].cast("I")
    else:
        words = struct.unpack(f"{'<' if order == 'little' else '>'}{(stop - start) // 4}I",
                              memoryview(data)[start:stop])
    keys, values = words[1::NEW_ROW_WORDS], words[2::NEW_ROW_WORDS]
    return min(min(keys), min(values)), max(max(keys), max(values))


def _decode_extensions(raw: RawCache, lay: _Layout, ext_offset: int) -> None:
    data = raw.data
    if ext_offset % 4:
        raise CacheFormatError("misaligned extension directory", ext_offset)
    header = _parse_struct(lay.extension_header, data, ext_offset, "extension directory")
    count = header.count
    sections_start = ext_offset + EXTENSION_HEADER_SIZE
    if sections_start + EXTENSION_SECTION_SIZE * count > len(data):
        raise CacheFormatError(f"{count} extension sections do not fit in the file", ext_offset)
    raw.extension_present = True
    for i in range(count):
        where = sections_start + EXTENSION_SECTION_SIZE * i
        sec = lay.extension_section.parse(data, where)
        if sec.offset + sec.size > len(data):
            raise CacheFormatError(f"extension section {i} runs past the end of the file", where)
        if sec.tag == TAG_GENERATOR:
            raw.generator = data[sec.offset:sec.offset + sec.size]
        elif sec.tag == TAG_GLIBC_HWCAPS:
            if sec.size == 0 or sec.offset % 4 or sec.size % 4:
                # The loader and ldconfig -p ignore such a section.
                continue
            raw.hwcaps_offsets = [v for (v,) in lay.u32_struct.iter_unpack(
                data[sec.offset:sec.offset + sec.size])]


def _hwcaps_names(raw: RawCache) -> tuple[bytes, ...]:
    """The glibc-hwcaps names as glibc reads them: ``ld.so`` (``glibc_hwcaps_compare``) and
    ``ldconfig -p`` add the stored offsets to the start of the file.  ldconfig counts them
    from the new header, which is the file start only in a new-only file (spec §1.4.3)."""
    names = []
    data = raw.data
    for i, off in enumerate(raw.hwcaps_offsets or ()):
        if off >= len(data):
            # (ldconfig -p prints the hwcap value instead; ld.so 2.33-2.42 loops forever)
            raise CacheFormatError(f"glibc-hwcaps name {i} string offset {off:#x} beyond the "
                                   "end of the file", raw.strings_end)
        end = data.find(b"\0", off)
        if end < 0:
            raise CacheFormatError(f"glibc-hwcaps name {i} string is not NUL-terminated", off)
        names.append(data[off:end])
    return tuple(names)


def _written_hwcaps(raw: RawCache) -> tuple[bytes, ...] | None:
    """The glibc-hwcaps names ldconfig meant: its offsets counted from the new header; None
    when one of them is not a string of the string table."""
    assert raw.new_offset is not None
    names = []
    for i, off in enumerate(raw.hwcaps_offsets or ()):
        try:
            names.append(raw.string_at(raw.new_offset, off, f"glibc-hwcaps name {i}"))
        except CacheFormatError:
            return None
    return tuple(names)


def parse(data: bytes) -> Cache:
    """Parse a cache file's bytes into a :class:`Cache`; :class:`CacheFormatError` if malformed."""
    raw = decode(data)
    if raw.new_offset is not None:
        return _interpret_new(raw)
    return _interpret_old(raw)


def _interpret_new(raw: RawCache) -> Cache:
    assert raw.new_offset is not None and raw.new_header is not None
    base = raw.new_offset
    data = raw.data
    names = _hwcaps_names(raw)
    stored = _written_hwcaps(raw)
    written = stored if stored != names else None
    strings: dict[int, bytes] = {}

    def string(off: int, what: str) -> bytes:
        s = strings.get(off)
        if s is None:
            s = strings[off] = raw.string_at(base, off, what)
        return s

    entries = []
    for flags, key, value, osversion, hwcap in raw.new_entries:
        e = Entry(string(key, "key"), string(value, "value"), flags, osversion, hwcap)
        idx = e.hwcaps_index
        if idx is not None and idx < len(names):
            e = Entry(e.soname, e.path, flags, osversion, hwcap, hwcaps_name=names[idx])
        entries.append(e)
    table = data[raw.strings_start:raw.strings_end]
    referenced = set(strings)
    if stored is not None:
        referenced.update(raw.hwcaps_offsets or ())
    extra = _unreferenced_strings(table, referenced, raw.strings_start - base)
    kind = _string_table_kind(table, entries, names)
    layout = raw.layout
    # glibc's readers never look at the old table of a compat file (other writers leave it
    # empty or give it one entry; glibc 2.33-2.36 can fill it with garbage, spec §1.4.3).
    flag = raw.new_header.flags
    return _as_found(
        entries=tuple(entries),
        layout=layout,
        byte_order=raw.byte_order,
        generator=raw.generator,
        hwcaps=names,
        string_table=kind,
        endian_flag=flag != 0,
        extra_strings=extra if kind == "merged" else (),
        written_hwcaps=written,
    )


def _unreferenced_strings(table: bytes, referenced: set[int], shift: int) -> tuple[bytes, ...]:
    """NUL-terminated runs of ``table`` at whose start no offset points."""
    extra = []
    pos = 0
    while pos < len(table):
        end = table.find(b"\0", pos)
        if end < 0:
            break
        if pos + shift not in referenced:
            extra.append(table[pos:end])
        pos = end + 1
    return tuple(extra)


def _string_table_kind(table: bytes, entries: Sequence[Entry], names: Sequence[bytes]) -> str:
    if not names and concat_string_table(entries)[0] == table:
        return "concat"
    return "merged"


def old_table_count(entries: Iterable[Entry]) -> int:
    """How many entries a writer puts in the old table: all but those of legacy hwcap
    directories (``legacy_hwcap`` nonzero)."""
    return sum(1 for e in entries if e.legacy_hwcap == 0)


def _interpret_old(raw: RawCache) -> Cache:
    """An old-only file, read as glibc reads it: each string where its offset points."""
    def resolve(bias: int) -> list[Entry] | None:
        out = []
        for flags, key, value in raw.old_entries:
            if key < bias or value < bias:
                return None
            try:
                out.append(Entry(raw.string_at(raw.old_base, key - bias, "key"),
                                 raw.string_at(raw.old_base, value - bias, "value"), flags))
            except CacheFormatError:
                return None
        return out

    table = raw.data[raw.old_base:]
    entries = resolve(0)
    if entries is None:
        raise CacheFormatError("old entry strings out of bounds", raw.old_base)
    if concat_string_table(entries)[0] == table:
        return _as_found(entries=tuple(entries), layout="old", byte_order=raw.byte_order,
                     string_table="concat", endian_flag=False)
    # glibc ≤ 2.32 wrote old-only files with every offset 4 too large when the entry
    # count was odd (it added the compat alignment pad that it did not write).  glibc reads
    # the strings 4 bytes in; the entries meant are kept to write the same bytes again.
    shifted = resolve(4)
    if shifted is not None and concat_string_table(shifted)[0] == table:
        return _as_found(entries=tuple(entries), layout="old", byte_order=raw.byte_order,
                     string_table="concat", endian_flag=False, old_offset_bias=4,
                     written_entries=tuple(shifted))
    referenced = {off for _, key, value in raw.old_entries for off in (key, value)}
    extra = _unreferenced_strings(table, referenced, 0)
    return _as_found(entries=tuple(entries), layout="old", byte_order=raw.byte_order,
                 string_table="merged", endian_flag=False, extra_strings=extra)


def read_cache(path: str | bytes) -> Cache:
    """Parse the cache file at ``path`` (a host path)."""
    with open(path, "rb") as f:
        return parse(f.read())


# --- Writing ------------------------------------------------------------------------------


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) & -align


def build(cache: Cache) -> bytes:
    """The bytes of ``cache`` laid out as glibc's ldconfig lays them out."""
    lay = _LAYOUT[cache.byte_order]
    entries = cache.entries
    bias = 0
    if cache.layout == "old" and cache.old_offset_bias:
        # The entries meant, whose strings the file holds (``entries`` is what glibc reads).
        entries = cache.written_entries or entries
        bias = cache.old_offset_bias
    # The glibc-hwcaps names the section points at, and those in the string table: a compat
    # file's are the names its writer meant (glibc reads others, ``hwcaps``).
    hwcaps = cache.hwcaps
    interned = hwcaps
    if cache.written_hwcaps is not None:
        if cache.layout == "compat":
            hwcaps = interned = cache.written_hwcaps
        elif cache.layout == "old":
            interned = cache.written_hwcaps
    n = len(entries)
    n_listed = old_table_count(entries) if cache.layout != "new" else 0
    n_old = n_listed
    if cache.layout == "compat":
        n_old += n_old & 1  # the last entry is duplicated to keep the new header aligned
        # With legacy hwcap entries glibc 2.33-2.36 fill this old table from the wrong
        # index and uninitialised memory (spec 1.4.3); what they meant is written instead.

    # String table and each entry's (key, value) offsets within it (made twice where both
    # tables need them, rather than kept: at 50,000 entries a list of pairs is megabytes).
    pairs: list[tuple[int, int]] | None = None
    offsets: dict[bytes, int] = {}
    if cache.string_table == "concat":
        table, pairs = concat_string_table(entries)
        hwcaps_positions: list[int] = []
        if hwcaps:
            raise ValueError("glibc-hwcaps names need a merged string table")
    else:
        strings: list[bytes] = [s for e in entries for s in (e.path, e.soname)]
        strings.extend(interned)
        strings.extend(cache.extra_strings)
        table, offsets = merged_string_table(strings)
        del strings
        hwcaps_positions = [offsets[h] for h in hwcaps] if cache.layout != "old" else []

    parts: list[bytes | bytearray] = []
    if cache.layout == "old":
        # Offsets count from the end of the old entries.
        str_offset = bias
    else:
        str_offset = NEW_HEADER_SIZE + NEW_ENTRY_SIZE * n
    size = 0
    if cache.layout != "new":
        parts.append(lay.old_header.build({"nlibs": n_old}))
        old_rows = bytearray()
        row = lay.old_entry_struct.pack
        last = b""
        for e, (key, value) in zip(entries, _positions(entries, pairs, offsets)):
            if e.legacy_hwcap == 0:  # (old_table_count)
                last = row(e.flags, str_offset + key, str_offset + value)
                old_rows += last
        if n_old > n_listed:
            old_rows += last
        parts.append(old_rows)
        size = len(parts[0]) + len(old_rows)
    if cache.layout != "old":
        ext = cache.generator is not None or bool(cache.hwcaps)
        strings_end = size + str_offset + len(table)
        ext_offset = _round_up(strings_end, 4) if ext else 0
        parts.append(lay.new_header.build({
            "nlibs": n,
            "len_strings": len(table),
            "flags": ENDIAN_FLAG[cache.byte_order] if cache.endian_flag else 0,
            "extension_offset": ext_offset,
        }))
        rows = bytearray(NEW_ENTRY_SIZE * n)
        pack_into = lay.new_entry_struct.pack_into
        at = 0
        for e, (k, v) in zip(entries, _positions(entries, pairs, offsets)):
            pack_into(rows, at, e.flags, str_offset + k, str_offset + v, e.osversion, e.hwcap)
            at += NEW_ENTRY_SIZE
        parts.append(rows)
        parts.append(table)
        if ext:
            parts.append(bytes(ext_offset - strings_end))
            parts.append(_build_extensions(lay, cache, ext_offset,
                                           [str_offset + p for p in hwcaps_positions]))
    else:
        parts.append(table)
    del offsets  # (freed before the join copies the parts)
    return b"".join(parts)


def _positions(entries: Sequence[Entry], pairs: list[tuple[int, int]] | None,
               offsets: dict[bytes, int]) -> Iterable[tuple[int, int]]:
    """Each entry's (key, value) string offsets: the concatenated table's pairs, or looked
    up in the merged table's offsets."""
    if pairs is not None:
        return pairs
    return ((offsets[e.soname], offsets[e.path]) for e in entries)


def _build_extensions(lay: _Layout, cache: Cache, ext_offset: int,
                      hwcaps_offsets: list[int]) -> bytes:
    generator = cache.generator or b""
    count = 2 if hwcaps_offsets else 1
    data_start = ext_offset + EXTENSION_HEADER_SIZE + EXTENSION_SECTION_SIZE * count
    hwcaps_size = 4 * len(hwcaps_offsets)
    sections = [{"tag": TAG_GENERATOR, "flags": 0, "offset": data_start + hwcaps_size,
                 "size": len(generator)}]
    if hwcaps_offsets:
        sections.append({"tag": TAG_GLIBC_HWCAPS, "flags": 0, "offset": data_start,
                         "size": hwcaps_size})
    out = bytearray(lay.extension_header.build({"count": count}))
    for sec in sections:
        out += lay.extension_section.build(sec)
    out += b"".join(lay.u32_struct.pack(v) for v in hwcaps_offsets)
    out += generator
    return bytes(out)
