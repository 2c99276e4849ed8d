"""ldcache.inroot against hostile roots.

Every test builds a root next to a *tripwire* directory (files, modes, a marker, a mirror of the
names the tests target).  The tripwire and the root's parent directory must be byte-for-byte and
mode-for-mode unchanged after every test (checked by the ``world`` fixture).  Where an escape
would land in the tripwire, the root holds a decoy at the in-root spelling of the same path, so
the tests also check *where* a lookup went, not only that it did not escape.

The whole suite runs three times: with openat2 (the kernel resolves), with the component walk,
and with ``/proc/self/fd`` re-opening disabled.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import locale
import os
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from ldcache import _os, inroot
from ldcache.errors import LdcacheError, RootError
from ldcache.inroot import (
    DT_BLK,
    DT_CHR,
    DT_DIR,
    DT_FIFO,
    DT_LNK,
    DT_REG,
    DT_SOCK,
    Dir,
    Root,
    _kernel,
)

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="needs root (mknod, mount)")

TRIP = b"TRIPWIRE: must never be read, changed or listed\n"
INSIDE = b"inside the root (decoy of the tripwire)\n"
MIRROR = b"inside the root, at the host spelling of the tripwire\n"

MODES = ["openat2", "walk", "noproc"]

_libc = ctypes.CDLL(None, use_errno=True)


# ------------------------------------------------------------------------------------------
# the world: a root, a tripwire, snapshots


def snapshot(top: Path, skip: Optional[Path] = None) -> dict[str, tuple[Any, ...]]:
    """Everything observable about a tree (except atimes)."""
    out: dict[str, tuple[Any, ...]] = {}

    def visit(p: Path) -> None:
        if skip is not None and p == skip:
            return
        st = os.lstat(p)
        rel = os.fsdecode(os.path.relpath(p, top))
        base = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = base + (os.readlink(p),)
        elif stat.S_ISREG(st.st_mode):
            out[rel] = base + (p.read_bytes(),)
        elif stat.S_ISDIR(st.st_mode):
            names = sorted(os.listdir(p))
            out[rel] = base + (tuple(names),)
            for n in names:
                visit(p / n)
        else:
            out[rel] = base + (st.st_rdev,)

    visit(top)
    return out


class World:
    def __init__(self, tmp: Path, mode: str) -> None:
        self.tmp = tmp
        self.mode = mode
        self.root = tmp / "root"
        self.trip = tmp / "trip"
        self.roots: list[Root] = []
        self._build_tripwire()
        self.root.mkdir()
        # decoy of the tripwire at the in-root spelling of "../trip" and of its host path
        self.inside = self.root / "trip"
        self.mirror = self.root / str(self.trip).lstrip("/")
        for where, text in ((self.inside, INSIDE), (self.mirror, MIRROR)):
            where.mkdir(parents=True)
            (where / "marker").write_bytes(text)
            (where / "a").mkdir()
            (where / "a" / "marker").write_bytes(text)
        self.before = snapshot(self.tmp, skip=self.root)

    def _build_tripwire(self) -> None:
        t = self.trip
        t.mkdir()
        for name, mode in (("marker", 0o640), ("ld.so.conf", 0o644), ("ld.so.cache", 0o600),
                           ("libtrip.so.1", 0o755)):
            (t / name).write_bytes(TRIP + name.encode())
            os.chmod(t / name, mode)
        (t / "etc").mkdir(mode=0o755)
        (t / "etc" / "ld.so.conf").write_bytes(TRIP)
        (t / "etc" / "ld.so.conf.d").mkdir()
        (t / "etc" / "ld.so.conf.d" / "evil.conf").write_bytes(TRIP)
        (t / "a").mkdir()
        (t / "a" / "marker").write_bytes(TRIP)
        (t / "a" / "b").mkdir()
        (t / "a" / "b" / "marker").write_bytes(TRIP)
        (t / "only-in-tripwire").write_bytes(TRIP)
        os.symlink("marker", t / "link")
        os.chmod(t / "a", 0o750)

    def open(self, path: Optional[os.PathLike[str]] = None) -> Root:
        use = {"openat2": True, "walk": False, "noproc": None}[self.mode]
        r = Root(os.fspath(path or self.root), use_openat2=use)
        self.roots.append(r)
        return r

    def check(self) -> None:
        after = snapshot(self.tmp, skip=self.root)
        assert after == self.before, "the tripwire (or the root's parent) changed"

    def close(self) -> None:
        for r in self.roots:
            r.close()


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    m: str = request.param
    if m == "openat2" and not inroot.openat2_available():
        pytest.skip("the kernel (or seccomp) does not offer openat2")
    if m == "noproc":
        monkeypatch.setattr(_kernel, "_proc_ok", False)
    return m


@pytest.fixture
def world(tmp_path: Path, mode: str) -> Iterator[World]:
    w = World(tmp_path, mode)
    try:
        yield w
    finally:
        w.close()
    w.check()


@pytest.fixture
def r(world: World) -> Root:
    return world.open()


def errno_of(fn: Callable[[], Any]) -> int:
    with pytest.raises(RootError) as info:
        fn()
    assert isinstance(info.value, OSError) and isinstance(info.value, LdcacheError)
    assert info.value.errno is not None
    return info.value.errno


class Alarm:
    """Fail (instead of hanging) if the body blocks for more than ``seconds``."""

    def __init__(self, seconds: int = 5) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        def boom(signum: int, frame: Any) -> None:
            raise TimeoutError("blocked")

        self.old = signal.signal(signal.SIGALRM, boom)
        signal.alarm(self.seconds)

    def __exit__(self, *exc: object) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


class OpenWatch:
    """inotify IN_OPEN on some inodes: tells whether anyone really opened them (O_PATH does not
    count — it has no side effects and the kernel does not report it)."""

    IN_OPEN = 0x20

    def __init__(self, *paths: Path) -> None:
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        for p in paths:
            wd = _libc.inotify_add_watch(self.fd, os.fsencode(p), self.IN_OPEN)
            assert wd >= 0, os.strerror(ctypes.get_errno())

    def opened(self) -> bool:
        try:
            return len(os.read(self.fd, 65536)) > 0
        except BlockingIOError:
            return False

    def close(self) -> None:
        os.close(self.fd)


# ------------------------------------------------------------------------------------------
# construction, basics


def test_constructor_errors(tmp_path: Path, mode: str) -> None:
    use = {"openat2": True, "walk": False, "noproc": None}[mode]
    assert errno_of(lambda: Root(tmp_path / "missing", use_openat2=use)) == errno.ENOENT
    (tmp_path / "file").write_bytes(b"x")
    assert errno_of(lambda: Root(tmp_path / "file", use_openat2=use)) == errno.ENOTDIR
    assert errno_of(lambda: Root(b"/tmp\0x", use_openat2=use)) == errno.EINVAL
    assert errno_of(lambda: Root("", use_openat2=use)) == errno.ENOENT
    (tmp_path / "r").mkdir()
    r = Root(str(tmp_path / "r") + "///", use_openat2=use)
    assert r.path == os.fsencode(tmp_path / "r")
    assert r.uses_openat2 == (mode == "openat2" or (mode == "noproc"
                                                    and inroot.openat2_available()))
    with r:
        assert r.exists("/")
    assert errno_of(lambda: r.stat("/")) == errno.EBADF
    r.close()  # twice is fine


def test_env_forces_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LDCACHE_NO_OPENAT2", "1")
    with Root(tmp_path) as r:
        assert not r.uses_openat2
    monkeypatch.delenv("LDCACHE_NO_OPENAT2")
    with Root(tmp_path) as r:
        assert r.uses_openat2 == inroot.openat2_available()


def test_basic_reading(world: World, r: Root) -> None:
    etc = world.root / "etc"
    etc.mkdir()
    (etc / "ld.so.conf").write_bytes(b"include /etc/ld.so.conf.d/*.conf\n")
    assert r.read_file("/etc/ld.so.conf") == b"include /etc/ld.so.conf.d/*.conf\n"
    assert r.read_file(b"etc/ld.so.conf") == b"include /etc/ld.so.conf.d/*.conf\n"
    assert r.read_file("/etc/missing") is None
    assert r.read_file("/nodir/missing") is None
    assert r.exists("/etc") and not r.exists("/etc/missing")
    st = r.stat("/etc/ld.so.conf")
    assert stat.S_ISREG(st.st_mode) and st.st_ino == os.stat(etc / "ld.so.conf").st_ino
    assert r.host_path("/etc/x") == os.fsencode(world.root) + b"/etc/x"
    assert r.host_path("etc/x") == os.fsencode(world.root) + b"/etc/x"
    fd = r.open("/etc/ld.so.conf")
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        assert os.read(fd, 7) == b"include"
    finally:
        os.close(fd)
    assert errno_of(lambda: r.open("/etc")) == errno.EISDIR
    assert errno_of(lambda: r.read_file("/etc")) == errno.EISDIR
    assert errno_of(lambda: r.stat("/etc/missing")) == errno.ENOENT
    assert errno_of(lambda: r.stat("/etc/ld.so.conf/x")) == errno.ENOTDIR
    assert errno_of(lambda: r.stat(b"/etc\0/x")) == errno.EINVAL


def test_error_messages_name_the_host_path(world: World, r: Root) -> None:
    os.symlink("loop", world.root / "loop")
    with pytest.raises(RootError) as info:
        r.read_file("/loop")
    e = info.value
    assert e.errno == errno.ELOOP
    assert e.strerror == "Too many levels of symbolic links"
    assert e.filename == os.fsdecode(world.root / "loop")
    assert f"{e.filename}: {e.strerror}" == f"{world.root}/loop: Too many levels of symbolic links"


def test_read_file_limits(world: World, r: Root) -> None:
    (world.root / "big").write_bytes(b"x" * 1000)
    assert r.read_file("/big", max_bytes=1000) == b"x" * 1000
    assert errno_of(lambda: r.read_file("/big", max_bytes=999)) == errno.EFBIG
    (world.root / "empty").write_bytes(b"")
    assert r.read_file("/empty") == b""
    os.symlink("big", world.root / "biglink")
    assert r.read_file("/biglink") == b"x" * 1000
    assert errno_of(lambda: r.open("/biglink", follow=False)) == errno.ELOOP


# ------------------------------------------------------------------------------------------
# resolve: chroot_canon


@pytest.fixture
def canon_tree(world: World) -> Path:
    R = world.root
    for d in ("d1", "d2", "d3", "usr/lib", "real/sub", "a/b/c"):
        (R / d).mkdir(parents=True)
    (R / "file").write_bytes(b"f")
    os.symlink("/real/sub", R / "dirlink")
    os.symlink("real/sub", R / "reldirlink")
    os.symlink("/d1/target", R / "dangle")
    os.symlink("/nodir/x", R / "dangle2")
    os.symlink("loop2", R / "loop1")
    os.symlink("loop1", R / "loop2")
    os.symlink("self", R / "self")
    os.symlink("/d1", R / "a" / "b" / "abs")
    os.symlink("../../d2", R / "a" / "b" / "rel")
    os.symlink("../../../../../../../../d3", R / "a" / "b" / "up")
    os.symlink("usr/lib", R / "lib")
    return R


@pytest.mark.parametrize("path, expected", [
    # the spec's chroot_canon examples (§6.1, §7.6)
    ("//d2", "/d2"),
    ("/./d3/.", "/d3"),
    ("/usr/../d1", "/d1"),
    ("/d1///", "/d1"),
    ("/dirlink/../d", "/real/d"),          # symlinks before '..', like the kernel
    ("/dirlink", "/real/sub"),
    ("/reldirlink/..", "/real"),
    ("/lib", "/usr/lib"),
    # '..' never goes above the root
    ("/..", "/"),
    ("/../../../d1", "/d1"),
    ("/d1/../../../../d2", "/d2"),
    ("/", "/"),
    ("d1", "/d1"),
    ("d1/../d2/", "/d2"),
    # a missing final component is fine, after symlinks too
    ("/nothere", "/nothere"),
    ("/d1/nothere", "/d1/nothere"),
    ("/dangle", "/d1/target"),
    ("/dirlink/new", "/real/sub/new"),
    # absolute targets restart at the root, relative ones from the link's directory
    ("/a/b/abs", "/d1"),
    ("/a/b/rel", "/d2"),
    ("/a/b/up", "/d3"),
    ("/a/b/abs/../d2", "/d2"),
    ("/a/./b/../b/c", "/a/b/c"),
])
def test_resolve(canon_tree: Path, r: Root, path: str, expected: str) -> None:
    assert r.resolve(path) == expected.encode()
    assert r.resolve(path.encode()) == expected.encode()


def test_resolve_errors_and_follow(canon_tree: Path, r: Root) -> None:
    assert r.resolve("/dirlink", follow=False) == b"/dirlink"
    assert r.resolve("/a/b/abs", follow=False) == b"/a/b/abs"
    assert r.resolve("/dirlink/", follow=False) == b"/real/sub"  # a trailing '/' follows
    assert errno_of(lambda: r.resolve("/nothere/x")) == errno.ENOENT
    assert errno_of(lambda: r.resolve("/dangle2")) == errno.ENOENT
    assert errno_of(lambda: r.resolve("/loop1")) == errno.ELOOP
    assert errno_of(lambda: r.resolve("/self/x")) == errno.ELOOP
    assert r.resolve("/loop1", follow=False) == b"/loop1"
    assert errno_of(lambda: r.resolve("/file/x")) == errno.ENOTDIR
    assert errno_of(lambda: r.resolve("")) == errno.ENOENT


def test_resolve_matches_realpath(canon_tree: Path, r: Root) -> None:
    """For links that stay inside the root, in-root resolution is what the host does."""
    R = str(canon_tree)
    for p in ("/reldirlink/..", "/lib", "/lib/../lib/./", "/usr/lib", "/a/b/rel", "/a/b/c/..",
              "/reldirlink/new"):
        assert os.fsencode(R) + r.resolve(p).rstrip(b"/") == os.fsencode(
            os.path.realpath(R + p)), p


@pytest.mark.parametrize("n, ok", [(40, True), (41, False)])
def test_symlink_limit(world: World, r: Root, n: int, ok: bool) -> None:
    (world.root / "target").write_bytes(b"end")
    os.symlink("target", world.root / "l0")
    for i in range(1, n):
        os.symlink(f"l{i - 1}", world.root / f"l{i}")
    last = f"/l{n - 1}"
    if ok:
        assert r.resolve(last) == b"/target"
        assert r.read_file(last) == b"end"
        assert r.stat(last).st_size == 3
    else:
        assert errno_of(lambda: r.resolve(last)) == errno.ELOOP
        assert errno_of(lambda: r.read_file(last)) == errno.ELOOP
        assert errno_of(lambda: r.stat(last)) == errno.ELOOP
        assert r.stat(last, follow=False)  # the link itself is fine


# ------------------------------------------------------------------------------------------
# escapes


@pytest.fixture
def escapes(world: World) -> World:
    R = world.root
    trip = str(world.trip)
    os.symlink(trip, R / "abs")                      # absolute host path of the tripwire
    os.symlink("../trip", R / "rel")                 # ROOT/../trip is the tripwire
    os.symlink("..", R / "c1")                       # '..' at every component
    os.symlink("c1/c1/c1/../trip", R / "chain")
    (R / "deep" / "a" / "b").mkdir(parents=True)
    os.symlink("../../../../../../../../trip", R / "deep" / "a" / "b" / "c")
    os.symlink(trip + "/marker", R / "filelink")
    os.symlink(trip + "/a/../marker", R / "filelink2")
    os.symlink("../../trip/marker", R / "deep" / "rellink")
    (R / "etc").mkdir()
    os.symlink(trip + "/etc", R / "etc" / "host")
    os.symlink("/proc/self/root" + trip, R / "pself")
    os.symlink("/proc/1/root" + trip, R / "p1")
    return world


@pytest.mark.parametrize("path, expected", [
    ("/abs/marker", MIRROR),
    ("/abs/a/marker", MIRROR),
    ("/abs/../../../../../../../../marker", None),
    ("/rel/marker", INSIDE),
    ("/rel/a/marker", INSIDE),
    ("/c1/trip/marker", INSIDE),
    ("/c1/c1/c1/c1/trip/a/marker", INSIDE),
    ("/chain/marker", INSIDE),
    ("/deep/a/b/c/marker", INSIDE),
    ("/deep/a/b/c/a/../marker", INSIDE),
    ("/../../trip/marker", INSIDE),
    ("../../trip/marker", INSIDE),
    ("/filelink", MIRROR),
    ("/filelink2", MIRROR),
    ("/deep/rellink", INSIDE),
    ("/etc/host/ld.so.conf", None),          # the mirror has no etc/
    ("/etc/host/../marker", None),           # host/ is missing in the root: ENOENT
    ("/pself/marker", None),                 # no /proc inside the root
    ("/p1/marker", None),
    ("/only-in-tripwire", None),
    ("/c1/only-in-tripwire", None),
    ("/abs/only-in-tripwire", None),
])
def test_reads_stay_inside(escapes: World, path: str, expected: Optional[bytes]) -> None:
    r = escapes.open()
    assert r.read_file(path) == expected
    assert r.exists(path) == (expected is not None)
    if expected is not None:
        st = r.stat(path)
        host = {INSIDE: escapes.inside, MIRROR: escapes.mirror}[expected]
        assert st.st_ino in (os.stat(host / "marker").st_ino, os.stat(host / "a/marker").st_ino)
        fd = r.open(path)
        try:
            assert os.read(fd, 1000) == expected
        finally:
            os.close(fd)
        canon = r.resolve(path)
        assert canon.startswith(b"/trip/") or canon.startswith(os.fsencode(escapes.trip))
    else:
        assert errno_of(lambda: r.open(path)) == errno.ENOENT


def test_listings_stay_inside(escapes: World) -> None:
    r = escapes.open()
    inside = sorted(os.listdir(escapes.inside))
    assert sorted(n.decode() for n, _ in r.listdir("/rel")) == inside
    assert sorted(n.decode() for n, _ in r.listdir("/c1/c1/trip")) == inside
    assert sorted(n.decode() for n, _ in r.listdir("/abs")) == sorted(os.listdir(escapes.mirror))
    assert sorted(n.decode() for n, _ in r.listdir("/..")) == sorted(os.listdir(escapes.root))
    with r.opendir("/c1/c1/rel") as d:
        assert d.path == b"/trip"
        assert d.open(b"marker") and d.stat(b"marker").st_size == len(INSIDE)
    with r.opendir("/abs") as d:
        assert d.path == os.fsencode(escapes.trip)
    assert r.glob("/rel/*") == sorted(b"/rel/" + os.fsencode(n) for n in inside)
    assert r.glob("/abs/*") == sorted(b"/abs/" + os.fsencode(n)
                                      for n in os.listdir(escapes.mirror))
    assert r.glob("/c1/*/only-in-tripwire") == []
    assert r.glob("/*/only-in-tripwire") == []


def test_dir_follows_links_in_root(escapes: World) -> None:
    r = escapes.open()
    with r.opendir("/") as d:
        for name, expected in ((b"filelink", MIRROR), (b"filelink2", MIRROR)):
            fd = d.open(name)
            try:
                assert os.read(fd, 1000) == expected
            finally:
                os.close(fd)
            assert d.stat(name).st_ino == os.stat(escapes.mirror / "marker").st_ino
            assert stat.S_ISLNK(d.lstat(name).st_mode)
        assert d.readlink(b"abs") == os.fsencode(escapes.trip)
        assert errno_of(lambda: d.open(b"filelink", follow=False)) == errno.ELOOP
        assert errno_of(lambda: d.open(b"pself")) == errno.ENOENT
        for bad in (b"..", b".", b"", b"c1/trip", b"x\0y"):
            assert errno_of(lambda bad=bad: d.lstat(bad)) == errno.EINVAL
            assert errno_of(lambda bad=bad: d.open(bad)) == errno.EINVAL
            assert errno_of(lambda bad=bad: d.unlink(bad)) == errno.EINVAL
            assert errno_of(lambda bad=bad: d.symlink(b"x", bad)) == errno.EINVAL
    with r.opendir("/deep") as d:
        fd = d.open(b"rellink")
        try:
            assert os.read(fd, 1000) == INSIDE
        finally:
            os.close(fd)


def test_proc_links_planted_in_the_image(world: World) -> None:
    """/proc/self/root and /proc/1/root as ordinary symlinks of the image stay inside."""
    R = world.root
    (R / "proc" / "self").mkdir(parents=True)
    (R / "proc" / "1").mkdir(parents=True)
    os.symlink("/", R / "proc" / "self" / "root")
    os.symlink("../..", R / "proc" / "1" / "root")
    os.symlink("/proc/self/root/trip", R / "x")
    os.symlink("/proc/1/root/../../trip/marker", R / "y")
    r = world.open()
    assert r.read_file("/proc/self/root/trip/marker") == INSIDE
    assert r.read_file("/x/marker") == INSIDE
    assert r.read_file("/y") == INSIDE
    assert r.resolve("/x") == b"/trip"
    assert r.read_file("/proc/self/root" + str(world.trip) + "/marker") == MIRROR


@needs_root
def test_real_proc_magic_links(world: World) -> None:
    """A real procfs mounted in the root: magic links are refused (never lead out)."""
    R = world.root
    (R / "proc").mkdir()
    os.symlink("/proc/self/root" + str(world.trip), R / "pself")
    os.symlink("/proc/1/root" + str(world.trip), R / "p1")
    done = subprocess.run(["mount", "-t", "proc", "proc", str(R / "proc")],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount proc: {done.stderr.decode().strip()}")
    try:
        r = world.open()
        for p in ["/proc/self/root" + str(world.trip) + "/marker", "/pself/marker",
                  f"/proc/self/fd/{0}", "/proc/self/root"]:
            assert errno_of(lambda p=p: r.read_file(p)) == errno.ELOOP, p
            assert errno_of(lambda p=p: r.stat(p)) == errno.ELOOP, p
        assert errno_of(lambda: r.resolve("/proc/self/root/etc")) == errno.ELOOP
        assert errno_of(lambda: r.listdir("/proc/self/root")) == errno.ELOOP
        # (RESOLVE_NO_MAGICLINKS says ELOOP; the walk refuses magic links the same way)
        assert errno_of(lambda: r.write_atomic("/pself/marker", b"x")) == errno.ELOOP
        assert errno_of(lambda: r.chmod("/pself/marker", 0o777)) == errno.ELOOP
        assert errno_of(lambda: r.symlink("x", "/pself/new")) == errno.ELOOP
        assert r.glob("/proc/self/root/*") == []
        # ordinary procfs symlinks still work, the same way in both resolvers
        assert stat.S_ISDIR(r.stat("/proc/self").st_mode)
        assert r.resolve("/proc/self") == f"/proc/{os.getpid()}".encode()
        status = r.read_file("/proc/self/status")
        assert status is not None and b"Pid:" in status
    finally:
        subprocess.run(["umount", "-l", str(R / "proc")], check=False)


@needs_root
def test_real_proc_magic_links_never_read_the_tripwire(world: World) -> None:
    R = world.root
    (R / "proc").mkdir()
    done = subprocess.run(["mount", "-t", "proc", "proc", str(R / "proc")],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount proc: {done.stderr.decode().strip()}")
    host_fd = os.open(world.trip / "marker", os.O_RDONLY)
    try:
        r = world.open()
        for p in ["/proc/self/root" + str(world.trip) + "/marker", f"/proc/self/fd/{host_fd}",
                  f"/proc/{os.getpid()}/fd/{host_fd}", "/proc/1/root" + str(world.trip)
                  + "/marker", "/proc/self/map_files"]:
            try:
                data = r.read_file(p)
            except RootError as e:
                # EACCES: /proc/1 may not be ptrace-accessible; never the tripwire anyway
                assert e.errno in (errno.ELOOP, errno.EXDEV, errno.EISDIR, errno.EACCES), (p, e)
                continue
            assert data is None or TRIP not in data, p
    finally:
        os.close(host_fd)
        subprocess.run(["umount", "-l", str(R / "proc")], check=False)


# ------------------------------------------------------------------------------------------
# FIFOs and devices: never opened, never blocking


@needs_root
def test_fifo_and_devices_are_never_opened(world: World) -> None:
    R = world.root
    etc = R / "etc"
    (etc / "ld.so.conf.d").mkdir(parents=True)
    (R / "dev").mkdir()
    os.mkfifo(etc / "ld.so.conf")
    os.mknod(etc / "ld.so.cache", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # /dev/zero
    os.mknod(R / "dev" / "zero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
    os.mknod(etc / "blk", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    os.mknod(etc / "sock", stat.S_IFSOCK | 0o600)
    os.symlink("/dev/zero", etc / "zerolink")
    os.symlink("ld.so.conf", etc / "fifolink")
    os.symlink("../ld.so.conf", etc / "ld.so.conf.d" / "x.conf")
    specials = [etc / "ld.so.conf", etc / "ld.so.cache", R / "dev" / "zero", etc / "blk"]
    watch = OpenWatch(*specials)
    try:
        # positive control: the watch does see a real (non-blocking) open
        fd = os.open(R / "dev" / "zero", os.O_RDONLY | os.O_NONBLOCK)
        os.close(fd)
        assert watch.opened()
        r = world.open()
        names = ["/etc/ld.so.conf", "/etc/ld.so.cache", "/dev/zero", "/etc/blk", "/etc/sock",
                 "/etc/zerolink", "/etc/fifolink", "/etc/ld.so.conf.d/x.conf"]
        with Alarm(10):
            for p in names:
                assert errno_of(lambda p=p: r.read_file(p)) == errno.EINVAL, p
                assert errno_of(lambda p=p: r.open(p)) == errno.EINVAL, p
                for flags in (os.O_WRONLY, os.O_RDWR | os.O_CREAT, os.O_WRONLY | os.O_TRUNC,
                              os.O_WRONLY | os.O_APPEND):
                    assert errno_of(lambda p=p, flags=flags: r.open(p, flags)) in (
                        errno.EINVAL, errno.ELOOP), p
                assert r.stat(p)  # stat is fine (O_PATH)
            with r.opendir("/etc") as d:
                for n in (b"ld.so.conf", b"ld.so.cache", b"blk", b"sock", b"zerolink",
                          b"fifolink"):
                    assert errno_of(lambda n=n: d.open(n)) == errno.EINVAL, n
                assert stat.S_ISFIFO(d.stat(b"fifolink").st_mode)
            assert r.glob("/etc/ld.so.conf.d/*.conf") == [b"/etc/ld.so.conf.d/x.conf"]
            r.chmod("/etc/ld.so.cache", 0o600) if _kernel._have_proc() else None
        assert not watch.opened(), "a FIFO or device node was opened"
    finally:
        watch.close()
    if _kernel._have_proc():
        assert stat.S_IMODE(os.lstat(etc / "ld.so.cache").st_mode) == 0o600


def test_fifo_never_blocks(world: World) -> None:
    """(Unprivileged variant: FIFOs need no root.)"""
    os.mkfifo(world.root / "fifo")
    r = world.open()
    with Alarm(5):
        assert errno_of(lambda: r.read_file("/fifo")) == errno.EINVAL
        assert errno_of(lambda: r.open("/fifo", os.O_WRONLY)) == errno.EINVAL
        with r.opendir("/") as d:
            assert errno_of(lambda: d.open(b"fifo")) == errno.EINVAL
        assert dict(r.listdir("/"))[b"fifo"] == DT_FIFO
        assert r.stat("/fifo") and not r.exists("/fifo/x")


# ------------------------------------------------------------------------------------------
# writing


def test_write_atomic_replaces_a_planted_link(world: World) -> None:
    R = world.root
    (R / "etc").mkdir()
    os.symlink(str(world.trip / "ld.so.cache"), R / "etc" / "ld.so.cache")
    os.symlink("../../trip/ld.so.cache", R / "etc" / "rel.cache")
    os.symlink("../trip/ld.so.conf", R / "etc" / "inroot.cache")
    (R / "trip" / "ld.so.conf").write_bytes(INSIDE)
    r = world.open()
    old = os.umask(0o077)
    try:
        for name in ("ld.so.cache", "rel.cache", "inroot.cache"):
            r.write_atomic("/etc/" + name, b"new cache " + name.encode(), 0o644)
            st = os.lstat(R / "etc" / name)
            assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
            assert (R / "etc" / name).read_bytes() == b"new cache " + name.encode()
    finally:
        os.umask(old)
    assert (R / "trip" / "ld.so.conf").read_bytes() == INSIDE  # the in-root target too
    assert sorted(os.listdir(R / "etc")) == ["inroot.cache", "ld.so.cache", "rel.cache"]
    r.write_atomic("/etc/ld.so.cache", b"again", 0o600)
    assert (R / "etc" / "ld.so.cache").read_bytes() == b"again"
    assert stat.S_IMODE(os.stat(R / "etc" / "ld.so.cache").st_mode) == 0o600


def test_write_atomic_failures_leave_nothing(world: World, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    R = world.root
    (R / "etc" / "dir.cache").mkdir(parents=True)
    (R / "etc" / "dir.cache" / "x").write_bytes(b"x")
    (R / "etc" / "ld.so.cache").write_bytes(b"old")
    r = world.open()
    assert errno_of(lambda: r.write_atomic("/etc/dir.cache", b"new")) in (errno.EISDIR,
                                                                         errno.ENOTEMPTY)
    assert sorted(os.listdir(R / "etc")) == ["dir.cache", "ld.so.cache"]

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(_os, "fsync", failing_fsync)  # (the module inroot calls)
    assert errno_of(lambda: r.write_atomic("/etc/ld.so.cache", b"new")) == errno.EIO
    monkeypatch.undo()
    assert (R / "etc" / "ld.so.cache").read_bytes() == b"old"
    assert sorted(os.listdir(R / "etc")) == ["dir.cache", "ld.so.cache"]

    def interrupted(fd: int, data: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_os, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        r.write_atomic("/etc/ld.so.cache", b"new")
    monkeypatch.undo()
    assert (R / "etc" / "ld.so.cache").read_bytes() == b"old"
    assert sorted(os.listdir(R / "etc")) == ["dir.cache", "ld.so.cache"]
    assert errno_of(lambda: r.write_atomic("/nodir/x", b"")) == errno.ENOENT
    assert errno_of(lambda: r.write_atomic("/etc/ld.so.cache/x", b"")) == errno.ENOTDIR
    assert errno_of(lambda: r.write_atomic("/", b"")) == errno.EINVAL
    assert errno_of(lambda: r.write_atomic("/etc/..", b"")) == errno.EINVAL


def test_remove_stale_temps(world: World) -> None:
    R = world.root
    (R / "etc").mkdir()
    (R / "etc" / "ld.so.cache").write_bytes(b"cache")
    leftovers = [".ld.so.cache.ldcache-abc123", ".ld.so.cache.ldcache-ZZZZZZ"]
    keep = [".ld.so.cache.ldcache-abc12", ".ld.so.cache.ldcache-abc1234", ".other.ldcache-abc123",
            "ld.so.cache.ldcache-abc123", ".ld.so.cache.ldcache-abc!23"]
    for n in leftovers + keep:
        (R / "etc" / n).write_bytes(b"junk")
    (R / "etc" / ".ld.so.cache.ldcache-dir123").mkdir()
    os.symlink(str(world.trip / "marker"), R / "etc" / ".ld.so.cache.ldcache-lnk123")
    r = world.open()
    assert r.remove_stale_temps("/etc/ld.so.cache") == 3
    assert sorted(os.listdir(R / "etc")) == sorted(
        keep + ["ld.so.cache", ".ld.so.cache.ldcache-dir123"])
    assert r.remove_stale_temps("/etc/ld.so.cache") == 0
    # a long name: the temporary name is truncated, and cleaned up by the same rule
    long = "l" * 250
    r.write_atomic("/etc/" + long, b"x")
    prefix = "." + long[:239] + ".ldcache-"
    (R / "etc" / (prefix + "q1w2e3")).write_bytes(b"junk")
    assert r.remove_stale_temps("/etc/" + long) == 1
    assert (R / "etc" / long).read_bytes() == b"x"


@pytest.fixture
def parents(world: World) -> World:
    """Parent directories that are links out of the root."""
    R = world.root
    os.symlink(str(world.trip), R / "outabs")        # -> the mirror, in the root
    os.symlink("../../trip", R / "outrel")            # -> ROOT/trip, the decoy
    os.symlink(str(world.trip) + "/etc", R / "outgone")  # -> missing in the root
    return world


PARENT_CASES = [("/outabs", "mirror"), ("/outrel", "inside"), ("/outgone", None)]


@pytest.mark.parametrize("parent, lands", PARENT_CASES)
def test_modifications_through_parent_links(parents: World, parent: str, lands: Optional[str]
                                            ) -> None:
    r = parents.open()
    where = {"mirror": parents.mirror, "inside": parents.inside, None: None}[lands]
    ops: list[tuple[str, Callable[[], None], Callable[[Path], bool]]] = [
        ("symlink", lambda: r.symlink(b"target", parent + "/newlink"),
         lambda w: os.readlink(w / "newlink") == "target"),
        ("mkdir", lambda: r.mkdir(parent + "/newdir", 0o700),
         lambda w: (w / "newdir").is_dir()),
        ("makedirs", lambda: r.makedirs(parent + "/x/y/z"),
         lambda w: (w / "x" / "y" / "z").is_dir()),
        ("chmod", lambda: r.chmod(parent + "/marker", 0o600),
         lambda w: stat.S_IMODE(os.stat(w / "marker").st_mode) == 0o600),
        ("chmod-follow", lambda: r.chmod(parent + "/a/marker", 0o604, follow=True),
         lambda w: stat.S_IMODE(os.stat(w / "a" / "marker").st_mode) == 0o604),
        ("write_atomic", lambda: r.write_atomic(parent + "/new.cache", b"data"),
         lambda w: (w / "new.cache").read_bytes() == b"data"),
        ("open-create", lambda: os.close(r.open(parent + "/created", os.O_WRONLY | os.O_CREAT)),
         lambda w: (w / "created").is_file()),
        ("open-trunc", lambda: os.close(r.open(parent + "/a/marker", os.O_WRONLY | os.O_TRUNC)),
         lambda w: (w / "a" / "marker").read_bytes() == b""),
        ("rename", lambda: r.rename(parent + "/marker", parent + "/renamed"),
         lambda w: (w / "renamed").is_file() and not (w / "marker").exists()),
        ("unlink", lambda: r.unlink(parent + "/renamed"),
         lambda w: not (w / "renamed").exists()),
        ("rename-in", lambda: r.rename("/outabs/a", parent + "/moved"),
         lambda w: (w / "moved").is_dir()),
    ]
    for name, op, effect in ops:
        if where is None:
            assert errno_of(op) == errno.ENOENT, name
        else:
            if name == "rename-in" and lands == "mirror":
                continue
            op()
            assert effect(where), name


def test_final_component_never_followed_for_writes(parents: World) -> None:
    R = parents.root
    (R / "etc").mkdir()
    (R / "etc" / "real").write_bytes(b"real")
    os.symlink(str(parents.trip / "ld.so.conf"), R / "etc" / "hostlink")
    os.symlink("real", R / "etc" / "inlink")
    os.symlink(str(parents.trip / "etc"), R / "etc" / "hostdir")
    r = parents.open()
    for link in ("/etc/hostlink", "/etc/inlink"):
        for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_TRUNC, os.O_WRONLY | os.O_CREAT,
                      os.O_WRONLY | os.O_APPEND, os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
            assert errno_of(lambda link=link, flags=flags: r.open(link, flags)) == errno.ELOOP, \
                (link, flags)
        assert errno_of(lambda link=link: r.open(link, os.O_WRONLY | os.O_CREAT | os.O_EXCL)) == \
            errno.EEXIST
        assert errno_of(lambda link=link: r.chmod(link, 0o777)) == errno.ELOOP
        assert errno_of(lambda link=link: r.symlink("x", link)) == errno.EEXIST
        assert errno_of(lambda link=link: r.mkdir(link)) == errno.EEXIST
    assert (R / "etc" / "real").read_bytes() == b"real"
    r.chmod("/etc/inlink", 0o640, follow=True)
    assert stat.S_IMODE(os.stat(R / "etc" / "real").st_mode) == 0o640
    # an absolute link to a host file is followed in the root (to the mirror), never out
    os.symlink(str(parents.trip / "marker"), R / "etc" / "hostmarker")
    r.chmod("/etc/hostmarker", 0o606, follow=True)
    assert stat.S_IMODE(os.stat(parents.mirror / "marker").st_mode) == 0o606
    assert errno_of(lambda: r.open("/etc/hostmarker", os.O_WRONLY)) == errno.ELOOP
    assert r.read_file("/etc/hostmarker") == MIRROR
    assert errno_of(lambda: r.chmod("/etc/hostlink", 0o777, follow=True)) == errno.ENOENT
    assert errno_of(lambda: r.mkdir("/etc/hostdir", exist_ok=True)) == errno.EEXIST
    r.mkdir("/outrel", exist_ok=True)  # a link to an in-root directory is fine
    # writing (create) a new file and then writing it again
    fd = r.open("/etc/new", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"hello")
    os.close(fd)
    fd = r.open("/etc/new", os.O_RDWR | os.O_TRUNC)
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    os.close(fd)
    assert (R / "etc" / "new").read_bytes() == b""
    assert errno_of(lambda: r.open("/etc", os.O_WRONLY)) == errno.EISDIR
    # unlink and rename act on the links themselves
    r.unlink("/etc/hostlink")
    assert not os.path.lexists(R / "etc" / "hostlink")
    r.rename("/etc/new", "/etc/inlink")
    assert not os.path.islink(R / "etc" / "inlink")
    assert (R / "etc" / "real").read_bytes() == b"real"
    r.symlink("/etc/real", "/etc/dst")
    r.rename("/etc/dst", "/etc/hostdir")
    assert os.readlink(R / "etc" / "hostdir") == "/etc/real"
    assert errno_of(lambda: r.unlink("/etc")) in (errno.EISDIR, errno.EPERM)
    assert errno_of(lambda: r.unlink("/")) == errno.EINVAL
    assert errno_of(lambda: r.rename("/etc/..", "/x")) == errno.EINVAL


def test_mkdir_makedirs(world: World) -> None:
    R = world.root
    (R / "usr" / "lib").mkdir(parents=True)
    os.symlink("usr/lib", R / "lib")
    os.symlink("/usr", R / "absusr")
    (R / "file").write_bytes(b"")
    r = world.open()
    r.makedirs("/lib/x86_64-linux-gnu/gconv")
    assert (R / "usr" / "lib" / "x86_64-linux-gnu" / "gconv").is_dir()
    r.makedirs("/absusr/share//doc/./x/../y")
    assert (R / "usr" / "share" / "doc" / "y").is_dir()
    r.makedirs("/lib/x86_64-linux-gnu/gconv")  # all there: fine
    r.makedirs("rel/dir")
    assert (R / "rel" / "dir").is_dir()
    r.mkdir("/m", 0o700)
    assert stat.S_IMODE(os.stat(R / "m").st_mode) == 0o700 & ~_umask()
    assert errno_of(lambda: r.mkdir("/m")) == errno.EEXIST
    r.mkdir("/m", exist_ok=True)
    r.mkdir("/", exist_ok=True)
    assert errno_of(lambda: r.mkdir("/")) == errno.EEXIST
    assert errno_of(lambda: r.mkdir("/file", exist_ok=True)) == errno.EEXIST
    assert errno_of(lambda: r.makedirs("/file/x")) == errno.ENOTDIR
    assert errno_of(lambda: r.mkdir("/no/such")) == errno.ENOENT


def _umask() -> int:
    old = os.umask(0)
    os.umask(old)
    return old


def test_chmod(world: World) -> None:
    R = world.root
    (R / "d").mkdir()
    (R / "d" / "f").write_bytes(b"")
    os.symlink("f", R / "d" / "l")
    r = world.open()
    r.chmod("/d", 0o711)
    r.chmod("/d/f", 0o4755)
    assert stat.S_IMODE(os.stat(R / "d").st_mode) == 0o711
    assert stat.S_IMODE(os.stat(R / "d" / "f").st_mode) == 0o4755
    assert errno_of(lambda: r.chmod("/d/l", 0o600)) == errno.ELOOP
    r.chmod("/d/l", 0o600, follow=True)
    assert stat.S_IMODE(os.stat(R / "d" / "f").st_mode) == 0o600
    assert errno_of(lambda: r.chmod("/d/missing", 0o600)) == errno.ENOENT


# ------------------------------------------------------------------------------------------
# names


ODD = [b"lib\xff\xfe.so.1", b"new\nline.conf", b"caf\xc3\xa9.conf", b" lead space", b"-dash",
       b"tab\there", b"back\\slash", b"\x01ctl"]


def test_odd_names(world: World) -> None:
    R = os.fsencode(world.root)
    os.mkdir(R + b"/d")
    for i, n in enumerate(ODD):
        with open(R + b"/d/" + n, "wb") as f:
            f.write(b"%d" % i)
    os.symlink(b"lib\xff\xfe.so.1", R + b"/d/link\xff")
    os.symlink(b"/d/new\nline.conf", R + b"/d/abs\nlink")
    r = world.open()
    listing = r.listdir(b"/d")
    assert [n for n, _ in listing] == os.listdir(R + b"/d")  # raw order, exact bytes
    assert dict(listing)[b"link\xff"] == DT_LNK
    for i, n in enumerate(ODD):
        assert r.read_file(b"/d/" + n) == b"%d" % i
        assert r.read_file(os.fsdecode(b"/d/" + n)) == b"%d" % i
        assert r.resolve(b"/d/" + n) == b"/d/" + n
    assert r.read_file(b"/d/link\xff") == b"0"
    assert r.read_file(b"/d/abs\nlink") == b"1"
    assert r.readlink(b"/d/link\xff") == b"lib\xff\xfe.so.1"
    assert r.readlink(os.fsdecode(b"/d/link\xff")) == b"lib\xff\xfe.so.1"
    assert r.resolve(b"/d/abs\nlink") == b"/d/new\nline.conf"
    assert r.glob(b"/d/*.conf") == [b"/d/caf\xc3\xa9.conf", b"/d/new\nline.conf"]
    assert r.glob("/d/*.conf") == [b"/d/caf\xc3\xa9.conf", b"/d/new\nline.conf"]
    assert r.glob(b"/d/lib\xff*") == [b"/d/lib\xff\xfe.so.1"]
    r.symlink(b"t\xff\nx", b"/d/new\xfe")
    assert os.readlink(R + b"/d/new\xfe") == b"t\xff\nx"
    r.write_atomic(b"/d/w\xff\nrite", b"w")
    assert open(R + b"/d/w\xff\nrite", "rb").read() == b"w"
    with r.opendir(b"/d") as d:
        assert d.entries() == r.listdir(b"/d")
        assert d.readlink(b"new\xfe") == b"t\xff\nx"
        fd = d.open(b"new\nline.conf")
        os.close(fd)
    r.unlink(b"/d/new\xfe")
    assert not os.path.lexists(R + b"/d/new\xfe")


# ------------------------------------------------------------------------------------------
# listdir / Dir


@needs_root
def test_listdir_types(world: World) -> None:
    R = world.root
    d = R / "d"
    d.mkdir()
    (d / "reg").write_bytes(b"")
    (d / "dir").mkdir()
    os.symlink("reg", d / "lnk")
    os.mkfifo(d / "fifo")
    os.mknod(d / "chr", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.mknod(d / "blk", stat.S_IFBLK | 0o600, os.makedev(7, 0))
    sock = socket.socket(socket.AF_UNIX)
    try:
        os.chdir(d)
        sock.bind("sock")
    finally:
        os.chdir("/")
        sock.close()
    r = world.open()
    types = dict(r.listdir("/d"))
    assert types == {b"reg": DT_REG, b"dir": DT_DIR, b"lnk": DT_LNK, b"fifo": DT_FIFO,
                     b"chr": DT_CHR, b"blk": DT_BLK, b"sock": DT_SOCK}
    assert [n for n, _ in r.listdir("/d")] == os.listdir(os.fsencode(d))


def test_dir_handle(world: World) -> None:
    R = world.root
    (R / "real" / "sub").mkdir(parents=True)
    os.symlink("/real/sub", R / "dirlink")
    sub = R / "real" / "sub"
    names = [f"lib{i}.so.{i}" for i in range(200)]
    for n in names:
        (sub / n).write_bytes(n.encode())
    os.symlink("lib1.so.1", sub / "lib1.so")
    os.symlink("../../real/sub/lib2.so.2", sub / "lib2.so")
    os.symlink("/real/sub/lib3.so.3", sub / "lib3.so")
    os.symlink("../../../../../../real/sub/lib4.so.4", sub / "lib4.so")
    os.symlink("nowhere", sub / "dangling.so")
    (sub / "subdir").mkdir()
    r = world.open()
    with r.opendir("/dirlink") as d:
        assert isinstance(d, Dir) and d.path == b"/real/sub"
        assert [n for n, _ in d.entries()] == os.listdir(os.fsencode(sub))
        assert d.entries() == d.entries()  # repeatable
        for i in range(1, 5):
            fd = d.open(b"lib%d.so" % i)
            try:
                assert os.read(fd, 100) == b"lib%d.so.%d" % (i, i)
                assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
            finally:
                os.close(fd)
            assert d.stat(b"lib%d.so" % i).st_ino == os.stat(sub / f"lib{i}.so.{i}").st_ino
            assert stat.S_ISLNK(d.lstat(b"lib%d.so" % i).st_mode)
        assert errno_of(lambda: d.open(b"dangling.so")) == errno.ENOENT
        assert errno_of(lambda: d.stat(b"dangling.so")) == errno.ENOENT
        assert errno_of(lambda: d.open(b"subdir")) == errno.EISDIR
        assert errno_of(lambda: d.lstat(b"missing")) == errno.ENOENT
        d.symlink(b"lib5.so.5", b"lib5.so")
        assert d.readlink(b"lib5.so") == b"lib5.so.5"
        assert errno_of(lambda: d.symlink(b"x", b"lib5.so")) == errno.EEXIST
        d.unlink(b"lib5.so")
        assert not os.path.lexists(sub / "lib5.so")
        assert errno_of(lambda: d.unlink(b"lib5.so")) == errno.ENOENT
        assert errno_of(lambda: d.readlink(b"lib5.so.5")) == errno.EINVAL
    assert errno_of(lambda: d.lstat(b"lib1.so")) == errno.EBADF
    with r.opendir("/") as top:
        assert top.path == b"/"
        assert errno_of(lambda: top.lstat(b"..")) == errno.EINVAL
    assert errno_of(lambda: r.opendir("/real/sub/lib1.so.1")) == errno.ENOTDIR
    assert errno_of(lambda: r.listdir("/real/sub/lib1.so.1")) == errno.ENOTDIR
    assert errno_of(lambda: r.listdir("/nope")) == errno.ENOENT


def test_dir_handle_follows_links_in_root(world: World) -> None:
    """Dir.handle follows a symlink where the kernel would, inside the root: a sibling
    link from the directory's fd (its text on the handle), anything else from the root."""
    R = world.root
    sub = R / "usr" / "lib"
    sub.mkdir(parents=True)
    (sub / "libz.so.1.2").write_bytes(b"z")
    (sub / "d").mkdir()
    os.mkfifo(sub / "fifo")
    links = {"libz.so.1": "libz.so.1.2",          # a sibling
             "chain.so": "libz.so.1",             # a sibling that is a link itself
             "up.so": "../lib/libz.so.1.2",       # through the parent
             "abs.so": "/usr/lib/libz.so.1.2",    # absolute: the root's, not the host's
             "out.so": "../../../../trip/marker",  # clamped at the root
             "host.so": str(world.trip / "marker"),
             "dangling.so": "libnone.so.1",
             "dir.so": "d", "fifo.so": "fifo", "dot.so": ".", "self.so": "self.so"}
    for name, text in links.items():
        os.symlink(text, sub / name)
    real = os.stat(sub / "libz.so.1.2")
    r = world.open()
    with r.opendir("/usr/lib") as d:
        for name in ("libz.so.1", "chain.so", "up.so", "abs.so"):
            for link in (True, None):
                with d.handle(name.encode(), link=link) as h:
                    assert h.is_link and h.path == b"/usr/lib/" + name.encode()
                    assert (h.st.st_dev, h.st.st_ino) == (real.st_dev, real.st_ino)
                    assert h.target == (b"libz.so.1.2" if name == "libz.so.1" else None)
                    fd = h.open()
                    try:
                        assert os.read(fd, 10) == b"z"
                    finally:
                        os.close(fd)
        for name, text in (("out.so", INSIDE), ("host.so", MIRROR)):
            with d.handle(name.encode(), link=True) as h:
                fd = h.open()
                try:
                    assert os.read(fd, 100) == text
                finally:
                    os.close(fd)
        with d.handle(b"libz.so.1.2", link=None) as h:
            assert not h.is_link and h.target is None
        with d.handle(b"dir.so", link=True) as h:
            assert stat.S_ISDIR(h.st.st_mode) and h.target == b"d"
            assert errno_of(h.open) == errno.EISDIR
        with d.handle(b"fifo.so", link=True) as h:  # never opened for reading
            assert stat.S_ISFIFO(h.st.st_mode)
            assert errno_of(h.open) == errno.EINVAL
        with d.handle(b"dot.so", link=True) as h:
            assert h.target is None and stat.S_ISDIR(h.st.st_mode)
        assert errno_of(lambda: d.handle(b"dangling.so", link=True)) == errno.ENOENT
        assert errno_of(lambda: d.handle(b"self.so", link=True)) == errno.ELOOP
        # d_type said "link", but it is a file by now: resolved as what it is.
        os.unlink(sub / "libz.so.1")
        os.link(sub / "libz.so.1.2", sub / "libz.so.1")
        with d.handle(b"libz.so.1", link=True) as h:
            assert h.target is None and h.st.st_ino == real.st_ino


# ------------------------------------------------------------------------------------------
# glob


class _GlobT(ctypes.Structure):
    _fields_ = [("gl_pathc", ctypes.c_size_t), ("gl_pathv", ctypes.POINTER(ctypes.c_char_p)),
                ("gl_offs", ctypes.c_size_t), ("gl_flags", ctypes.c_int),
                ("gl_funcs", ctypes.c_void_p * 8)]


def glibc_glob(pattern: bytes) -> list[bytes]:
    """The oracle: glibc's own glob(3), flags 0, in the C locale (LC_CTYPE too: in a UTF-8
    locale glibc's fnmatch lets ``?`` match a multibyte character; ldcache is bytewise)."""
    g = _GlobT()
    old = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        rc = _libc.glob(pattern, 0, None, ctypes.byref(g))
    finally:
        locale.setlocale(locale.LC_CTYPE, old)
    try:
        if rc == 3:  # GLOB_NOMATCH
            return []
        assert rc == 0, rc
        return [g.gl_pathv[i] for i in range(g.gl_pathc)]
    finally:
        _libc.globfree(ctypes.byref(g))


def glob_escape(p: bytes) -> bytes:
    return b"".join(b"\\" + bytes([c]) if c in b"*?[]\\" else bytes([c]) for c in p)


@pytest.fixture
def glob_tree(world: World) -> Path:
    R = world.root
    confd = R / "etc" / "ld.so.conf.d"
    confd.mkdir(parents=True)
    for n in ["A.conf", "a.conf", "b.conf", ".hidden.conf", "x.txt", "sp ace.conf", "[x].conf",
              "star*.conf", "q?.conf", "back\\slash.conf", "1.conf", "-.conf", "].conf",
              "!.conf", "^.conf", "Z.CONF"]:
        (confd / n).write_bytes(n.encode())
    for n in [b"new\nline.conf", b"\xff.conf", b"\xc3\xa9.conf"]:
        with open(os.fsencode(confd) + b"/" + n, "wb"):
            pass
    os.symlink("missing", confd / "dangle.conf")
    (confd / "dir.conf").mkdir()
    (R / "etc" / "ld.so.conf").write_bytes(b"")
    (R / "opt" / "conf.d").mkdir(parents=True)
    (R / "opt" / "conf.d" / "z.conf").write_bytes(b"")
    os.symlink("../opt/conf.d", R / "etc" / "linked.d")
    for d in ("e1", "e2", "ex"):
        (R / d).mkdir()
        (R / d / "x.conf").write_bytes(b"")
    (R / "efile").write_bytes(b"")
    os.symlink("e1", R / "elink")
    os.symlink("efile", R / "efilelink")
    (R / "usr" / "lib" / "x86_64-linux-gnu").mkdir(parents=True)
    (R / "usr" / "lib" / "x86_64-linux-gnu" / "libc.so.6").write_bytes(b"")
    os.symlink("usr/lib", R / "lib")
    return R


GLOB_PATTERNS = [
    "/etc/ld.so.conf.d/*.conf", "/etc/ld.so.conf.d/*", "/etc/ld.so.conf.d/.*",
    "/etc/ld.so.conf.d/?.conf", "/etc/ld.so.conf.d/[ab].conf", "/etc/ld.so.conf.d/[!a]*",
    "/etc/ld.so.conf.d/[^a]*", "/etc/ld.so.conf.d/[[:upper:]]*",
    "/etc/ld.so.conf.d/[[:alpha:][:digit:]].conf", "/etc/ld.so.conf.d/[[:punct:]]*",
    "/etc/ld.so.conf.d/[[:space:]]*", "/etc/ld.so.conf.d/*[[:space:]]*",
    "/etc/ld.so.conf.d/\\[x\\].conf", "/etc/ld.so.conf.d/[[]x].conf",
    "/etc/ld.so.conf.d/star\\*.conf", "/etc/ld.so.conf.d/q\\?.conf", "/etc/ld.so.conf.d/[a-c]*",
    "/etc/ld.so.conf.d/[]a]*", "/etc/ld.so.conf.d/[!]a]*", "/etc/ld.so.conf.d/[*",
    "/etc/ld.so.conf.d/*[", "/etc/ld.so.conf.d/[x", "/etc/ld.so.conf.d/]*",
    "/etc/ld.so.conf.d/[a-]*", "/etc/ld.so.conf.d/[z-a]*", "/etc/ld.so.conf.d/[.]*",
    "/etc/ld.so.conf.d/[[:nope:]]*", "/etc/ld.so.conf.d/*e*", "/etc/ld.so.conf.d/*\\",
    "/etc/ld.so.conf.d/back\\\\slash.conf", "/etc/ld.so.conf.d/\\a.conf",
    "/etc/ld.so.conf.d/[\\]]*", "/etc/ld.so.conf.d/[[=a=]]*", "/etc/ld.so.conf.d/[[.a.]]*",
    "/etc/ld.so.conf.d/[!!^]*", "/etc/ld.so.conf.d/\\!.conf",
    "/etc/ld.so.conf.d/a.conf", "/etc/ld.so.conf.d/dangle.conf", "/etc/ld.so.conf.d/nothere",
    "/etc/ld.so.conf.d/*.conf/", "/etc/ld.so.conf.d/dir.conf/", "/etc/*/", "/*/",
    "/etc/*/*.conf", "/e*/*.conf", "/e?/x.conf", "/*/ld.so.conf.d/A.conf", "/elink/*",
    "/efilelink/*", "/e*/", "/etc/ld.so.conf", "/etc/nonexistent", "/nonexistent/*",
    "/etc//ld.so.conf.d/*.conf", "/etc/./ld.so.conf.d/a*", "/etc/../etc/ld.so.conf.d/b*",
    "//etc/ld.so.conf.d/b*", "/etc/linked.d/*", "/lib/*/*.so*", "/*", "/", "/.*",
    "/e\\1/x.conf", "/e[1]/x.conf", "/*/*/*", "/[el]*/*",
]


@pytest.mark.parametrize("pattern", GLOB_PATTERNS)
def test_glob_matches_glibc(glob_tree: Path, world: World, pattern: str) -> None:
    R = os.fsencode(glob_tree)
    r = world.open()
    expected = [p[len(R):] for p in glibc_glob(glob_escape(R) + os.fsencode(pattern))]
    assert r.glob(pattern) == expected


@pytest.mark.parametrize("pattern", ["etc/ld.so.conf.d/*.conf", "*", "e*/x.conf",
                                     "etc/ld.so.conf.d/[ab]*", "etc/ld.so.conf", ".*"])
def test_glob_relative_matches_glibc(glob_tree: Path, world: World, pattern: str) -> None:
    r = world.open()
    cwd = os.getcwd()
    os.chdir(glob_tree)
    try:
        expected = glibc_glob(os.fsencode(pattern))
    finally:
        os.chdir(cwd)
    assert r.glob(pattern) == expected


def test_glob_order_and_links(glob_tree: Path, world: World) -> None:
    R = glob_tree
    os.symlink("/opt/conf.d", R / "etc" / "abs.d")               # absolute, in-root
    os.symlink(str(world.trip / "etc" / "ld.so.conf.d"), R / "etc" / "host.d")
    r = world.open()
    got = r.glob("/etc/ld.so.conf.d/*.conf")
    assert got.index(b"/etc/ld.so.conf.d/A.conf") < got.index(b"/etc/ld.so.conf.d/a.conf") \
        < got.index(b"/etc/ld.so.conf.d/b.conf")
    assert b"/etc/ld.so.conf.d/.hidden.conf" not in got
    assert got == sorted(got)
    assert got[-1] == b"/etc/ld.so.conf.d/\xff.conf"
    assert r.glob("/etc/abs.d/*.conf") == [b"/etc/abs.d/z.conf"]
    assert r.glob("/etc/*.d/z.conf") == [b"/etc/abs.d/z.conf", b"/etc/linked.d/z.conf"]
    assert r.glob("/etc/host.d/*") == []
    assert r.glob("/etc/host.d/evil.conf") == []
    assert r.glob("/etc/*/evil.conf") == []


def test_glob_through_escaping_dir_link(escapes: World) -> None:
    r = escapes.open()
    # /c1/c1/c1 is the root itself: every in-root directory with a marker, nothing else
    assert r.glob("/c1/c1/c1/*/marker") == [b"/c1/c1/c1/abs/marker", b"/c1/c1/c1/chain/marker",
                                            b"/c1/c1/c1/rel/marker", b"/c1/c1/c1/trip/marker"]
    assert r.glob("/rel/*") == [b"/rel/a", b"/rel/marker"]
    assert r.glob("/etc/host/*") == []


# ------------------------------------------------------------------------------------------
# a racing attacker


def _exchange(a: bytes, b: bytes) -> bool:
    """renameat2(RENAME_EXCHANGE); False if the kernel or fs cannot."""
    rc = _libc.renameat2(-100, a, -100, b, 2)
    return rc == 0


def test_racing_swaps(world: World) -> None:
    """A thread keeps swapping ROOT/a/b (a directory) with links out of the root while every
    operation runs in a loop: none may ever touch the tripwire."""
    R = os.fsencode(world.root)
    trip = os.fsencode(world.trip)
    os.makedirs(R + b"/a/b")
    with open(R + b"/a/b/marker", "wb") as f:
        f.write(b"B")
    os.symlink(trip, R + b"/a/evil_abs")
    os.symlink(b"../../trip", R + b"/a/evil_rel")          # naive: ROOT/../trip = tripwire
    os.symlink(b"../../trip/a", R + b"/a/evil_sub")
    os.symlink(b"/proc/self/root" + trip, R + b"/a/evil_proc")
    evils = [R + b"/a/evil_abs", R + b"/a/evil_rel", R + b"/a/evil_sub", R + b"/a/evil_proc"]
    if not _exchange(R + b"/a/b", evils[0]) or not _exchange(R + b"/a/b", evils[0]):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available")
    stop = threading.Event()
    swaps = [0]

    def racer() -> None:
        i = 0
        while not stop.is_set():
            e = evils[i % len(evils)]
            _exchange(R + b"/a/b", e)
            _exchange(R + b"/a/b", e)
            swaps[0] += 2
            i += 1

    r = world.open()
    allowed = {None, b"B", INSIDE, MIRROR}
    ok = {"read": 0, "write": 0, "chmod": 0, "dir": 0}
    t = threading.Thread(target=racer, daemon=True)
    t.start()
    deadline = time.monotonic() + 1.5
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            for p in ("/a/b/marker", "/a/b/../b/marker", "/a/b/a/marker", "a/b/marker"):
                try:
                    data = r.read_file(p)
                    assert data in allowed, data
                    ok["read"] += data is not None
                except RootError:
                    pass
            for op in (lambda: r.stat("/a/b/marker"), lambda: r.listdir("/a/b"),
                       lambda: r.resolve("/a/b/marker"), lambda: r.glob("/a/b/*"),
                       lambda: r.symlink("x", "/a/b/lnk"), lambda: r.unlink("/a/b/lnk"),
                       lambda: r.mkdir("/a/b/newdir", exist_ok=True),
                       lambda: r.makedirs("/a/b/x/y"),
                       lambda: r.rename("/a/b/only-in-tripwire", "/a/b/stolen")):
                try:
                    res = op()
                    if isinstance(res, list):
                        assert all(b"only-in-tripwire" not in (x[0] if isinstance(x, tuple)
                                                               else x) for x in res)
                except RootError:
                    pass
            try:
                r.write_atomic("/a/b/out", b"written")
                ok["write"] += 1
            except RootError:
                pass
            try:
                r.chmod("/a/b/marker", 0o600 if n % 2 else 0o644)
                ok["chmod"] += 1
            except RootError:
                pass
            try:
                with r.opendir("/a/b") as d:
                    fd = d.open(b"marker")
                    try:
                        assert os.read(fd, 100) in allowed
                    finally:
                        os.close(fd)
                    d.stat(b"marker")
                    ok["dir"] += 1
            except RootError:
                pass
            try:
                fd = r.open("/a/b/marker", os.O_WRONLY | os.O_APPEND)
                os.close(fd)
            except RootError:
                pass
    finally:
        stop.set()
        t.join()
    assert swaps[0] > 100, "the racer did not run"
    assert all(v > 0 for v in ok.values()), ok
    world.check()
    print(f"\n[{world.mode}] racing: {n} rounds, {swaps[0]} swaps, successes {ok}")


# ------------------------------------------------------------------------------------------
# Root("/")


def test_root_slash(mode: str, tmp_path: Path) -> None:
    use = {"openat2": True, "walk": False, "noproc": None}[mode]
    with Root("/", use_openat2=use) as r:
        assert r.path == b"/"
        assert r.host_path("/etc/x") == b"/etc/x"
        assert r.host_path("etc/x") == b"/etc/x"
        assert r.resolve("/") == b"/"
        assert r.resolve("/../..") == b"/"
        assert r.stat("/etc").st_ino == os.stat("/etc").st_ino
        with open("/etc/passwd", "rb") as f:
            assert r.read_file("/etc/passwd") == f.read()
        assert [n for n, _ in r.listdir("/")] == os.listdir(b"/")
        os.symlink("/etc", tmp_path / "etclink")
        os.symlink("../../../../../../../../../etc", tmp_path / "uplink")
        t = os.fsencode(tmp_path)
        assert r.resolve(t + b"/etclink") == b"/etc"
        assert r.resolve(t + b"/uplink/passwd") == b"/etc/passwd"
        assert r.resolve(t + b"/uplink/nothere") == b"/etc/nothere"
        assert r.resolve(t + b"/etclink", follow=False) == os.fsencode(
            os.path.realpath(tmp_path)) + b"/etclink"
        assert r.glob("/etc/*.conf") == glibc_glob(b"/etc/*.conf")
        assert r.glob("/etc/pass*") == glibc_glob(b"/etc/pass*")
        r.write_atomic(t + b"/f", b"hello")
        assert (tmp_path / "f").read_bytes() == b"hello"
        assert r.remove_stale_temps(t + b"/f") == 0
        assert r.stat("/proc/self").st_ino == os.stat("/proc/self").st_ino
        with r.opendir(t) as d:
            assert d.path == os.fsencode(os.path.realpath(tmp_path))


# ------------------------------------------------------------------------------------------
# speed


def test_speed(world: World) -> None:
    """Per-call cost of what the scanner does on thousands of files (reported, loosely bound)."""
    R = world.root
    (R / "lib").mkdir()
    for i in range(50):
        (R / "lib" / f"libx{i}.so.1").write_bytes(b"\x7fELF")
        os.symlink(f"libx{i}.so.1", R / "lib" / f"libx{i}.so")
    r = world.open()
    results: dict[str, float] = {}

    def bench(name: str, fn: Callable[[int], Any], n: int = 2000) -> None:
        t0 = time.perf_counter()
        for i in range(n):
            fn(i % 50)
        results[name] = (time.perf_counter() - t0) / n * 1e6

    def closing(fd: int) -> None:
        os.close(fd)

    with r.opendir("/lib") as d:
        plain = [b"libx%d.so.1" % i for i in range(50)]
        links = [b"libx%d.so" % i for i in range(50)]
        bench("Dir.lstat", lambda i: d.lstat(plain[i]))
        bench("Dir.stat(link)", lambda i: d.stat(links[i]))
        bench("Dir.open(file)", lambda i: closing(d.open(plain[i])))
        bench("Dir.open(link)", lambda i: closing(d.open(links[i])))
        bench("Dir.entries(100)", lambda i: d.entries(), 200)
    bench("Root.stat(file)", lambda i: r.stat(b"/lib/libx%d.so.1" % i))
    bench("Root.stat(link)", lambda i: r.stat(b"/lib/libx%d.so" % i))
    bench("Root.open(file)", lambda i: closing(r.open(b"/lib/libx%d.so.1" % i)))
    bench("Root.read_file", lambda i: r.read_file(b"/lib/libx%d.so.1" % i))
    bench("Root.resolve(link)", lambda i: r.resolve(b"/lib/libx%d.so" % i))
    bench("os.stat (baseline)", lambda i: os.stat(b"%s/lib/libx%d.so.1" % (
        os.fsencode(R), i), follow_symlinks=False))
    print(f"\n[{world.mode}] " + ", ".join(f"{k} {v:.1f}us" for k, v in results.items()))
    assert results["Dir.lstat"] < 200 and results["Dir.open(file)"] < 500


def test_write_atomic_without_replacing(world: World) -> None:
    """replace=False creates the file whole, or leaves whatever is there (even a link)."""
    R = world.root
    (R / "etc").mkdir()
    os.symlink(str(world.trip / "ld.so.conf"), R / "etc" / "planted.conf")
    (R / "etc" / "image.conf").write_bytes(b"the image's own")
    r = world.open()
    r.write_atomic("/etc/new.conf", b"include x\n", 0o644, replace=False)
    assert (R / "etc" / "new.conf").read_bytes() == b"include x\n"
    assert stat.S_IMODE(os.stat(R / "etc" / "new.conf").st_mode) == 0o644
    for name in ("image.conf", "planted.conf", "new.conf"):
        assert errno_of(lambda n=name: r.write_atomic("/etc/" + n, b"other",
                                                       replace=False)) == errno.EEXIST
    assert (R / "etc" / "image.conf").read_bytes() == b"the image's own"
    assert os.readlink(R / "etc" / "planted.conf") == str(world.trip / "ld.so.conf")
    assert sorted(os.listdir(R / "etc")) == ["image.conf", "new.conf", "planted.conf"]


def test_libc_without_ctypes_python_half_matches_ctypes():
    """openat2 through _ctypes alone (no `import ctypes` at start-up, nor `import struct`)
    gives what it gives through ctypes: the same inode opened in-root, the same errno.
    (fstatfs, for the mount code only, goes through ctypes itself.)"""
    import subprocess
    import sys

    from ldcache import inroot

    code = ("import sys\nfrom ldcache import inroot\nfrom ldcache.inroot import _kernel\n"
            "assert inroot.openat2_available()\n"
            "r = inroot.Root('/')\n"
            "assert r.uses_openat2\n"
            "print('ctypes' in sys.modules, 'struct' in sys.modules)\n")
    if not inroot.openat2_available():
        pytest.skip("this kernel has no openat2")
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
                          + code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "False False\n"  # ctypes' Python half never imported, nor struct

    core, full = object.__new__(_kernel._Libc), object.__new__(_kernel._Libc)
    core._from_ctypes_core()
    full._from_ctypes()
    how = struct.pack("=QQQ", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, 0,
                      _kernel._RESOLVE)
    top = os.open("/", os.O_PATH | os.O_DIRECTORY)
    try:
        fds = [lib.syscall(_kernel._syscall_nr(_kernel._OPENAT2), top, b"etc/../proc", how, 24)
               for lib in (core, full)]
        assert min(fds) >= 0
        a, b = (os.fstat(fd) for fd in fds)
        assert (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) == \
            (os.stat("/proc").st_dev, os.stat("/proc").st_ino)
        assert [_kernel._fs_type(fd) for fd in fds] == [_kernel._PROC_SUPER_MAGIC] * 2
        for fd in fds:
            os.close(fd)
        # errno comes back through either
        assert core.syscall(_kernel._syscall_nr(_kernel._OPENAT2), top, b"no/such", how, 24) == -1
        assert core.get_errno() == errno.ENOENT
    finally:
        os.close(top)


def test_temp_glob_and_mount_code_are_loaded_when_used(tmp_path: Path) -> None:
    """What a small hook does with a root (open it, read, list, chmod) loads neither the
    temporary names nor the glob translator nor the mount code; the first write through a
    temporary, the first glob and the first mount_readonly_copy load each."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "a.conf").write_bytes(b"x")
    code = ("import errno, sys\nfrom ldcache.errors import RootError\n"
            "from ldcache import inroot\nfrom ldcache.inroot import Root\n"
            "def loaded(): return [m for m in sys.modules if m.startswith('ldcache.inroot.')]\n"
            f"r = Root({str(tmp_path)!r})\n"
            "r.makedirs('/usr/lib')\n"
            "with r.opendir('/usr/lib') as d:\n"
            "    d.symlink(b'libx.so.1', b'libx.so')\n"
            "    assert d.readlink(b'libx.so') == b'libx.so.1'\n"
            "assert r.read_file('/etc/a.conf') == b'x'\n"
            "assert r.listdir('/etc') == [(b'a.conf', inroot.DT_REG)]\n"
            "with r.handle('/etc/a.conf', follow=False, no_symlinks=True) as h:\n"
            "    h.chmod(0o600)\n"
            "print(' '.join(loaded()))\n"
            "with r.opendir('/usr/lib') as d:\n"
            "    d.replace_symlink(b'libx.so.2', b'libx.so')\n"
            "r.write_atomic('/etc/b.conf', b'y')\n"
            "assert inroot.is_temp_name(inroot.temp_name(b'x'))\n"
            "assert not hasattr(inroot, 'no_such_name')\n"
            "print(' '.join(loaded()))\n"
            "assert r.glob('/etc/*.conf') == [b'/etc/a.conf', b'/etc/b.conf']\n"
            "print(' '.join(loaded()))\n"
            "try:\n"
            "    r.mount_readonly_copy('/etc', b'z')  # a directory: refused before mounting\n"
            "except RootError as e:\n"
            "    assert e.errno == errno.EISDIR, e\n"
            "print(' '.join(loaded()))\n")
    out = subprocess.run([sys.executable, "-I", "-S", "-c",
                          f"import sys; sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
                          + code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    small, written, globbed, mounted = (set(line.split()) for line in out.stdout.splitlines())
    lazy = {"ldcache.inroot.tempnames", "ldcache.inroot.glob", "ldcache.inroot.mount"}
    assert "ldcache.inroot.root" in small and not small & lazy
    assert written - small == {"ldcache.inroot.tempnames"}
    assert globbed - written == {"ldcache.inroot.glob"}
    assert mounted - globbed == {"ldcache.inroot.mount"}


# --------------------------------------------------------------------------------------------
# replace_symlink against another run's clean-up of leftover temporaries


def _vanishing_rename(monkeypatch: pytest.MonkeyPatch, times: int) -> list:
    """The first ``times`` renames find their source gone: another run's clean-up
    (ldcache.apply) removed the temporary between the symlink and the rename."""
    real = _os.rename
    seen: list = []

    def rename(src: Any, dst: Any, *, src_dir_fd: Any = None, dst_dir_fd: Any = None) -> None:
        seen.append(src)
        if len(seen) <= times:
            _os.unlink(src, dir_fd=src_dir_fd)
        real(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(_os, "rename", rename)
    return seen


def test_replace_symlink_makes_its_link_again_when_its_temporary_vanished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ldcache.inroot.root import _TEMP_VANISHED_RETRIES

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/libx.so").symlink_to("old")
    r = Root(str(tmp_path))
    seen = _vanishing_rename(monkeypatch, _TEMP_VANISHED_RETRIES)
    with r.opendir("/lib") as d:
        d.replace_symlink(b"libx.so.1", b"libx.so")
    assert os.readlink(tmp_path / "lib/libx.so") == "libx.so.1"
    assert len(seen) == _TEMP_VANISHED_RETRIES + 1 and len(set(seen)) == len(seen)
    assert sorted(os.listdir(tmp_path / "lib")) == ["libx.so"]


def test_replace_symlink_gives_up_after_its_retries_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ldcache.inroot.root import _TEMP_VANISHED_RETRIES

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/libx.so").symlink_to("old")
    r = Root(str(tmp_path))
    seen = _vanishing_rename(monkeypatch, _TEMP_VANISHED_RETRIES + 1)
    with r.opendir("/lib") as d, pytest.raises(RootError) as exc:
        d.replace_symlink(b"libx.so.1", b"libx.so")
    assert exc.value.errno == errno.ENOENT
    assert len(seen) == _TEMP_VANISHED_RETRIES + 1
    assert os.readlink(tmp_path / "lib/libx.so") == "old"
    assert sorted(os.listdir(tmp_path / "lib")) == ["libx.so"]


def test_replace_symlink_survives_a_concurrent_clean_up(tmp_path: Path) -> None:
    """create-symlinks (no run lock) while another run removes every temporary link it
    sees, as ldcache.apply does: thousands of replacements, none fails, and the race was
    really run (temporaries were removed under the replacer's feet)."""
    from ldcache import apply
    from ldcache.inroot import tempnames

    lib = tmp_path / "lib"
    lib.mkdir()
    r = Root(str(tmp_path))
    stop = threading.Event()
    removed = [0]

    def clean_up() -> None:
        with r.opendir("/lib") as d:
            while not stop.is_set():
                names = [n for n in os.listdir(lib) if tempnames.is_temp_name(os.fsencode(n))]
                removed[0] += apply._remove_stale_link_temps(d, [os.fsencode(n) for n in names])

    t = threading.Thread(target=clean_up)
    t.start()
    made = 0
    deadline = time.monotonic() + 20
    try:
        with r.opendir("/lib") as d:
            while made < 3000 or (removed[0] == 0 and time.monotonic() < deadline):
                d.replace_symlink(b"libx.so.%d" % made, b"libx.so")
                made += 1
    finally:
        stop.set()
        t.join()
    assert removed[0] > 0, "the clean-up never caught a temporary: the race was not run"
    assert os.readlink(lib / "libx.so") == "libx.so.%d" % (made - 1)
    assert os.listdir(lib) == ["libx.so"]


def test_replace_symlink_makes_a_new_link_in_one_step(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing there: the link is made under its own name (no temporary, no rename); a link
    there (even the same): replaced through a temporary."""
    (tmp_path / "lib").mkdir()
    r = Root(str(tmp_path))
    seen = _vanishing_rename(monkeypatch, 0)
    with r.opendir("/lib") as d:
        d.replace_symlink(b"libx.so.1", b"libx.so")
        assert seen == []
        d.replace_symlink(b"libx.so.2", b"libx.so")
        assert len(seen) == 1 and seen[0].startswith(b".libx.so.ldcache-")
    assert os.readlink(tmp_path / "lib/libx.so") == "libx.so.2"
    assert sorted(os.listdir(tmp_path / "lib")) == ["libx.so"]
