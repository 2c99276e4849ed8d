"""``ldcache dump``: every field of a cache file, with its file offset, size and value.

The only command that imports construct (the declaration of the format it reads with,
:mod:`ldcache.fileformat`), and only when it runs: the other commands' start-up time
does not pay for it.
"""

from __future__ import annotations

import os

from .inspect import _cache_args, _out, read_cache_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "dump", help="show every field of a cache file with its offset, size and value",
        description="Show every field of a cache file, as readelf does for ELF files: the "
                    "headers, each entry's fields (flags with ldconfig -p's words, key and "
                    "value with the strings they point at), the string table, the extension "
                    "directory and its sections (generator, glibc-hwcaps names), padding and "
                    "trailing bytes. One line per item: OFFSET (file offset, hex), SIZE "
                    "(bytes), FIELD (indented under its structure), VALUE. The file is read "
                    "with the construct declaration of the format.")
    _cache_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_dump)


def cmd_dump(args: argparse.Namespace) -> int:
    data, name = read_cache_bytes(args.cache, args.root)
    from ..dump import dump, text  # imports construct
    from ..errors import CacheFormatError

    try:
        result = dump(data)
    except CacheFormatError as exc:
        raise CacheFormatError(f"{os.fsdecode(name)}: {exc.message}", exc.offset) from None
    if args.json:
        from ..jsonout import dump_json, dumps

        _out(dumps(dump_json(result, name)))
    else:
        _out(text(result, name))
    return 0
