"""The only door into a container root.

Every file-system operation ldcache performs under a root directory goes through :class:`Root`
(or a :class:`Dir` it hands out).  A container root is attacker-controlled, so:

* paths are always interpreted *inside* the root: ``/etc/x`` is ``ROOT/etc/x``, relative paths are
  relative to the root's ``/``, ``..`` never climbs above it, an absolute symlink target restarts
  at the root (like ``chroot(2)``), and at most 40 symlinks are expanded per lookup (ELOOP);
* resolution is done by the kernel with ``openat2(2)`` and ``RESOLVE_IN_ROOT |
  RESOLVE_NO_MAGICLINKS`` where it exists, otherwise by a component-by-component walk that only
  ever opens one component (``O_PATH | O_NOFOLLOW``) relative to a directory fd it already holds,
  interprets symlink text itself, and handles ``..`` by dropping a held fd (never by opening
  ``..``).  ``/proc`` magic links (``/proc/self/root``, ``/proc/N/fd/M``…) are refused (ELOOP).
  One shortcut, no weaker: :meth:`Dir.handle` follows an entry's symlink whose text is a single
  plain name (a SONAME link's sibling) as one component ``O_PATH | O_NOFOLLOW`` relative to the
  directory's own fd — where the kernel resolves it too; any other link goes the full way;
* nothing is ever done with a host absolute path under the root: the final component is always
  operated on relative to a directory fd that was resolved inside the root;
* files are first opened ``O_PATH`` (which has no side effects), checked with ``fstat`` and only
  then re-opened for reading through ``/proc/self/fd/N`` (the same inode, no race): FIFOs and
  device nodes are never opened, nothing blocks;
* writes never go through a symlink in the final component (the link itself is replaced or the
  operation refused);
* a check and the change it guards act on one object: :meth:`Root.handle` gives an ``O_PATH``
  handle whose ``stat`` and ``chmod`` are that object's (optionally reached with no symlink at
  any component: ``RESOLVE_NO_SYMLINKS``, or a walk that refuses them), and a :class:`Dir`
  makes, checks, renames and removes names relative to its one directory fd;
* every failure is a :class:`~ldcache.errors.RootError` carrying ``errno`` and the host path.

The semantics are those of glibc's ``chroot_canon`` (ldconfig spec §7.6) and of the kernel after
``chroot(ROOT)``.
"""

from __future__ import annotations

from ._kernel import (
    DT_BLK,
    DT_CHR,
    DT_DIR,
    DT_FIFO,
    DT_LNK,
    DT_REG,
    DT_SOCK,
    DT_UNKNOWN,
    MAXSYMLINKS,
    openat2_available,
)
from .root import Dir, FileHandle, Root

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .tempnames import is_temp_name, temp_name
else:
    def __getattr__(name: str) -> object:
        """temp_name and is_temp_name, from :mod:`.tempnames` when first asked for: only
        what makes or cleans up temporaries loads that module (as the glob and mount code
        are loaded by the first glob and mount)."""
        if name in ("temp_name", "is_temp_name"):
            from . import tempnames

            return getattr(tempnames, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DT_UNKNOWN",
    "DT_FIFO",
    "DT_CHR",
    "DT_DIR",
    "DT_BLK",
    "DT_REG",
    "DT_LNK",
    "DT_SOCK",
    "MAXSYMLINKS",
    "Root",
    "Dir",
    "FileHandle",
    "openat2_available",
    "temp_name",
    "is_temp_name",
]
