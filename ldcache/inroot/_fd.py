"""fd helpers of :mod:`ldcache.inroot`: directory entry types, reading a directory fd,
splitting an in-root path into its parent and final name, re-opening an ``O_PATH`` fd for
reading (that very inode), writing a whole buffer; and :class:`_Wrapping`, the one way an
OSError becomes the RootError that names the host path."""

from __future__ import annotations

import errno
import os
import stat

from ._kernel import (
    _O_CLOEXEC,
    _O_DIRECTORY,
    _O_NOCTTY,
    _O_NOFOLLOW,
    _O_NONBLOCK,
    _have_proc,
    _proc_fd,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Optional, Protocol, Tuple, Union

    from ..errors import RootError

    PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
    Entry = Tuple[bytes, int]

    class _RootLike(Protocol):
        """What the modules below :mod:`~ldcache.inroot.root` call of its Root (they cannot
        import it: it imports them)."""

        def _error(self, err: int, path: bytes, message: Optional[str] = None
                   ) -> RootError: ...

        def _wrap(self, exc: OSError, path: bytes) -> RootError: ...

        def _arg(self, path: PathArg) -> bytes: ...

        def _opath(self, path: bytes, follow: bool = True, directory: bool = False,
                   no_symlinks: bool = False) -> int: ...

        def _reopen_by_path(self, path: bytes, follow: bool) -> Callable[[int], int]: ...

        def stat(self, path: PathArg, *, follow: bool = True) -> os.stat_result: ...

        def open(self, path: PathArg, flags: int = os.O_RDONLY, mode: int = 0o644, *,
                 follow: bool = True) -> int: ...

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12

_BAD_NAMES = frozenset((b"", b".", b".."))


def _fsencode(path: PathArg) -> bytes:
    return path if isinstance(path, bytes) else os.fsencode(path)


_DT_OF_FORMAT = {stat.S_IFREG: DT_REG, stat.S_IFDIR: DT_DIR, stat.S_IFLNK: DT_LNK,
                 stat.S_IFCHR: DT_CHR, stat.S_IFBLK: DT_BLK, stat.S_IFIFO: DT_FIFO,
                 stat.S_IFSOCK: DT_SOCK}


def _mode_to_dt(mode: int) -> int:
    return _DT_OF_FORMAT.get(stat.S_IFMT(mode), DT_UNKNOWN)


def _not_regular(mode: int) -> OSError:
    """The error for opening something that is not a regular file for reading or writing."""
    if stat.S_ISDIR(mode):
        return OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    if stat.S_ISLNK(mode):
        return OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    return OSError(errno.EINVAL, "Not a regular file")


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return a.st_dev == b.st_dev and a.st_ino == b.st_ino


def _scan(fd: int) -> list[Entry]:
    """(name, d_type) of a directory fd in raw readdir order, without '.' and '..'."""
    out: list[Entry] = []
    with os.scandir(fd) as it:
        for entry in it:
            try:
                if entry.is_symlink():
                    dt = DT_LNK
                elif entry.is_dir(follow_symlinks=False):
                    dt = DT_DIR
                elif entry.is_file(follow_symlinks=False):
                    dt = DT_REG
                else:
                    dt = _mode_to_dt(entry.stat(follow_symlinks=False).st_mode)
            except OSError:
                dt = DT_UNKNOWN
            out.append((os.fsencode(entry.name), dt))
    return out


def _split(path: bytes) -> Tuple[bytes, bytes]:
    """(parent, final name) of an in-root path; OSError(EINVAL) when there is no usable name."""
    s = path.rstrip(b"/")
    if not s:
        raise OSError(errno.EINVAL if path else errno.ENOENT, os.strerror(
            errno.EINVAL if path else errno.ENOENT))
    i = s.rfind(b"/")
    parent = b"." if i < 0 else (s[:i] or b"/")
    name = s[i + 1:]
    if name in _BAD_NAMES:
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    return parent, name


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _reopen(ofd: int, st: os.stat_result, flags: int,
            fallback: Callable[[int], int]) -> int:
    """Open the inode behind O_PATH fd ``ofd`` with ``flags`` (a regular file or directory).

    Through /proc/self/fd when possible (the very same inode, no race).  Otherwise
    ``fallback(flags)`` opens it by name again and the inode is compared.
    """
    if stat.S_ISDIR(st.st_mode):
        return os.open(b".", flags | _O_DIRECTORY | _O_CLOEXEC, dir_fd=ofd)
    if _have_proc():
        return os.open(_proc_fd(ofd), flags | _O_CLOEXEC | _O_NOCTTY)
    fd = fallback(flags | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC | _O_NOCTTY)
    try:
        now = os.fstat(fd)
        if not _same(now, st) or stat.S_IFMT(now.st_mode) != stat.S_IFMT(st.st_mode):
            raise OSError(errno.EAGAIN, "File changed while being opened")
    except OSError:
        os.close(fd)
        raise
    return fd


def _checked_dir(fd: int) -> int:
    """``fd`` if it is a directory's; else OSError(ENOTDIR), and ``fd`` is closed."""
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            return fd
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
    except OSError:
        os.close(fd)
        raise


def _dir_of(ofd: int) -> int:
    """An O_RDONLY fd of the directory that the O_PATH fd ``ofd`` holds (what listing it
    needs); ``ofd`` is closed, whatever happens."""
    try:
        return os.open(b".", os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC, dir_fd=ofd)
    finally:
        os.close(ofd)


class _Wrapping:
    """``with _Wrapping(root, path):`` an OSError raised in the block leaves it as
    ``root._wrap(e, path)``, the RootError naming ``path`` under the root (a RootError as
    it is): ``except OSError as e: raise root._wrap(e, path) from None``, said once.

    The per-file paths of a scan (:meth:`Root.stat`, :meth:`Root.open`, :meth:`Dir.lstat`,
    :meth:`Dir.readlink`, :meth:`Dir.open`, :meth:`Dir.handle`, :meth:`FileHandle.open`)
    spell that ``except`` clause out: a ``with`` costs them a quarter of a microsecond
    each, a ``try`` nothing."""

    __slots__ = ("_root", "_path")

    def __init__(self, root: _RootLike, path: bytes) -> None:
        self._root = root
        self._path = path

    def __enter__(self) -> None:
        pass

    def __exit__(self, typ: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            raise self._root._wrap(exc, self._path) from None
