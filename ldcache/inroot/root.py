""":class:`Root`, a root directory every path given to its methods is interpreted inside,
and the handles it gives out (:class:`Dir`, :class:`FileHandle`).

The guarantees they keep are the package's (:mod:`ldcache.inroot`).
"""

from __future__ import annotations

import errno
import stat

from .. import _os as os
from ..errors import RootError
from . import _kernel
from ._kernel import (
    _BAD_NAMES,
    _NUL,
    _O_CLOEXEC,
    _O_DIRECTORY,
    _O_NOCTTY,
    _O_NOFOLLOW,
    _O_NONBLOCK,
    _O_PATH,
    _O_WRITE_BITS,
    _PROC_SUPER_MAGIC,
    _RESOLVE,
    _RESOLVE_STRICT,
    _SLASH,
    DT_DIR,
    DT_LNK,
    DT_UNKNOWN,
    MAXSYMLINKS,
    _checked_dir,
    _dir_of,
    _fs_type,
    _fsencode,
    _have_proc,
    _not_regular,
    _openat2,
    _proc_fd,
    _reopen,
    _scan,
    _split,
    _Wrapping,
    _write_all,
    openat2_available,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, List, Optional, Tuple

    from ._kernel import Entry, PathArg

__all__ = ["Root", "Dir", "FileHandle"]

#: :meth:`Dir.replace_symlink` makes its link again at most this many times when another
#: run removed its temporary before the rename.
_TEMP_VANISHED_RETRIES = 8

# --------------------------------------------------------------------------------------------


class _ParentDir:
    """The parent directory of in-root ``path`` (followed, resolved in the root when this
    is made) and ``path``'s final name: ``with _ParentDir(root, path) as (fd, name):``
    operates on ``name`` relative to ``fd``, which the block's end closes.  ``fd`` is
    O_PATH, or O_RDONLY with ``readable``."""

    __slots__ = ("fd", "name")

    def __init__(self, root: Root, path: bytes, readable: bool = False) -> None:
        parent, self.name = _split(path)
        fd = root._opath(parent, True, directory=True)
        self.fd = _dir_of(fd) if readable else fd

    def __enter__(self) -> Tuple[int, bytes]:
        return self.fd, self.name

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


class Root:
    """A root directory; every path given to its methods is interpreted inside it.

    ``use_openat2``: None picks openat2 when the kernel has it (unless the environment variable
    ``LDCACHE_NO_OPENAT2`` is set to a non-empty value), False forces the component walk, True
    requires openat2 (RootError(ENOSYS) without it).
    """

    path: bytes
    #: The run lock's state while a run holds it (:mod:`ldcache.lock`), else None.
    run_lock: Any = None

    def __init__(self, path: PathArg = "/", *, use_openat2: Optional[bool] = None) -> None:
        self._fd = -1
        raw = _fsencode(path)
        self.path = os.normpath_linux(raw) if raw else raw
        if not raw:
            raise RootError(errno.ENOENT, os.strerror(errno.ENOENT), "")
        if _NUL in raw:
            raise RootError(errno.EINVAL, "Embedded NUL in path",
                            os.fsdecode(raw.replace(b"\0", b"\\0")))
        if use_openat2 is None:
            use = not os.environ.get("LDCACHE_NO_OPENAT2") and openat2_available()
        elif use_openat2:
            if not openat2_available():
                raise RootError(errno.ENOSYS, "openat2 is not available", os.fsdecode(raw))
            use = True
        else:
            use = False
        self._use_openat2 = use
        self._procfs: dict[int, bool] = {}
        _have_proc()  # probe once, so that hot paths can read _kernel._proc_ok directly
        try:
            self._fd = os.open(raw, _O_PATH | _O_DIRECTORY | _O_CLOEXEC)
        except OSError as e:
            err = e.errno or errno.EIO
            raise RootError(err, os.strerror(err), os.fsdecode(self.path)) from None

    # ---- plumbing ---------------------------------------------------------------------------

    @property
    def uses_openat2(self) -> bool:
        """True when lookups are done by the kernel (openat2), False for the component walk."""
        return self._use_openat2

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __enter__(self) -> Root:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "openat2" if self._use_openat2 else "walk"
        return f"Root({os.fsdecode(self.path)!r}, {mode}{', closed' if self._fd < 0 else ''})"

    def host_path(self, path: PathArg) -> bytes:
        """ROOT + in-root path, for messages only (never used to reach a file)."""
        p = _fsencode(path)
        if not p.startswith(b"/"):
            p = b"/" + p
        if self.path == b"/":
            return p
        return self.path + p

    def _error(self, err: int, path: bytes, message: Optional[str] = None) -> RootError:
        return RootError(err, message or os.strerror(err), os.fsdecode(self.host_path(path)))

    def _wrap(self, exc: OSError, path: bytes) -> RootError:
        if isinstance(exc, RootError):
            return exc
        err = exc.errno or errno.EIO
        message = exc.strerror if exc.strerror and exc.strerror != os.strerror(err) else None
        return self._error(err, path, message)

    def _arg(self, path: PathArg) -> bytes:
        p = _fsencode(path)
        if _NUL in p:
            raise self._error(errno.EINVAL, p.replace(b"\0", b"\\0"), "Embedded NUL in path")
        return p

    def _rootfd(self) -> int:
        if self._fd < 0:
            raise OSError(errno.EBADF, "Root is closed")
        return self._fd

    # ---- resolution -------------------------------------------------------------------------

    def _is_magic(self, fd: int, st: os.stat_result, target: bytes) -> bool:
        """A /proc magic link (what RESOLVE_NO_MAGICLINKS refuses), recognised for the walk.

        procfs's ordinary symlinks (``self``, ``thread-self``, ``mounts``, ``net``) have relative
        targets; magic links read back as absolute paths or ``type:[N]``.
        """
        if not (target.startswith(b"/") or b":" in target):
            return False
        known = self._procfs.get(st.st_dev)
        if known is None:
            known = _fs_type(fd) == _PROC_SUPER_MAGIC
            self._procfs[st.st_dev] = known
        return known

    def _walk(self, path: bytes, follow: bool, allow_missing: bool = False,
              no_symlinks: bool = False) -> Tuple[int, List[bytes]]:
        """Resolve ``path`` component by component inside the root.

        Returns (an O_PATH fd of the object, its canonical components).  With ``allow_missing``
        a missing *final* component gives fd -1 (chroot_canon semantics).  With
        ``no_symlinks`` a symlink at any component is ELOOP, except a final one that is not
        followed (RESOLVE_NO_SYMLINKS).  Raises OSError.
        """
        rootfd = self._rootfd()
        if not path:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        stack: list[int] = []  # held O_PATH fds of the directories below the root
        names: list[bytes] = []
        pending = path.split(b"/")
        pending.reverse()
        links = 0
        try:
            while pending:
                comp = pending.pop()
                if not comp or comp == b".":
                    continue
                if comp == b"..":
                    if stack:
                        os.close(stack.pop())
                        names.pop()
                    continue
                last = not pending
                try:
                    fd = os.open(comp, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC,
                                 dir_fd=stack[-1] if stack else rootfd)
                except FileNotFoundError:
                    if last and allow_missing:
                        names.append(comp)
                        return -1, names
                    raise
                try:
                    st = os.fstat(fd)
                    if stat.S_ISDIR(st.st_mode):
                        stack.append(fd)
                        names.append(comp)
                        fd = -1
                        continue
                    if stat.S_ISLNK(st.st_mode) and (follow or not last):
                        links += 1
                        if links > MAXSYMLINKS or no_symlinks:
                            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                        target = os.readlink(b"", dir_fd=fd)
                        if not target:
                            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
                        if self._is_magic(fd, st, target):
                            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                        if target.startswith(b"/"):
                            while stack:
                                os.close(stack.pop())
                            names.clear()
                        more = target.split(b"/")
                        more.reverse()
                        pending.extend(more)
                        continue
                    if not last:
                        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
                    names.append(comp)
                    result, fd = fd, -1
                    return result, names
                finally:
                    if fd >= 0:
                        os.close(fd)
            if stack:
                return stack.pop(), names
            return os.dup(rootfd), names
        finally:
            for f in stack:
                os.close(f)

    def _opath(self, path: bytes, follow: bool = True, directory: bool = False,
               no_symlinks: bool = False) -> int:
        """An O_PATH fd of ``path`` resolved in the root (OSError on failure); with
        ``no_symlinks``, ELOOP where any component is a symlink."""
        if self._use_openat2:
            flags = _O_PATH | _O_CLOEXEC
            if not follow:
                flags |= _O_NOFOLLOW
            if directory:
                flags |= _O_DIRECTORY
            try:
                return _openat2(self._rootfd(), path, flags, 0,
                                _RESOLVE_STRICT if no_symlinks else _RESOLVE)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
                # persistent EAGAIN (renames racing with '..'): the walk is immune to that
        fd, _ = self._walk(path, follow, no_symlinks=no_symlinks)
        return _checked_dir(fd) if directory else fd

    def _reopen_by_path(self, path: bytes, follow: bool) -> Callable[[int], int]:
        def reopen(flags: int) -> int:
            with _ParentDir(self, self.resolve(path, follow=follow)) as (pfd, name):
                return os.open(name, flags, dir_fd=pfd)
        return reopen

    def _open_regular(self, path: bytes, follow: bool) -> int:
        ofd = self._opath(path, follow)
        try:
            st = os.fstat(ofd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(st.st_mode)
            if _kernel._proc_ok:
                return os.open("/proc/self/fd/%d" % ofd, os.O_RDONLY | _O_CLOEXEC | _O_NOCTTY)
            return _reopen(ofd, st, os.O_RDONLY, self._reopen_by_path(path, follow))
        finally:
            os.close(ofd)

    # ---- public: looking -------------------------------------------------------------------

    def resolve(self, path: PathArg, *, follow: bool = True) -> bytes:
        """Canonical absolute in-root path (chroot_canon, spec §7.6).

        A missing final component is returned as is; a missing intermediate one is
        RootError(ENOENT), a non-directory one ENOTDIR, more than 40 links ELOOP.
        """
        p = self._arg(path)
        with _Wrapping(self, p):
            fd, names = self._walk(p, follow, allow_missing=True)
        if fd >= 0:
            os.close(fd)
        return b"/" + b"/".join(names)

    def stat(self, path: PathArg, *, follow: bool = True) -> os.stat_result:
        p = self._arg(path)
        try:
            fd = self._opath(p, follow)
            try:
                return os.fstat(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise self._wrap(e, p) from None

    def exists(self, path: PathArg, *, follow: bool = True) -> bool:
        try:
            self.stat(path, follow=follow)
        except RootError:
            return False
        return True

    def readlink(self, path: PathArg) -> bytes:
        p = self._arg(path)
        with _Wrapping(self, p):
            fd = self._opath(p, follow=False)
            try:
                if not stat.S_ISLNK(os.fstat(fd).st_mode):
                    raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
                return os.readlink(b"", dir_fd=fd)
            finally:
                os.close(fd)

    def open(self, path: PathArg, flags: int = os.O_RDONLY, mode: int = 0o644, *,
             follow: bool = True) -> int:
        """An fd (always O_CLOEXEC) of a regular file inside the root.

        Read-only: symlinks are followed in-root (unless ``follow`` is False), anything but a
        regular file is refused (EISDIR, ELOOP for an unfollowed link, EINVAL otherwise) without
        being opened, so nothing blocks.  Writing (O_WRONLY/O_RDWR/O_CREAT/O_TRUNC/O_APPEND): the
        final component is never followed (a symlink there gives ELOOP) and must be a regular
        file or, with O_CREAT, missing.
        """
        p = self._arg(path)
        try:
            if flags & _O_WRITE_BITS:
                return self._open_write(p, flags, mode)
            return self._open_regular(p, follow)
        except OSError as e:
            raise self._wrap(e, p) from None

    def _open_write(self, path: bytes, flags: int, mode: int) -> int:
        flags &= ~(_O_NOFOLLOW | _O_PATH | _O_DIRECTORY)
        with _ParentDir(self, path) as (pfd, name):
            for _ in range(16):
                try:
                    ofd = os.open(name, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=pfd)
                except FileNotFoundError:
                    if not flags & os.O_CREAT:
                        raise
                    try:
                        return os.open(name, flags | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
                                       | _O_NOCTTY, mode, dir_fd=pfd)
                    except FileExistsError:
                        if flags & os.O_EXCL:
                            raise
                        continue  # appeared meanwhile: look again
                try:
                    if flags & os.O_CREAT and flags & os.O_EXCL:
                        raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
                    st = os.fstat(ofd)
                    if not stat.S_ISREG(st.st_mode):
                        raise _not_regular(st.st_mode)
                    rflags = flags & ~(os.O_CREAT | os.O_EXCL)

                    def by_name(fl: int, _pfd: int = pfd, _name: bytes = name) -> int:
                        return os.open(_name, fl & ~os.O_TRUNC, dir_fd=_pfd)

                    fd = _reopen(ofd, st, rflags, by_name)
                    if rflags & os.O_TRUNC and not _have_proc():
                        os.ftruncate(fd, 0)
                    return fd
                finally:
                    os.close(ofd)
            raise OSError(errno.EAGAIN, "File keeps changing")

    def read_file(self, path: PathArg, *, max_bytes: int = 1 << 20) -> Optional[bytes]:
        """The whole regular file; None if it does not exist (ENOENT); EFBIG past max_bytes."""
        p = self._arg(path)
        try:
            fd = self.open(p)
        except RootError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        try:
            with _Wrapping(self, p):
                size = os.fstat(fd).st_size
                if size > max_bytes:
                    raise self._error(errno.EFBIG, p)
                chunks: list[bytes] = []
                total = 0
                want = min(size, max_bytes) + 1
                while True:
                    chunk = os.read(fd, want)
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise self._error(errno.EFBIG, p)
                    chunks.append(chunk)
                    want = min(1 << 16, max_bytes + 1 - total)
                return b"".join(chunks)
        finally:
            os.close(fd)

    def _dirfd(self, path: bytes) -> int:
        """An O_RDONLY|O_DIRECTORY fd of ``path`` (followed in-root)."""
        if self._use_openat2:
            try:
                return _openat2(self._rootfd(), path,
                                os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC | _O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
        return _dir_of(self._opath(path, True, directory=True))

    def listdir(self, path: PathArg) -> list[Entry]:
        """(name, d_type) in raw readdir order, without '.' and '..'.

        d_type is what the kernel reports; where it reports DT_UNKNOWN the type comes from lstat.
        """
        p = self._arg(path)
        with _Wrapping(self, p):
            fd = self._dirfd(p)
            try:
                return _scan(fd)
            finally:
                os.close(fd)

    def opendir(self, path: PathArg) -> Dir:
        p = self._arg(path)
        with _Wrapping(self, p):
            ofd, names = self._walk(p, True)
            fd = _dir_of(_checked_dir(ofd))
        return Dir(self, fd, b"/" + b"/".join(names))

    # ---- glob -------------------------------------------------------------------------------

    def glob(self, pattern: PathArg) -> list[bytes]:
        """glob(3) with flags 0, inside the root, results sorted bytewise (LC_COLLATE=C).

        ``*``, ``?`` and ``[...]`` work in every component, a leading '.' is only matched
        literally, backslash quotes, a pattern matching nothing gives [].  Results are spelled
        with the pattern's own directory part, as glob(3) does.
        """
        p = self._arg(pattern)
        if not p:
            return []
        return sorted(self._glob(p, only_dirs=False))

    def _glob(self, pat: bytes, only_dirs: bool) -> list[bytes]:
        from .glob import GLOB_SPECIAL, _glob_join, _unescape, glob_pattern_type

        if not pat.strip(b"/"):  # "/", "//"...
            return [pat]
        i = pat.rfind(b"/")
        directory: Optional[bytes]
        if i < 0:
            directory, name_pat = None, pat
        else:
            directory, name_pat = (pat[:i] or b"/"), pat[i + 1:]
        if not name_pat:  # "pattern/": directories only, spelled with the trailing slash
            found = self._glob(pat[:i], only_dirs=True)
            return [d + b"/" for d in found if self._glob_isdir(d)]
        dirs: list[Optional[bytes]]
        if directory is None:
            dirs = [None]
        elif glob_pattern_type(directory) == GLOB_SPECIAL:
            dirs = list(self._glob(directory, only_dirs=True))
        else:
            dirs = [_unescape(directory)]
        out: list[bytes] = []
        for d in dirs:
            for name in self._glob_in_dir(name_pat, d, only_dirs):
                out.append(_glob_join(d, name))
        return out

    def _glob_isdir(self, path: bytes) -> bool:
        try:
            return stat.S_ISDIR(self.stat(path).st_mode)
        except RootError:
            return False

    def _glob_in_dir(self, name_pat: bytes, directory: Optional[bytes], only_dirs: bool
                     ) -> list[bytes]:
        from .glob import GLOB_NONE, _compile_fnmatch, _glob_join, glob_pattern_type

        where = b"/" if directory is None else directory
        if glob_pattern_type(name_pat) == GLOB_NONE:
            # a literal name: it is there if lstat finds it (a dangling link counts)
            return [name_pat] if self.exists(_glob_join(where, name_pat), follow=False) else []
        try:
            entries = self.listdir(where)
        except RootError:
            return []
        match = _compile_fnmatch(name_pat)
        cands: list[Entry] = [(b".", DT_DIR), (b"..", DT_DIR)]
        cands.extend(entries)
        return [name for name, dt in cands
                if (not only_dirs or dt in (DT_DIR, DT_LNK, DT_UNKNOWN)) and match(name)]

    # ---- public: changing -------------------------------------------------------------------

    def mkdir(self, path: PathArg, mode: int = 0o755, *, exist_ok: bool = False) -> None:
        p = self._arg(path)
        with _Wrapping(self, p):
            if not p.strip(b"/") and p:
                if exist_ok:
                    return
                raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
            with _ParentDir(self, p) as (pfd, name):
                try:
                    os.mkdir(name, mode, dir_fd=pfd)
                except FileExistsError:
                    if not exist_ok or not self._isdir(p):
                        raise

    def _isdir(self, path: bytes) -> bool:
        """Whether ``path`` is a directory (or an in-root link to one); False on any error."""
        try:
            fd = self._opath(path, True)
        except OSError:
            return False
        try:
            return stat.S_ISDIR(os.fstat(fd).st_mode)
        finally:
            os.close(fd)

    def makedirs(self, path: PathArg, mode: int = 0o755) -> None:
        """Create every missing component (like ``mkdir -p``), each inside the root.

        Existing components may be directories or symlinks to directories (followed in-root).
        """
        p = self._arg(path)
        comps = [c for c in p.split(b"/") if c]
        prefix = b"/" if p.startswith(b"/") else b""
        todo = [i for i, c in enumerate(comps) if c not in _BAD_NAMES]
        for i in todo:
            sub = prefix + b"/".join(comps[: i + 1])
            if i != todo[-1]:
                try:
                    self.mkdir(sub, mode)
                except RootError as e:
                    if e.errno != errno.EEXIST:
                        raise
                    # whatever is there: if it is no directory the next mkdir says ENOTDIR
            else:
                self.mkdir(sub, mode, exist_ok=True)

    def symlink(self, target: PathArg, path: PathArg) -> None:
        """Create ``path`` as a symlink whose text is ``target`` (stored verbatim)."""
        p = self._arg(path)
        t = self._arg(target)
        with _Wrapping(self, p), _ParentDir(self, p) as (pfd, name):
            os.symlink(t, name, dir_fd=pfd)

    def unlink(self, path: PathArg) -> None:
        """Remove a non-directory; a final symlink is removed itself, never followed."""
        p = self._arg(path)
        with _Wrapping(self, p), _ParentDir(self, p) as (pfd, name):
            os.unlink(name, dir_fd=pfd)

    def rename(self, src: PathArg, dst: PathArg) -> None:
        s = self._arg(src)
        d = self._arg(dst)
        with _Wrapping(self, s), _ParentDir(self, s) as (sfd, sname):
            with _Wrapping(self, d):  # (a RootError passes the outer one as it is)
                dst_dir = _ParentDir(self, d)
            with dst_dir as (dfd, dname):
                os.rename(sname, dname, src_dir_fd=sfd, dst_dir_fd=dfd)

    def handle(self, path: PathArg, *, follow: bool = True,
               no_symlinks: bool = False) -> "FileHandle":
        """An ``O_PATH`` handle on whatever ``path`` names (nothing is opened for reading), with
        its ``stat``, so that later checks and changes act on that very object however the
        tree changes meanwhile.  ``no_symlinks``: a symlink at any component is
        RootError(ELOOP) — except a final one with ``follow=False``, which is handed out
        as itself."""
        p = self._arg(path)
        with _Wrapping(self, p):
            ofd = self._opath(p, follow, no_symlinks=no_symlinks)
            st = _fstat_or_close(ofd)
        return FileHandle(self, ofd, st, p, False)

    def chmod(self, path: PathArg, mode: int, *, follow: bool = False) -> None:
        """chmod inside the root.  A symlink (with follow=False) is RootError(ELOOP)."""
        with self.handle(path, follow=follow) as h:
            h.chmod(mode)

    def write_atomic(self, path: PathArg, data: bytes, mode: int = 0o644, *,
                     replace: bool = True) -> None:
        """Replace ``path`` by a regular file holding ``data``, atomically.

        ``replace=False``: create it only where nothing is (hard-linked into place, then the
        temporary removed: RootError(EEXIST) if anything appeared there meanwhile).

        A unique ``.NAME.ldcache-XXXXXX`` is created next to it (O_EXCL|O_NOFOLLOW, 0600),
        written, given ``mode`` explicitly (umask does not apply), fsynced, and renamed over
        ``path`` (a symlink there is replaced, never written through).  On any failure the
        temporary file is removed and the old file is untouched.  Like glibc's ldconfig, the
        directory is not fsynced: after a power loss the rename may be undone, which leaves
        the complete old file.
        """
        from .tempnames import _create_temp

        p = self._arg(path)
        with _Wrapping(self, p), _ParentDir(self, p, readable=True) as (dfd, name):
            tmp, fd = _create_temp(name, lambda t: os.open(
                t, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
                | _O_NOCTTY, 0o600, dir_fd=dfd))
            try:
                try:
                    _write_all(fd, data)
                    os.fchmod(fd, mode)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                if replace:
                    os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
                else:
                    os.link(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=False)
                    os.unlink(tmp, dir_fd=dfd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=dfd)
                except OSError:
                    pass
                raise

    def remove_stale_temps(self, path: PathArg) -> int:
        """Remove leftover ``write_atomic`` temporaries of ``path`` (after a crash); the count."""
        from .tempnames import _is_temp_of, _temp_prefix

        p = self._arg(path)
        with _Wrapping(self, p), _ParentDir(self, p, readable=True) as (dfd, name):
            prefix = _temp_prefix(name)
            count = 0
            for entry, dt in _scan(dfd):
                if dt == DT_DIR or not _is_temp_of(prefix, entry):
                    continue
                try:
                    os.unlink(entry, dir_fd=dfd)
                    count += 1
                except (FileNotFoundError, IsADirectoryError):
                    pass
            return count

    # ---- public: mounting -------------------------------------------------------------------

    def mount_readonly_copy(self, path: PathArg, data: bytes, *, mode: int = 0o444,
                            scratch: PathArg = b"/run") -> str:
        """Mount a read-only copy of ``data`` over the regular file ``path``.

        The copy is a file (``mode``, owned by the caller) on a private tmpfs of its own,
        bind-mounted ``ro,nosuid,nodev,noexec`` over ``path``; what ``path`` named is
        untouched underneath.  Needs ``CAP_SYS_ADMIN`` in the mount namespace holding the
        root (an OCI ``createContainer`` hook runs in the container's).  Returns the
        mechanism used ("detached" or "scratch"), for messages.

        ``path`` is resolved like any other path here (in-root, no magic links) to an
        ``O_PATH`` handle, which must be a regular file; the kernel is only ever handed
        that handle, never a path under the root.  Two mechanisms, the first preferred:

        * **detached** (the fd-based mount API: ``fsopen``/``fsmount``, ``open_tree``,
          ``mount_setattr``, ``move_mount``): the tmpfs is made and filled without being
          attached anywhere, so nothing in the root is created or changed and no process
          can see it half-made; the single-file clone is made read-only while still
          detached, and ``move_mount`` attaches it onto the target handle
          (``MOVE_MOUNT_T_EMPTY_PATH``), so no path is resolved by the kernel at all.
        * **scratch**, where the kernel lacks that API (ENOSYS) or refuses to clone a
          file out of a detached mount (EINVAL, older kernels): classic ``mount(2)`` whose
          source and target are ``/proc/self/fd/N`` of handles resolved here.  A fresh
          directory (a :func:`temp_name` in ``scratch``, else in ``/``) receives the tmpfs;
          its root is checked to be that new, empty tmpfs; the file is bind-mounted onto
          the target handle, the bind mount found again at ``path`` is checked to be that
          file and remounted read-only (undone when that fails); then the tmpfs is
          detached and the directory removed.  Needs ``/proc``.

        Mechanism choice is the kernel's alone; nothing is read from the root to make it.
        On failure RootError, and nothing stays mounted that this call mounted (except
        where the root changed under it so that its own mounts can no longer be found).
        """
        from .mount import readonly_copy

        return readonly_copy(self, path, data, mode, scratch)


# --------------------------------------------------------------------------------------------
# the handles a Root gives out: Dir (an open directory, operations by one NAME relative to
# its fd) and FileHandle (an O_PATH handle on one object: its stat, open and chmod are that
# object's)


def _fstat_or_close(ofd: int) -> os.stat_result:
    """The stat of the handle ``ofd``, which is closed if that fails."""
    try:
        return os.fstat(ofd)
    except OSError:
        os.close(ofd)
        raise


class Dir:
    """An open directory inside a root; fast per-entry operations by NAME (one component)."""

    path: bytes
    fd: int

    def __init__(self, root: Root, fd: int, path: bytes) -> None:
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
        # (byte values, not one-byte strings: ``b"/" in n`` first tries b"/" as an int,
        # and formats and clears a TypeError — a name is checked several times an entry)
        if _SLASH in n or _NUL in n or n in _BAD_NAMES:
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
        (False); None: find out.  ``is_link`` on the handle tells which it was.

        A symlink whose text is one plain name (a sibling, as SONAME links are) is followed
        from this directory's fd, where the kernel resolves it too: the handle's ``target``
        is then that text.  Any other link is resolved from the root by its full path."""
        n = self._name(name)
        child = self._child(n)
        fd = self.fd
        try:
            if link is not True:
                ofd = os.open(n, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
                st = _fstat_or_close(ofd)
                if not stat.S_ISLNK(st.st_mode):
                    return FileHandle(self._root, ofd, st, child, False)
                os.close(ofd)
            try:
                text = os.readlink(n, dir_fd=fd)
            except OSError as e:
                if e.errno != errno.EINVAL:  # EINVAL: no longer a symlink (resolved below)
                    raise
                text = b""
            if text and _SLASH not in text and text not in _BAD_NAMES:
                ofd = os.open(text, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=fd)
                st = _fstat_or_close(ofd)
                if not stat.S_ISLNK(st.st_mode):
                    h = FileHandle(self._root, ofd, st, child, True)
                    h.target = text
                    return h
                os.close(ofd)  # a chain of links: resolved from the root
            ofd = self._root._opath(child, True)
            return FileHandle(self._root, ofd, _fstat_or_close(ofd), child, True)
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
            if _NUL in t:
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
        elsewhere can send the two steps to different places.  On failure nothing is left.

        Where nothing is there yet, the link is made under its own name at once (as atomic,
        one system call instead of two).  A temporary that is gone before the rename was
        removed by another run's clean-up of leftover temporaries (:mod:`ldcache.apply`,
        under the run lock, which this method does not take): the link is made again under
        a new name, a few times at most."""
        n = self._name(name)
        t = _fsencode(target)
        with _Wrapping(self._root, self._child(n)):
            if _NUL in t:
                raise OSError(errno.EINVAL, "Embedded NUL in symlink target")
            try:
                os.symlink(t, n, dir_fd=self.fd)
                return
            except FileExistsError:
                pass
            from .tempnames import _create_temp

            for attempt in range(_TEMP_VANISHED_RETRIES + 1):
                tmp, _ = _create_temp(n, lambda name: os.symlink(t, name, dir_fd=self.fd))
                try:
                    os.rename(tmp, n, src_dir_fd=self.fd, dst_dir_fd=self.fd)
                    return
                except BaseException as exc:
                    try:
                        os.unlink(tmp, dir_fd=self.fd)
                    except OSError:
                        pass
                    if not isinstance(exc, FileNotFoundError) or attempt == _TEMP_VANISHED_RETRIES:
                        raise


class FileHandle:
    """An ``O_PATH`` handle on a file inside a root (from :meth:`Dir.handle`, :meth:`Root.handle`).

    ``st`` is the file's stat (the symlink's target for a followed link); :meth:`open` opens
    that very inode for reading, and only if it is a regular file; :meth:`chmod` changes that
    very inode's mode.  ``is_link``: :meth:`Dir.handle` reached it through a symlink."""

    __slots__ = ("_root", "ofd", "st", "path", "is_link", "target")

    def __init__(self, root: Root, ofd: int, st: os.stat_result, path: bytes,
                 is_link: bool) -> None:
        self._root = root
        self.ofd = ofd
        self.st = st
        self.path = path
        self.is_link = is_link
        #: The text of the sibling symlink :meth:`Dir.handle` followed to it (else None).
        self.target: bytes | None = None

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
