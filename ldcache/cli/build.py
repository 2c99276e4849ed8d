"""``ldcache build``: ldconfig for a root directory, without executing anything in it.

Also the ``ldconfig`` personality: invoked under the name ``ldconfig`` (a symlink to
``ldcache``), the program takes ldconfig's own command line, ``-p`` included.
"""

from __future__ import annotations

import sys

from .. import __version__
from .. import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, Callable, Sequence

    from ..build import BuildOptions, BuildResult

DEFAULT_GENERATOR = f"ldcache {__version__}"


def add_build_options(p: argparse.ArgumentParser, *, ldconfig_names: bool = False) -> None:
    p.add_argument("-r", dest="root", metavar="ROOT",
                   help="use ROOT as the root directory (-C, -f and DIRs are inside it)")
    p.add_argument("-C", dest="cache", metavar="CACHE",
                   help="use CACHE as the cache file (default /etc/ld.so.cache); implies -i")
    p.add_argument("-f", dest="conf", metavar="CONF", default="/etc/ld.so.conf",
                   help="use CONF as the configuration file (default /etc/ld.so.conf)")
    p.add_argument("-X", dest="no_links", action="store_true",
                   help="do not update symbolic links")
    p.add_argument("-N", dest="no_cache", action="store_true", help="do not build the cache")
    p.add_argument("-n", dest="only_cmdline", action="store_true",
                   help="only process directories given on the command line; implies -N")
    p.add_argument("-l", dest="manual_link", action="store_true",
                   help="manually link the individual library files given")
    from ..format import LAYOUTS

    # glibc's ldconfig ignores an unknown -c value; `ldcache build` refuses it.
    p.add_argument("-c", "--format", dest="format", metavar="FORMAT",
                   choices=None if ldconfig_names else LAYOUTS,
                   help="cache layout: new, compat or old (default: the root glibc's)")
    p.add_argument("-i", "--ignore-aux-cache", dest="ignore_aux", action="store_true",
                   help="do not read the aux cache")
    p.add_argument("-v", "--verbose", dest="verbose", action="store_true",
                   help="print directories and links as they are processed")
    if not ldconfig_names:
        p.add_argument("-s", "--summary", dest="summary", action="store_true",
                       help="print one line saying what was done (libraries, directories, "
                            "links, the cache written)")
    p.add_argument("--generator", metavar="TEXT",
                   help=f"generator string recorded in the cache (default '{DEFAULT_GENERATOR}')")
    p.add_argument("--glibc", metavar="VERSION",
                   help="behave as this glibc version's ldconfig (default: the root's glibc)")
    p.add_argument("--arch", metavar="ARCH",
                   help="the root's architecture (default: found from its loader and libc)")
    p.add_argument("dirs", nargs="*", metavar="DIR",
                   help="extra directories to scan (with -l: library files to link)")


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("build", help="build a root's ld.so.cache and SONAME links",
                       description="Scan a root's library directories as its own glibc "
                                   "ldconfig would, make the SONAME links and write the cache "
                                   "— byte-identical to that ldconfig's, executing nothing.")
    add_build_options(p)
    p.set_defaults(func=cmd_build)


def cmd_build(args: argparse.Namespace, prog: str = "ldcache") -> int:
    from ..build import BuildOptions, run_build

    options = BuildOptions(
        root=args.root or "/",
        cache=args.cache,
        conf=args.conf,
        dirs=tuple(os.fsencode(d) for d in args.dirs),
        update_links=not args.no_links,
        build_cache=not (args.no_cache or args.only_cmdline),
        only_cmdline=args.only_cmdline,
        manual_link=args.manual_link,
        layout=args.format,
        ignore_aux=args.ignore_aux or args.cache is not None,
        verbose=args.verbose,
        generator=os.fsencode(args.generator) if args.generator is not None else
        DEFAULT_GENERATOR.encode(),
        glibc=args.glibc,
        arch=args.arch,
    )
    result = run_build(options, out=_stdout, warn=warner(prog))
    if getattr(args, "summary", False):
        sys.stdout.write(summary_line(options, result) + "\n")
    return 0


def _stdout(data: bytes) -> None:
    """The -v lines, on standard output."""
    sys.stdout.buffer.write(data)


def warner(prog: str) -> "Callable[[str], None]":
    """How the library's warnings and notices are said: ``PROG: TEXT`` on standard error
    (bytes as the file names were, in order with the -v lines on standard output)."""
    def warn(text: str) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stderr.buffer.write(f"{prog}: {text}\n".encode(errors="surrogateescape"))
    return warn


def summary_line(options: "BuildOptions", result: "BuildResult") -> str:
    """``build --summary``: what the run did, in one line."""
    info, p, report = result.info, result.plan, result.report
    root = os.fsdecode(options.root) if isinstance(options.root, bytes) else options.root
    v = info.behaviour.version
    parts = [f"{root}: glibc {v[0]}.{v[1]} {info.arch.name}"]
    if p is not None:
        parts.append(f"{len(p.entries)} libraries in {len(p.directories)} directories")
    if report is not None:
        links = f"{report.links_made} links made"
        if report.links_failed:
            links += f", {report.links_failed} failed"
        if report.removed:
            links += f", {report.removed} dangling removed"
        parts.append(links)
    if result.cache is not None and result.cache_bytes is not None:
        parts.append(f"{options.cache or '/etc/ld.so.cache'} written "
                     f"({len(result.cache.entries)} entries, {result.cache.layout} layout, "
                     f"{len(result.cache_bytes)} bytes)")
    else:
        parts.append("no cache written")
    return "; ".join(parts)


# --- the ldconfig personality ----------------------------------------------------------------

def _ldconfig_arguments(p: Any) -> None:
    add_build_options(p, ldconfig_names=True)
    p.add_argument("-p", "--print-cache", dest="print_cache", action="store_true",
                   help="print the cache")
    p.add_argument("-V", "--version", action="version",
                   version=f"ldconfig (ldcache {__version__})")


def ldconfig_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(prog="ldconfig", description="Configure dynamic linker "
                                "run-time bindings (ldcache, executing nothing).")
    _ldconfig_arguments(p)
    return p


def ldconfig_main(argv: Sequence[str]) -> int:
    from ..format import LAYOUTS
    from .common import run
    from .fastargs import Namespace, Recorder, parse

    rec = Recorder()
    _ldconfig_arguments(rec)
    args: Any = parse(rec, list(argv))
    if args is None:
        args = ldconfig_parser().parse_args(list(argv))
    if args.format is not None and args.format not in LAYOUTS:
        args.format = None  # glibc ignores an unknown -c value
    if args.print_cache:
        from .inspect import cmd_print

        ns = Namespace(cache=args.cache or "/etc/ld.so.cache", root=args.root,
                       glibc=args.glibc, json=False)
        return run(cmd_print, ns, "ldconfig")
    return run(lambda a: cmd_build(a, "ldconfig"), args, "ldconfig")

