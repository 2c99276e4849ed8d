"""Kernel access and fd helpers for :mod:`ldcache.inroot`: the flag values, ``openat2(2)``
and ``fstatfs(2)`` through libc, the probes of what this kernel offers (openat2 with
``RESOLVE_IN_ROOT``, a ``/proc/self/fd`` that re-opens O_PATH fds); and what is done with
the fds they give: directory entry types, reading a directory fd, splitting an in-root
path into its parent and final name, re-opening an ``O_PATH`` fd for reading (that very
inode), writing a whole buffer, and :class:`_Wrapping`, the one way an OSError becomes the
RootError that names the host path.

ctypes (milliseconds to import) is imported by the first call that needs it — the openat2
probe (which a Root makes unless told to walk), fstatfs, the mount API — rather than with
this module: importing ldcache.inroot alone costs no ctypes.
"""

from __future__ import annotations

import errno
import stat
import sys

from .. import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Optional, Protocol, Tuple, Union

    from ..errors import RootError

    PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
    Entry = Tuple[bytes, int]

    class _RootLike(Protocol):
        """What :class:`_Wrapping` and :mod:`~ldcache.inroot.mount` call of a Root (they
        cannot import it: it imports them)."""

        def _error(self, err: int, path: bytes, message: Optional[str] = None
                   ) -> RootError: ...

        def _wrap(self, exc: OSError, path: bytes) -> RootError: ...

        def _arg(self, path: PathArg) -> bytes: ...

        def _opath(self, path: bytes, follow: bool = True, directory: bool = False,
                   no_symlinks: bool = False) -> int: ...


# --------------------------------------------------------------------------------------------
# kernel access

#: Symlink expansions allowed in one lookup (Linux ``MAXSYMLINKS``, glibc ``MIN_ELOOP_THRESHOLD``).
MAXSYMLINKS = 40

_O_PATH: int = getattr(os, "O_PATH", 0o10000000)
_O_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0o2000000)
_O_NOFOLLOW: int = os.O_NOFOLLOW
_O_DIRECTORY: int = os.O_DIRECTORY
_O_NONBLOCK: int = os.O_NONBLOCK
_O_NOCTTY: int = os.O_NOCTTY
_O_WRITE_BITS: int = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_IN_ROOT = 0x10
_RESOLVE = _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS
#: No symlink at any component (the final one only as an O_PATH|O_NOFOLLOW handle on it).
_RESOLVE_STRICT = _RESOLVE | _RESOLVE_NO_SYMLINKS

_PROC_SUPER_MAGIC = 0x9FA0
_OPENAT2_EAGAIN_RETRIES = 64


def _syscall_nr(unified: int) -> int:
    """The number of a syscall added since Linux 5.0 (openat2, the mount API): its number in
    the unified table, shifted on the ABIs whose tables start elsewhere."""
    machine = os.uname().machine
    if machine == "alpha":
        return unified + 110
    if machine.startswith("mips"):
        import ctypes

        return unified + (5000 if ctypes.sizeof(ctypes.c_void_p) == 8 else 4000)
    return unified


#: openat2's number in the unified syscall table.
_OPENAT2 = 437


class _Libc:
    """``syscall(2)`` from the process's own libc, for openat2.

    Built from ``_ctypes`` (the C half of ctypes) alone where it can be: ``import ctypes``
    costs a hook about a millisecond more (its Python half defines every C type and
    imports struct and types), which is a fifth of a small hook's budget; and each C type
    made here costs ~20 µs, so there are two: every argument is passed as the ``long`` (or
    pointer) that ``syscall`` reads it as.  Anything unexpected there falls back to ctypes
    itself."""

    syscall: Any
    get_errno: Any

    def __init__(self) -> None:
        try:
            self._from_ctypes_core()
        except Exception:  # noqa: BLE001 - (an interpreter without _ctypes' usual API)
            self._from_ctypes()
        self.nr_openat2 = _syscall_nr(_OPENAT2)

    def _from_ctypes_core(self) -> None:
        import _ctypes  # type: ignore[import-not-found]

        class c_long(_ctypes._SimpleCData):
            _type_ = "l"

        class c_char_p(_ctypes._SimpleCData):
            _type_ = "z"

        class Syscall(_ctypes.CFuncPtr):
            _argtypes_ = (c_long, c_long, c_char_p, c_char_p, c_long)
            _restype_ = c_long
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO

        # what ctypes.CDLL(None) opens: the process's own symbols
        handle = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # type: ignore[arg-type]
        self.syscall = Syscall(_ctypes.dlsym(handle, "syscall"))
        self.get_errno = _ctypes.get_errno

    def _from_ctypes(self) -> None:
        import ctypes

        lib = ctypes.CDLL(None, use_errno=True)
        self.syscall = lib.syscall
        self.syscall.restype = ctypes.c_long
        self.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_char_p,
                                 ctypes.c_char_p, ctypes.c_long]
        self.get_errno = ctypes.get_errno


_libc_cache: list[_Libc] = []


def _libc() -> _Libc:
    if not _libc_cache:
        _libc_cache.append(_Libc())
    return _libc_cache[0]


_how_cache: dict[Tuple[int, int, int], bytes] = {}


def _openat2(dirfd: int, path: bytes, flags: int, mode: int = 0, resolve: int = _RESOLVE
             ) -> int:
    """``openat2(dirfd, path, {flags, mode, resolve})``; ``resolve`` is
    RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS, or with RESOLVE_NO_SYMLINKS too.

    Raises OSError; EAGAIN (a concurrent rename or mount somewhere) is retried a few times.
    """
    lib = _libc()
    key = (flags, mode, resolve)
    how = _how_cache.get(key)
    if how is None:
        # struct open_how {u64 flags, mode, resolve} in native byte order, passed as a
        # read-only buffer (the kernel only reads it; never changed once made: shareable by
        # threads).  int.to_bytes, not struct.pack: the struct module costs a hook's start
        # a quarter of a millisecond, and nothing else there needs it.
        how = _how_cache[key] = b"".join(v.to_bytes(8, sys.byteorder)
                                         for v in (flags, mode, resolve))
    tries = 0
    while True:
        fd: int = lib.syscall(lib.nr_openat2, dirfd, path, how, 24)
        if fd >= 0:
            return fd
        err = lib.get_errno()
        if err == errno.EINTR:
            continue
        if err == errno.EAGAIN and tries < _OPENAT2_EAGAIN_RETRIES:
            tries += 1
            continue
        raise OSError(err, os.strerror(err))


_openat2_probe: list[bool] = []


def openat2_available() -> bool:
    """Whether this kernel (and seccomp policy) lets us use openat2 with RESOLVE_IN_ROOT."""
    if not _openat2_probe:
        ok = False
        try:
            fd = os.open(b"/", _O_PATH | _O_DIRECTORY | _O_CLOEXEC)
        except OSError:
            fd = -1
        if fd >= 0:
            try:
                os.close(_openat2(fd, b".", _O_PATH | _O_CLOEXEC | _O_DIRECTORY))
                ok = True
            except (OSError, AttributeError):
                ok = False
            finally:
                os.close(fd)
        _openat2_probe.append(ok)
    return _openat2_probe[0]


def _fs_type(fd: int) -> int:
    """``f_type`` of the file system ``fd`` is on (0 when fstatfs fails).  Through ctypes
    itself: only the mount code asks, which imports it anyway."""
    import ctypes

    fstatfs = ctypes.CDLL(None, use_errno=True).fstatfs
    fstatfs.restype = ctypes.c_int
    fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]
    buf = ctypes.create_string_buffer(256)  # struct statfs (120 bytes on LP64)
    if fstatfs(fd, buf) != 0:
        return 0
    size = ctypes.sizeof(ctypes.c_long)  # f_type: its first long
    return int.from_bytes(buf.raw[:size], sys.byteorder) & 0xFFFFFFFF


#: Whether ``/proc/self/fd/N`` can be used to re-open an O_PATH fd.  None: not probed yet.
#: (Tests set it to False to exercise the code that does without.)
_proc_ok: Optional[bool] = None


def _have_proc() -> bool:
    global _proc_ok
    if _proc_ok is None:
        ok = False
        try:
            fd = os.open(b"/", _O_PATH | _O_DIRECTORY | _O_CLOEXEC)
            try:
                a = os.fstat(fd)
                b = os.stat(f"/proc/self/fd/{fd}")
                ok = (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
            finally:
                os.close(fd)
        except OSError:
            ok = False
        _proc_ok = ok
    return _proc_ok


def _proc_fd(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


# --------------------------------------------------------------------------------------------
# fd helpers

DT_UNKNOWN, DT_FIFO, DT_CHR, DT_DIR, DT_BLK, DT_REG, DT_LNK, DT_SOCK = 0, 1, 2, 4, 6, 8, 10, 12

_BAD_NAMES = frozenset((b"", b".", b".."))
_SLASH = 0x2F  # b"/"[0]
_NUL = 0


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
