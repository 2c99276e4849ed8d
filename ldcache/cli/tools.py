"""``ldcache diff``, ``lookup``, ``verify`` and ``explain``: questions about caches and roots.

They answer like ``diff(1)``: exit 0 for "yes / the same / current", 1 for "no / different
/ stale", and 2 when the question could not be answered (a missing or malformed file, an
unusable root; the one-line error names it) — also 2 for a bad command line.
"""

from __future__ import annotations

import os
import sys

from ..jsonout import dumps
from .common import error_line

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any

#: Exit statuses of these commands (README: "Errors and exit codes").
EXIT_YES, EXIT_NO, EXIT_TROUBLE = 0, 1, 2


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "diff", help="compare two cache files",
        description="Compare cache files A and B: entries added, removed and changed (path, "
                    "flags, hwcap), and layout, byte-order, generator, glibc-hwcaps and "
                    "order differences. Exit 0 when equal, 1 when different, 2 on trouble.")
    p.add_argument("a", metavar="A", help="first cache file")
    p.add_argument("b", metavar="B", help="second cache file")
    p.add_argument("--ignore-generator", action="store_true",
                   help="do not compare the generator strings")
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_diff, failure_status=EXIT_TROUBLE)

    p = sub.add_parser(
        "lookup", help="which file the loader takes for a SONAME",
        description="Simulate the glibc loader's cache lookup (elf/dl-cache.c): binary search "
                    "by _dl_cache_libcmp, the flags the architecture's loader accepts, "
                    "glibc-hwcaps priorities and x86 ISA levels. Print the path the loader "
                    "would open and why the other entries lost. Exit 0 when found, 1 when "
                    "not, 2 on trouble.")
    p.add_argument("soname", metavar="SONAME", help="the name a program asks for")
    _cache_args(p)
    p.add_argument("--arch", metavar="ARCH",
                   help="the loader's architecture (default: the root's)")
    p.add_argument("--glibc", metavar="VERSION",
                   help="the loader's glibc version (default: the root's)")
    p.add_argument("--hwcaps", metavar="NAME,...", action="append",
                   help="the loader's active glibc-hwcaps subdirectories, best first "
                        "(default: the port's built-in ones the CPU supports)")
    p.add_argument("--glibc-hwcaps-prepend", metavar="LIST", action="append", default=[],
                   help="as ld.so's option: names searched before the built-in ones")
    p.add_argument("--glibc-hwcaps-mask", metavar="LIST", action="append",
                   help="as ld.so's option: only these built-in subdirectories")
    p.add_argument("--isa-level", metavar="N", type=int, choices=(1, 2, 3, 4),
                   help="x86-64: the CPU's level, 1 (baseline) to 4 (x86-64-v4) "
                        "(default: this machine's CPU)")
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_lookup, failure_status=EXIT_TROUBLE)

    p = sub.add_parser(
        "verify", help="check that a root's cache is current",
        description="Compare a root's cache with what `ldcache build` would write for it now "
                    "(nothing is written): entries that would be added, removed or changed, "
                    "files gone, files whose SONAME changed, SONAME links to make and "
                    "dangling links. The generator string is ignored and the layout taken "
                    "from the file unless --strict. Exit 0 when current, 1 when stale, 2 on "
                    "trouble.")
    _root_args(p)
    p.add_argument("--strict", action="store_true",
                   help="also require the root glibc's default layout and the exact bytes")
    p.add_argument("--generator", metavar="TEXT",
                   help="also require this generator string")
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_verify, failure_status=EXIT_TROUBLE)

    p = sub.add_parser(
        "explain", help="why a file is, or is not, in a root's cache",
        description="Explain why a library file is or is not in the cache `ldcache build` "
                    "would write for ROOT (directory not scanned, name skipped, rejected by "
                    "the ELF probe, no SONAME, shadowed in its directory or by an earlier "
                    "one, glibc-hwcaps subdirectory), or which file a SONAME resolves to. "
                    "Exit 0 when the loader would use it, 1 when not, 2 on trouble.")
    p.add_argument("query", metavar="PATH|SONAME",
                   help="an absolute path inside ROOT, or a SONAME")
    _root_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON document instead")
    p.set_defaults(func=cmd_explain, failure_status=EXIT_TROUBLE)


def _cache_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-C", dest="cache", metavar="CACHE", default="/etc/ld.so.cache",
                   help="cache file (default /etc/ld.so.cache; inside ROOT with -r)")
    p.add_argument("-r", dest="root", metavar="ROOT",
                   help="root directory: CACHE is a path inside it")


def _root_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", dest="root", metavar="ROOT", default="/",
                   help="root directory (default /)")
    p.add_argument("-C", dest="cache", metavar="CACHE", default="/etc/ld.so.cache",
                   help="cache file inside ROOT (default /etc/ld.so.cache)")
    p.add_argument("-f", dest="conf", metavar="CONF", default="/etc/ld.so.conf",
                   help="configuration file inside ROOT (default /etc/ld.so.conf)")
    p.add_argument("--glibc", metavar="VERSION",
                   help="behave as this glibc version (default: the root's glibc)")
    p.add_argument("--arch", metavar="ARCH",
                   help="the root's architecture (default: found from its loader and libc)")


def _out(data: bytes) -> None:
    sys.stdout.flush()
    sys.stdout.buffer.write(data)


def _s(value: bytes | None) -> str:
    return "-" if value is None else os.fsdecode(value)


# --- diff ------------------------------------------------------------------------------------

def _read_host_cache(path: str) -> tuple[Any, bytes]:
    from ..format import Cache
    from .inspect import _parse, read_cache_bytes

    data, name = read_cache_bytes(path, None)
    if not data:
        from ..errors import CacheFormatError

        raise CacheFormatError(f"{path}: empty file, not a cache")
    return (_parse(data, name) if data else Cache()), name


def cmd_diff(args: argparse.Namespace) -> int:
    from ..diff import diff_caches, key_text
    from ..jsonout import diff_json

    a, name_a = _read_host_cache(args.a)
    b, name_b = _read_host_cache(args.b)
    d = diff_caches(a, b, ignore_generator=args.ignore_generator)
    if args.json:
        _out(dumps(diff_json(d, name_a, name_b)))
        return EXIT_YES if d.equal else EXIT_NO
    if d.equal:
        return EXIT_YES
    lines = [f"--- {_s(name_a)}", f"+++ {_s(name_b)}"]
    for key, (va, vb) in d.header.items():
        lines.append(f"{key}: {_show(va)} -> {_show(vb)}")
    if d.order_changed:
        lines.append("order: same entries in a different order")
    for k in d.removed:
        lines.append("- " + key_text(k))
    for k in d.added:
        lines.append("+ " + key_text(k))
    for c in d.changed:
        lines.append(f"~ {key_text(c.old)}")
        lines.append(f"  {key_text(c.new)}  [{', '.join(c.fields)}]")
    _out(("\n".join(lines) + "\n").encode(errors="surrogateescape"))
    return EXIT_NO


def _show(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, bytes):
        return repr(os.fsdecode(v))
    if isinstance(v, tuple):
        return "[" + ", ".join(_show(x) for x in v) + "]"
    return str(v)


# --- lookup ----------------------------------------------------------------------------------

def cmd_lookup(args: argparse.Namespace) -> int:
    from ..arch import arch_by_name
    from ..detect import detect_arch, detect_glibc
    from ..format import Cache
    from ..glibc import NEWEST, supported_version
    from ..inroot import Root
    from ..jsonout import lookup_json
    from ..lookup import default_loader, lookup, split_names
    from .inspect import _parse, read_cache_bytes

    data, name = read_cache_bytes(args.cache, args.root)
    cache = _parse(data, name) if data else Cache()
    with Root(args.root or "/") as r:
        g = detect_glibc(r)
        if args.arch:
            arch = arch_by_name(args.arch)
        else:
            found = detect_arch(r, g.libc_path if g else None)
            if found is None:
                from ..arch import host_arch

                found = host_arch()
            arch = found
    if args.glibc:
        version = supported_version(args.glibc)
    else:
        version = g.version if g is not None else NEWEST
    loader = default_loader(
        arch, version,
        hwcaps=split_names(args.hwcaps) if args.hwcaps else None,
        isa_level=args.isa_level,
        prepend=split_names(args.glibc_hwcaps_prepend),
        mask=split_names(args.glibc_hwcaps_mask) if args.glibc_hwcaps_mask else None)
    result = lookup(cache, os.fsencode(args.soname), loader)
    status = EXIT_YES if result.path is not None else EXIT_NO
    if args.json:
        _out(dumps(lookup_json(result, name)))
        return status
    _out(lookup_text(result).encode(errors="surrogateescape"))
    return status


def lookup_text(result: Any, indent: str = "") -> str:
    from ..lookup import Lookup

    assert isinstance(result, Lookup)
    lo = result.loader
    lines = []
    if result.path is not None:
        lines.append(f"{indent}{_s(result.soname)} => {_s(result.path)}")
    else:
        lines.append(f"{indent}{_s(result.soname)}: not found in the cache")
    level = "" if lo.isa_level is None else (
        ", CPU " + ("baseline" if lo.isa_level <= 1 else f"x86-64-v{lo.isa_level}"))
    lines.append(f"{indent}  loader: {lo.arch.name}, glibc {lo.version[0]}.{lo.version[1]}, "
                 f"default flags {lo.default_flags:#06x}, glibc-hwcaps "
                 f"{' '.join(lo.hwcaps) or '-'}{level}")
    for note in result.notes:
        lines.append(f"{indent}  {note}")
    for c in result.candidates:
        e = c.entry
        what = f"[{c.index}] {c.verdict:<11} {_s(e.path)} ({e.flags:#06x}"
        if e.is_hwcaps:
            what += f', hwcaps "{_s(e.hwcaps_name) if e.hwcaps_name else e.hwcaps_index}"'
        elif e.hwcap:
            what += f", hwcap {e.hwcap:#x}"
        what += ")"
        if c.reason:
            what += ": " + c.reason
        lines.append(f"{indent}  {what}")
    return "\n".join(lines) + "\n"


# --- verify ----------------------------------------------------------------------------------

def cmd_verify(args: argparse.Namespace) -> int:
    from ..diff import key_text
    from ..jsonout import verify_json
    from ..verify import verify_root

    v = verify_root(args.root, args.cache, conf=args.conf, glibc=args.glibc, arch=args.arch,
                    strict=args.strict,
                    generator=os.fsencode(args.generator) if args.generator is not None
                    else None)
    for notice in v.notices:
        error_line("ldcache verify", notice)
    status = EXIT_NO if v.stale else EXIT_YES
    if args.json:
        _out(dumps(verify_json(v)))
        return status
    where = f"{args.cache} in {args.root}"
    if not v.stale:
        _out(f"{where}: current ({len(v.expected.entries)} entries)\n".encode(
            errors="surrogateescape"))
        return status
    lines = [f"{where}: stale"]
    if v.actual is None:
        lines.append("  no cache file")
    d = v.diff
    for key, (va, vb) in d.header.items():
        lines.append(f"  {key}: {_show(va)} in the cache, {_show(vb)} from a build")
    if d.order_changed:
        lines.append("  entries in another order than a build gives")
    missing = set(v.missing)
    changed_soname = {k: now for k, now in v.soname_changed}
    for k in d.removed:
        why = ""
        if k in missing:
            why = "  [file missing]"
        elif k in changed_soname:
            now = changed_soname[k]
            why = (f"  [file now has SONAME {_s(now)}]" if now is not None
                   else "  [no longer a library]")
        lines.append(f"  - {key_text(k)}{why}")
    for k in d.added:
        lines.append(f"  + {key_text(k)}")
    for c in d.changed:
        lines.append(f"  ~ {key_text(c.old)}")
        lines.append(f"    {key_text(c.new)}  [{', '.join(c.fields)}]")
    for path in v.dangling:
        lines.append(f"  dangling link {_s(path)} (build deletes it)")
    for link, target in v.links:
        lines.append(f"  link {_s(link)} -> {_s(target)} (build makes it)")
    if v.layout is not None:
        lines.append(f"  layout {v.layout[0]}, the root's glibc writes {v.layout[1]}")
    if v.bytes_equal is False:
        lines.append("  the bytes differ from what the root's glibc ldconfig writes")
    _out(("\n".join(lines) + "\n").encode(errors="surrogateescape"))
    return status


# --- explain ---------------------------------------------------------------------------------

def cmd_explain(args: argparse.Namespace) -> int:
    from ..explain import explain
    from ..jsonout import explain_json

    e = explain(args.root, args.query, cache=args.cache, conf=args.conf, glibc=args.glibc,
                arch=args.arch)
    for notice in e.notices:
        error_line("ldcache explain", notice)
    status = EXIT_YES if e.in_cache else EXIT_NO
    if args.json:
        _out(dumps(explain_json(e)))
        return status
    lines = [f"{_s(e.query)}: {e.verdict}"]
    lines += [f"  {r}" for r in e.reasons]
    text = "\n".join(lines) + "\n"
    if e.lookup is not None and e.lookup.candidates:
        text += "lookup:\n" + lookup_text(e.lookup, "  ")
    _out(text.encode(errors="surrogateescape"))
    return status
