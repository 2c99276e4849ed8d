"""Resource limits: everything that bounds what one root can cost a run.

``cdi-hook update-ldcache`` runs as root at every GPU container start, against images
anyone can build.  No image may make it hang or exhaust the host, so every read, walk and
wait is bounded.  This module is the one table of those bounds (``LIMITS.md`` documents
them; ``tests/test_hostile_roots.py`` checks the two agree and that hostile roots stay
within the measured bounds).

Limits that already live next to the code enforcing them (the ELF probe's, the
configuration parser's, the in-root resolver's) stay there; the list of all of them is
:func:`ldcache.limits_table.table`, which reads them from their modules.  The constants
defined here are the ones this module owns.

This module imports nothing from ldcache but ``errors``, not even in a
function (the scanner and the hook import it at start-up without a cycle or a cost).
"""

from __future__ import annotations

import time

from . import _os as os
from .errors import LdcacheError

__all__ = [
    "MAX_DIR_ENTRIES",
    "MAX_RUN_SECONDS",
    "LOCK_WAIT_SECONDS",
    "LimitExceeded",
    "Deadline",
    "check_dir_entries",
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
