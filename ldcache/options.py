"""The options of one ldconfig run: one value from the command line to the scanner.

``ldcache build``, the ldconfig personality and the hooks make one :class:`BuildOptions`;
:mod:`ldcache.build` runs it, :mod:`ldcache.scan` reads the fields that change what is
scanned and planned.  Nothing is converted on the way.
"""

from __future__ import annotations

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["BuildOptions"]


class BuildOptions(Record):
    """ldconfig's options (its letter in each comment), and ldcache's own."""

    #: ``-r``: the root directory.
    root: str | bytes = "/"
    #: ``-C``: the cache file inside the root; None: /etc/ld.so.cache.
    cache: Optional[str] = None
    #: ``-f``: the configuration file (in-root path).
    conf: str | bytes = "/etc/ld.so.conf"
    #: Directories named on the command line (in-root spellings; with -l, library files).
    dirs: tuple[bytes, ...] = ()
    #: not ``-X``: links are made and stale links removed.
    update_links: bool = True
    #: not ``-N``: a cache is being built (entries are planned).
    build_cache: bool = True
    #: ``-n``: only the command-line directories.
    only_cmdline: bool = False
    #: ``-l``: link the library files given.
    manual_link: bool = False
    #: ``-c``: the cache layout; None: the root glibc's default.
    layout: Optional[str] = None
    #: ``-i``: the aux cache is not read.
    ignore_aux: bool = False
    #: ldcache's own: the aux cache is written (as by ldconfig, whenever a cache is built).
    #: A container-start hook leaves it out: no run in the container would read it.
    save_aux: bool = True
    #: ``-v``.
    verbose: bool = False
    #: The generator string recorded in the cache.
    generator: bytes = b"ldcache"
    #: Behave as this glibc version's ldconfig (None: the root's glibc's).
    glibc: Optional[str] = None
    #: The root's architecture (None: found from its libc or loader).
    arch: Optional[str] = None
