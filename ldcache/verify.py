"""Is a root's cache current?  Compare it with what ``ldcache build`` would write now.

Nothing is written: the root is planned (:func:`ldcache.build.plan_root`, aux cache
ignored so every file is read afresh) and the cache that plan gives
(:func:`ldcache.scan.make_cache`) is compared with the file, entry by entry.  Entries the
file has and the plan has not are explained where possible: the file is gone, or its
SONAME changed.  SONAME links that ``build`` would create or replace, and dangling
SONAME links it would delete, are reported too.

The generator string is ignored by default — a cache written by the root's own glibc
``ldconfig`` verifies clean — and the layout is taken from the file (a ``-c compat``
cache is not stale).  ``strict`` also requires the file to be byte-identical to what
the root's glibc ``ldconfig`` writes by default (its layout; the generator is the file's
own unless one is given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .diff import CacheDiff, EntryKey, diff_caches
from .format import Cache, build, parse
from .inroot import Root

__all__ = ["MAX_CACHE_BYTES", "Verification", "verify_root"]

MAX_CACHE_BYTES = 256 << 20


@dataclass
class Verification:
    root: bytes
    cache_path: bytes
    #: The cache as ``ldcache build`` would write it now (layout and generator as the file's).
    expected: Cache
    #: The cache file as found; None when there is none.
    actual: Cache | None
    diff: CacheDiff
    #: Entries of the file whose path no longer exists in the root.
    missing: list[EntryKey] = field(default_factory=list)
    #: Entries of the file whose file now has another SONAME (None: no longer a library).
    soname_changed: list[tuple[EntryKey, bytes | None]] = field(default_factory=list)
    #: Dangling ``*.so.*`` links ``build`` would delete.
    dangling: list[bytes] = field(default_factory=list)
    #: SONAME links ``build`` would create or replace: (link, target).
    links: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: strict mode: the file is byte-identical to what glibc's ldconfig writes (None: not
    #: checked).
    bytes_equal: bool | None = None
    #: strict mode: (file's layout, default layout) when they differ.
    layout: tuple[str, str] | None = None
    #: What had to be assumed about the root (no glibc found, …), for the frontend to say.
    notices: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return (self.actual is None or not self.diff.equal or bool(self.missing)
                or bool(self.soname_changed) or bool(self.dangling) or bool(self.links)
                or self.bytes_equal is False or self.layout is not None)


def verify_root(root_path: str | bytes, cache: str = "/etc/ld.so.cache", *,
                conf: str = "/etc/ld.so.conf", glibc: str | None = None,
                arch: str | None = None, strict: bool = False,
                generator: bytes | None = None) -> Verification:
    """Compare ``root``'s cache file ``cache`` (an in-root path) with a fresh plan."""
    from .build import BuildOptions, plan_root
    from .elf import Library, process_file
    from .errors import CacheFormatError
    from .scan import LinkOp, Removal, make_cache

    with Root(root_path) as root:
        info, plan = plan_root(root, BuildOptions(root=root_path, conf=conf, glibc=glibc,
                                                  arch=arch, ignore_aux=True))
        data = root.read_file(cache, max_bytes=MAX_CACHE_BYTES)
        actual: Cache | None = None
        if data:
            try:
                actual = parse(data)
            except CacheFormatError as exc:
                raise CacheFormatError(f"{os.fsdecode(root.host_path(cache))}: {exc.message}",
                                       exc.offset) from None
        elif data is not None:
            actual = Cache(layout=info.behaviour.default_format,
                           byte_order=info.arch.byte_order)
        layout = actual.layout if actual is not None else None
        gen = generator if generator is not None else (
            actual.generator if actual is not None else None)
        expected = make_cache(plan, info.arch, info.behaviour, layout=layout, generator=gen)
        against = actual if actual is not None else Cache()
        d = diff_caches(against, expected, ignore_generator=generator is None)
        result = Verification(os.fsencode(root_path), os.fsencode(cache), expected, actual, d,
                              notices=list(info.notices))
        # Explain what the file has and the plan has not.
        gone = d.removed + [c.old for c in d.changed]
        for key in gone:
            path = key[1]
            try:
                fd = root.open(path)
            except OSError:
                if not root.exists(path):
                    result.missing.append(key)
                else:
                    result.soname_changed.append((key, None))
                continue
            try:
                probe = process_file(fd, os.fstat(fd).st_size, path, info.arch, info.behaviour)
            finally:
                os.close(fd)
            if not isinstance(probe, Library):
                result.soname_changed.append((key, None))
            elif probe.soname is not None and probe.soname != key[0]:
                result.soname_changed.append((key, probe.soname))
        for event in plan.events:
            if isinstance(event, Removal):
                result.dangling.append(event.path)
            elif isinstance(event, LinkOp) and event.needed:
                result.links.append((event.directory + b"/" + event.soname, event.target))
        if strict and actual is not None and data:
            default = info.behaviour.default_format
            if actual.layout != default:
                result.layout = (actual.layout, default)
            result.bytes_equal = build(expected) == data
        return result

