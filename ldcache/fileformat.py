"""The whole ld.so.cache file declared with construct: the normative description of the format.

:mod:`ldcache.layouts` declares the fixed-size structures (the headers, the entries, the
extension directory and its section descriptors); this module puts them together into the
file — where each structure lies, what its offsets point at, and which values make a file
malformed.  ``ldcache dump`` runs on this declaration; the fast reader :mod:`ldcache.format`
runs on the codec generated from :mod:`ldcache.layouts`, and ``tests/test_dump.py`` checks
that the two read every vector the same way.  Only parsing is declared (writing is
:func:`ldcache.format.build`).

The file (``shared/ldconfig-spec.md`` §1).  Every integer is in the byte order of the
machine that wrote the file; :data:`CACHE_FILE` works out which and then reads the file with
the declaration of that byte order (:func:`declaration`).

old layout (``ld.so-1.7.0``)
    The old header (16 bytes: magic, one zero byte, ``nlibs``), ``nlibs`` old entries of 12
    bytes (``flags``, ``key``, ``value``), then the string table, to the end of the file.
    ``key`` and ``value`` count from the first byte after the old entries.

new layout (``glibc-ld.so.cache1.1``)
    The new header (48 bytes), ``nlibs`` new entries of 24 bytes (``flags``, ``key``,
    ``value``, ``osversion``, ``hwcap``) and the string table (``len_strings`` bytes, ending
    with a NUL); ``key`` and ``value`` count from the first byte of the new header.  The
    header's ``flags`` byte records the byte order (2 little, 3 big; 0 unset, then the order
    in which ``nlibs`` and ``len_strings`` fit the file, little endian first; 1 marks the
    cache invalid).  When ``extension_offset`` is not 0 — an absolute file offset, a multiple
    of 4; the writer leaves 0-3 zero bytes after the string table — the extension directory
    lies there: magic 0xeaa42174, ``count``, then ``count`` section descriptors ``{tag,
    flags, offset, size}`` whose ``offset`` is absolute.  Tag 0 is the generator string
    (``size`` bytes, no NUL); tag 1 the glibc-hwcaps subdirectory names, an array of u32
    string offsets that count from the new header like ``key`` and ``value`` (a tag 1
    section that is empty, misaligned or not a multiple of 4 long is ignored, as glibc does);
    other tags are skipped.

compat layout
    An old table whose string area is a complete new cache.  The new header follows the old
    entries at their end rounded up as glibc's ``ALIGN_CACHE`` rounds it — to
    ``__alignof__(struct cache_file_new)``: 4 on i386, 8 elsewhere — which ldconfig makes the
    same place by rounding the old entry count up to an even number (the last old entry is
    then duplicated).  The old entries' ``key`` and ``value`` point into the new string
    table.  Readers use the new table; glibc 2.33-2.36 can leave garbage in the old one
    (spec §1.4.3), so there an old string that cannot be resolved is ``None``, not an error.

Errors are :class:`ldcache.errors.CacheFormatError`, each with the file offset of the
problem (:func:`parse`).  Importing this module imports construct, which takes longer than
reading a large cache with :mod:`ldcache.format`: only ``ldcache dump`` does.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import construct as c

from .errors import CacheFormatError
from .format import (
    ENDIAN_FLAG,
    NEW_MAGIC,
    NEW_VERSION,
    OLD_MAGIC,
    TAG_GENERATOR,
    TAG_GLIBC_HWCAPS,
)
from .layouts import Layout

__all__ = ["CACHE_FILE", "FormatError", "declaration", "parse", "NEW_ALIGNMENTS"]

#: The alignments at which a compat file's new header is looked for after the old entries
#: (glibc's ALIGN_CACHE: 4 on i386, 8 on every other architecture).
NEW_ALIGNMENTS = (4, 8)

_Problem = Optional[Tuple[str, int]]
_Ctx = Any


def field_offset(struct: c.Struct, name: str) -> int:
    """The offset of field ``name`` in a structure of :mod:`ldcache.layouts`."""
    pos = 0
    for sub in struct.subcons:
        if sub.name == name:
            return pos
        pos += sub.sizeof()
    raise KeyError(name)


_LE = Layout("little")
_OLD_HEADER = _LE.old_header.sizeof()
_OLD_ENTRY = _LE.old_entry.sizeof()
_OLD_NLIBS = field_offset(_LE.old_header, "nlibs")
_NEW_HEADER = _LE.new_header.sizeof()
_NEW_ENTRY = _LE.new_entry.sizeof()
_NEW_NLIBS = field_offset(_LE.new_header, "nlibs")
_NEW_LEN_STRINGS = field_offset(_LE.new_header, "len_strings")
_NEW_FLAGS = field_offset(_LE.new_header, "flags")
_NEW_EXTENSION_OFFSET = field_offset(_LE.new_header, "extension_offset")


class FormatError(c.ConstructError):
    """The file is malformed: ``message`` says how, ``offset`` is where in the file."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at offset {offset:#x}")
        self.message = message
        self.offset = offset


def _reason(exc: c.ConstructError) -> str:
    """construct's message without its "Error in path ..." line."""
    text = str(exc)
    if text.startswith("Error in path") and "\n" in text:
        text = text.split("\n", 1)[1]
    return text


# --- Constructs that say where a problem is ------------------------------------------------


class _At(c.Subconstruct):
    """``subcon``, "the ``what``": an error inside it that carries no file offset yet gets
    the offset where it starts ("truncated WHAT" when the file ends inside it)."""

    def __init__(self, subcon: c.Construct, what: str) -> None:
        super().__init__(subcon)
        self.name = subcon.name
        self.what = what

    def _parse(self, stream: Any, context: _Ctx, path: str) -> Any:
        start = c.stream_tell(stream, path)
        try:
            return self.subcon._parsereport(stream, context, path)
        except FormatError:
            raise
        except c.StreamError:
            raise FormatError(f"truncated {self.what}", start) from None
        except c.ConstructError as exc:
            raise FormatError(f"bad {self.what} ({_reason(exc)})", start) from None


class _Check(c.Construct):
    """A rule of the format; consumes nothing.  ``test(context)`` is None where the file
    keeps the rule, else (message, file offset)."""

    def __init__(self, test: Callable[[_Ctx], _Problem]) -> None:
        super().__init__()
        self.test = test
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: _Ctx, path: str) -> None:
        problem = self.test(context)
        if problem is not None:
            raise FormatError(*problem)

    def _sizeof(self, context: _Ctx, path: str) -> int:
        return 0


class _FileSize(c.Construct):
    """The size of the whole file; consumes nothing."""

    def _parse(self, stream: Any, context: _Ctx, path: str) -> int:
        here = c.stream_tell(stream, path)
        size = c.stream_seek(stream, 0, 2, path)
        c.stream_seek(stream, here, 0, path)
        return int(size)


class _StringAt(c.Construct):
    """The NUL-terminated string at file offset ``base(ctx) + ctx[field]``, which must lie,
    NUL included, in ``table(ctx)`` = (start, end); consumes nothing.  A string that breaks
    the rule is an error at ``field_at(ctx)`` (the offset of the field that points at it), or
    None when ``optional``."""

    def __init__(self, field: str, base: Callable[[_Ctx], int],
                 table: Callable[[_Ctx], tuple[int, int]], what: Callable[[_Ctx], str],
                 field_at: Callable[[_Ctx], int], optional: bool = False) -> None:
        super().__init__()
        self.field = field
        self.base = base
        self.table = table
        self.what = what
        self.field_at = field_at
        self.optional = optional
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: _Ctx, path: str) -> bytes | None:
        offset = context[self.field]
        start = self.base(context) + offset
        lo, hi = self.table(context)
        found = None
        if lo <= start < hi:
            here = c.stream_tell(stream, path)
            c.stream_seek(stream, start, 0, path)
            chunk = b""
            step = 64
            while len(chunk) < hi - start:
                more = stream.read(min(step, hi - start - len(chunk)))
                if not more:
                    break
                chunk += more
                nul = chunk.find(b"\0", len(chunk) - len(more))
                if nul >= 0:
                    found = chunk[:nul]
                    break
                step *= 2
            c.stream_seek(stream, here, 0, path)
            problem = "is not NUL-terminated in"
        else:
            problem = "points outside"
        if found is None and not self.optional:
            raise FormatError(f"{self.what(context)} string offset {offset:#x} {problem} the "
                              "string table", self.field_at(context))
        return found

    def _sizeof(self, context: _Ctx, path: str) -> int:
        return 0


class _HiddenNew(c.Construct):
    """A compat file's new cache: the first of ``candidates`` (one per alignment, each a
    Struct starting with the gap up to its boundary) at whose boundary the new magic lies,
    the header fits and the new cache parses.  None when there is none (an old-only file):
    the stream stays put.  A new cache that is there but malformed is then an error only if
    the old table is empty (it cannot be read as an old-only file either)."""

    def __init__(self, candidates: dict[int, c.Construct], header_size: int) -> None:
        super().__init__()
        self.candidates = candidates
        self.header_size = header_size
        self.flagbuildnone = True

    def _parse(self, stream: Any, context: _Ctx, path: str) -> Any:
        here = c.stream_tell(stream, path)
        size = context._root.file_size
        magic = NEW_MAGIC + NEW_VERSION
        first_error: FormatError | None = None
        for align in sorted(self.candidates):
            at = -(-here // align) * align
            if at + self.header_size > size:
                continue
            c.stream_seek(stream, at, 0, path)
            if stream.read(len(magic)) != magic:
                continue
            c.stream_seek(stream, here, 0, path)
            try:
                return self.candidates[align]._parsereport(stream, context, path)
            except FormatError as exc:
                if at % 8 == 0:
                    # Where glibc's readers look (ALIGN_CACHE is 8 but on i386): a new
                    # header there is the file's, malformed or not.
                    raise
                first_error = first_error or exc
        c.stream_seek(stream, here, 0, path)
        if first_error is not None and context.old.header.nlibs == 0:
            raise first_error
        return None

    def _sizeof(self, context: _Ctx, path: str) -> int:
        raise c.SizeofError("a compat file's new cache has no fixed size")


# --- The declaration -----------------------------------------------------------------------


def _fields(struct: c.Struct, what: str) -> c.Struct:
    """``struct`` of :mod:`ldcache.layouts` with an error in each field located at it."""
    return c.Struct(*(_At(sub, f"{what} field {sub.name}" if sub.name else f"{what} padding")
                      for sub in struct.subcons))


def _new_table(ctx: _Ctx) -> tuple[int, int]:
    """(start, end) file offsets of the string table of the new cache ``ctx`` is in."""
    while "strings_end" not in ctx:
        ctx = ctx._
    return ctx.strings_offset, ctx.strings_end


def _new_base(ctx: _Ctx) -> int:
    """The file offset of the new header of the new cache ``ctx`` is in."""
    while "strings_end" not in ctx:
        ctx = ctx._
    return int(ctx.file_offset)


def _section_kind(ctx: _Ctx) -> str:
    if ctx.tag == TAG_GENERATOR:
        return "generator"
    if ctx.tag == TAG_GLIBC_HWCAPS:
        if ctx.size == 0 or ctx.offset % 4 or ctx.size % 4:
            return "ignored"  # the loader and ldconfig -p ignore such a section
        return "glibc-hwcaps"
    return "unknown"


def _extension(lay: Layout) -> c.Struct:
    u32 = c.Int32ul if lay.byte_order == "little" else c.Int32ub
    dir_size = lay.extension_header.sizeof()
    section_size = lay.extension_section.sizeof()
    hwcaps_name = c.Struct(
        "file_offset" / c.Tell,
        "offset" / u32,
        "name" / _StringAt("offset", _new_base, _new_table,
                           lambda ctx: f"glibc-hwcaps name {ctx._index}",
                           lambda ctx: ctx.file_offset),
    )
    section = c.Struct(
        "file_offset" / c.Tell,
        *lay.extension_section.subcons,
        _Check(lambda ctx: None if ctx.offset + ctx.size <= ctx._root.file_size else (
            f"extension section {ctx._index} runs past the end of the file", ctx.file_offset)),
        "kind" / c.Computed(_section_kind),
        "content" / c.Pointer(c.this.offset, c.Switch(c.this.kind, {
            "generator": c.Bytes(c.this.size),
            "glibc-hwcaps": c.Array(c.this.size // 4, hwcaps_name),
        }, default=c.Bytes(c.this.size))),
    )
    return c.Struct(
        "file_offset" / c.Tell,
        # (a problem with where the directory is is reported at extension_offset)
        _Check(lambda ctx: None if ctx.file_offset % 4 == 0 else (
            f"misaligned extension directory offset {ctx.file_offset:#x}",
            _new_base(ctx) + _NEW_EXTENSION_OFFSET)),
        _Check(lambda ctx: None if ctx.file_offset + dir_size <= ctx._root.file_size else (
            f"extension directory offset {ctx.file_offset:#x} outside the file",
            _new_base(ctx) + _NEW_EXTENSION_OFFSET)),
        "header" / _fields(lay.extension_header, "extension directory"),
        _Check(lambda ctx: None if ctx.file_offset + dir_size + section_size * ctx.header.count
               <= ctx._root.file_size else (
                   f"{ctx.header.count} extension sections do not fit in the file",
                   ctx.file_offset + 4)),
        "sections" / c.Array(c.this.header.count, section),
    )


def _new_flags(order: str) -> Callable[[_Ctx], _Problem]:
    def check(ctx: _Ctx) -> _Problem:
        flags = ctx.header.flags
        at = ctx.file_offset + _NEW_FLAGS
        if flags & 3 == 1:
            return "cache header flags mark the cache invalid", at
        if flags & 3 and flags & 3 != ENDIAN_FLAG[order]:
            return "old and new tables disagree on the byte order", at
        if flags & ~3:
            return f"unknown bits in the header flags byte {flags:#x}", at
        return None
    return check


def _entry(fields: c.Struct, string: Callable[[str], "_StringAt"]) -> c.Struct:
    """An entry (old or new): its fields where it stands, and the key and value strings."""
    return c.Struct(
        "file_offset" / c.Tell,
        *fields.subcons,
        "key_string" / string("key"),
        "value_string" / string("value"),
    )


def _new_cache(lay: Layout) -> c.Struct:
    header_size = lay.new_header.sizeof()
    entry_size = lay.new_entry.sizeof()

    def string(field: str) -> _StringAt:
        at = field_offset(lay.new_entry, field)
        return _StringAt(field, lambda ctx: ctx._.file_offset, _new_table,
                         lambda ctx: f"{field} of new entry {ctx._index}",
                         lambda ctx: ctx.file_offset + at)

    entry = _entry(lay.new_entry, string)
    return c.Struct(
        "file_offset" / c.Tell,
        "header" / _fields(lay.new_header, "new header"),
        _Check(_new_flags(lay.byte_order)),
        "entries_offset" / c.Computed(lambda ctx: ctx.file_offset + header_size),
        "strings_offset" / c.Computed(
            lambda ctx: ctx.entries_offset + entry_size * ctx.header.nlibs),
        "strings_end" / c.Computed(lambda ctx: ctx.strings_offset + ctx.header.len_strings),
        _Check(lambda ctx: None if ctx.strings_offset <= ctx._root.file_size else (
            f"{ctx.header.nlibs} entries do not fit in the file",
            ctx.file_offset + _NEW_NLIBS)),
        _Check(lambda ctx: None if ctx.strings_end <= ctx._root.file_size else (
            f"string table of {ctx.header.len_strings} bytes runs past the end of the file",
            ctx.strings_offset)),
        "strings" / c.Pointer(c.this.strings_offset, c.Bytes(c.this.header.len_strings)),
        _Check(lambda ctx: None if not ctx.header.nlibs or ctx.strings[-1:] == b"\0" else (
            "string table does not end with NUL", ctx.strings_end - 1)),
        "entries" / c.Array(c.this.header.nlibs, entry),
        c.Seek(c.this.strings_end),
        "extension" / c.If(c.this.header.extension_offset != 0,
                           c.Pointer(c.this.header.extension_offset, _extension(lay))),
    )


def _old_table(lay: Layout) -> c.Struct:
    header_size = lay.old_header.sizeof()
    entry_size = lay.old_entry.sizeof()

    def string(field: str) -> _StringAt:
        at = field_offset(lay.old_entry, field)
        return _StringAt(field, lambda ctx: ctx._.strings_offset,
                         lambda ctx: (ctx._.strings_offset, ctx._root.file_size),
                         lambda ctx: f"{field} of old entry {ctx._index}",
                         lambda ctx: ctx.file_offset + at, optional=True)

    entry = _entry(lay.old_entry, string)
    return c.Struct(
        "file_offset" / c.Tell,
        _Check(lambda ctx: None if ctx._root.head[len(OLD_MAGIC)] == 0 else (
            "nonzero byte after the old magic", len(OLD_MAGIC))),
        "header" / _fields(lay.old_header, "old header"),
        "strings_offset" / c.Computed(
            lambda ctx: ctx.file_offset + header_size + entry_size * ctx.header.nlibs),
        _Check(lambda ctx: None if ctx.strings_offset <= ctx._root.file_size else (
            f"{ctx.header.nlibs} old entries do not fit in the file", header_size)),
        "entries" / c.Array(c.this.header.nlibs, entry),
    )


def _old_only(ctx: _Ctx) -> _Problem:
    """An old-only file's strings: there must be a table, and every string must be in it."""
    if ctx.new is not None:
        return None
    old = ctx.old
    if old.header.nlibs and old.strings_offset == ctx._root.file_size:
        return "old entries but no string table", old.strings_offset
    for i, e in enumerate(old.entries):
        for field in ("key", "value"):
            if e[f"{field}_string"] is None:
                return (f"{field} string offset {e[field]:#x} of old entry {i} out of bounds or "
                        "unterminated", e.file_offset + field_offset(_LE.old_entry, field))
    return None


def declaration(byte_order: str) -> c.Construct:
    """The file after its magic, for one byte order (parsed in the context of
    :data:`CACHE_FILE`, which provides ``file_size`` and ``head``)."""
    lay = Layout(byte_order)
    new = _new_cache(lay)
    candidates = {
        align: c.Struct(
            "gap_offset" / c.Tell,
            "alignment" / c.Computed(align),
            "gap" / c.Bytes(lambda ctx, a=align: -ctx.gap_offset % a),
            "new" / new,
        )
        for align in NEW_ALIGNMENTS
    }
    return c.IfThenElse(
        lambda ctx: ctx.head.startswith(OLD_MAGIC),
        c.Struct(
            "old" / _old_table(lay),
            "hidden" / _HiddenNew(candidates, lay.new_header.sizeof()),
            "new" / c.Computed(lambda ctx: None if ctx.hidden is None else ctx.hidden.new),
            _Check(_old_only),
            "old_strings" / c.If(lambda ctx: ctx.new is None, c.Struct(
                "file_offset" / c.Tell,
                "data" / c.GreedyBytes,
            )),
        ),
        c.Struct(
            "old" / c.Computed(None),
            "hidden" / c.Computed(None),
            "new" / new,
            "old_strings" / c.Computed(None),
        ),
    )


def _header_problem(ctx: _Ctx) -> _Problem:
    size = ctx.file_size
    if size < _OLD_HEADER:
        return ("file too short for a cache header" if size else "empty file"), size
    head = ctx.head
    if head.startswith(OLD_MAGIC) or head.startswith(NEW_MAGIC + NEW_VERSION):
        return None
    if head.startswith(NEW_MAGIC):
        version = head[len(NEW_MAGIC):len(NEW_MAGIC) + len(NEW_VERSION)]
        return f"unsupported new-format version {version!r}", len(NEW_MAGIC)
    return "not a cache file (bad magic)", 0


def _byte_order(ctx: _Ctx) -> str:
    """The byte order: the new header's flags byte when it says; else the order in which the
    counts fit the file (little endian when both do).  An old table of 0 entries says
    nothing: then the new header that follows it decides."""
    head, size = ctx.head, ctx.file_size

    def u32s(offset: int) -> tuple[tuple[str, int], ...]:
        raw = head[offset:offset + 4]
        return ("little", c.Int32ul.parse(raw)), ("big", c.Int32ub.parse(raw))

    def new_order(offset: int) -> str:
        endian = head[offset + _NEW_FLAGS] & 3
        if endian:
            # (1 marks the cache invalid: the error comes from reading the header)
            return "big" if endian == ENDIAN_FLAG["big"] else "little"
        for (order, nlibs), (_, len_strings) in zip(u32s(offset + _NEW_NLIBS),
                                                    u32s(offset + _NEW_LEN_STRINGS)):
            if offset + _NEW_HEADER + _NEW_ENTRY * nlibs + len_strings <= size:
                return order
        raise FormatError("entry count and string table larger than the file",
                          offset + _NEW_NLIBS)

    if head.startswith(OLD_MAGIC):
        room = (size - _OLD_HEADER) // _OLD_ENTRY
        (_, le), (_, be) = u32s(_OLD_NLIBS)
        if le == 0 and head.startswith(NEW_MAGIC + NEW_VERSION, _OLD_HEADER) and \
                size >= _OLD_HEADER + _NEW_HEADER:
            try:
                return new_order(_OLD_HEADER)
            except FormatError:
                return "little"  # an old-only file after all
        if le <= room and (be > room or le <= be):
            return "little"
        if be <= room:
            return "big"
        raise FormatError("entry count larger than the file", _OLD_NLIBS)
    if len(head) < _NEW_HEADER:
        return "little"  # a truncated header: the error comes from reading it
    return new_order(0)


def _layout(ctx: _Ctx) -> str:
    body = ctx.body
    if body.new is None:
        return "old"
    return "new" if body.old is None else "compat"


#: The whole file.  Parsed: ``file_size``, ``head`` (its first 48 bytes), ``byte_order``,
#: ``layout`` (``old``, ``new``, ``compat``) and ``body``: ``old`` (the old table: header,
#: entries with their strings, ``strings_offset``) or None, ``hidden`` (compat: ``gap_offset``,
#: ``alignment``, ``gap``) or None, ``new`` (the new cache: header, entries with their strings,
#: ``strings_offset``, ``strings_end``, ``strings``, ``extension``) or None, and
#: ``old_strings`` (an old-only file's string table) or None.  Every structure carries its
#: ``file_offset``.
CACHE_FILE = _At(c.Struct(
    "file_size" / _FileSize(),
    "head" / c.Peek(c.Bytes(lambda ctx: min(ctx.file_size, _NEW_HEADER))),
    _Check(_header_problem),
    "byte_order" / c.Computed(_byte_order),
    "body" / c.Switch(c.this.byte_order, {order: declaration(order)
                                           for order in ("little", "big")}),
    "layout" / c.Computed(_layout),
), "cache file")


def parse(data: bytes) -> Any:
    """``data`` read with :data:`CACHE_FILE`; :class:`CacheFormatError` if malformed."""
    try:
        return CACHE_FILE.parse(data)
    except FormatError as exc:
        raise CacheFormatError(exc.message, exc.offset) from None
