"""Mounting a read-only copy of some bytes over a file in a root, for
:meth:`Root.mount_readonly_copy <ldcache.inroot.root.Root.mount_readonly_copy>` (which
documents both mechanisms): the fd-based mount API, or mount(2) through /proc/self/fd, by
way of ctypes.  That method imports this module when it is first called (only the
disable-device-node-modification hook mounts), so nothing else loads it."""

from __future__ import annotations

import errno
import os
import stat

from ._kernel import (
    _O_CLOEXEC,
    _O_DIRECTORY,
    _O_NOCTTY,
    _O_NOFOLLOW,
    _O_PATH,
    _fs_type,
    _have_proc,
    _not_regular,
    _proc_fd,
    _same,
    _syscall_nr,
    _Wrapping,
    _write_all,
)
from .tempnames import temp_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

    from ._kernel import PathArg, _RootLike

#: False: never use the fd-based mount API (tests set it to exercise the mount(2) path).
_detached_mounts: Optional[bool] = None

_MOUNT_SYSCALLS = {"open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                   "fsmount": 432, "mount_setattr": 442}
_AT_SYMLINK_NOFOLLOW = 0x100
_AT_EMPTY_PATH = 0x1000
_FSOPEN_CLOEXEC = 0x1
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_FSMOUNT_CLOEXEC = 0x1
_OPEN_TREE_CLONE = 0x1
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_MOVE_MOUNT_T_EMPTY_PATH = 0x40
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV, _MOUNT_ATTR_NOEXEC = 1, 2, 4, 8
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 8, 32, 4096
_MNT_DETACH = 2
_TMPFS_MAGIC = 0x01021994
#: The copy's name on its own tmpfs (never seen in the root: only its content is).
_COPY_NAME = b"copy"


class _MountCalls:
    """libc's ``syscall`` (a function object of its own: :class:`._kernel._Libc` fixes the
    argument types of its copy for openat2), ``mount`` and ``umount2``; every failure an
    OSError naming the call.  ``MountAttr`` is ``struct mount_attr``."""

    def __init__(self) -> None:
        import ctypes

        class _MountAttr(ctypes.Structure):
            _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                        ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

        self.MountAttr = _MountAttr
        lib = ctypes.CDLL(None, use_errno=True)
        self._syscall = lib["syscall"]
        self._syscall.restype = ctypes.c_long
        self._mount = lib["mount"]
        self._mount.restype = ctypes.c_int
        self._mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                ctypes.c_ulong, ctypes.c_char_p]
        self._umount2 = lib["umount2"]
        self._umount2.restype = ctypes.c_int
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

    @staticmethod
    def _failed(name: str) -> OSError:
        import ctypes

        err = ctypes.get_errno() or errno.EIO
        return OSError(err, f"{name}: {os.strerror(err)}")

    def syscall(self, name: str, *args: object) -> int:
        import ctypes

        nr = ctypes.c_long(_syscall_nr(_MOUNT_SYSCALLS[name]))
        while True:
            r = int(self._syscall(nr, *args))
            if r >= 0:
                return r
            if ctypes.get_errno() != errno.EINTR:
                raise self._failed(name)

    def mount(self, source: Optional[bytes], target: bytes, fstype: Optional[bytes],
              flags: int, data: Optional[bytes]) -> None:
        if self._mount(source, target, fstype, flags, data) != 0:
            raise self._failed("mount")

    def umount2(self, target: bytes, flags: int) -> None:
        if self._umount2(target, flags) != 0:
            raise self._failed("umount2")


_mount_calls_cache: list[_MountCalls] = []


def _mount_calls() -> _MountCalls:
    if not _mount_calls_cache:
        _mount_calls_cache.append(_MountCalls())
    return _mount_calls_cache[0]


def _write_copy(dfd: int, data: bytes, mode: int) -> os.stat_result:
    """Create :data:`_COPY_NAME` in the (fresh, private) directory ``dfd`` holding ``data``
    with ``mode``; its stat."""
    fd = os.open(_COPY_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
                 | _O_NOCTTY, 0o600, dir_fd=dfd)
    try:
        _write_all(fd, data)
        os.fchmod(fd, mode)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _mount_copy_detached(tfd: int, data: bytes, mode: int) -> bool:
    """The "detached" mechanism of :meth:`Root.mount_readonly_copy`: a read-only copy of
    ``data`` attached onto the O_PATH fd ``tfd``.  False, with nothing made, when the
    kernel cannot do it this way (no such syscalls, or no clone out of a detached mount);
    OSError on any other failure."""
    import ctypes

    calls = _mount_calls()
    L = ctypes.c_long
    try:
        fs = calls.syscall("fsopen", ctypes.c_char_p(b"tmpfs"), L(_FSOPEN_CLOEXEC))
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return False
        raise
    try:
        for key, value in ((b"source", b"tmpfs"), (b"size", b"%d" % max(len(data), 1)),
                           (b"mode", b"0700")):
            calls.syscall("fsconfig", L(fs), L(_FSCONFIG_SET_STRING), ctypes.c_char_p(key),
                          ctypes.c_char_p(value), L(0))
        calls.syscall("fsconfig", L(fs), L(_FSCONFIG_CMD_CREATE), None, None, L(0))
        mnt = calls.syscall("fsmount", L(fs), L(_FSMOUNT_CLOEXEC), L(
            _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV | _MOUNT_ATTR_NOEXEC))
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return False
        raise
    finally:
        os.close(fs)
    try:
        _write_copy(mnt, data, mode)
        try:
            clone = calls.syscall("open_tree", L(mnt), ctypes.c_char_p(_COPY_NAME),
                                  L(_OPEN_TREE_CLONE | _O_CLOEXEC | _AT_SYMLINK_NOFOLLOW))
        except OSError as e:
            if e.errno in (errno.ENOSYS, errno.EINVAL):
                return False
            raise
    finally:
        os.close(mnt)  # the detached tmpfs mount goes; the clone keeps the file
    try:
        attr = calls.MountAttr(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV
                               | _MOUNT_ATTR_NOEXEC, 0, 0, 0)
        try:
            calls.syscall("mount_setattr", L(clone), ctypes.c_char_p(b""), L(_AT_EMPTY_PATH),
                          ctypes.byref(attr), L(ctypes.sizeof(attr)))
        except OSError as e:
            if e.errno == errno.ENOSYS:
                return False
            raise
        calls.syscall("move_mount", L(clone), ctypes.c_char_p(b""), L(tfd),
                      ctypes.c_char_p(b""), L(_MOVE_MOUNT_F_EMPTY_PATH | _MOVE_MOUNT_T_EMPTY_PATH))
    finally:
        os.close(clone)
    return True


def readonly_copy(root: _RootLike, path: PathArg, data: bytes, mode: int, scratch: PathArg
                  ) -> str:
    """:meth:`Root.mount_readonly_copy <ldcache.inroot.root.Root.mount_readonly_copy>`
    of ``root`` (documented there)."""
    p = root._arg(path)
    with _Wrapping(root, p):
        tfd = root._opath(p, True)
        try:
            st = os.fstat(tfd)
            if not stat.S_ISREG(st.st_mode):
                raise _not_regular(st.st_mode)
            if _detached_mounts is not False and _mount_copy_detached(tfd, data, mode):
                return "detached"
            return _mount_copy_scratch(root, tfd, p, data, mode, root._arg(scratch))
        finally:
            os.close(tfd)


def _mount_copy_scratch(root: _RootLike, tfd: int, p: bytes, data: bytes, mode: int,
                        scratch: bytes) -> str:
    """The "scratch" mechanism: mount(2) through /proc/self/fd (see
    :meth:`Root.mount_readonly_copy <ldcache.inroot.root.Root.mount_readonly_copy>`)."""
    if not _have_proc():
        raise root._error(errno.ENOSYS, p, "Mounting without the fd-based mount API "
                                           "needs /proc")
    try:
        pfd = root._opath(scratch, True, directory=True)
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise root._wrap(e, scratch) from None
        scratch = b"/"
        with _Wrapping(root, scratch):
            pfd = root._opath(scratch, True, directory=True)
    name = temp_name(b"mount")
    where = scratch.rstrip(b"/") + b"/" + name
    try:
        with _Wrapping(root, where):
            os.mkdir(name, 0o700, dir_fd=pfd)
        try:
            _scratch_steps(root, tfd, p, pfd, name, where, data, mode)
        finally:
            try:
                os.rmdir(name, dir_fd=pfd)
            except OSError:
                pass
    finally:
        os.close(pfd)
    return "scratch"


def _scratch_steps(root: _RootLike, tfd: int, p: bytes, pfd: int, name: bytes, where: bytes,
                   data: bytes, mode: int) -> None:
    calls = _mount_calls()
    with _Wrapping(root, where):
        sfd = os.open(name, _O_PATH | _O_NOFOLLOW | _O_DIRECTORY | _O_CLOEXEC, dir_fd=pfd)
        try:
            under = os.fstat(sfd)
            calls.mount(b"tmpfs", _proc_fd(sfd).encode(), b"tmpfs",
                        _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                        b"size=%d,mode=0700" % max(len(data), 1))
        finally:
            os.close(sfd)
        # The tmpfs root, by the name it now covers; it must be that new, empty tmpfs.
        dfd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC,
                      dir_fd=pfd)
    ours = False  # dfd is the tmpfs made above (only then is it unmounted)
    try:
        with _Wrapping(root, where):
            if (os.fstat(dfd).st_dev == under.st_dev or _fs_type(dfd) != _TMPFS_MAGIC
                    or os.listdir(dfd)):
                raise OSError(errno.EAGAIN, "The scratch tmpfs is not where it was made")
            ours = True
        with _Wrapping(root, p):
            fst = _write_copy(dfd, data, mode)
            ffd = os.open(_COPY_NAME, _O_PATH | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dfd)
            try:
                if not _same(os.fstat(ffd), fst):
                    raise OSError(errno.EAGAIN, "The copy changed while being made")
                calls.mount(_proc_fd(ffd).encode(), _proc_fd(tfd).encode(), None,
                            _MS_BIND, None)
            finally:
                os.close(ffd)
            # The bind mount as the path now shows it: that very file, made read-only.
            nfd = root._opath(p, True)
            try:
                if not _same(os.fstat(nfd), fst):
                    raise root._error(errno.EAGAIN, p,
                                      "The bind mount is not where it was made")
                try:
                    calls.mount(None, _proc_fd(nfd).encode(), None, _MS_REMOUNT | _MS_BIND
                                | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
                except OSError:
                    try:
                        calls.umount2(_proc_fd(nfd).encode(), _MNT_DETACH)
                    except OSError:
                        pass
                    raise
            finally:
                os.close(nfd)
    finally:
        if ours:
            try:
                calls.umount2(_proc_fd(dfd).encode(), _MNT_DETACH)
            except OSError:
                pass
        os.close(dfd)
