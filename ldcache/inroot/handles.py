"""Handles inside a root, from :class:`~ldcache.inroot.root.Root`: a :class:`Dir` (an open
directory: operations by one NAME relative to its fd) and a :class:`FileHandle` (an
``O_PATH`` handle on one object, whose ``stat``, ``open`` and ``chmod`` are that
object's)."""

from __future__ import annotations

import errno
import os
import stat

from . import _kernel
from ._fd import _BAD_NAMES, _fsencode, _not_regular, _reopen, _scan, _Wrapping
from ._kernel import _O_CLOEXEC, _O_NOCTTY, _O_NOFOLLOW, _O_PATH, _have_proc, _proc_fd

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from ._fd import Entry, PathArg, _RootLike

__all__ = ["Dir", "FileHandle"]


class Dir:
    """An open directory inside a root; fast per-entry operations by NAME (one component)."""

    path: bytes
    fd: int

    def __init__(self, root: _RootLike, fd: int, path: bytes) -> None:
        self._root = root
        self.fd = fd
        self.path = path

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Dir({os.fsdecode(self.path)!r} in {self._root!r})"

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def _child(self, name: bytes) -> bytes:
        return (self.path if self.path != b"/" else b"") + b"/" + name

    def _name(self, name: PathArg) -> bytes:
        n = name if isinstance(name, bytes) else os.fsencode(name)
        if b"/" in n or n in _BAD_NAMES or b"\0" in n:
            raise self._root._error(errno.EINVAL, self._child(n.replace(b"\0", b"\\0")),
                                    "Not a single path component")
        if self.fd < 0:
            raise self._root._error(errno.EBADF, self._child(n), "Directory is closed")
        return n

    def entries(self) -> list[Entry]:
        """(name, d_type) in raw readdir order, like :meth:`Root.listdir`."""
        with _Wrapping(self._root, self.path):
            if self.fd < 0:
                raise OSError(errno.EBADF, "Directory is closed")
            return _scan(self.fd)

    def lstat(self, name: bytes) -> os.stat_result:
        n = self._name(name)
        try:
            return os.stat(n, dir_fd=self.fd, follow_symlinks=False)
        except OSError as e:
            raise self._root._wrap(e, self._child(n)) from None

    def stat(self, name: bytes) -> os.stat_result:
        """stat following a symlink *inside the root* (by its full in-root path)."""
        st = self.lstat(name)
        if stat.S_ISLNK(st.st_mode):
            return self._root.stat(self._child(self._name(name)))
        return st

    def open(self, name: bytes, *, follow: bool = True) -> int:
        """Read-only fd of a regular file (symlinks followed in-root); never blocks, never opens
        anything but a regular file."""
        n = self._name(name)
        try:
            ofd = os.open(n, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
            try:
                st = os.fstat(ofd)
                if stat.S_ISREG(st.st_mode):
                    if _kernel._proc_ok:
                        return os.open("/proc/self/fd/%d" % ofd,
                                       os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY)
                    dfd = self.fd

                    def by_name(flags: int) -> int:
                        return os.open(n, flags, dir_fd=dfd)

                    return _reopen(ofd, st, os.O_RDONLY, by_name)
                if stat.S_ISLNK(st.st_mode) and follow:
                    return self._root.open(self._child(n))
                raise _not_regular(st.st_mode)
            finally:
                os.close(ofd)
        except OSError as e:
            raise self._root._wrap(e, self._child(n)) from None

    def handle(self, name: bytes, *, link: bool | None = None) -> "FileHandle":
        """A handle on the file a directory entry names, symlinks followed *in-root*, with its
        ``stat`` — without opening it for reading (nothing is opened that is not a regular
        file).  ``link``: the caller knows from ``d_type`` the entry is a symlink (True) or not
        (False); None: find out.  ``is_link`` on the handle tells which it was."""
        n = self._name(name)
        child = self._child(n)
        try:
            if link is not True:
                ofd = os.open(n, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
                try:
                    st = os.fstat(ofd)
                except OSError:
                    os.close(ofd)
                    raise
                if not stat.S_ISLNK(st.st_mode):
                    return FileHandle(self._root, ofd, st, child, False)
                os.close(ofd)
            ofd = self._root._opath(child, True)
            try:
                st = os.fstat(ofd)
            except OSError:
                os.close(ofd)
                raise
            return FileHandle(self._root, ofd, st, child, True)
        except OSError as e:
            raise self._root._wrap(e, child) from None

    def readlink(self, name: bytes) -> bytes:
        n = self._name(name)
        try:
            return os.readlink(n, dir_fd=self.fd)
        except OSError as e:
            raise self._root._wrap(e, self._child(n)) from None

    def symlink(self, target: bytes, name: bytes) -> None:
        n = self._name(name)
        t = _fsencode(target)
        with _Wrapping(self._root, self._child(n)):
            if b"\0" in t:
                raise OSError(errno.EINVAL, "Embedded NUL in symlink target")
            os.symlink(t, n, dir_fd=self.fd)

    def unlink(self, name: bytes) -> None:
        n = self._name(name)
        with _Wrapping(self._root, self._child(n)):
            os.unlink(n, dir_fd=self.fd)

    def unlink_symlink(self, name: bytes) -> bool:
        """Remove NAME if it is a symlink (checked and removed in this very directory);
        False when it is missing or something else."""
        n = self._name(name)
        with _Wrapping(self._root, self._child(n)):
            try:
                if not stat.S_ISLNK(os.stat(n, dir_fd=self.fd, follow_symlinks=False).st_mode):
                    return False
                os.unlink(n, dir_fd=self.fd)
                return True
            except FileNotFoundError:
                return False

    def replace_symlink(self, target: bytes, name: bytes) -> None:
        """Make NAME a symlink to ``target`` (stored verbatim), atomically replacing any
        non-directory there: the link is made under a :func:`temp_name` in this directory and
        renamed over NAME, both relative to this directory's fd, so no change to the tree
        elsewhere can send the two steps to different places.  On failure nothing is left."""
        from .tempnames import _create_temp

        n = self._name(name)
        t = _fsencode(target)
        with _Wrapping(self._root, self._child(n)):
            if b"\0" in t:
                raise OSError(errno.EINVAL, "Embedded NUL in symlink target")
            tmp, _ = _create_temp(n, lambda name: os.symlink(t, name, dir_fd=self.fd))
            try:
                os.rename(tmp, n, src_dir_fd=self.fd, dst_dir_fd=self.fd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=self.fd)
                except OSError:
                    pass
                raise


class FileHandle:
    """An ``O_PATH`` handle on a file inside a root (from :meth:`Dir.handle`, :meth:`Root.handle`).

    ``st`` is the file's stat (the symlink's target for a followed link); :meth:`open` opens
    that very inode for reading, and only if it is a regular file; :meth:`chmod` changes that
    very inode's mode.  ``is_link``: :meth:`Dir.handle` reached it through a symlink."""

    __slots__ = ("_root", "ofd", "st", "path", "is_link")

    def __init__(self, root: _RootLike, ofd: int, st: os.stat_result, path: bytes,
                 is_link: bool) -> None:
        self._root = root
        self.ofd = ofd
        self.st = st
        self.path = path
        self.is_link = is_link

    def open(self) -> int:
        """A read-only fd of the file (RootError if it is not a regular file)."""
        try:
            if not stat.S_ISREG(self.st.st_mode):
                raise _not_regular(self.st.st_mode)
            if _have_proc():
                return os.open("/proc/self/fd/%d" % self.ofd,
                               os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY)
            return _reopen(self.ofd, self.st, os.O_RDONLY,
                                      self._root._reopen_by_path(self.path, True))
        except OSError as e:
            raise self._root._wrap(e, self.path) from None

    def chmod(self, mode: int) -> None:
        """chmod of this very object (never of a symlink: RootError(ELOOP)).

        Through ``/proc/self/fd/N``, the inode the handle holds.  Without /proc a regular
        file or directory is re-opened and compared first; anything else is refused."""
        st = self.st
        with _Wrapping(self._root, self.path):
            if stat.S_ISLNK(st.st_mode):
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
            if _have_proc():
                os.chmod(_proc_fd(self.ofd), mode)
                return
            if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                raise OSError(errno.EOPNOTSUPP, "Cannot change the mode of a special file "
                              "without /proc")
            fd = _reopen(self.ofd, st, os.O_RDONLY,
                                    self._root._reopen_by_path(self.path, True))
            try:
                os.fchmod(fd, mode)
            finally:
                os.close(fd)

    def close(self) -> None:
        if self.ofd >= 0:
            fd, self.ofd = self.ofd, -1
            os.close(fd)

    def __enter__(self) -> "FileHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
