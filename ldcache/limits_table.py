"""Every resource limit of ldcache, with where it lives: the list ``LIMITS.md`` documents
(``tests/test_hostile_roots.py`` checks the two agree).

The limits live next to the code enforcing them (:mod:`ldcache.limits` owns the run-wide
ones); this module, which nothing in ldcache imports, reads them from their modules.
"""

from __future__ import annotations

from . import auxcache, elf, inroot
from ._record import Record
from .cli import inspect
from .conf import DEFAULT_LIMITS as C
from .limits import LOCK_WAIT_SECONDS, MAX_DIR_ENTRIES, MAX_RUN_SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import List, Optional

__all__ = ["Limit", "table"]


class Limit(Record):
    name: str  #: where it lives (module.NAME)
    value: int | float
    unit: str
    what: str
    on_exceed: str


def table() -> List[Limit]:
    """Every limit, read from the module that enforces it (imports them)."""

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
