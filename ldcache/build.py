"""``ldcache build`` as a library call: detect the root, plan, apply, write the cache."""

from __future__ import annotations

from . import _os as os
from ._record import Record
from .detect import RootInfo, describe_root
from .errors import ConfError, LdcacheError
from .format import LAYOUTS, Cache, build
from .inroot import Root
from .options import BuildOptions
from .scan import Plan, make_cache, plan

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

    from .apply import Report
    from .conf import ConfResult

__all__ = ["BuildOptions", "BuildResult", "run_build", "plan_root", "link_dirs"]


class BuildResult(Record):
    info: RootInfo
    plan: Optional[Plan]
    cache: Optional[Cache]
    cache_bytes: Optional[bytes]
    #: What carrying out the plan did (links made, failed, removed).
    report: Optional["Report"] = None


def check_options(options: BuildOptions) -> None:
    """Refuse options that could only fail later: everything is checked before the first
    write (a run plans, then applies)."""
    if options.layout is not None and options.layout not in LAYOUTS:
        raise LdcacheError(f"unknown cache format {options.layout!r} (new, compat or old)")
    if options.glibc is not None:
        from .glibc import supported_version

        supported_version(options.glibc)
    if options.arch is not None:
        from .arch import arch_by_name

        arch_by_name(options.arch)


def _check_arch_override(root: Root, options: BuildOptions, info: RootInfo, p: Plan) -> None:
    """``--arch`` that matches no library of a root whose own libc or loader names another
    architecture would write an empty cache: refuse, naming what was found."""
    if options.arch is None or p.entries:
        return
    from .detect import detect_arch

    found = detect_arch(root, info.glibc.libc_path if info.glibc else None)
    if found is not None and found.name != info.arch.name:
        what = (f"its libc {os.fsdecode(info.glibc.libc_path)}" if info.glibc
                else "its dynamic linker")
        raise LdcacheError(f"--arch {options.arch} matches no library in "
                           f"{os.fsdecode(root.path)}: the root is {found.name} "
                           f"({what} is {found.name})")


def plan_root(root: Root, options: BuildOptions, info: RootInfo | None = None, *,
              settled_links: bool = True, conf: ConfResult | None = None
              ) -> tuple[RootInfo, Plan]:
    """Detect what ``root`` is (unless ``info`` says it already) and plan its ldconfig run
    (nothing is written; ``settled_links`` and ``conf``: see :func:`ldcache.scan.plan`)."""
    if info is None:
        info = describe_root(root, glibc=options.glibc, arch=options.arch)
    for d in options.dirs:
        if options.build_cache and not d.startswith(b"/"):
            raise ConfError(f"relative path `{os.fsdecode(d)}' used to build cache")
    aux = None
    if options.build_cache and (options.save_aux or not options.ignore_aux):  # (read or written)
        from .auxcache import AuxCache

        aux = AuxCache(info.key) if options.ignore_aux else AuxCache.load(root, info.key)
    return info, plan(root, info.arch, info.behaviour, options, system_dirs=info.system_dirs,
                      aux=aux, settled_links=settled_links, conf=conf)


def _save_aux(root: Root, p: Plan) -> None:
    from .auxcache import AuxCache

    if isinstance(p.aux, AuxCache):
        p.aux.save(root)


if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable

    Out = Optional[Callable[[bytes], None]]
    Warn = Optional[Callable[[str], None]]


def run_build(options: BuildOptions, *, root: Root | None = None,
              info: RootInfo | None = None, out: "Out" = None, warn: "Warn" = None,
              conf: ConfResult | None = None) -> BuildResult:
    """Run ``ldcache build``: make links, write the cache (as configured).

    ``root``: an open :class:`Root` of ``options.root`` to use; ``info``: what
    :func:`~ldcache.detect.describe_root` already found for it (callers that looked first,
    and said its notices).  ``out`` and ``warn`` get what ldconfig prints, in its order:
    the ``-v`` lines (bytes) and each warning or notice (a line's text, without the program
    name); nothing is printed here.  ``conf``: ``options.conf`` as
    :func:`ldcache.scan.read_conf` read it, passed only by a caller that has held
    ``root``'s run lock (:class:`ldcache.lock.locked`) since it read it; else it is read
    here, under the lock."""
    check_options(options)
    if root is None:
        with Root(options.root) as opened:
            return run_build(options, root=opened, info=info, out=out, warn=warn)
    from .lock import locked

    # One run at a time per root: a run that planned before another's configuration
    # change must not write its cache after it (ldcache.limits.LOCK_WAIT_SECONDS).
    with locked(root):
        return _run(root, options, info, out, warn, conf)


def _described(root: Root, options: BuildOptions, warn: "Warn") -> RootInfo:
    info = describe_root(root, glibc=options.glibc, arch=options.arch)
    for notice in info.notices:
        if warn is not None:
            warn(notice)
    return info


def _run(root: Root, options: BuildOptions, info: RootInfo | None, out: "Out",
         warn: "Warn", conf: ConfResult | None = None) -> BuildResult:
    from .apply import apply_plan, write_cache

    if info is None:
        info = _described(root, options, warn)
    if options.manual_link:
        return _manual_link(root, options, info, out, warn)
    # (a run carries the plan out: the links already right matter only to -v's lines)
    info, p = plan_root(root, options, info, settled_links=options.verbose, conf=conf)
    _check_arch_override(root, options, info, p)
    cache = data = None
    if options.build_cache:
        # The cache's bytes are made before anything is written: a cache that cannot be
        # encoded fails the run with the tree untouched.
        cache = make_cache(p, info.arch, info.behaviour, layout=options.layout,
                           generator=options.generator)
        data = build(cache)
    report = apply_plan(root, p, update_links=options.update_links, verbose=options.verbose,
                        out=out, warn=warn)
    if cache is not None:
        data = write_cache(root, options.cache or "/etc/ld.so.cache", cache, data)
        # Like ldconfig, the aux cache is written whenever a cache is built (-i only
        # skips reading it), unless the caller says no run would read it.
        if options.save_aux:
            _save_aux(root, p)
    return BuildResult(info, p, cache, data, report)


def link_dirs(root: Root, dirs: tuple[bytes, ...], *, verbose: bool = False,
              out: "Out" = None, warn: "Warn" = None) -> BuildResult:
    """``ldconfig -n DIR…`` on ``root``, also one without glibc (a musl image): the SONAME
    links in exactly ``dirs`` — no configuration read, no system directory, no cache.

    The behaviour is the root's glibc's, or the newest glibc's where it has none; the
    architecture its libc's or dynamic linker's (musl's ``/lib/ld-musl-ARCH.so.1``
    included), else this host's.  What had to be assumed is in the result's
    ``info.notices`` (not handed to ``warn``: the caller decides)."""
    options = BuildOptions(root=root.path, dirs=tuple(dirs), only_cmdline=True,
                           build_cache=False, verbose=verbose)
    return run_build(options, root=root, info=describe_root(root), out=out, warn=warn)


def _manual_link(root: Root, options: BuildOptions, info: RootInfo, out: "Out",
                 warn: "Warn") -> BuildResult:
    """``ldconfig -l``: link each named library file to its soname."""
    from .apply import apply_plan
    from .scan import manual_link_plan

    p = manual_link_plan(root, info.arch, info.behaviour, options.dirs,
                         verbose=options.verbose)
    report = apply_plan(root, p, update_links=options.update_links, verbose=options.verbose,
                        out=out, warn=warn)
    return BuildResult(info, p, None, None, report)

