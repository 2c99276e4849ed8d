"""Carry out a plan: make the links, remove stale ones, write the cache atomically.

Everything under the root is written through :class:`~ldcache.inroot.Root`.  The cache is
written to a unique temporary file beside the target, fsynced and renamed into place, so
the old cache stays intact after any failure.  A link is replaced by creating the new one
under a temporary name and renaming it over the old (ldconfig unlinks first; the result is
the same tree, without the moment where the soname is missing).

Crashes and concurrent runs
---------------------------
Temporary names are ``.NAME.ldcache-XXXXXX`` (:meth:`Root.write_atomic`'s scheme, for the
links too).  A run killed at any point leaves the old or the new file in place and at
most such temporaries; they are hidden names no scan takes for libraries, and the next
run removes them (:func:`write_cache`: the cache's; :func:`apply_plan`: the links' in each
directory it links in, those its scan saw there; the aux cache's in
:mod:`ldcache.auxcache`).  Removing them is only safe
when no other run is between creating and renaming one, so it is done only while holding
:class:`ldcache.lock.locked` — the run lock every ldcache run takes around its writes
(without the lock nothing is removed).
"""

from __future__ import annotations

from . import _os as os
from .errors import RootError
from .format import Cache, build
from .inroot import Dir, Root
from .lock import locked
from .scan import Header, LinkOp, Message, Plan, Removal

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Dict, Optional

__all__ = ["apply_plan", "write_cache", "Report"]

def _remove_stale_link_temps(d: Dir, names: list[bytes]) -> int:
    """Remove those of ``names`` (temporaries the scan saw in ``d``) that are symlinks."""
    count = 0
    for name in names:
        try:
            count += d.unlink_symlink(name)
        except RootError:
            pass
    return count


class Report:
    """What carrying out a plan did."""

    def __init__(self) -> None:
        self.links_made = 0
        self.links_failed = 0
        self.removed = 0
        #: leftover temporary links of an interrupted run, removed
        self.stale_temps = 0
        self.messages: list[str] = []


def _ignore(data: object) -> None:
    pass


def apply_plan(root: Root, p: Plan, *, update_links: bool = True, verbose: bool = False,
               out: Callable[[bytes], None] | None = None,
               warn: Callable[[str], None] | None = None) -> Report:
    """Make the plan's links (when ``update_links``), handing on its output in ldconfig's
    order: ``out`` gets the ``-v`` lines (bytes, for standard output), ``warn`` each warning
    (one line's text, without the program name); the frontend prints them.  The warnings are
    also in the report's ``messages``."""
    out = out or _ignore
    report = Report()
    say = warn or _ignore

    def warn_(text: str) -> None:
        report.messages.append(text)
        say(text)

    with locked(root) as held, _Dirs(root) as dirs:
        if held and update_links and p.link_temps:
            seen = set()
            for ev in p.events:
                if isinstance(ev, LinkOp) and ev.needed and ev.directory not in seen:
                    seen.add(ev.directory)
                    names = p.link_temps.get(ev.directory)
                    if names:
                        d = dirs.get(ev.directory)
                        if d is not None:
                            report.stale_temps += _remove_stale_link_temps(d, names)
        _apply_events(dirs, p, update_links, verbose, out, warn_, report)
    return report


class _Dirs:
    """The directories a plan changes, each opened once (by its in-root path) and then
    changed only relative to that fd: a check and the change it guards, or a link's two
    steps, always reach the same directory, whatever is swapped in the tree meanwhile."""

    def __init__(self, root: Root) -> None:
        self._root = root
        self._open: Dict[bytes, Optional[Dir]] = {}

    def get(self, directory: bytes) -> Optional[Dir]:
        """The open directory, or None when it cannot be opened."""
        try:
            return self._open[directory]
        except KeyError:
            pass
        d: Optional[Dir]
        try:
            d = self._root.opendir(directory)
        except RootError:
            d = None
        self._open[directory] = d
        return d

    def __enter__(self) -> "_Dirs":
        return self

    def __exit__(self, *exc: object) -> None:
        for d in self._open.values():
            if d is not None:
                d.close()
        self._open.clear()


def _apply_events(dirs: _Dirs, p: Plan, update_links: bool, verbose: bool,
                  out: Callable[[bytes], None], warn: Callable[[str], None],
                  report: Report) -> None:
    for ev in p.events:
        if isinstance(ev, Header):
            out(ev.text)
        elif isinstance(ev, Message):
            warn(ev.text)
        elif isinstance(ev, Removal):
            if update_links:
                parent, _, name = ev.path.rpartition(b"/")
                d = dirs.get(parent or b"/")
                try:
                    if d is not None and d.unlink_symlink(name):
                        report.removed += 1
                except RootError:
                    pass
        elif isinstance(ev, LinkOp):
            _link(dirs, ev, update_links, verbose, out, warn, report)


def _link(dirs: _Dirs, op: LinkOp, update_links: bool, verbose: bool,
          out: Callable[[bytes], None], warn: Callable[[str], None], report: Report) -> None:
    line = b"\t%s -> %s" % (op.soname, op.target)
    if not (op.needed and update_links):
        if verbose:
            out(line + b"\n")
        return
    path = op.directory + b"/" + op.soname
    parent, _, name = path.rpartition(b"/")  # a soname may have a '/' in it
    d = dirs.get(parent or b"/")
    ok = d is not None
    if d is not None:
        try:
            d.replace_symlink(op.target, name)
        except RootError:
            ok = False
    if not ok:
        warn(f"Can't link {os.fsdecode(path)} to {os.fsdecode(op.target)}")
        report.links_failed += 1
    else:
        report.links_made += 1
    if verbose:
        out(line + (b" (changed)\n" if ok else b" (SKIPPED)\n"))


def write_cache(root: Root, path: bytes | str, cache: Cache,
                data: Optional[bytes] = None) -> bytes:
    """Write ``cache`` (encoded as ``data`` when the caller has it already) to ``path``
    inside ``root`` atomically (mode 0644); returns the bytes.

    Temporaries that killed runs left beside ``path`` are removed first (under the run
    lock only)."""
    if data is None:
        data = build(cache)
    with locked(root) as held:
        if held:
            try:
                root.remove_stale_temps(path)
            except RootError:
                pass  # e.g. no directory yet: write_atomic reports what matters
        root.write_atomic(path, data, 0o644)
    return data
