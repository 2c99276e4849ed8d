"""Every JSON document ldcache prints, made in one place (schema: README, "JSON").

Byte strings (sonames, paths, generator) become JSON strings; bytes that are not UTF-8
are given as Python's surrogate escapes (``\\udcXX``), so a document always encodes.
Integers (flags, hwcap values) are plain numbers; ``null`` means "not present".
"""

from __future__ import annotations

from . import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from .diff import CacheDiff, EntryKey
    from .dump import Dump, Node
    from .explain import Explanation
    from .format import Cache, Entry, RawCache
    from .lookup import Candidate, Loader, Lookup
    from .verify import Verification

__all__ = [
    "cache_json",
    "diff_json",
    "dump_json",
    "dumps",
    "entry_json",
    "explain_json",
    "info_json",
    "key_json",
    "lookup_json",
    "verify_json",
]


def dumps(doc: Any) -> bytes:
    """The bytes printed for ``doc``: indented, one trailing newline."""
    import json  # only when JSON is asked for: start-up time

    return json.dumps(doc, indent=2).encode() + b"\n"


def _s(value: bytes | None) -> str | None:
    return None if value is None else os.fsdecode(value)


def entry_json(e: Entry, cache: Cache | None = None) -> dict[str, Any]:
    """One cache entry (``print`` entries, ``lookup`` candidates)."""
    from .glibc import behaviour
    from .printer import arch_word, type_word

    b = behaviour()
    name = e.hwcaps_name
    if name is None and cache is not None and e.hwcaps_index is not None \
            and e.hwcaps_index < len(cache.hwcaps):
        name = cache.hwcaps[e.hwcaps_index]
    return {
        "soname": _s(e.soname),
        "path": _s(e.path),
        "flags": e.flags,
        "type": type_word(e.flags, b),
        "arch": arch_word(e.flags, b).lstrip(","),
        "osversion": e.osversion,
        "hwcap": e.hwcap,
        "hwcaps_name": _s(name),
        "isa_level": e.isa_level,
    }


def cache_json(cache: Cache, name: bytes) -> dict[str, Any]:
    """``ldcache print --json``."""
    return {
        "cache": _s(name),
        "layout": cache.layout,
        "byte_order": cache.byte_order,
        "generator": _s(cache.generator),
        "hwcaps": [_s(h) for h in cache.hwcaps],
        "entries": [entry_json(e, cache) for e in cache.entries],
    }


def info_json(cache: Cache, raw: RawCache, name: bytes, size: int) -> dict[str, Any]:
    """``ldcache info --json``."""
    return {
        "cache": _s(name),
        "file_size": size,
        "layout": cache.layout,
        "byte_order": cache.byte_order,
        "entries": len(cache.entries),
        "old_entries": raw.old_nlibs,
        "string_table_size": raw.strings_end - raw.strings_start,
        "string_table": cache.string_table,
        "generator": _s(cache.generator),
        "hwcaps": [_s(h) for h in cache.hwcaps],
    }


def _node_json(n: Node) -> dict[str, Any]:
    doc = {"name": n.name, "offset": n.offset, "size": n.size, "value": n.value,
           "text": n.text}
    doc.update(n.extra or {})
    doc["fields"] = [_node_json(child) for child in n.children]
    return doc


def dump_json(d: Dump, name: bytes) -> dict[str, Any]:
    """``ldcache dump --json``: every item of the file, nested as the text lists them."""
    return {
        "cache": _s(name),
        "file_size": d.file_size,
        "layout": d.layout,
        "byte_order": d.byte_order,
        "fields": [_node_json(n) for n in d.nodes],
    }


def key_json(k: EntryKey) -> dict[str, Any]:
    """An entry as ``diff``/``verify``/``explain`` compare it (hwcaps by name)."""
    return {"soname": _s(k[0]), "path": _s(k[1]), "flags": k[2], "osversion": k[3],
            "hwcaps_name": _s(k[4]), "isa_level": k[5], "hwcap": k[6]}


def _value(v: object) -> object:
    if isinstance(v, bytes):
        return _s(v)
    if isinstance(v, tuple):
        return [_value(x) for x in v]
    return v


def diff_json(d: CacheDiff, a: bytes, b: bytes) -> dict[str, Any]:
    """``ldcache diff --json``."""
    return {
        "a": _s(a),
        "b": _s(b),
        "equal": d.equal,
        "header": {k: {"a": _value(va), "b": _value(vb)} for k, (va, vb) in d.header.items()},
        "order_changed": d.order_changed,
        "added": [key_json(k) for k in d.added],
        "removed": [key_json(k) for k in d.removed],
        "changed": [{"a": key_json(c.old), "b": key_json(c.new), "fields": c.fields}
                    for c in d.changed],
    }


def loader_json(loader: Loader) -> dict[str, Any]:
    return {
        "arch": loader.arch.name,
        "glibc": f"{loader.version[0]}.{loader.version[1]}",
        "default_flags": loader.default_flags,
        "accepted_flags": sorted(loader.accepted_flags),
        "char_signed": loader.arch.char_signed,
        "hwcaps": list(loader.hwcaps),
        "isa_level": loader.isa_level,
    }


def _candidate_json(c: Candidate) -> dict[str, Any]:
    doc = entry_json(c.entry)
    doc.update(index=c.index, verdict=c.verdict, reason=c.reason or None,
               priority=c.priority)
    return doc


def lookup_json(result: Lookup, cache: bytes) -> dict[str, Any]:
    """``ldcache lookup --json``."""
    return {
        "cache": _s(cache),
        "soname": _s(result.soname),
        "path": _s(result.path),
        "found": result.path is not None,
        "table": result.table,
        "loader": loader_json(result.loader),
        "probes": result.probes,
        "candidates": [_candidate_json(c) for c in result.candidates],
        "notes": result.notes,
    }


def verify_json(v: Verification) -> dict[str, Any]:
    """``ldcache verify --json``."""
    d = v.diff
    return {
        "root": _s(v.root),
        "cache": _s(v.cache_path),
        "stale": v.stale,
        "cache_found": v.actual is not None,
        "added": [key_json(k) for k in d.added],
        "removed": [key_json(k) for k in d.removed],
        "changed": [{"cache": key_json(c.old), "build": key_json(c.new), "fields": c.fields}
                    for c in d.changed],
        "order_changed": d.order_changed,
        "header": {k: {"cache": _value(va), "build": _value(vb)}
                   for k, (va, vb) in d.header.items()},
        "missing_files": [key_json(k) for k in v.missing],
        "soname_changed": [{"entry": key_json(k), "soname": _s(now)}
                           for k, now in v.soname_changed],
        "dangling_links": [_s(p) for p in v.dangling],
        "links": [{"link": _s(link), "target": _s(target)} for link, target in v.links],
        "bytes_equal": v.bytes_equal,
        "layout": None if v.layout is None else {"cache": v.layout[0], "default": v.layout[1]},
    }


def explain_json(e: Explanation) -> dict[str, Any]:
    """``ldcache explain --json``."""
    return {
        "query": _s(e.query),
        "kind": e.kind,
        "verdict": e.verdict,
        "in_cache": e.in_cache,
        "soname": _s(e.soname),
        "directory": _s(e.directory),
        "reasons": e.reasons,
        "entries": [key_json(k) for k in e.entries],
        "lookup": None if e.lookup is None else lookup_json(e.lookup, b"(planned)"),
        "current_cache_agrees": e.current,
    }
