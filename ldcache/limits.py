"""Resource limits: everything that bounds what one root can cost a run.

``cdi-hook update-ldcache`` runs as root at every GPU container start, against images
anyone can build.  No image may make it hang or exhaust the host, so every read, walk and
wait is bounded.  This module is the one table of those bounds (``LIMITS.md`` documents
them; ``tests/test_hostile_roots.py`` checks the two agree and that hostile roots stay
within the measured bounds).

Limits that already live next to the code enforcing them (the ELF probe's, the
configuration parser's, the in-root resolver's) are *referenced* here, not duplicated:
:func:`table` reads them from their modules.  The constants defined here are the ones
this module owns.

Importing this module imports nothing else from ldcache (the scanner and the hook may
import it at start-up without a cycle or a cost).
"""

from __future__ import annotations

import os
import time

from ._record import Record
from .errors import LdcacheError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Optional

__all__ = [
    "MAX_DIR_ENTRIES",
    "MAX_RUN_SECONDS",
    "LOCK_WAIT_SECONDS",
    "LimitExceeded",
    "Deadline",
    "check_dir_entries",
    "Limit",
    "table",
]

#: Entries read from one library directory (``readdir``).  A Debian
#: ``/usr/lib/x86_64-linux-gnu`` with every -dev package installed has ~5,000; the
#: largest real library directories known have a few ten thousand.  Beyond this the
#: directory is an attack (millions of names cost seconds and hundreds of MB).
MAX_DIR_ENTRIES = 100_000

#: Wall time of one whole run (``ldcache build``, one hook), in seconds.  A real root
#: takes well under a second; a root that makes a run take longer is refused.
MAX_RUN_SECONDS = 60.0

#: How long a run waits for another ldcache run on the same root (the advisory lock on
#: the root directory, :mod:`ldcache.lock`) before going on without it.  Another container
#: sharing the root could hold the lock forever: waiting is bounded.
LOCK_WAIT_SECONDS = 10.0


class LimitExceeded(LdcacheError):
    """A root exceeded one of the limits in this module (one line: which, where)."""


class Deadline:
    """A run's time budget: :meth:`check` raises :class:`LimitExceeded` once it is spent.

    Cheap enough to call per file (one ``time.monotonic()``)."""

    __slots__ = ("seconds", "end")

    def __init__(self, seconds: float = MAX_RUN_SECONDS) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def check(self, where: str = "") -> None:
        if time.monotonic() > self.end:
            raise LimitExceeded(f"{where + ': ' if where else ''}run took longer than "
                                f"{self.seconds:g} seconds (ldcache.limits.MAX_RUN_SECONDS)")


def check_dir_entries(count: int, path: bytes | str, limit: int = MAX_DIR_ENTRIES) -> None:
    """Raise :class:`LimitExceeded` when a directory listing has more than ``limit`` names."""
    if count > limit:
        shown = os.fsdecode(path) if isinstance(path, bytes) else path
        raise LimitExceeded(f"{shown}: more than {limit} directory entries "
                            "(ldcache.limits.MAX_DIR_ENTRIES)")


# ------------------------------------------------------------------------------ the lock

# ------------------------------------------------------------------------------ the table

class Limit(Record):
    name: str  #: where it lives (module.NAME)
    value: int | float
    unit: str
    what: str
    on_exceed: str


def table() -> List[Limit]:
    """Every limit, read from the module that enforces it (imports them)."""
    from . import auxcache, elf, inroot
    from .cli import inspect
    from .conf import DEFAULT_LIMITS as C

    rows = [
        Limit("elf._HEAD", getattr(elf, "_HEAD", 4096), "bytes",
              "first read of a library (ELF header, program headers)", "—"),
        Limit("elf.MAX_DYNAMIC", elf.MAX_DYNAMIC, "bytes",
              "dynamic array walked per library", "rest of the array ignored"),
        Limit("elf.MAX_STRING", elf.MAX_STRING, "bytes",
              "one SONAME / DT_NEEDED / PT_INTERP string", "file rejected as truncated"),
        Limit("elf.MAX_NOTES", elf.MAX_NOTES, "bytes",
              "note segment walked (ISA level, ABI tag)", "rest of the notes ignored"),
        Limit("conf.ConfLimits.max_depth", C.max_depth, "files",
              "configuration files open at once (ldconfig's fd limit − 3)",
              "warning, like ldconfig's EMFILE"),
        Limit("conf.ConfLimits.max_files", C.max_files, "files",
              "configuration files opened in all (include loops)", "ConfError"),
        Limit("conf.ConfLimits.max_file_bytes", C.max_file_bytes, "bytes",
              "one configuration file", "ConfError"),
        Limit("conf.ConfLimits.max_total_bytes", C.max_total_bytes, "bytes",
              "all distinct configuration files", "ConfError"),
        Limit("conf.ConfLimits.max_lines", C.max_lines, "lines",
              "configuration lines processed (bounds directories listed)", "ConfError"),
        Limit("inroot.MAXSYMLINKS", inroot.MAXSYMLINKS, "links",
              "symlinks expanded per path lookup", "ELOOP"),
        Limit("auxcache.MAX_BYTES", auxcache.MAX_BYTES, "bytes",
              "aux cache read", "aux cache ignored"),
        Limit("cli.inspect.MAX_CACHE_BYTES", inspect.MAX_CACHE_BYTES, "bytes",
              "cache file read by print / info / convert", "error (EFBIG)"),
        Limit("limits.MAX_DIR_ENTRIES", MAX_DIR_ENTRIES, "entries",
              "names read from one library directory", "LimitExceeded (run fails)"),
        Limit("limits.MAX_RUN_SECONDS", MAX_RUN_SECONDS, "seconds",
              "wall time of one run", "LimitExceeded (run fails)"),
        Limit("limits.LOCK_WAIT_SECONDS", LOCK_WAIT_SECONDS, "seconds",
              "wait for another run's lock on the same root", "run goes on unlocked"),
    ]
    try:
        from . import detect
    except ImportError:  # pragma: no cover
        detect = None  # type: ignore[assignment]
    value: Optional[int] = getattr(detect, "MAX_LIBC_BYTES", None)
    if value is not None:
        rows.append(Limit("detect.MAX_LIBC_BYTES", value, "bytes",
                          "libc read to find the glibc version", "glibc not detected"))
    return rows
