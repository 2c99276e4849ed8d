"""The run lock: an advisory ``flock`` on a root's directory around every run's writes.

Two ldcache runs on one root (two hooks of one container, a hook and an image build) are
ordered by it: every write is atomic on its own, and the lock only orders whole runs and
makes removing stale temporary files safe (:mod:`ldcache.apply`).  The wait is bounded
(:data:`ldcache.limits.LOCK_WAIT_SECONDS`): another container sharing the root could hold
it forever, and then the run goes on without it.

:class:`locked` is reentrant per :class:`~ldcache.inroot.Root`: its state lives on the
``Root`` itself, so a caller may hold it around a whole run (plan included) and the calls
in :mod:`ldcache.apply` and :mod:`ldcache.auxcache` nest inside.
"""

from __future__ import annotations

import errno
import fcntl
import time

from .errors import RootError
from .limits import LOCK_WAIT_SECONDS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .inroot import Dir, Root

__all__ = ["locked", "flock_within"]


def flock_within(fd: int, wait: float) -> bool:
    """Take an exclusive ``flock`` on ``fd`` within ``wait`` seconds; False when it could
    not be had in time or the file system does not support it.  Polls with ``LOCK_NB``, so
    a holder that never lets go costs at most ``wait``."""
    end = time.monotonic() + wait
    delay = 0.002
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EINTR):
                return False  # ENOLCK, EINVAL (no flock here): go on without it
        if time.monotonic() >= end:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


class _State:
    """A root's lock while some run holds it: the open directory, the nesting depth, and
    whether the flock is really held."""

    __slots__ = ("dir", "depth", "held")

    def __init__(self, d: "Dir | None", held: bool) -> None:
        self.dir = d
        self.depth = 1
        self.held = held


class locked:
    """``with locked(root) as held:`` — hold ``root``'s run lock for the block (reentrant);
    ``held`` says whether the flock is really held (the block runs either way)."""

    __slots__ = ("_root", "_wait")

    def __init__(self, root: "Root", wait: float = LOCK_WAIT_SECONDS) -> None:
        self._root = root
        self._wait = wait

    def __enter__(self) -> bool:
        root = self._root
        state: _State | None = root.run_lock
        if state is not None:
            state.depth += 1
            return state.held
        try:
            d = root.opendir(b"/")
        except RootError:
            root.run_lock = _State(None, False)
            return False
        try:
            held = flock_within(d.fd, self._wait)
        except BaseException:
            d.close()
            raise
        root.run_lock = _State(d, held)
        return held

    def __exit__(self, *exc: object) -> None:
        root = self._root
        state = root.run_lock
        assert state is not None
        state.depth -= 1
        if state.depth:
            return
        root.run_lock = None
        d = state.dir
        if d is None:
            return
        if state.held:
            try:
                fcntl.flock(d.fd, fcntl.LOCK_UN)
            except OSError:
                pass
        d.close()
