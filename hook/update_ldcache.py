"""``update-ldcache --folder DIR … [--ldconfig-path PATH]``: the container's ld.so.cache.

What NVIDIA's hook does with the host's ``ldconfig`` in a pivoted mount namespace, done here
by reading and writing files through :class:`ldcache.inroot.Root`, executing nothing:

1. create ``/etc/ld.so.conf.d`` if missing, and ``/etc/ld.so.conf`` holding
   ``include /etc/ld.so.conf.d/*.conf`` if the image has none (distroless images);
2. write ``/etc/ld.so.conf.d/00-nvcr-<random>.conf`` (mode 0644) listing the folders the
   configuration does not already name — a built-in system directory of the image's glibc
   included, which the drop-in moves ahead of the image's other configuration files;
3. make the SONAME links and write ``/etc/ld.so.cache`` with :func:`ldcache.build.run_build`,
   exactly as the image's own glibc ``ldconfig -C /etc/ld.so.cache`` would (its version,
   build and architecture are read from its files), generator string included; like it,
   the aux cache found in the image is not read (ldcache's own is not written either:
   nothing in the container would read it).

Where the image's ``/etc/ld.so.conf`` exists but does not reach the drop-in (it does not
include ``/etc/ld.so.conf.d/*.conf``, or it is a dangling link), the folders are also given
to the build as command-line directories — ``ldconfig DIR…`` — so they are in the cache all
the same; all but those that are system directories, which the build scans anyway (last, as
NVIDIA's does there: a command-line directory would come first).

Images without glibc that carry a musl loader (``/lib/ld-musl-ARCH.so.1``) have no
ld.so.cache: the SONAME links are made in the folders, as ``ldconfig -n FOLDER…`` would
(:func:`ldcache.build.link_dirs`; musl's loader opens ``libcuda.so.1`` by that name), and
``/etc/ld-musl-ARCH.path`` is written (the folders, then musl's default ``/lib``,
``/usr/local/lib``, ``/usr/lib``) or, when the image has one, extended with the folders it
does not list.

``--ldconfig-path`` is accepted and never executed.  The root ``/`` is refused.
"""

from __future__ import annotations

import errno
import sys

from ldcache import _os as os
from ldcache.errors import RootError
from ldcache.inroot import Root

from .context import Context, HookError, why
from .log import Log

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, List, Optional

    from ldcache.conf import ConfResult
    from ldcache.detect import RootInfo

__all__ = ["run", "update_root", "UpdateResult", "write_dropin", "validate_folders",
           "musl_arches", "CONF", "CONF_D", "INCLUDE_LINE", "MUSL_DEFAULT_PATH"]

CONF = b"/etc/ld.so.conf"
CONF_D = b"/etc/ld.so.conf.d"
INCLUDE_LINE = b"include /etc/ld.so.conf.d/*.conf\n"
#: musl's built-in library path (ldso/dynlink.c), used when no .path file exists.
MUSL_DEFAULT_PATH = (b"/lib", b"/usr/local/lib", b"/usr/lib")
#: The bytes an ARCH of ``ld-musl-ARCH.so.1`` may be made of.
_MUSL_ARCH_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-"
_MAX_PATH_FILE = 1 << 20


class UpdateResult:
    """What :func:`update_root` did (for messages and tests).

    ``dropin``: in-root path of the drop-in written, or None; ``added``: the folders it
    lists (those not configured before); ``cmdline_dirs``: folders also passed as
    command-line directories (the configuration misses them); ``entries``: cache entries
    written (None: no cache built, musl only); ``musl_paths``: musl .path files written;
    ``links``: SONAME links made in the folders of a musl root (None: not a musl root).
    """

    def __init__(self) -> None:
        self.dropin: Optional[bytes] = None
        self.added: List[bytes] = []
        self.created_conf = False
        self.cmdline_dirs: List[bytes] = []
        self.entries: Optional[int] = None
        self.musl_paths: List[bytes] = []
        self.links: Optional[int] = None
        self.generator: Optional[bytes] = None


def _norm(d: bytes) -> bytes:
    """A directory as a comparable absolute path (trailing slashes and ``.``/``..`` folded)."""
    return os.normpath_linux(d.rstrip(b" \t\n\v\f\r"))


def validate_folders(folders: List[str]) -> List[bytes]:
    """The folders, each once (by their normalised path), spelled as given — the spelling
    ends up in the cache's paths, as with NVIDIA's hook.  Empty ones are dropped; one that
    is relative or cannot be written as an ld.so.conf line is a HookError."""
    out: List[bytes] = []
    seen = set()
    for f in folders:
        b = os.fsencode(f)
        if not b.strip():
            continue
        if not b.startswith(b"/"):
            raise HookError(f"invalid folder {f!r}: not an absolute path")
        if any(c in b for c in (b"\n", b"\r", b"\0", b"#")):
            raise HookError(f"invalid folder {f!r}: it cannot be written to ld.so.conf")
        n = _norm(b)
        if n not in seen:
            seen.add(n)
            out.append(b)
    return out


def musl_arches(root: Root) -> List[bytes]:
    """ARCH of every ``/lib/ld-musl-ARCH.so.1`` in the root."""
    out = []
    for p in root.glob(b"/lib/ld-musl-*.so.1"):
        name = p.rsplit(b"/", 1)[-1]
        arch = name[len(b"ld-musl-"):-len(b".so.1")]
        if _is_musl_arch(arch):
            out.append(arch)
    return out


def _is_musl_arch(arch: bytes) -> bool:
    """One or more of A-Z, a-z, 0-9, ``_``, ``+``, ``-``."""
    return bool(arch) and not arch.translate(None, _MUSL_ARCH_BYTES)


def _path_entries(data: bytes) -> List[bytes]:
    """A musl ``.path`` file's text cut at every ``:`` and newline (empty pieces kept)."""
    return data.replace(b":", b"\n").split(b"\n")


def update_musl_path(root: Root, arch: bytes, folders: List[bytes], log: Log) -> bool:
    """Write or extend ``/etc/ld-musl-ARCH.path``; False when nothing needed adding."""
    path = b"/etc/ld-musl-" + arch + b".path"
    shown = os.fsdecode(path)
    if not folders:
        return False
    try:
        data = root.read_file(path, max_bytes=_MAX_PATH_FILE)
    except RootError as e:
        raise HookError(f"failed to read {shown}: {why(e)}") from None
    if data is None:
        known = {_norm(f) for f in folders}
        entries = folders + [d for d in MUSL_DEFAULT_PATH if d not in known]
        content = b"\n".join(entries) + b"\n"
    else:
        present = {_norm(e) for e in _path_entries(data) if e.strip()}
        missing = [f for f in folders if _norm(f) not in present]
        if not missing:
            log.debug(f"{shown} already lists every folder")
            return False
        sep = b"\n" if data and not data.endswith(b"\n") else b""
        content = data + sep + b"\n".join(missing) + b"\n"
    try:
        root.makedirs(b"/etc")
        root.write_atomic(path, content, 0o644)
    except RootError as e:
        raise HookError(f"failed to write {shown}: {why(e)}") from None
    log.debug(f"wrote {shown}")
    return True


def _ensure_conf(root: Root) -> bool:
    """Create /etc/ld.so.conf including the drop-in directory if there is none.

    Written whole under a temporary name and renamed into place, so that a run killed
    half-way never leaves an empty file (which later runs would take as the image's own).
    Two hooks racing here write the same bytes."""
    try:
        if root.exists(CONF, follow=False):
            return False
        # Never replaces: a file that appeared since the check is the image's own.
        root.write_atomic(CONF, INCLUDE_LINE, 0o644, replace=False)
    except RootError as e:
        if e.errno == errno.EEXIST:
            return False
        raise HookError(f"failed to create {os.fsdecode(CONF)}: {why(e)}") from None
    return True


def _configured(conf: ConfResult) -> set:
    """The directories the image's ld.so.conf (with its includes) names, normalised.

    The glibc's built-in system directories are not among them: ldconfig scans those after
    every configured one, so a folder that is one of them still belongs in the drop-in,
    which gives it the configuration's (early) place, as NVIDIA's does."""
    return {_norm(d.path) for d in conf.dirs if d.path.startswith(b"/")}


def _random_digits() -> str:
    """What Go's os.CreateTemp puts in place of '*': a random decimal number."""
    return str(int.from_bytes(os.urandom(4), "little"))


def _write_dropin(root: Root, prefix: bytes, lines: List[bytes],
                  random: Callable[[], str] = _random_digits) -> bytes:
    """Create ``/etc/ld.so.conf.d/PREFIX<random>.conf`` (O_EXCL, mode 0644)."""
    for _ in range(32):
        name = prefix + random().encode() + b".conf"
        path = CONF_D + b"/" + name
        try:
            fd = root.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except RootError as e:
            if e.errno == errno.EEXIST:
                continue
            raise HookError(f"failed to create config file in {os.fsdecode(CONF_D)}: {why(e)}"
                            ) from None
        try:
            data = b"".join(line + b"\n" for line in lines)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, 0o644)
        except OSError as e:
            raise HookError(f"failed to write {os.fsdecode(path)}: {e.strerror}") from None
        finally:
            os.close(fd)
        return path
    raise HookError(f"failed to create config file in {os.fsdecode(CONF_D)}: no unique name")


def write_dropin(root: Root, prefix: bytes, lines: List[bytes],
                 random: Callable[[], str] = _random_digits) -> bytes:
    """Create ``/etc/ld.so.conf.d`` if needed and ``PREFIX<random>.conf`` in it."""
    try:
        root.makedirs(CONF_D)
    except RootError as e:
        raise HookError(f"failed to create {os.fsdecode(CONF_D)}: {why(e)}") from None
    return _write_dropin(root, prefix, lines, random)


def update_root(opened: Root, folders: List[bytes], log: Log) -> UpdateResult:
    """Do the whole job on the container root ``opened`` (closed when done)."""
    from ldcache.detect import detect_glibc
    from ldcache.lock import locked

    res = UpdateResult()
    with opened as root:
        musl = musl_arches(root)
        if musl and detect_glibc(root) is None:
            if folders:
                res.links = _link_folders(root, folders, log)
            for arch in musl:
                if update_musl_path(root, arch, folders, log):
                    res.musl_paths.append(b"/etc/ld-musl-" + arch + b".path")
            return res
        # The whole job under the root's run lock (the build's own nests in it): the
        # configuration read here is the one the cache is built from, however many hooks
        # add drop-ins to one root at a time.
        with locked(root):
            _update_glibc_root(root, folders, log, res, musl)
    return res


def _update_glibc_root(root: Root, folders: List[bytes], log: Log, res: UpdateResult,
                       musl: List[bytes]) -> None:
    """The job on a root with a glibc: the drop-in where needed, the links, the cache."""
    from ldcache.detect import describe_root
    from ldcache.scan import read_conf

    try:
        root.makedirs(CONF_D)
    except RootError as e:
        raise HookError(f"failed to create {os.fsdecode(CONF_D)}: {why(e)}") from None
    res.created_conf = _ensure_conf(root)
    # The root's glibc behaviour and system directories, found once for the whole job.
    info = describe_root(root)
    for notice in info.notices:
        _warn(notice)
    conf = None
    if folders:
        conf = read_conf(root, info.arch, info.behaviour, CONF)
        configured = _configured(conf)
        res.added = [f for f in folders if _norm(f) not in configured]
        if res.added:
            res.dropin = _write_dropin(root, b"00-nvcr-", res.added)
            log.debug(f"wrote {os.fsdecode(res.dropin)}: "
                      f"{', '.join(os.fsdecode(f) for f in res.added)}")
            # What the run scans now: the configuration, then the system directories
            # (a folder among those is in the cache already, in the place NVIDIA's
            # gives it where the drop-in is not read; as a command-line directory it
            # would come first).
            conf = read_conf(root, info.arch, info.behaviour, CONF)
            now = _configured(conf)
            now.update(_norm(d) for d in info.system_dirs)
            res.cmdline_dirs = [f for f in res.added if _norm(f) not in now]
            if res.cmdline_dirs:
                log.debug(f"{os.fsdecode(CONF)} does not reach the drop-in; also "
                          f"scanning {', '.join(map(os.fsdecode, res.cmdline_dirs))}")
        else:
            log.debug("every folder is already configured")
    res.generator = info.glibc.ldconfig_generator if info.glibc is not None else None
    _build(root, res, info, conf)
    for arch in musl:
        if update_musl_path(root, arch, folders, log):
            res.musl_paths.append(b"/etc/ld-musl-" + arch + b".path")


def _link_folders(root: Root, folders: List[bytes], log: Log) -> int:
    """``ldconfig -n FOLDER…``: the SONAME links in the folders (musl's loader opens a
    library by that file name), nothing else; the number of links made."""
    from ldcache.build import link_dirs

    result = link_dirs(root, tuple(folders), warn=_warn)
    for notice in result.info.notices:
        log.debug(notice)
    made = result.report.links_made if result.report is not None else 0
    log.debug(f"{made} SONAME links made in {', '.join(map(os.fsdecode, folders))}")
    return made


def _build(root: Root, res: UpdateResult, info: RootInfo, conf: Optional[ConfResult]) -> None:
    from ldcache.build import BuildOptions, run_build

    # ignore_aux: NVIDIA's hook runs ldconfig -C /etc/ld.so.cache, and -C makes ldconfig
    # ignore the aux cache it finds, as ldcache build -C does.  That ldconfig then writes
    # glibc's aux cache; ldcache's own is of use only to a later ldcache run in the
    # container, so it is not written (its write and fsync: ~1.4 ms of a container start).
    options = BuildOptions(root=root.path, dirs=tuple(res.cmdline_dirs), ignore_aux=True,
                           save_aux=False,
                           generator=res.generator or BuildOptions._field_defaults["generator"])
    # (the configuration this job read, under the run lock it holds, is what is scanned)
    result = run_build(options, root=root, info=info, warn=_warn, conf=conf)
    res.entries = len(result.cache.entries) if result.cache is not None else None


def _warn(text: str) -> None:
    """ldconfig's warnings as ldconfig prints them, under this program's name (--quiet
    hides them: ldcache_hook.main redirects standard error)."""
    sys.stderr.write(f"cdi-hook: {text}\n")


def run(ctx: Context) -> None:
    ldconfig = ctx.string("ldconfig-path")
    if not ldconfig:
        raise HookError("ldconfig-path must be specified")
    ctx.log.debug(f"--ldconfig-path {ldconfig}: accepted, not executed (the cache is built "
                  "without running any ldconfig)")
    folders = validate_folders(ctx.strings("folder"))
    res = update_root(ctx.open_root(), folders, ctx.log)
    if res.entries is not None:
        ctx.log.debug(f"wrote /etc/ld.so.cache: {res.entries} entries")
