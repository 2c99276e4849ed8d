"""Directories → a plan: the cache entries and the link operations ldconfig would make.

This is glibc's ``elf/ldconfig.c`` (``add_dir_1``, ``add_glibc_hwcaps_subdirectories``,
``search_dir``, ``create_links``) for one root, as the root's own ldconfig would run it
(chrooted): it only *reads* the root, through :class:`~ldcache.inroot.Root`.  Writing —
links, removals, the cache file — is :mod:`ldcache.apply`'s job.

The plan is an ordered list of events (directory headers, messages, link operations,
stale-link removals), so that carrying it out prints what ``ldconfig -v`` prints in the same
order, plus the cache entries in insertion order.
"""

from __future__ import annotations

import errno
import stat

from . import _os as os
from ._record import Record
from .arch import Arch
from .auxcache import file_ident
from .cacheflags import FLAG_ANY, FLAG_ELF, FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, FLAG_LIBC4
from .conf import parse_conf, trim_dir
from .elf import Library, process_file, soname_from_file_name
from .errors import RootError
from .format import (
    HWCAP_EXTENSION,
    OLD_ENTRY_SIZE,
    OLD_HEADER_SIZE,
    Cache,
    Entry,
    old_table_count,
)
from .glibc import Behaviour
from .hwcaps import LegacyHwcaps, legacy_hwcaps
from .inroot import DT_DIR, DT_LNK, DT_REG, DT_UNKNOWN, Dir, FileHandle, Root, is_temp_name
from .libcmp import libcmp, libcmp_key
from .limits import Deadline, check_dir_entries
from .options import BuildOptions

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterable, Protocol, Union

    from .auxcache import Ident
    from .conf import ConfResult

__all__ = ["Plan", "Header", "Message", "LinkOp", "Removal",
           "plan", "read_conf", "make_cache", "is_dso_name", "is_temporary_name",
           "manual_link_plan"]


# --- plan events ---------------------------------------------------------------------------

class Header(Record):
    """A ``-v`` line printed on stdout (directory headers, hwcaps link notes)."""

    text: bytes


class Message(Record):
    """A warning ldconfig prints on stderr (``verbose``: only with ``-v``)."""

    text: str
    verbose: bool = False


class LinkOp(Record):
    """``create_links``: make ``directory/soname`` a symlink to ``target``."""

    directory: bytes
    soname: bytes
    target: bytes
    #: ldconfig's decision: False when the link is already right or a regular file is there.
    needed: bool
    #: a (stale) symlink is in the way and is removed first.
    remove_first: bool


class Removal(Record):
    """A dangling ``*.so.*`` symlink ldconfig deletes."""

    path: bytes


if TYPE_CHECKING:  # pragma: no cover
    Event = Union[Header, Message, LinkOp, Removal]


class Plan:
    """What an ldconfig run would do: events in order, and the cache entries."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        #: cache entries in insertion order (the cache sorts them).  A glibc-hwcaps entry's
        #: hwcap has its ISA level and index 0: :func:`make_cache` gives it its name's index.
        self.entries: list[Entry] = []
        #: every glibc-hwcaps subdirectory name met, in discovery order (all are interned).
        self.hwcaps_names: list[bytes] = []
        #: directories scanned, in order (in-root spellings).
        self.directories: list[bytes] = []
        #: files whose ELF probe was answered by the aux cache / probed afresh.
        self.probed = 0
        self.reused = 0
        #: the aux cache consulted and filled while planning (None with -N).
        self.aux: AuxLookup | None = None
        #: temporary links killed runs left (:func:`~ldcache.inroot.is_temp_name`), by the
        #: directory they were seen in (the run lock is held from the scan to the writes:
        #: :mod:`ldcache.apply` removes them without listing the directory again)
        self.link_temps: dict[bytes, list[bytes]] = {}

    def _freeze(self) -> "Plan":
        """The plan as returned: its lists become tuples, and nothing can be set on it
        (its class becomes :class:`_FrozenPlan`: the scan's own counting pays nothing)."""
        self.events = tuple(self.events)  # type: ignore[assignment]
        self.entries = tuple(self.entries)  # type: ignore[assignment]
        self.hwcaps_names = tuple(self.hwcaps_names)  # type: ignore[assignment]
        self.directories = tuple(self.directories)  # type: ignore[assignment]
        self.__class__ = _FrozenPlan
        return self

    @property
    def links(self) -> list[LinkOp]:
        return [e for e in self.events if isinstance(e, LinkOp)]

    @property
    def messages(self) -> list[Message]:
        return [e for e in self.events if isinstance(e, Message)]


class _FrozenPlan(Plan):
    """A returned plan (see :meth:`Plan._freeze`)."""

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a returned plan is frozen (setting {name!r})")


# --- directory registration ----------------------------------------------------------------

class _Dir:
    __slots__ = ("path", "origin", "line", "flag", "dev", "ino", "hwcaps_name")

    def __init__(self, path: bytes, origin: bytes, line: int, flag: int, dev: int, ino: int,
                 hwcaps_name: bytes | None = None) -> None:
        self.path = path
        self.origin = origin
        self.line = line
        self.flag = flag
        self.dev = dev
        self.ino = ino
        self.hwcaps_name = hwcaps_name


class _Registry:
    """ldconfig's directory list: inode-deduplicated, in registration order."""

    def __init__(self, root: Root, b: Behaviour, plan: Plan, verbose: bool) -> None:
        self.root = root
        self.b = b
        self.plan = plan
        self.verbose = verbose
        self.dirs: list[_Dir] = []
        self._ids: dict[tuple[int, int], _Dir] = {}

    def add_single(self, d: _Dir, verbose: bool) -> bool:
        prev = self._ids.get((d.dev, d.ino))
        if prev is not None:
            if self.verbose and verbose:
                text = f"Path `{_s(d.path)}' given more than once"
                if self.b.verbose_origin:  # ≥2.32 adds the two origins
                    text += (f"\n(from {_s(d.origin)}:{d.line} "
                             f"and {_s(prev.origin)}:{prev.line})")
                self.plan.events.append(Message(text, verbose=True))
            prev.flag = d.flag
            return False
        self._ids[(d.dev, d.ino)] = d
        self.dirs.append(d)
        return True

    def add_dir(self, raw: bytes, origin: bytes, line: int, flag: int = FLAG_ANY) -> None:
        path = trim_dir(raw)
        if not path:
            return
        try:
            st = self.root.stat(path)
        except RootError as exc:
            if self.verbose:
                self.plan.events.append(Message(f"Can't stat {_s(path)}: {_strerror(exc)}",
                                                verbose=True))
            return
        d = _Dir(path, origin, line, flag, st.st_dev, st.st_ino)
        if self.add_single(d, True) and self.b.glibc_hwcaps:
            self._add_glibc_hwcaps(d)

    def _add_glibc_hwcaps(self, parent: _Dir) -> None:
        base = parent.path + b"/glibc-hwcaps"
        try:
            names = self.root.listdir(base)
        except RootError:
            return
        check_dir_entries(len(names), base)
        for name, dtype in names:
            if name.startswith(b".") or dtype == DT_REG or b":" in name:
                continue
            try:
                st = self.root.stat(base + b"/" + name)
            except RootError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                continue
            self.plan.hwcaps_names.append(name)
            sub = _Dir(base + b"/" + name, parent.origin, parent.line, parent.flag,
                       st.st_dev, st.st_ino, hwcaps_name=name)
            self.add_single(sub, False)


# --- name filters --------------------------------------------------------------------------

def is_dso_name(name: bytes, b: Behaviour) -> bool:
    """glibc's ``_dl_is_dso``."""
    # (``find``, not ``b".so" in name``, which first tries b".so" as an int and formats
    # and clears a TypeError: these filters see every entry of every directory)
    if name.startswith((b"lib", b"ld-")) and name.find(b".so") >= 0:
        return True
    return b.dso_ld_so_names and name.startswith((b"ld.so.", b"ld64.so."))


def is_temporary_name(name: bytes, b: Behaviour) -> bool:
    """Names of prelink (and, glibc ≥ 2.39, rpm and dpkg) temporary files."""
    if name.endswith(b".#prelink#"):
        return True
    if len(name) >= 17 and name[-17:].startswith(b".#prelink#."):
        return True
    if b.skip_package_temp_names:
        return name.find(b";") >= 0 or name.endswith((b".dpkg-new", b".dpkg-tmp"))
    return False


def implicit_soname(name: bytes, b: Behaviour) -> bytes:
    """The soname of a library without DT_SONAME: its file name (2.37: cut after .so.N)."""
    return soname_from_file_name(name) if b.truncate_implicit_soname else name


# --- scanning ------------------------------------------------------------------------------

class _Lib:
    __slots__ = ("name", "soname", "flag", "is_link", "isa_level", "osversion")

    def __init__(self, name: bytes, soname: bytes, flag: int, is_link: bool, isa_level: int,
                 osversion: int) -> None:
        self.name = name
        self.soname = soname
        self.flag = flag
        self.is_link = is_link
        self.isa_level = isa_level
        self.osversion = osversion


class _Scanner:
    def __init__(self, root: Root, arch: Arch, b: Behaviour, options: BuildOptions, plan: Plan,
                 legacy: LegacyHwcaps, aux: "AuxLookup | None", *,
                 settled_links: bool = True) -> None:
        self.root = root
        self.arch = arch
        self.b = b
        self.opt = options
        self.plan = plan
        self.legacy = legacy
        self.aux = aux
        #: the run's time budget (ldcache.limits.MAX_RUN_SECONDS)
        self.deadline = Deadline()
        #: what each file of this directory read so far gave, by inode and version (see
        #: :meth:`_probe`)
        self.seen: dict[Ident, Library] = {}
        #: the text of this directory's symlinks read so far, by name
        self.link_text: dict[bytes, bytes] = {}
        #: whether the aux cache knows files (then a stat may be all a file needs)
        self.warm = bool(aux is not None and aux.known)
        #: whether links that need no change are planned too (as LinkOps with needed=False;
        #: see plan())
        self.settled_links = settled_links or options.verbose

    def msg(self, text: str, verbose: bool = False) -> None:
        if verbose and not self.opt.verbose:
            return
        self.plan.events.append(Message(text, verbose))

    def scan(self, reg: _Registry) -> None:
        i = 0
        # The list grows while it is walked: legacy hwcap subdirectories are appended.
        while i < len(reg.dirs):
            self.scan_dir(reg.dirs[i], reg)
            i += 1

    def scan_dir(self, entry: _Dir, reg: _Registry) -> None:
        b, opt = self.b, self.opt
        self.deadline.check(_s(entry.path))
        legacy_hwcap = 0
        if entry.hwcaps_name is None:
            if b.legacy_hwcaps:
                legacy_hwcap = self.legacy.path_hwcap(entry.path)
            head = entry.path + b":"
            if legacy_hwcap:
                head += b" (hwcap: %#018x)" % legacy_hwcap
        else:
            head = entry.path + b': (hwcap: "' + entry.hwcaps_name + b'")'
        if opt.verbose:
            if b.verbose_origin:
                head += b" (from %s:%d)" % (entry.origin, entry.line)
            self.plan.events.append(Header(head + b"\n"))
        self.plan.directories.append(entry.path)
        try:
            d = self.root.opendir(entry.path)
        except RootError as exc:
            self.msg(f"Can't open directory {_s(entry.path)}: {_strerror(exc)}", verbose=True)
            return
        with d:
            self.link_text.clear()  # (kept for the links' checks below)
            libs = self._read_dir(d, entry, reg)
            # What was read is remembered for the directory's own links (the common case),
            # not for the whole run: memory stays bounded by the largest directory.
            self.seen.clear()
            for lib in libs:
                self._add(d, entry, lib, legacy_hwcap)

    def _add(self, d: Dir, entry: _Dir, lib: _Lib, legacy_hwcap: int) -> None:
        """The links and the cache entry for one library of directory ``d``."""
        b, opt = self.b, self.opt
        if entry.hwcaps_name is None:
            if not lib.is_link:
                self._create_links(entry.path, lib.name, lib.soname, d)
            filename = lib.soname
        else:
            if opt.verbose:
                self.plan.events.append(Header(b"\t%s -> %s\n" % (lib.soname, lib.name)))
            filename = lib.name
        if opt.build_cache:
            # (every field positional: a record's cheapest construction; the entry is the
            # cache's own, not copied by make_cache)
            if entry.hwcaps_name is None:
                hwcap = legacy_hwcap
            else:
                hwcap = HWCAP_EXTENSION | (lib.isa_level << 32)
            self.plan.entries.append(Entry(
                lib.soname, entry.path + b"/" + filename, lib.flag,
                lib.osversion if b.osversion else 0, hwcap, entry.hwcaps_name))

    def _read_dir(self, d: Dir, entry: _Dir, reg: _Registry) -> list[_Lib]:
        b, opt = self.b, self.opt
        in_hwcaps = entry.hwcaps_name is not None
        libs: dict[bytes, _Lib] = {}
        order: list[bytes] = []
        listing = d.entries()
        check_dir_entries(len(listing), entry.path)
        for name, dtype in listing:
            if dtype not in (DT_UNKNOWN, DT_LNK, DT_REG, DT_DIR):
                continue
            if name[:1] == b"." and dtype != DT_DIR and is_temp_name(name):
                self.plan.link_temps.setdefault(entry.path, []).append(name)
                continue
            if not is_dso_name(name, b) and (
                    dtype == DT_REG or not (in_hwcaps or (
                        b.legacy_hwcaps and self.legacy.is_hwcap_platform(name)))):
                continue
            if is_temporary_name(name, b):
                continue
            file_name = entry.path + b"/" + name
            if dtype == DT_UNKNOWN:
                try:
                    link = stat.S_ISLNK(d.lstat(name).st_mode)
                except RootError as exc:
                    self.msg(f"Cannot lstat {_s(file_name)}: {_strerror(exc)}")
                    continue
            else:
                link = dtype == DT_LNK
            lib = self._remembered(d, name, link) if self.warm else None
            if lib is not None:
                is_link = link
            else:
                lib, is_link = self._read_entry(d, entry, reg, name, file_name, link)
            if lib is None:
                continue
            soname = lib.soname if lib.soname is not None else implicit_soname(name, b)
            if is_link and name != soname:
                if not (len(name) >= 3 and name.endswith(b".so") and soname.startswith(name)):
                    is_link = False
            if is_link:
                soname = name
            flag = lib.flags
            if flag == FLAG_ELF and entry.flag in (FLAG_ELF_LIBC5, FLAG_ELF_LIBC6):
                flag = entry.flag
            if opt.verbose and entry.flag != FLAG_ANY:
                for kind, word in ((FLAG_ELF_LIBC5, "libc5"), (FLAG_ELF_LIBC6, "libc6"),
                                   (FLAG_LIBC4, "libc4")):
                    if flag == kind and entry.flag != kind:
                        self.msg(f"{word} library {_s(file_name)} in wrong directory")
            rec = libs.get(soname)
            if rec is None:
                libs[soname] = _Lib(name, soname, flag, is_link, lib.isa_level, lib.osversion)
                order.append(soname)
                continue
            if (not is_link and rec.is_link) or (
                    is_link == rec.is_link and libcmp(rec.name, name, self.arch.char_signed) < 0):
                if rec.flag != flag:
                    if rec.flag == FLAG_ELF and flag in (FLAG_ELF_LIBC5, FLAG_ELF_LIBC6):
                        rec.flag = flag
                    elif rec.flag in (FLAG_ELF_LIBC5, FLAG_ELF_LIBC6) and flag == FLAG_ELF:
                        rec.flag = flag
                    else:
                        self.msg(f"libraries {_s(rec.name)} and {_s(name)} in directory "
                                 f"{_s(entry.path)} have same soname but different type.")
                rec.name = name
                rec.is_link = is_link
                rec.isa_level = lib.isa_level
        # New sonames were pushed at the head of ldconfig's list.
        return [libs[s] for s in reversed(order)]

    def _read_entry(self, d: Dir, entry: _Dir, reg: _Registry, name: bytes, file_name: bytes,
                    link: bool) -> tuple[Library | None, bool]:
        """The probe of one directory entry through an in-root handle on what it names (and
        whether that was a link): None where it names no library."""
        b, opt = self.b, self.opt
        in_hwcaps = entry.hwcaps_name is not None
        try:
            h = d.handle(name, link=link)
        except RootError as exc:
            if not link:
                self.msg(f"Cannot lstat {_s(file_name)}: {_strerror(exc)}")
                return None, False
            # A dangling symlink (or a loop).
            self.msg(f"Cannot stat {_s(file_name)}: {_strerror(exc)}", verbose=True)
            if opt.update_links and b".so." in name:
                self.plan.events.append(Removal(file_name))
            return None, False
        with h:
            is_link = h.is_link
            st = h.st
            if h.target is not None:  # a sibling link, as the link checks below read it
                self.link_text[name] = h.target
            if not in_hwcaps and stat.S_ISDIR(st.st_mode) and b.legacy_hwcaps and \
                    self.legacy.is_hwcap_platform(name):
                reg.add_single(_Dir(file_name, entry.origin, entry.line, entry.flag,
                                    st.st_dev, st.st_ino), False)
                return None, False
            if not is_link and not stat.S_ISREG(st.st_mode):
                return None, False
            lib = self._probe(h, file_name, is_link)
        return lib, is_link

    def _remembered(self, d: Dir, name: bytes, link: bool) -> Library | None:
        """What this run or the aux cache already has for the regular file that entry
        ``name`` is, or that its symlink names in the same directory, found by ``lstat``
        alone: two syscalls fewer a file on a warm run.  None sends the entry the long way
        (a handle), as does anything but a plain name to a regular file here."""
        try:
            if link:
                target = self.link_text[name] = d.readlink(name)
                if not target or b"/" in target or target in (b".", b".."):
                    return None
                st = d.lstat(target)
            else:
                st = d.lstat(name)
        except RootError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return self._known(file_ident(st))

    def _known(self, key: Ident) -> Library | None:
        """The result remembered for the file identified by ``key`` (this directory's files
        read so far, then the aux cache)."""
        seen = self.seen.get(key)
        if seen is not None:
            return seen
        if self.aux is not None:
            hit = self.aux.lookup(key)
            if hit is not None:
                self.plan.reused += 1
                self.seen[key] = hit
                return hit
        return None

    def _probe(self, h: FileHandle, file_name: bytes, is_link: bool) -> Library | None:
        st = h.st
        # Each file is read once per run: a SONAME link and the library it names are one
        # inode (ldconfig reads both).  Only results that do not depend on the name are
        # kept (process_file decides).
        key = file_ident(st)
        known = self._known(key)
        if known is not None:
            return known
        try:
            fd = h.open()
        except RootError as exc:
            if exc.errno in (21, 22, 6, 19):  # a directory, FIFO or device behind the name
                self.msg(f"Cannot mmap file {_s(file_name)}.\n")
            elif not (is_link and b".so" in file_name):
                self.msg(f"Input file {_s(file_name)} not found.\n")
            return None
        try:
            result = process_file(fd, st.st_size, file_name, self.arch, self.b,
                                  seen=self.seen, key=key)
        finally:
            os.close(fd)
        self.plan.probed += 1
        if not self.plan.probed & 255:
            self.deadline.check(_s(file_name))
        for warning in result.warnings:
            self.msg(warning)
        if not isinstance(result, Library):
            if result.message is not None and (self.opt.verbose or not result.verbose_only):
                self.msg(result.message, result.verbose_only)
            return None
        if self.aux is not None and self.opt.build_cache:
            self.aux.store(key, result)
        return result

    def _create_links(self, path: bytes, libname: bytes, soname: bytes,
                      d: Dir | None = None) -> None:
        """``create_links``: decide whether ``path/soname`` must become a link to
        ``libname`` (``d``: the directory, open, for the common cases).  Paths resolve in the
        root, as in a chrooted ldconfig."""
        root = self.root
        full_soname = path + b"/" + soname
        full_libname = path + b"/" + libname
        if d is not None:
            right = self._link_is_right(d, libname, soname)
            if right:
                if self.settled_links:
                    self.plan.events.append(LinkOp(path, soname, libname, False, True))
                return
            if right is None:
                # Nothing of that name: what ldconfig's stat and lstat would both say
                # (ENOENT), without asking twice more.  A new link, nothing to remove.
                self.plan.events.append(LinkOp(path, soname, libname, True, False))
                return
        needed = remove = True
        try:
            st_so = root.stat(full_soname)
        except RootError:
            st_so = None
        if st_so is not None:
            try:
                st_lib = root.stat(full_libname)
            except RootError:
                self.msg(f"Can't stat {_s(full_libname)}\n")
                return
            if (st_lib.st_dev, st_lib.st_ino) == (st_so.st_dev, st_so.st_ino):
                needed = False
            else:
                try:
                    lst = root.stat(full_soname, follow=False)
                except RootError:
                    lst = None
                if lst is not None and not stat.S_ISLNK(lst.st_mode):
                    self.msg(f"{_s(full_soname)} is not a symbolic link\n")
                    needed = remove = False
        else:
            try:
                lst = root.stat(full_soname, follow=False)
                remove = stat.S_ISLNK(lst.st_mode)
            except RootError:
                remove = False
        if needed or self.settled_links:
            self.plan.events.append(LinkOp(path, soname, libname, needed, remove))


    def _link_is_right(self, d: Dir, libname: bytes, soname: bytes) -> bool | None:
        """The common cases of create_links' "link is already correct", decided from the
        open directory alone: the library is its own soname, or ``soname`` is a symlink whose
        text is exactly ``libname`` (a sibling, so both stat to the same file) — as read
        while this directory was listed, where it was.  None: the directory has no entry
        ``soname`` at all (its ``lstat`` fails with ENOENT)."""
        if libname == soname:
            return True
        if soname.find(b"/") >= 0 or soname in (b".", b"..") or libname.find(b"/") >= 0:
            return False
        text = self.link_text.get(soname)
        if text is not None:
            return text == libname
        try:
            st = d.lstat(soname)
        except RootError as exc:
            return None if exc.errno == errno.ENOENT else False
        try:
            return stat.S_ISLNK(st.st_mode) and d.readlink(soname) == libname
        except RootError:
            return False


if TYPE_CHECKING:  # pragma: no cover
    class AuxLookup(Protocol):
        """The aux cache as the scanner uses it (see :mod:`ldcache.auxcache`)."""

        known: dict[Ident, Library]

        def lookup(self, ident: Ident) -> Library | None: ...

        def store(self, ident: Ident, lib: Library) -> None: ...


# --- the whole run -------------------------------------------------------------------------

def read_conf(root: Root, arch: Arch, b: Behaviour, path: bytes) -> ConfResult:
    """The configuration at ``path`` with its includes, as :func:`plan` reads it."""
    return parse_conf(root, path, b, hwcap_first_extra=legacy_hwcaps(
        arch, version=b.version).first_extra)


def plan(root: Root, arch: Arch, b: Behaviour, options: BuildOptions, *,
         system_dirs: Iterable[bytes] = (), aux: AuxLookup | None = None,
         settled_links: bool = True, conf: ConfResult | None = None) -> Plan:
    """Scan ``root`` as its ldconfig would and return the plan (nothing is written).

    ``settled_links=False``: leave out the link operations that change nothing (a SONAME
    link already right, or a file in its place), which only ``-v`` prints: a run over
    50,000 libraries whose links are in place keeps 50,000 fewer events.  ``conf``: what
    :func:`read_conf` already read of ``options.conf`` (else it is read here)."""
    result = Plan()
    reg = _Registry(root, b, result, options.verbose)
    for d in options.dirs:
        reg.add_dir(d, b"<cmdline>", 0)
    extra_hwcaps: tuple[tuple[int, str], ...] = ()
    if not options.only_cmdline:
        if conf is None:
            conf = read_conf(root, arch, b, os.fsencode(options.conf))
        pending = sorted(conf.messages, key=lambda m: m.position)

        def say(upto: int) -> None:
            # Messages in the order ldconfig prints them among its own "Can't stat" lines.
            while pending and pending[0].position <= upto:
                m = pending.pop(0)
                if options.verbose or not m.verbose:
                    result.events.append(Message(m.text, m.verbose))

        for i, cd in enumerate(conf.dirs):
            say(i)
            reg.add_dir(cd.path, cd.origin, cd.line,
                        FLAG_ANY if cd.dir_type is None else cd.dir_type)
        say(len(conf.dirs))
        extra_hwcaps = tuple((bit, os.fsdecode(name))
                             for bit, name in sorted(conf.hwcap_names.items()))
        for sd in system_dirs:
            reg.add_dir(sd, b"<builtin>", 0)
    legacy = legacy_hwcaps(arch, extra_hwcaps, version=b.version)
    _Scanner(root, arch, b, options, result, legacy, aux,
             settled_links=settled_links).scan(reg)
    result.aux = aux
    return result._freeze()


def manual_link_plan(root: Root, arch: Arch, b: Behaviour, libraries: Iterable[bytes], *,
                     verbose: bool = False) -> Plan:
    """``ldconfig -l``: link each library file named to its soname (``manual_link``)."""
    result = Plan()
    scanner = _Scanner(root, arch, b, BuildOptions(verbose=verbose), result,
                       legacy_hwcaps(arch, version=b.version), None)
    for library in libraries:
        path, sep, libname = library.rpartition(b"/")
        if not sep:
            path = b"."
        elif not path:
            path = b"/"
        try:
            lst = root.stat(library, follow=False)
        except RootError as exc:
            scanner.msg(f"Cannot lstat {_s(library)}: {_strerror(exc)}")
            continue
        if not stat.S_ISREG(lst.st_mode):
            scanner.msg(f"Ignored file {_s(library)} since it is not a regular file.")
            continue
        lib = None
        try:
            fd = root.open(library, follow=False)
        except RootError:
            fd = -1
        if fd >= 0:
            try:
                result_ = process_file(fd, os.fstat(fd).st_size, library, arch, b)
            finally:
                os.close(fd)
            if isinstance(result_, Library):
                lib = result_
            elif result_.message is not None and (verbose or not result_.verbose_only):
                scanner.msg(result_.message, result_.verbose_only)
        if lib is None:
            scanner.msg(f"No link created since soname could not be found for {_s(library)}")
            continue
        soname = lib.soname if lib.soname is not None else implicit_soname(libname, b)
        scanner._create_links(path, libname, soname)
    return result._freeze()


# --- plan → Cache --------------------------------------------------------------------------

def make_cache(p: Plan, arch: Arch, b: Behaviour, *, layout: str | None = None,
               generator: bytes | None = None) -> Cache:
    """The :class:`~ldcache.format.Cache` that glibc ``b``'s ``save_cache`` writes for plan
    ``p``: entries sorted by ``compare``, glibc-hwcaps indices assigned to the used names."""
    used = sorted({e.hwcaps_name for e in p.entries if e.hwcaps_name is not None})
    index = {name: i for i, name in enumerate(used)}
    signed = arch.char_signed

    # glibc inserts each entry after every entry that compares <= 0 with it: a stable sort.
    # All criteria but the subdirectory name are "larger first", so sort descending (stable)
    # with the name's rank negated.
    rank = {name: -i for i, name in enumerate(used)}
    osv = b.osversion

    def key(e: Entry) -> tuple:
        hw = e.hwcaps_name
        legacy = e.hwcap if hw is None else 0
        return (libcmp_key(e.soname, signed), e.flags,
                0 if hw is None else 1, 0 if hw is None else rank[hw],
                bin(legacy).count("1") if legacy else 0, legacy,
                e.osversion if osv else 0)

    entries = sorted(p.entries, key=key, reverse=True)
    if used:
        for i, e in enumerate(entries):
            if e.hwcaps_name is not None:
                entries[i] = e._replace(hwcap=e.hwcap | index[e.hwcaps_name])
    layout = layout or b.default_format
    bias = 0
    if layout == "old" and b.old_format_pad_bug:
        # glibc ≤ 2.32 adds the compat alignment pad to every old-only string offset.
        table_end = OLD_HEADER_SIZE + OLD_ENTRY_SIZE * old_table_count(entries)
        bias = -table_end % arch.cache_align
    return Cache(
        entries=tuple(entries),
        layout=layout,
        byte_order=arch.byte_order,
        generator=generator if b.extensions else None,
        hwcaps=tuple(used),
        string_table=b.string_table,
        endian_flag=b.endian_flag,
        extra_strings=tuple(dict.fromkeys(p.hwcaps_names)) if b.glibc_hwcaps else (),
        old_offset_bias=bias,
    )


def _s(value: bytes) -> str:
    return os.fsdecode(value)


def _strerror(exc: OSError) -> str:
    return exc.strerror or os.strerror(exc.errno or 0)
