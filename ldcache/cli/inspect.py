"""``ldcache print``, ``info`` and ``convert``: the inspecting commands."""

from __future__ import annotations

import sys

from .. import _os as os
from ..format import Cache, build, parse
from ..glibc import Behaviour, behaviour

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any

#: Largest cache file ldcache reads (glibc's own caches are well under 1 MiB).
MAX_CACHE_BYTES = 256 << 20


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("print", help="list a cache exactly as `ldconfig -p` does",
                       description="List the entries of a cache file, byte-identical to "
                                   "`ldconfig -p` of the glibc that owns the root.")
    _cache_args(p)
    p.add_argument("--glibc", metavar="VERSION",
                   help="print as this glibc's ldconfig does (default: the root's glibc)")
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_print)

    p = sub.add_parser("info", help="describe a cache file's layout",
                       description="Show a cache file's layout, byte order, entry count, "
                                   "string table size, generator and glibc-hwcaps names.")
    _cache_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("convert", help="re-encode a cache in another layout or byte order",
                       description="Rewrite cache IN as OUT in another layout or byte order. "
                                   "OUT is replaced atomically.")
    p.add_argument("--format", "-c", choices=("new", "compat", "old"),
                   help="layout of OUT (default: that of IN)")
    p.add_argument("--byte-order", choices=("little", "big"),
                   help="byte order of OUT (default: that of IN)")
    p.add_argument("input", metavar="IN", help="cache file to read")
    p.add_argument("output", metavar="OUT", help="cache file to write")
    p.set_defaults(func=cmd_convert)


def _cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-C", dest="cache", metavar="CACHE", default="/etc/ld.so.cache",
                   help="cache file (default /etc/ld.so.cache; inside ROOT with -r)")
    p.add_argument("-r", dest="root", metavar="ROOT",
                   help="root directory: CACHE is a path inside it")


def read_cache_bytes(cache: str, root: str | None) -> tuple[bytes, bytes]:
    """The bytes of cache file ``cache`` (inside ``root`` when given) and the path to print."""
    if root is not None:
        from ..inroot import Root

        with Root(root) as r:
            data = r.read_file(cache, max_bytes=MAX_CACHE_BYTES)
            if data is None:
                raise FileNotFoundError(2, "No such file or directory",
                                        os.fsdecode(r.host_path(cache)))
        return data, os.fsencode(cache)
    import stat

    if not stat.S_ISREG(os.stat(cache).st_mode):
        raise OSError(21, "not a regular file", cache)
    with open(cache, "rb", buffering=0) as f:
        # The size fstat gives, as glibc maps it, in one read (a buffered read of the
        # limit grows its buffer in ~140 steps for a 10,000-entry cache).
        size = os.fstat(f.fileno()).st_size
        if size > MAX_CACHE_BYTES:
            raise OSError(27, f"larger than {MAX_CACHE_BYTES} bytes", cache)
        data = f.read(size)
        while len(data) < size:  # (a short read: network file systems)
            more = f.read(size - len(data))
            if not more:
                break
            data += more
    return data, os.fsencode(cache)


def _parse(data: bytes, name: bytes) -> Cache:
    from ..errors import CacheFormatError

    try:
        return parse(data)
    except CacheFormatError as exc:
        raise CacheFormatError(f"{os.fsdecode(name)}: {exc.message}", exc.offset) from None


def _print_behaviour(args: argparse.Namespace) -> Behaviour:
    if args.glibc:
        from ..glibc import names_distribution_build, supported_version

        return behaviour(supported_version(args.glibc),
                         debian=names_distribution_build(args.glibc))
    from ..detect import detect_glibc

    found = detect_glibc(args.root or "/")
    if found is None:
        return behaviour()
    return behaviour(found.version, debian=found.debian)


def _out(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)


def cmd_print(args: argparse.Namespace) -> int:
    data, name = read_cache_bytes(args.cache, args.root)
    if args.json:
        from ..jsonout import cache_json, dumps

        cache = _parse(data, name) if data else Cache()
        _out(dumps(cache_json(cache, name)))
        return 0
    from ..errors import CacheFormatError
    from ..printer import listing

    try:
        text = listing(data, name, _print_behaviour(args))
    except CacheFormatError as exc:
        raise CacheFormatError(f"{os.fsdecode(name)}: {exc.message}", exc.offset) from None
    _out(text)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    data, name = read_cache_bytes(args.cache, args.root)
    cache = _parse(data, name)
    from ..format import decode
    from ..jsonout import dumps, info_json

    raw = decode(data)
    info = info_json(cache, raw, name, len(data))
    if args.json:
        _out(dumps(info))
        return 0
    labels = {
        "cache": "cache", "file_size": "file size", "layout": "layout",
        "byte_order": "byte order", "entries": "entries", "old_entries": "old-table entries",
        "string_table_size": "string table size", "string_table": "string table",
        "generator": "generator", "hwcaps": "glibc-hwcaps",
    }
    lines = []
    for key, label in labels.items():
        value = info[key]
        if value is None:
            value = "-"
        elif isinstance(value, list):
            value = " ".join(value) if value else "-"
        lines.append(f"{label + ':':<20}{value}\n")
    _out("".join(lines).encode(errors="surrogateescape"))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    data, name = read_cache_bytes(args.input, None)
    cache = _parse(data, name)
    changes: dict[str, Any] = {}
    if args.format:
        changes["layout"] = args.format
    if args.byte_order:
        changes["byte_order"] = args.byte_order
    out = build(cache.replace(**changes))
    from ..inroot import Root

    with Root("/") as host:
        host.write_atomic(os.path.abspath(args.output), out, 0o644)
    return 0
