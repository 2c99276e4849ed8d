"""``ldcache dump``: every field of a cache file with its file offset, size and value.

The file is read with the construct declaration of the format (:mod:`ldcache.fileformat`),
and each structure's fields are listed in the order and at the sizes that
:mod:`ldcache.layouts` declares them, padding included; the bytes no structure claims are
listed as padding, unused bytes or trailing bytes, so that the listing covers the file.
Importing this module imports construct (only ``ldcache dump`` does).

The text (:func:`text`) is stable: four lines ``cache:``, ``file size:``, ``layout:``,
``byte order:``, an empty line, a heading line, then one line per item::

    OFFSET          SIZE  FIELD                           VALUE
    0x00000370        48  new header
    0x00000370        17    magic                         "glibc-ld.so.cach"

``OFFSET`` is the file offset (``0x`` and 8 hex digits), ``SIZE`` the size in bytes
(decimal), ``FIELD`` the item's name indented by two spaces per level (a structure, then its
fields), ``VALUE`` the value as decoded: numbers in decimal, offsets and flags in hex, strings
in double quotes (``\\"``, ``\\\\`` and ``\\xNN`` for bytes outside printable ASCII), string
offsets followed by ``-> FILE-OFFSET "string"``, entry flags by ``ldconfig -p``'s words, byte
runs as hex bytes (the first 16).  Top-level items are in file order.
"""

from __future__ import annotations

import os

from . import fileformat
from ._record import Record
from .layouts import Layout

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Optional

__all__ = ["Dump", "Node", "dump", "text"]

#: Bytes of a byte run shown in the text (and, as hex, in JSON).
TEXT_BYTES = 16
JSON_BYTES = 64

_ENDIAN_WORDS = {0: "unset", 1: "invalid", 2: "little endian", 3: "big endian"}
_SECTION_WORDS = {0: "generator", 1: "glibc-hwcaps"}
_OS_NAMES = ("Linux", "Hurd", "Solaris", "FreeBSD", "kNetBSD", "Syllable", "Unknown OS")


class Node(Record):
    """One item of the file: a structure (with ``children``), a field or a byte run."""

    name: str
    offset: int
    size: int
    #: The value as stored (a number, a string, the hex of a byte run) or None.
    value: Any = None
    #: The value as the text shows it.
    text: str = ""
    #: More JSON members (the string an offset points at, flag words, ...).
    extra: Optional[dict[str, Any]] = None
    children: tuple["Node", ...] = ()


class Dump(Record):
    file_size: int
    layout: str
    byte_order: str
    nodes: tuple[Node, ...]


# --- Values as text ------------------------------------------------------------------------


def _escape(s: bytes) -> str:
    out = []
    for ch in s:
        if ch in (0x22, 0x5C):
            out.append("\\" + chr(ch))
        elif 0x20 <= ch < 0x7F:
            out.append(chr(ch))
        else:
            out.append(f"\\x{ch:02x}")
    return "".join(out)


def _quote(s: bytes) -> str:
    return f'"{_escape(s)}"'


def _hex(offset: int) -> str:
    return f"{offset:#010x}"


def _bytes_text(raw: bytes) -> str:
    shown = " ".join(f"{b:02x}" for b in raw[:TEXT_BYTES])
    return shown + (" ..." if len(raw) > TEXT_BYTES else "")


def _js(s: bytes | None) -> str | None:
    return None if s is None else os.fsdecode(s)


def _run(name: str, offset: int, raw: bytes, text: str = "") -> Node:
    """A run of bytes: padding, a gap, an uninterpreted section."""
    return Node(name, offset, len(raw), raw[:JSON_BYTES].hex(),
                text or _bytes_text(raw), {"all_zero": not raw.strip(b"\0")})


# --- Structures ----------------------------------------------------------------------------

if TYPE_CHECKING:  # pragma: no cover
    _Describe = Callable[[str, int, int, Any], Optional[Node]]


def _plain(name: str, offset: int, size: int, value: Any) -> Node:
    if isinstance(value, bytes):
        return Node(name, offset, size, _js(value), _quote(value))
    return Node(name, offset, size, value, str(value))


def _fields(decl: Any, offset: int, values: Any, data: bytes,
            describe: _Describe | None = None) -> tuple[Node, ...]:
    """The fields of structure ``decl`` (a construct Struct of :mod:`ldcache.layouts`) stored
    at ``offset``, parsed as ``values``: names, sizes and order come from the declaration."""
    out = []
    pos = offset
    for sub in decl.subcons:
        size = sub.sizeof()
        if sub.name is None:
            out.append(_run("(padding)", pos, data[pos:pos + size]))
        else:
            node = describe(sub.name, pos, size, values[sub.name]) if describe else None
            out.append(node or _plain(sub.name, pos, size, values[sub.name]))
        pos += size
    return tuple(out)


def _os_abi(osversion: int) -> str:
    name = _OS_NAMES[min(osversion >> 24, len(_OS_NAMES) - 1)]
    return f"{name} {(osversion >> 16) & 0xFF}.{(osversion >> 8) & 0xFF}.{osversion & 0xFF}"


class _Entries:
    """Describes the fields of old and new entries."""

    def __init__(self, hwcaps: list[bytes | None]) -> None:
        from .glibc import behaviour

        self.behaviour = behaviour()
        self.hwcaps = hwcaps

    def flags(self, offset: int, size: int, flags: int) -> Node:
        from .printer import arch_word, type_word

        kind = type_word(flags, self.behaviour)
        arch = arch_word(flags, self.behaviour)
        return Node("flags", offset, size, flags,
                    f"{flags & 0xFFFFFFFF:#06x} ({kind}{arch})",
                    {"type": kind, "arch": arch.lstrip(",")})

    def describe(self, entry: Any, base: int) -> _Describe:
        def describe(name: str, offset: int, size: int, value: Any) -> Node | None:
            if name == "flags":
                return self.flags(offset, size, value)
            if name in ("key", "value"):
                return _pointer(name, offset, size, value, base + value,
                                entry[f"{name}_string"])
            if name == "osversion":
                return Node(name, offset, size, value,
                            f"{value:#010x} ({_os_abi(value)})" if value else "0")
            if name == "hwcap":
                return self.hwcap(offset, size, value)
            return None
        return describe

    def hwcap(self, offset: int, size: int, hwcap: int) -> Node:
        extra: dict[str, Any] = {"hwcaps_index": None, "hwcaps_name": None, "isa_level": 0}
        if hwcap == 0:
            return Node("hwcap", offset, size, 0, "0", extra)
        if (hwcap >> 32) & ~0x3FF == 0x40000000:
            index = hwcap & 0xFFFFFFFF
            level = (hwcap >> 32) & 0x3FF
            name = self.hwcaps[index] if index < len(self.hwcaps) else None
            shown = "no such name" if name is None else _quote(name)
            extra.update(hwcaps_index=index, hwcaps_name=_js(name), isa_level=level)
            text = f"{hwcap:#018x} (glibc-hwcaps {index} {shown}, ISA level {level})"
        else:
            text = f"{hwcap:#018x} (legacy hwcap mask)"
        return Node("hwcap", offset, size, hwcap, text, extra)


def _pointer(name: str, offset: int, size: int, value: int, target: int,
             string: bytes | None) -> Node:
    shown = "(no string there)" if string is None else _quote(string)
    return Node(name, offset, size, value, f"{value:#010x} -> {_hex(target)} {shown}",
                {"string_offset": target, "string": _js(string)})


def _summary(e: Any) -> str:
    def s(v: bytes | None) -> str:
        return "?" if v is None else _escape(v)
    return f"{s(e.key_string)} => {s(e.value_string)}"


def _entry_nodes(kind: str, entries: Any, decl: Any, start: int, base: int, data: bytes,
                 described: _Entries) -> Node:
    """The ``kind`` entries, stored from ``start``; their strings count from ``base``."""
    size = decl.sizeof()
    children = tuple(
        Node(f"{kind} entry {i}", e.file_offset, size, None, _summary(e), None,
             _fields(decl, e.file_offset, e, data, described.describe(e, base)))
        for i, e in enumerate(entries))
    return Node(f"{kind} entries", start, size * len(entries), len(entries),
                f"{len(entries)} x {size} bytes; key and value count from {_hex(base)}",
                None, children)


def _string_table(offset: int, table: bytes, note: str = "") -> Node:
    count = table.count(b"\0")
    text = f"{len(table)} bytes, {count} strings, to {_hex(offset + len(table))}{note}"
    return Node("string table", offset, len(table), None, text, {"strings": count})


def _old_nodes(old: Any, lay: Layout, data: bytes, described: _Entries) -> list[Node]:
    header = Node("old header", old.file_offset, lay.old_header.sizeof(), None, "", None,
                  _fields(lay.old_header, old.file_offset, old.header, data))
    group = _entry_nodes("old", old.entries, lay.old_entry,
                         old.file_offset + lay.old_header.sizeof(), old.strings_offset, data,
                         described)
    return [header, group]


def _new_header_field(name: str, offset: int, size: int, value: Any) -> Node | None:
    if name == "flags":
        word = _ENDIAN_WORDS[value & 3]
        if value & ~3:
            word += f", unknown bits {value & ~3:#x}"
        return Node(name, offset, size, value, f"{value} ({word})")
    if name == "extension_offset":
        return Node(name, offset, size, value,
                    _hex(value) if value else "0 (no extension directory)")
    return None


def _new_nodes(new: Any, lay: Layout, data: bytes, described: _Entries) -> list[Node]:
    out = [
        Node("new header", new.file_offset, lay.new_header.sizeof(), None, "", None,
             _fields(lay.new_header, new.file_offset, new.header, data, _new_header_field)),
        _entry_nodes("new", new.entries, lay.new_entry, new.entries_offset, new.file_offset,
                     data, described),
        _string_table(new.strings_offset, new.strings),
    ]
    ext = new.extension
    if ext is None:
        return out

    def ext_field(name: str, offset: int, size: int, value: Any) -> Node | None:
        return Node(name, offset, size, value, f"{value:#010x}") if name == "magic" else None

    sections = []
    section_size = lay.extension_section.sizeof()
    for i, sec in enumerate(ext.sections):
        word = _SECTION_WORDS.get(sec.tag, "unknown")
        if sec.kind == "ignored":
            word += ", ignored: empty, misaligned or not a multiple of 4"

        def sec_field(name: str, offset: int, size: int, value: Any,
                      word: str = word) -> Node | None:
            if name == "tag":
                return Node(name, offset, size, value, f"{value} ({word})")
            if name == "offset":
                return Node(name, offset, size, value, _hex(value))
            return None

        sections.append(Node(f"section {i}", sec.file_offset, section_size, None, word, None,
                             _fields(lay.extension_section, sec.file_offset, sec, data,
                                     sec_field)))
        out.append(_section_data(i, sec, new.file_offset, data))
    header_nodes = _fields(lay.extension_header, ext.file_offset, ext.header, data, ext_field)
    count = len(ext.sections)
    out.append(Node("extension directory", ext.file_offset,
                    lay.extension_header.sizeof() + section_size * count, None,
                    f"{count} section{'' if count == 1 else 's'}", None,
                    header_nodes + tuple(sections)))
    return out


def _section_data(i: int, sec: Any, new_offset: int, data: bytes) -> Node:
    if sec.kind == "generator":
        return Node("generator", sec.offset, sec.size, _js(sec.content), _quote(sec.content))
    if sec.kind != "glibc-hwcaps":
        return _run(f"section {i} data", sec.offset, sec.content,
                    f"tag {sec.tag}: {_bytes_text(sec.content)}")
    names = []
    for j, item in enumerate(sec.content):
        node = _pointer(f"name {j}", item.file_offset, 4, item.offset,
                        new_offset + item.offset, item.name)
        if new_offset:
            # glibc's loader and ldconfig -p add these offsets to the file's start (spec §1.4.3).
            end = data.find(b"\0", item.offset)
            seen = data[item.offset:] if end < 0 else data[item.offset:end]
            node = node._replace(text=node.text + f" (glibc reads {_quote(seen)})")
        names.append(node)
    return Node("glibc-hwcaps", sec.offset, sec.size, len(names),
                f"{len(names)} names", None, tuple(names))


def _cover(nodes: list[Node], data: bytes) -> tuple[Node, ...]:
    """``nodes`` in file order, with the bytes between and after them as runs."""
    out: list[Node] = []
    pos = 0
    for node in sorted(nodes, key=lambda n: (n.offset, -n.size)):
        if node.offset > pos:
            raw = data[pos:node.offset]
            out.append(_run("(padding)" if not raw.strip(b"\0") else "(unused)", pos, raw))
        out.append(node)
        pos = max(pos, node.offset + node.size)
    if pos < len(data):
        out.append(_run("(trailing bytes)", pos, data[pos:]))
    return tuple(out)


def dump(data: bytes) -> Dump:
    """Every item of cache file ``data``; :class:`~ldcache.errors.CacheFormatError` if the
    file is malformed."""
    f = fileformat.parse(data)
    lay = Layout(f.byte_order)
    body = f.body
    hwcaps: list[bytes | None] = []
    if body.new is not None and body.new.extension is not None:
        for sec in body.new.extension.sections:
            if sec.kind == "glibc-hwcaps":
                hwcaps = [item.name for item in sec.content]
    described = _Entries(hwcaps)
    nodes: list[Node] = []
    if body.old is not None:
        nodes += _old_nodes(body.old, lay, data, described)
    if body.hidden is not None and body.hidden.gap:
        h = body.hidden
        nodes.append(_run("(alignment padding)", h.gap_offset, h.gap,
                          f"{_bytes_text(h.gap)} (to the {h.alignment}-byte boundary)"))
    if body.new is not None:
        nodes += _new_nodes(body.new, lay, data, described)
    if body.old_strings is not None:
        nodes.append(_string_table(body.old_strings.file_offset, body.old_strings.data,
                                   " (the end of the file)"))
    return Dump(f.file_size, f.layout, f.byte_order, _cover(nodes, data))


def _lines(node: Node, depth: int, out: list[str]) -> None:
    label = "  " * depth + node.name
    line = f"{_hex(node.offset)}  {node.size:>8}  {label:<30}  {node.text}"
    out.append(line.rstrip() + "\n")
    for child in node.children:
        _lines(child, depth + 1, out)


def text(d: Dump, name: bytes) -> bytes:
    """The text ``ldcache dump`` prints for ``d`` of the file called ``name``."""
    out = [
        f"cache:       {os.fsdecode(name)}\n",
        f"file size:   {d.file_size} ({d.file_size:#x})\n",
        f"layout:      {d.layout}\n",
        f"byte order:  {d.byte_order}\n",
        "\n",
        f"{'OFFSET':<10}  {'SIZE':>8}  {'FIELD':<30}  VALUE\n",
    ]
    for node in d.nodes:
        _lines(node, 0, out)
    return "".join(out).encode(errors="surrogateescape")
