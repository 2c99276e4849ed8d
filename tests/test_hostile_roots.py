"""Hostile roots: one parametrised suite of hostile trees × every command that reads a root.

Each tree is a small glibc root (the machine's libc and loader, ``/etc/ld.so.conf``
including ``ld.so.conf.d``, a library directory ``/opt/lib`` and NVIDIA stand-ins in
``/usr/lib/nvidia``) with one hostile twist.  Every command runs on it as a separate
process: ``ldcache build``, ``verify``, ``explain``, ``print``, ``info`` and the hooks
``update-ldcache``, ``create-symlinks``, ``chmod`` and ``enable-cuda-compat``.  For each:

* the outcome is the job done inside the root or a clear error — an allowed exit status,
  never a traceback, and a failure says so in its last stderr line, prefixed by the
  program's name;
* a tripwire directory outside the root (``hookroots.host_tripwire``: an ``etc`` with
  ld.so.conf files and a cache, a ``lib``, a 0600 file, a 0700 directory) is unchanged;
* time and memory are bounded: wall time below :data:`MAX_SECONDS` and peak RSS (from
  ``os.wait4``'s rusage) below :data:`MAX_RSS_MB` — FIFOs and devices never block, huge
  sparse files are not read, include storms and big directories stay cheap.

Trees marked *racing* are changed by a thread while the commands run (a directory
swapped for a symlink to the host and back, in a loop); they run with the kernel's
``openat2`` and with ldcache's own component walk.

Resource limits: ``ldcache/limits.py``, ``LIMITS.md`` (checked in sync below).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import pytest
from support.gcclib import install_library
from support.hookroots import glibc_rootfs, host_tripwire, nvidia_dir, snapshot, state, write_bundle

from ldcache.format import parse
from ldcache.inroot import Root, openat2_available

PROJECT = Path(__file__).resolve().parent.parent
NV = "usr/lib/nvidia"
#: Bounds per command (the hook runs at every container start).
MAX_SECONDS = 20.0
MAX_RSS_MB = 250


class Tree(NamedTuple):
    #: The in-root path ``explain`` is asked about.
    explain: str = "/opt/lib/libok.so.1"
    #: A thread changing the tree while the commands run (started, then stopped).
    race: Optional[Callable[[threading.Event], None]] = None


# ------------------------------------------------------------------------------ the commands

class Command(NamedTuple):
    name: str
    argv: Callable[[Path, Path, Tree], List[str]]
    #: exit statuses that mean "done" or "a clear failure"
    allowed: Tuple[int, ...]
    stdin: bool = False


def _ldcache(*args: str) -> List[str]:
    return [sys.executable, "-m", "ldcache", *args]


def _hook(*args: str) -> List[str]:
    return [sys.executable, "-m", "ldcache_hook", *args]


COMMANDS = [
    Command("build", lambda r, b, t: _ldcache("build", "-r", str(r)), (0, 1)),
    Command("verify", lambda r, b, t: _ldcache("verify", "-r", str(r)), (0, 1, 2)),
    Command("explain", lambda r, b, t: _ldcache("explain", "-r", str(r), t.explain), (0, 1, 2)),
    Command("print", lambda r, b, t: _ldcache("print", "-r", str(r)), (0, 1)),
    Command("info", lambda r, b, t: _ldcache("info", "-r", str(r)), (0, 1)),
    Command("update-ldcache", lambda r, b, t: _hook("update-ldcache", "--folder", "/" + NV),
            (0, 1), True),
    Command("create-symlinks", lambda r, b, t: _hook(
        "create-symlinks", "--link", f"libcuda.so.1::/{NV}/libcuda.so",
        "--link", "libcuda.so.1::/opt/lib/sub/libcuda.so"), (0, 1), True),
    Command("chmod", lambda r, b, t: _hook("chmod", "--mode", "755", "--path", "/opt/lib",
                                           "--path", "/etc/ld.so.conf.d"), (0, 1), True),
    Command("enable-cuda-compat", lambda r, b, t: _hook(
        "enable-cuda-compat", "--host-driver-version", "535.104.05"), (0, 1), True),
]


class Outcome(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    rss_mb: float


#: Runs argv[2:] as its child and writes that child's peak RSS (KiB) to fd argv[1].  The
#: command's peak must be measured from a process that is small when it forks: a child
#: forked from pytest itself is credited with pytest's whole RSS (the kernel records the
#: old address space's high-water mark at exec), hundreds of MB late in the suite.
_MEASURE = """import os, sys
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.close(fd)
    try:
        os.execve(sys.argv[2], sys.argv[2:], os.environ)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
os.write(fd, b"%d" % usage.ru_maxrss)
if os.WIFSIGNALED(status):
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def run_bounded(argv: List[str], stdin: bytes, env: Dict[str, str],
                timeout: float = 3 * MAX_SECONDS) -> Outcome:
    """Run ``argv``; its exit status, output, wall time and peak RSS (``os.wait4`` of the
    command, by a small measuring parent: :data:`_MEASURE`)."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr, tempfile.TemporaryFile() as frss:
        fin.write(stdin)
        fin.seek(0)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.setsid()  # a group of its own: a timeout kills the command too
                os.dup2(fin.fileno(), 0)
                os.dup2(fout.fileno(), 1)
                os.dup2(ferr.fileno(), 2)
                os.dup2(frss.fileno(), 3)
                os.chdir("/")
                os.execve(sys.executable, [sys.executable, "-I", "-S", "-c", _MEASURE, "3",
                                           *argv], env)
            finally:
                os._exit(127)
        status = 0
        usage = None
        while True:
            wpid, status, usage = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                break
            if time.monotonic() - t0 > timeout:
                os.killpg(pid, 9)
                _, status, usage = os.wait4(pid, 0)
                break
            time.sleep(0.005)
        seconds = time.monotonic() - t0
        fout.seek(0)
        ferr.seek(0)
        frss.seek(0)
        code = os.waitstatus_to_exitcode(status)
        measured = frss.read()
        rss_kib = int(measured) if measured else usage.ru_maxrss  # killed: the group's bound
        return Outcome(code, fout.read(), ferr.read(), seconds, rss_kib / 1024)


# ------------------------------------------------------------------------------ the trees

def up(host: Path) -> str:
    """A relative link text that climbs far above any root, then names ``host``."""
    return "../" * 40 + str(host).lstrip("/")


def _relink(path: Path, target: str) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, path)


def t_control(r: Path, h: Path) -> Tree:
    """No twist: every command must succeed (the suite is not vacuous)."""
    return Tree()


def t_etc_abs_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc", str(h / "etc"))
    return Tree()


def t_etc_rel_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc", up(h) + "/etc")
    return Tree()


def t_conf_abs_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc/ld.so.conf", str(h / "etc/ld.so.conf"))
    return Tree()


def t_conf_d_rel_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc/ld.so.conf.d", up(h) + "/etc/ld.so.conf.d")
    return Tree()


def t_cache_abs_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc/ld.so.cache", str(h / "etc/ld.so.cache"))
    return Tree()


def t_cache_rel_link(r: Path, h: Path) -> Tree:
    _relink(r / "etc/ld.so.cache", up(h) + "/etc/ld.so.cache")
    return Tree()


def t_libdir_abs_link(r: Path, h: Path) -> Tree:
    _relink(r / "opt/lib", str(h / "lib"))
    return Tree(explain="/opt/lib/libhost.so.1.0")


def t_libdir_rel_link(r: Path, h: Path) -> Tree:
    _relink(r / "opt/lib", up(h) + "/lib")
    return Tree(explain="/opt/lib/libhost.so.1.0")


def t_opt_abs_link(r: Path, h: Path) -> Tree:
    """The first component of the library path (``/opt``) leads out."""
    _relink(r / "opt", str(h))
    return Tree(explain="/opt/lib/libhost.so.1.0")


def t_usr_abs_link(r: Path, h: Path) -> Tree:
    """``/usr`` (first component of the hook's folder and of the loader's dirs)."""
    shutil.rmtree(r / "usr")
    _relink(r / "usr", str(h))
    return Tree()


def t_usr_lib_rel_link(r: Path, h: Path) -> Tree:
    shutil.rmtree(r / "usr/lib")
    _relink(r / "usr/lib", up(h))
    return Tree()


def t_nvidia_abs_link(r: Path, h: Path) -> Tree:
    _relink(r / NV, str(h / "lib"))
    return Tree(explain="/" + NV + "/libhost.so.1.0")


def t_var_abs_link(r: Path, h: Path) -> Tree:
    """The aux cache's directory path leads out (``/var`` and ``/var/cache/ldconfig``)."""
    _relink(r / "var", str(h))
    return Tree()


def t_aux_dir_rel_link(r: Path, h: Path) -> Tree:
    (r / "var/cache").mkdir(parents=True, exist_ok=True)
    _relink(r / "var/cache/ldconfig", up(h) + "/cache")
    return Tree()


def t_lib_links_to_host(r: Path, h: Path) -> Tree:
    """Library names (and a soname) in a scanned directory linking to host files."""
    os.symlink(str(h / "lib/libhost.so.1.0"), r / "opt/lib/libhost.so.1")
    os.symlink(up(h) + "/lib/libhost.so.1.0", r / "opt/lib/libhostrel.so.1")
    _relink(r / "opt/lib/libok.so.1", str(h / "lib/libhost.so.1.0"))
    return Tree(explain="/opt/lib/libhost.so.1")


def t_proc_self_root(r: Path, h: Path) -> Tree:
    _relink(r / "opt/lib", "/proc/self/root" + str(h / "lib"))
    os.symlink("/proc/self/root" + str(h / "etc/ld.so.conf.d/host.conf"),
               r / "etc/ld.so.conf.d/proc.conf")
    return Tree(explain="/opt/lib/libhost.so.1.0")


def t_proc_1_root(r: Path, h: Path) -> Tree:
    _relink(r / "etc/ld.so.conf.d", "/proc/1/root" + str(h / "etc/ld.so.conf.d"))
    _relink(r / "etc/ld.so.cache", "/proc/1/root" + str(h / "etc/ld.so.cache"))
    return Tree()


def t_proc_self_fd(r: Path, h: Path) -> Tree:
    """Magic links through the process's own descriptors (stdin is the OCI state)."""
    os.symlink("/proc/self/fd/0", r / "opt/lib/libfd0.so.1")
    os.symlink("/proc/self/cwd", r / "opt/lib/libcwd.so.1")
    _relink(r / "etc/ld.so.conf", "/proc/self/fd/0")
    return Tree(explain="/opt/lib/libfd0.so.1")


def t_symlink_loops(r: Path, h: Path) -> Tree:
    _relink(r / "opt/lib", "/opt/lib2")
    os.symlink("/opt/lib", r / "opt/lib2")
    os.symlink("ld.so.conf", r / "etc/ld.so.conf.d/loop.conf")
    _relink(r / "etc/ld.so.conf.d/self.conf", "self.conf")
    return Tree()


def t_long_link_chain(r: Path, h: Path) -> Tree:
    """60 links in a chain (past MAXSYMLINKS), ending at the host."""
    d = r / "opt/lib"
    for i in range(60):
        os.symlink(f"libchain{i + 1}.so.1", d / f"libchain{i}.so.1")
    os.symlink(str(h / "lib/libhost.so.1.0"), d / "libchain60.so.1")
    return Tree(explain="/opt/lib/libchain0.so.1")


def t_fifos(r: Path, h: Path) -> Tree:
    """FIFOs named like a library, the configuration, a drop-in and the cache."""
    os.mkfifo(r / "opt/lib/libfifo.so.1")
    os.mkfifo(r / "etc/ld.so.conf.d/fifo.conf")
    os.mkfifo(r / "etc/ld.so.cache")
    os.mkfifo(r / NV / "libnvidia-fifo.so.1")
    return Tree(explain="/opt/lib/libfifo.so.1")


def t_fifo_conf(r: Path, h: Path) -> Tree:
    (r / "etc/ld.so.conf").unlink()
    os.mkfifo(r / "etc/ld.so.conf")
    return Tree()


def t_devices(r: Path, h: Path) -> Tree:
    """Character and block devices named like libraries and conf files (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mknod of device nodes needs root")
    os.mknod(r / "opt/lib/libzero.so.1", 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    os.mknod(r / "opt/lib/libtty.so.1", 0o644 | stat.S_IFCHR, os.makedev(5, 0))
    os.mknod(r / "etc/ld.so.conf.d/zero.conf", 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    os.mknod(r / "opt/lib/libloop.so.1", 0o644 | stat.S_IFBLK, os.makedev(7, 0))
    os.mknod(r / "etc/ld.so.cache.new", 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    _relink(r / "etc/ld.so.cache", "/dev/zero")
    os.makedirs(r / "dev", exist_ok=True)
    os.mknod(r / "dev/zero", 0o644 | stat.S_IFCHR, os.makedev(1, 5))
    return Tree(explain="/opt/lib/libzero.so.1")


def _sparse(path: Path, size: int, head: bytes = b"") -> None:
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


def t_huge_sparse_files(r: Path, h: Path) -> Tree:
    """A 64 GiB library (real ELF header), a 1 TiB conf drop-in, a 16 GiB cache."""
    head = (r / "opt/lib/libok.so.1").read_bytes()[:4096]
    _sparse(r / "opt/lib/libhuge.so.1", 64 << 30, head)
    _sparse(r / "opt/lib/libhuge0.so.1", 64 << 30)
    _sparse(r / "etc/ld.so.conf.d/huge.conf", 1 << 40, b"/opt/lib\n")
    _sparse(r / "etc/ld.so.cache", 16 << 30, b"glibc-ld.so.cache1.1")
    return Tree(explain="/opt/lib/libhuge.so.1")


def t_huge_sparse_conf(r: Path, h: Path) -> Tree:
    _sparse(r / "etc/ld.so.conf", 1 << 40, b"include /etc/ld.so.conf.d/*.conf\n")
    return Tree()


def t_thousands_of_includes(r: Path, h: Path) -> Tree:
    """5,000 drop-ins, each naming a directory (most missing) and including another."""
    d = r / "etc/ld.so.conf.d"
    for i in range(5000):
        (d / f"x{i:05d}.conf").write_text(
            f"/opt/d{i}\ninclude /etc/ld.so.conf.d/x{(i * 7) % 5000:05d}.conf\n")
    return Tree()


def t_include_storm(r: Path, h: Path) -> Tree:
    """Drop-ins that each include every drop-in: exponential for ldconfig."""
    d = r / "etc/ld.so.conf.d"
    for name in ("a", "b", "c"):
        (d / f"{name}.conf").write_text("include /etc/ld.so.conf.d/*.conf\n/opt/lib\n")
    return Tree()


def t_deep_directories(r: Path, h: Path) -> Tree:
    """A library 1,000 directories deep, named in the configuration, and a link into it."""
    p = r / "opt"
    deep = "/opt/" + "/".join(["d"] * 1000)
    fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(1000):  # (os.makedirs recurses once per level)
            os.mkdir("d", dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
    finally:
        os.close(fd)
    shutil.copy(r / "opt/lib/libok.so.1", r / deep.lstrip("/") / "libdeep.so.1")
    (r / "etc/ld.so.conf.d/deep.conf").write_text(deep + "\n")
    os.symlink(deep + "/libdeep.so.1", p / "lib/libdeeplink.so.1")
    return Tree(explain=deep + "/libdeep.so.1")


def t_odd_names(r: Path, h: Path) -> Tree:
    """Names with newlines, tabs and non-UTF-8 bytes: files, directories, conf lines."""
    lib = r / "opt/lib"
    src = (lib / "libok.so.1").read_bytes()
    for name in (b"lib\nnl.so.1", b"lib\xff\xfe.so.1", b"lib\tt .so.1", b"libok.so.1\n",
                 b"lib\x1b[31mred.so.1"):
        with open(os.path.join(os.fsencode(lib), name), "wb") as f:
            f.write(src)
    bad = os.path.join(os.fsencode(r), b"opt/\xff\xfedir")
    os.makedirs(bad)
    with open(os.path.join(bad, b"libbad.so.1"), "wb") as f:
        f.write(src)
    with open(os.path.join(os.fsencode(r), b"etc/ld.so.conf.d/\xff.conf"), "wb") as f:
        f.write(b"/opt/\xff\xfedir\n/opt/\x1b[2J\n")
    os.symlink(b"lib\nnl.so.1", os.path.join(os.fsencode(lib), b"lib\xfflink.so.1"))
    return Tree(explain="/opt/lib/lib\nnl.so.1")


def t_many_files(r: Path, h: Path) -> Tree:
    """20,000 names in one library directory (hard links of one small file)."""
    lib = r / "opt/lib"
    (lib / "libjunk.so.0").write_bytes(b"not an ELF file\n")
    for i in range(20000):
        os.link(lib / "libjunk.so.0", lib / f"libjunk{i}.so.1")
    return Tree()


def t_broken_elves(r: Path, h: Path) -> Tree:
    """Truncated and self-referencing ELF files with library names."""
    lib = r / "opt/lib"
    src = (lib / "libok.so.1").read_bytes()
    for n in (16, 52, 64, 200, 1000, len(src) // 2):
        (lib / f"libtrunc{n}.so.1").write_bytes(src[:n])
    bad = bytearray(src)
    bad[32:40] = (0xFFFFFFFFFFFFFF00).to_bytes(8, "little")  # e_phoff far away
    (lib / "libphoff.so.1").write_bytes(bytes(bad))
    bad = bytearray(src)
    bad[56:58] = (0xFFFF).to_bytes(2, "little")  # 65535 program headers
    (lib / "libphnum.so.1").write_bytes(bytes(bad))
    return Tree(explain="/opt/lib/libphoff.so.1")


def t_conf_is_directory_and_cache_is_directory(r: Path, h: Path) -> Tree:
    (r / "etc/ld.so.cache").mkdir()
    (r / "etc/ld.so.cache/x").write_text("x")
    os.symlink(str(h / "etc"), r / "etc/ld.so.cache/host")
    return Tree()


def t_writes_blocked_by_host_links(r: Path, h: Path) -> Tree:
    """Every name the run creates is pre-planted as a link to a host file."""
    lib = r / "opt/lib"
    for _n in ("libok.so.1.0", "libcuda.so"):
        pass
    os.symlink(str(h / "secret"), r / NV / "libcuda.so")
    os.symlink(str(h / "secret"), r / "etc/ld.so.conf.d/00-nvcr-1.conf")
    (lib / "sub").mkdir()
    os.symlink(str(h / "private"), lib / "sub/libcuda.so")
    os.symlink(str(h / "secret"), r / "etc/.ld.so.cache.ldcache-AAAAAA")
    return Tree()


def _swapper(real: Path, target: str) -> Callable[[threading.Event], None]:
    """Swap directory ``real`` for a symlink to ``target`` and back, until stopped."""
    aside = real.with_name(real.name + ".aside")

    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                os.rename(real, aside)
                os.symlink(target, real)
                time.sleep(0.0005)
                os.unlink(real)
                os.rename(aside, real)
            except OSError:
                pass
            time.sleep(0.0005)
        if not real.exists() and aside.exists():
            if real.is_symlink():
                real.unlink()
            os.rename(aside, real)

    return run


def t_race_libdir_swap(r: Path, h: Path) -> Tree:
    return Tree(race=_swapper(r / "opt/lib", str(h / "lib")))


def t_race_conf_d_swap(r: Path, h: Path) -> Tree:
    return Tree(race=_swapper(r / "etc/ld.so.conf.d", up(h) + "/etc/ld.so.conf.d"))


def t_race_etc_swap(r: Path, h: Path) -> Tree:
    return Tree(race=_swapper(r / "etc", str(h / "etc")))


def t_race_nvidia_swap(r: Path, h: Path) -> Tree:
    return Tree(race=_swapper(r / NV, "/proc/self/root" + str(h / "lib")))


TREES: Dict[str, Callable[[Path, Path], Tree]] = {
    f.__name__[2:]: f for f in (
        t_control, t_etc_abs_link, t_etc_rel_link, t_conf_abs_link, t_conf_d_rel_link,
        t_cache_abs_link, t_cache_rel_link, t_libdir_abs_link, t_libdir_rel_link,
        t_opt_abs_link, t_usr_abs_link, t_usr_lib_rel_link, t_nvidia_abs_link,
        t_var_abs_link, t_aux_dir_rel_link, t_lib_links_to_host, t_proc_self_root,
        t_proc_1_root, t_proc_self_fd, t_symlink_loops, t_long_link_chain, t_fifos,
        t_fifo_conf, t_devices, t_huge_sparse_files, t_huge_sparse_conf,
        t_thousands_of_includes, t_include_storm, t_deep_directories, t_odd_names,
        t_many_files, t_broken_elves, t_conf_is_directory_and_cache_is_directory,
        t_writes_blocked_by_host_links, t_race_libdir_swap, t_race_conf_d_swap,
        t_race_etc_swap, t_race_nvidia_swap,
    )
}
RACING = [n for n in TREES if n.startswith("race_")]


def _base_root(top: Path) -> Tuple[Path, Path]:
    bundle = top / "bundle"
    rootfs = glibc_rootfs(bundle / "rootfs")
    (rootfs / "etc/ld.so.conf.d/opt.conf").write_text("/opt/lib\n")
    install_library(rootfs / "opt/lib/libok.so.1", "libok.so.1")
    nvidia_dir(rootfs / NV)
    (rootfs / "usr/local/cuda/compat").mkdir(parents=True)
    write_bundle(bundle)
    return bundle, rootfs


def _check(cmd: Command, o: Outcome, where: str) -> None:
    err = o.stderr.decode(errors="replace")
    assert o.returncode in cmd.allowed, f"{where}: exit {o.returncode}: {err[-2000:]}"
    assert "Traceback" not in err, f"{where}: {err[-3000:]}"
    assert "internal error" not in err, f"{where}: {err[-2000:]}"
    if o.returncode != 0 and not (cmd.name in ("verify", "explain") and o.returncode == 1):
        last = err.strip().splitlines()[-1] if err.strip() else ""
        prog = "ldcache" if cmd.name in ("build", "verify", "explain", "print", "info") \
            else "cdi-hook"
        assert last.startswith(prog + ":") or last.startswith("nvidia-cdi-hook"), \
            f"{where}: unclear failure: {err[-1000:]!r}"
    assert o.seconds < MAX_SECONDS, f"{where}: took {o.seconds:.1f} s"
    assert o.rss_mb < MAX_RSS_MB, f"{where}: peak RSS {o.rss_mb:.0f} MB"


def _cache_if_built(rootfs: Path) -> None:
    """When a run says it succeeded, the root's cache (read in-root) is a valid cache."""
    try:
        with Root(str(rootfs)) as root:
            data = root.read_file("/etc/ld.so.cache", max_bytes=1 << 24)
    except OSError:
        return
    if data is not None:
        parse(data)


_FIGURES: Dict[str, Tuple[float, float]] = {}


def _params():
    for name in TREES:
        modes = ["openat2", "walk"] if name in RACING else ["default"]
        for mode in modes:
            yield pytest.param(name, mode, id=f"{name}-{mode}")


@pytest.mark.parametrize("name,mode", list(_params()))
def test_hostile_root(tmp_path: Path, name: str, mode: str) -> None:
    if mode == "openat2" and not openat2_available():
        pytest.skip("openat2(RESOLVE_IN_ROOT) is not available on this kernel")
    host = host_tripwire(tmp_path / "host")
    bundle, rootfs = _base_root(tmp_path)
    tree = TREES[name](rootfs, host)
    before = snapshot(host)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT), "PYTHONDONTWRITEBYTECODE": "1"}
    if mode == "walk":
        env["LDCACHE_NO_OPENAT2"] = "1"
    stop = threading.Event()
    racer = None
    if tree.race is not None:
        racer = threading.Thread(target=tree.race, args=(stop,), daemon=True)
        racer.start()
    worst = (0.0, 0.0)
    try:
        for cmd in COMMANDS:
            argv = cmd.argv(rootfs, bundle, tree)
            o = run_bounded(argv, state(bundle) if cmd.stdin else b"", env)
            _check(cmd, o, f"{name}/{cmd.name}")
            if name == "control":
                assert o.returncode == 0, f"control/{cmd.name}: {o.stderr.decode()}"
            worst = (max(worst[0], o.seconds), max(worst[1], o.rss_mb))
            assert snapshot(host) == before, f"{name}/{cmd.name}: the host tripwire changed"
            if cmd.name in ("build", "update-ldcache") and o.returncode == 0 and racer is None:
                _cache_if_built(rootfs)
    finally:
        stop.set()
        if racer is not None:
            racer.join(10)
        # Even after a failure: a later pytest session's clean-up of old temporary
        # directories recurses once per level and would crash on this tree.
        _remove_deep(rootfs / "opt/d")
    assert snapshot(host) == before
    _FIGURES[f"{name}-{mode}"] = worst
    print(f"\n{name}-{mode}: slowest command {worst[0]:.2f} s, peak RSS {worst[1]:.0f} MB")


def _remove_deep(top: Path) -> None:
    """Remove a 1,000-level chain of directories without recursion (shutil.rmtree and
    pytest's own clean-up recurse once per level)."""
    if not top.is_dir() or top.is_symlink():
        return
    p = top
    while (p / "d").is_dir() and not (p / "d").is_symlink():
        p = p / "d"
    while True:
        for n in os.listdir(p):
            q = p / n
            if q.is_dir() and not q.is_symlink():
                shutil.rmtree(q)
            else:
                q.unlink()
        p.rmdir()
        if p == top:
            break
        p = p.parent


def test_enough_trees() -> None:
    assert len(TREES) - 1 >= 30  # (besides the control)
    assert len(RACING) >= 3


def test_bounds_are_measured(tmp_path: Path) -> None:
    """run_bounded really measures: a command allocating 300 MB shows > 250 MB of RSS,
    and one sleeping is killed at the timeout."""
    env = {"PATH": "/usr/bin:/bin"}
    o = run_bounded([sys.executable, "-c", "b = bytearray(300 << 20); b[::4096] = b'x' * "
                     "len(b[::4096])"], b"", env)
    assert o.returncode == 0 and o.rss_mb > MAX_RSS_MB, o
    t0 = time.monotonic()
    o = run_bounded([sys.executable, "-c", "import time; time.sleep(60)"], b"", env,
                    timeout=0.5)
    assert o.returncode == -9 and time.monotonic() - t0 < 5


def test_limits_documented() -> None:
    """Every limit in ldcache.limits_table.table() is in LIMITS.md with its value."""
    from ldcache.limits_table import table

    doc = (PROJECT / "LIMITS.md").read_text()
    for limit in table():
        row = [ln for ln in doc.splitlines() if f"`{limit.name}`" in ln]
        assert row, f"{limit.name} is not documented in LIMITS.md"
        value = f"{limit.value:,}" if isinstance(limit.value, int) else f"{limit.value:g}"
        assert value in row[0], f"{limit.name}: LIMITS.md does not say {value}: {row[0]}"


def test_deadline_and_dir_entries() -> None:
    from ldcache.errors import LdcacheError
    from ldcache.limits import Deadline, LimitExceeded, check_dir_entries

    d = Deadline(0.05)
    d.check("x")
    time.sleep(0.06)
    with pytest.raises(LimitExceeded, match="longer than 0.05 seconds"):
        d.check("/opt/lib")
    check_dir_entries(10, b"/opt/lib", limit=10)
    with pytest.raises(LdcacheError, match="more than 10 directory entries"):
        check_dir_entries(11, b"/opt/lib", limit=10)
