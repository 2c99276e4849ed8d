"""Why a file is, or is not, in a root's cache — and which file a SONAME resolves to.

Built on the scanner's public pieces, never on its internals' state: the plan of the
root (:func:`ldcache.build.plan_root`: the directories scanned, the entries, the SONAME
link decisions), the name filter (:func:`ldcache.scan.is_dso_name`), the ELF probe
(:func:`ldcache.elf.process_file`) and the loader simulation (:mod:`ldcache.lookup`).
The cache explained is the one ``ldcache build`` would write now; the root's current
cache file is consulted only to say whether it agrees.

Verdicts (``Explanation.verdict``):

``in-cache``            the file is a cache entry's target and the loader picks it
``shadowed-by-earlier`` in the cache, but the loader picks another entry for its SONAME
``rejected-by-loader``  in the cache, but the loader skips the entry (flags, hwcaps, ISA)
``shadowed-in-directory`` another file with the same SONAME in the same directory wins
``development-link``    a ``libfoo.so`` link to a library; the cache lists the SONAME
``not-in-directory``    its directory is not scanned (not configured, not a system dir)
``skipped-name``        not a DSO name (``lib*.so*``, ``ld-*.so*``) or a temporary name
``not-a-library``       the ELF probe rejects it (reason given), or not a regular file
``missing``             the path does not exist in the root
``no-soname``           a SONAME query that no library in the scanned directories has
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .diff import EntryKey, entry_key
from .errors import LdcacheError
from .format import Cache
from .inroot import Root
from .lookup import Loader, Lookup, default_loader, lookup

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .detect import RootInfo
    from .scan import Plan

__all__ = ["Explanation", "explain"]


@dataclass
class Explanation:
    query: bytes
    #: "path" or "soname".
    kind: str
    verdict: str
    #: Sentences, in the order of ldconfig's decisions.
    reasons: list[str] = field(default_factory=list)
    soname: bytes | None = None
    #: The directory that holds the file as ldconfig spells it (path queries).
    directory: bytes | None = None
    #: Planned cache entries for the SONAME.
    entries: list[EntryKey] = field(default_factory=list)
    #: The loader's lookup of the SONAME in the planned cache.
    lookup: Lookup | None = None
    #: Whether the root's current cache file has the same entries for the SONAME (None:
    #: no cache file, or nothing to compare).
    current: bool | None = None
    #: What had to be assumed about the root (no glibc found, …), for the frontend to say.
    notices: list[str] = field(default_factory=list)

    @property
    def in_cache(self) -> bool:
        return self.verdict == "in-cache"


def explain(root_path: str | bytes, query: str | bytes, *, cache: str = "/etc/ld.so.cache",
            conf: str = "/etc/ld.so.conf", glibc: str | None = None,
            arch: str | None = None) -> Explanation:
    """Explain ``query`` — an absolute in-root path, or a SONAME (no ``/``)."""
    from .build import BuildOptions, plan_root
    from .scan import make_cache

    q = os.fsencode(query)
    if not q:
        raise LdcacheError("explain: empty PATH or SONAME")
    if b"/" in q and not q.startswith(b"/"):
        raise LdcacheError(f"{os.fsdecode(q)}: PATH must be absolute (inside the root)")
    with Root(root_path) as root:
        info, plan = plan_root(root, BuildOptions(root=root_path, conf=conf, glibc=glibc,
                                                  arch=arch, ignore_aux=True))
        planned = make_cache(plan, info.arch, info.behaviour)
        loader = default_loader(info.arch, info.behaviour.version)
        ctx = _Context(root, info, plan, planned, loader, cache)
        if b"/" in q:
            out = ctx.explain_path(q)
        else:
            out = ctx.explain_soname(q)
        out.notices = list(info.notices)
        if out.soname is not None:
            out.current = ctx.current_agrees(out.soname)
            if out.current is False:
                out.reasons.append("the root's cache file differs for this SONAME: it is "
                                   "stale (ldcache build would update it)")
        return out


class _Context:
    def __init__(self, root: Root, info: RootInfo, plan: Plan, planned: Cache,
                 loader: Loader, cache: str) -> None:
        self.root = root
        self.info = info
        self.plan = plan
        self.planned = planned
        self.loader = loader
        self.cache = cache

    # --- helpers -------------------------------------------------------------------------

    def _dir_ids(self) -> dict[tuple[int, int], bytes]:
        ids: dict[tuple[int, int], bytes] = {}
        for d in self.plan.directories:
            try:
                st = self.root.stat(d)
            except OSError:
                continue
            ids.setdefault((st.st_dev, st.st_ino), d)
        return ids

    def _entries_for(self, soname: bytes) -> list[EntryKey]:
        return [entry_key(self.planned, e) for e in self.planned.entries if e.soname == soname]

    def current_agrees(self, soname: bytes) -> bool | None:
        from .format import parse

        try:
            data = self.root.read_file(self.cache, max_bytes=256 << 20)
        except OSError:
            return None
        if not data:
            return None
        try:
            current = parse(data)
        except LdcacheError:
            return None
        mine = [entry_key(current, e) for e in current.entries if e.soname == soname]
        return mine == self._entries_for(soname)

    def _lookup(self, out: Explanation, soname: bytes) -> Lookup:
        result = lookup(self.planned, soname, self.loader)
        out.lookup = result
        out.entries = self._entries_for(soname)
        return result

    # --- SONAME --------------------------------------------------------------------------

    def explain_soname(self, soname: bytes) -> Explanation:
        out = Explanation(soname, "soname", "no-soname", soname=soname)
        result = self._lookup(out, soname)
        if not out.entries:
            out.reasons.append(f"no library with SONAME {_s(soname)} in the "
                               f"{len(self.plan.directories)} scanned directories")
            out.reasons.extend(self._near_misses(soname))
            return out
        if result.path is not None:
            out.verdict = "in-cache"
            out.reasons.append(f"the loader picks {_s(result.path)}")
        else:
            out.verdict = "rejected-by-loader"
            out.reasons.append("the loader accepts none of its entries")
        for c in result.candidates:
            if c.verdict != "chosen":
                out.reasons.append(f"{_s(c.entry.path)}: {c.verdict}: {c.reason}")
        return out

    def _near_misses(self, soname: bytes) -> list[str]:
        """Files named like the SONAME whose own SONAME is another."""
        from .elf import Library, process_file

        lines = []
        for d in self.plan.directories:
            try:
                names = self.root.listdir(d)
            except OSError:
                continue
            for name, _dtype in names:
                if name != soname and not name.startswith(soname + b"."):
                    continue
                path = d + b"/" + name
                try:
                    fd = self.root.open(path)
                except OSError:
                    lines.append(f"{_s(path)} cannot be opened (dangling link?)")
                    continue
                try:
                    probe = process_file(fd, os.fstat(fd).st_size, path, self.info.arch,
                                         self.info.behaviour)
                finally:
                    os.close(fd)
                if isinstance(probe, Library):
                    lines.append(f"{_s(path)} has SONAME "
                                 f"{_s(probe.soname) if probe.soname else '(none)'}")
                else:
                    lines.append(f"{_s(path)} is not a library ldconfig accepts")
        return lines

    # --- PATH ----------------------------------------------------------------------------

    def explain_path(self, path: bytes) -> Explanation:
        from .elf import Library, process_file
        from .scan import implicit_soname, is_dso_name, is_temporary_name

        b = self.info.behaviour
        out = Explanation(path, "path", "missing")
        try:
            lst = self.root.stat(path, follow=False)
        except OSError as exc:
            out.reasons.append(f"{_s(path)} does not exist in the root "
                               f"({exc.strerror or 'cannot be reached'})")
            return out
        parent, _, name = path.rpartition(b"/")
        parent = parent or b"/"
        try:
            pst = self.root.stat(parent)
            spelled = self._dir_ids().get((pst.st_dev, pst.st_ino))
        except OSError:
            spelled = None
        if spelled is None:
            out.verdict = "not-in-directory"
            out.reasons.append(f"{_s(parent)} is not a directory ldconfig scans "
                               f"(not in ld.so.conf, its includes or the system directories)")
            out.reasons.append("scanned: " + ", ".join(_s(d) for d in self.plan.directories))
            return out
        out.directory = spelled
        hwcaps = None
        up, _, last = spelled.rpartition(b"/")
        if up.endswith(b"/glibc-hwcaps"):
            hwcaps = last
            out.reasons.append(f"{_s(spelled)} is the glibc-hwcaps subdirectory {_s(last)} "
                               f"of {_s(up[:-len(b'/glibc-hwcaps')])}: its libraries are "
                               "used only when the loader has that subdirectory active")
        else:
            out.reasons.append(f"{_s(spelled)} is scanned")
        is_link = stat.S_ISLNK(lst.st_mode)
        if not is_dso_name(name, b) and (stat.S_ISREG(lst.st_mode) or hwcaps is None):
            out.verdict = "skipped-name"
            out.reasons.append(f"{_s(name)} is not a DSO name (lib*.so*, ld-*.so*): "
                               "ldconfig does not look at it")
            return out
        if is_temporary_name(name, b):
            out.verdict = "skipped-name"
            out.reasons.append(f"{_s(name)} is a temporary file name (prelink, dpkg, rpm): "
                               "skipped")
            return out
        try:
            st = self.root.stat(path)
        except OSError as exc:
            out.verdict = "not-a-library"
            out.reasons.append(f"a link that leads nowhere ({exc.strerror}); "
                               + ("ldconfig deletes it" if b".so." in name else "skipped"))
            return out
        if not stat.S_ISREG(st.st_mode):
            out.verdict = "not-a-library"
            out.reasons.append("not a regular file" + (" (a directory)"
                                                       if stat.S_ISDIR(st.st_mode) else ""))
            return out
        fd = self.root.open(path)
        try:
            probe = process_file(fd, st.st_size, path, self.info.arch, b)
        finally:
            os.close(fd)
        if not isinstance(probe, Library):
            out.verdict = "not-a-library"
            if probe.message:
                out.reasons.append("the ELF probe rejects it: " + probe.message.strip())
            else:
                out.reasons.append("the ELF probe skips it silently: not an ELF shared object "
                                   "(ET_DYN), a linker script, or too small")
            return out
        soname = probe.soname if probe.soname is not None else implicit_soname(name, b)
        out.soname = soname
        if probe.soname is None:
            out.reasons.append(f"it has no DT_SONAME: entered under the name {_s(soname)}")
        else:
            out.reasons.append(f"SONAME {_s(soname)}, flags {probe.flags:#06x}"
                               + (f", x86 ISA level {probe.isa_level}" if probe.isa_level
                                  else ""))
        entry_path = spelled + b"/" + (name if hwcaps is not None else soname)
        if hwcaps is None and name != soname:
            link = next((op for op in self.plan.links
                         if op.directory == spelled and op.soname == soname), None)
            dev_link = is_link and name.endswith(b".so") and soname.startswith(name)
            if dev_link:
                out.verdict = "development-link"
                out.reasons.append(f"{_s(name)} is a development link; the cache lists "
                                   f"{_s(entry_path)}")
                self._lookup(out, soname)
                return out
            if link is not None and link.target != name:
                out.verdict = "shadowed-in-directory"
                out.reasons.append(f"shadowed by {_s(link.target)} in the same directory "
                                   "(same SONAME; the newer name by _dl_cache_libcmp wins, a "
                                   "regular file beats a link)")
                self._lookup(out, soname)
                return out
            if link is not None:
                out.reasons.append(f"the cache lists it through the SONAME link "
                                   f"{_s(entry_path)}")
        result = self._lookup(out, soname)
        if not any(k[1] == entry_path for k in out.entries):
            out.verdict = "not-in-directory"
            out.reasons.append(f"no cache entry {_s(entry_path)} is planned")
            return out
        mine = next((c for c in result.candidates if c.entry.path == entry_path), None)
        if result.path == entry_path:
            out.verdict = "in-cache"
            out.reasons.append(f"the loader picks {_s(entry_path)} for {_s(soname)}")
        elif mine is not None and mine.verdict == "rejected":
            out.verdict = "rejected-by-loader"
            out.reasons.append(f"in the cache, but the loader skips it: {mine.reason}")
        else:
            out.verdict = "shadowed-by-earlier"
            winner = _s(result.path) if result.path else "nothing"
            why = f": {mine.reason}" if mine is not None and mine.reason else ""
            out.reasons.append(f"in the cache, but the loader picks {winner} for "
                               f"{_s(soname)}{why}")
        return out


def _s(b: bytes) -> str:
    return os.fsdecode(b)
