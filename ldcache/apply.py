"""Carry out a plan: make the links, remove stale ones, write the cache atomically.

Everything under the root is written through :class:`~ldcache.inroot.Root`.  The cache is
written to a unique temporary file beside the target, fsynced and renamed into place, so
the old cache stays intact after any failure.  A link is replaced by creating the new one
under a temporary name and renaming it over the old (ldconfig unlinks first; the result is
the same tree, without the moment where the soname is missing).
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from .errors import RootError
from .format import Cache, build
from .inroot import Root
from .scan import Header, LinkOp, Message, Plan, Removal

__all__ = ["apply_plan", "write_cache", "Report"]


@dataclass
class Report:
    links_made: int = 0
    links_failed: int = 0
    removed: int = 0
    messages: list[str] = field(default_factory=list)


def _printer(stream: BinaryIO | None) -> Callable[[bytes], None]:
    if stream is None:
        return lambda data: None
    return stream.write


def apply_plan(root: Root, p: Plan, *, update_links: bool = True, verbose: bool = False,
               prog: str = "ldcache", stdout: BinaryIO | None = None,
               stderr: BinaryIO | None = None) -> Report:
    """Print the plan's messages and make its links (when ``update_links``)."""
    out = _printer(stdout if stdout is not None else sys.stdout.buffer)
    err = _printer(stderr if stderr is not None else sys.stderr.buffer)
    report = Report()

    def warn(text: str) -> None:
        report.messages.append(text)
        err(f"{prog}: {text}\n".encode(errors="surrogateescape"))

    for ev in p.events:
        if isinstance(ev, Header):
            out(ev.text)
        elif isinstance(ev, Message):
            warn(ev.text)
        elif isinstance(ev, Removal):
            if update_links:
                try:
                    root.unlink(ev.path)
                    report.removed += 1
                except RootError:
                    pass
        elif isinstance(ev, LinkOp):
            _link(root, ev, update_links, verbose, out, warn, report)
    return report


def _link(root: Root, op: LinkOp, update_links: bool, verbose: bool,
          out: Callable[[bytes], None], warn: Callable[[str], None], report: Report) -> None:
    line = b"\t%s -> %s" % (op.soname, op.target)
    if not (op.needed and update_links):
        if verbose:
            out(line + b"\n")
        return
    path = op.directory + b"/" + op.soname
    ok = True
    parent, _, base = path.rpartition(b"/")
    tmp = parent + b"/." + base + b".ldcache-" + secrets.token_hex(4).encode()
    try:
        root.symlink(op.target, tmp)
    except RootError:
        ok = False
    if ok:
        try:
            root.rename(tmp, path)
        except RootError:
            ok = False
            try:
                root.unlink(tmp)
            except RootError:
                pass
    if not ok:
        warn(f"Can't link {os.fsdecode(path)} to {os.fsdecode(op.target)}")
        report.links_failed += 1
    else:
        report.links_made += 1
    if verbose:
        out(line + (b" (changed)\n" if ok else b" (SKIPPED)\n"))


def write_cache(root: Root, path: bytes | str, cache: Cache) -> bytes:
    """Write ``cache`` to ``path`` inside ``root`` atomically (mode 0644); returns the bytes."""
    data = build(cache)
    root.write_atomic(path, data, 0o644)
    return data
