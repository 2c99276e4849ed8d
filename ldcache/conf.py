"""``ld.so.conf`` exactly as a given glibc version's ``ldconfig`` reads it, and the
built-in system directories.

Reimplements ``parse_conf``, ``parse_conf_include`` and ``add_dir_1`` of glibc's
``elf/ldconfig.c`` (2.31 … 2.42) and the per-port ``add_system_dir`` rules
(``sysdeps/…/dl-cache.h``); see ``shared/ldconfig-spec.md`` §5.4, §6 and §7.6.

The result is the ordered list of directories *as written* in the configuration,
one :class:`ConfDir` per directory line met (include loops included), **not**
deduplicated: ``stat``, inode deduplication and glibc-hwcaps discovery are the
scanner's job.  Messages are returned, not printed, with the position at which
``ldconfig`` prints them.

Every file is read through :class:`ldcache.inroot.Root`; nothing outside the root is
ever opened.

Limits (:class:`ConfLimits`)
----------------------------
``ldconfig`` keeps each configuration file open while the files it includes are read,
and has no include-loop detection: a loop recurses until ``fopen`` fails with
``EMFILE``, which only prints a warning, and then unwinds.  ``max_depth`` reproduces
that: it is the number of configuration files ``ldconfig`` can hold open at once, its
``RLIMIT_NOFILE`` soft limit (1024 by default) minus stdin, stdout and stderr.  At
the same depth ``ldconfig`` fails, :func:`parse_conf` prints the same warning (for a
literal include) or silently finds nothing (for a glob pattern, whose ``opendir``
fails first), so even the order in which a loop's directories first appear is the
same.  The other limits only exist to bound time and memory; exceeding one raises
:class:`~ldcache.errors.ConfError` rather than return a list ``ldconfig`` would not
have produced (a configuration that large or that loopy makes ``ldconfig`` itself run
for a very long time or out of memory: two files that include each other through
patterns matching both recurse exponentially).
"""

from __future__ import annotations

import errno as _errno

from . import _os as os
from ._record import Record
from .cacheflags import FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, FLAG_LIBC4
from .errors import ConfError, RootError
from .glibc import Behaviour
from .glibc import behaviour as _default_behaviour
from .inroot.glob import GLOB_BRACKET, GLOB_NONE, GLOB_SPECIAL, glob_pattern_type

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterator, List, Optional, Tuple, Union

    from .inroot import Root

__all__ = [
    "ConfDir",
    "ConfMessage",
    "ConfResult",
    "ConfLimits",
    "DEFAULT_LIMITS",
    "ARCH_RULES",
    "parse_conf",
    "trim_dir",
    "system_dirs",
    "detect_layout",
]

#: ``dir=TYPE`` values.  ``None`` stands for FLAG_ANY.
_LIB_TYPES = {b"libc4": FLAG_LIBC4, b"libc5": FLAG_ELF_LIBC5,
              b"libc6": FLAG_ELF_LIBC6, b"glibc2": FLAG_ELF_LIBC6}

#: ``isspace`` and ``isblank`` in the C locale.
_SPACE = b" \t\n\v\f\r"
_BLANK = b" \t"

#: ≤ 2.31 ``hwcap`` lines: the x86 value of ``_DL_FIRST_EXTRA``
#: (``_DL_FIRST_PLATFORM`` 48 + ``_DL_PLATFORMS_COUNT`` 4).
X86_DL_FIRST_EXTRA = 52


class ConfDir(Record):
    """One directory line of a configuration file."""

    #: The directory as ``ldconfig`` stores it: trimmed (:func:`trim_dir`) but otherwise
    #: verbatim; may be relative.
    path: bytes
    #: The configuration file as ``ldconfig`` names it in ``(from FILE:LINE)``.
    origin: bytes
    #: 1-based line number in ``origin``.
    line: int
    #: ``dir=TYPE`` flag (≤ 2.36): 0, 2, 3, or None for "any"; ≥ 2.37 always 3.
    dir_type: Optional[int]


class ConfMessage(Record):
    """One line ``ldconfig`` writes to stderr while reading its configuration."""

    #: The text after ldconfig's ``"<argv[0]>: "`` prefix, without the newline; paths
    #: are decoded with ``os.fsdecode`` (``os.fsencode`` gives the bytes back).
    text: str
    #: Printed only with ``-v``.
    verbose: bool
    #: Printed before directory ``dirs[position]`` is registered (``len(dirs)`` = after
    #: the last one).
    position: int

    def __str__(self) -> str:
        return self.text


class ConfResult:
    """What a configuration file yields."""

    def __init__(self) -> None:
        #: The directory lines, in ldconfig's order, includes expanded in place.
        self.dirs: list[ConfDir] = []
        self.messages: list[ConfMessage] = []
        #: ≤ 2.31: hwcap bit number (``_DL_FIRST_EXTRA + N``) → name defined by ``hwcap N
        #: name`` lines.  (Bit 63 is always ``tls`` in ldconfig; it is not listed here.)
        self.hwcap_names: dict[int, bytes] = {}
        #: Configuration files opened (counting repeated opens), for diagnostics.
        self.files_read = 0


class ConfLimits(Record):
    """Bounds on what :func:`parse_conf` reads; see the module docstring."""

    #: Configuration files open at once: ldconfig's fd limit 1024 − 3 standard fds.
    max_depth: int = 1021
    #: Configuration files opened in all, counting each repeated open.
    max_files: int = 100_000
    #: Bytes of one configuration file.
    max_file_bytes: int = 1 << 20
    #: Bytes of all distinct configuration files together.
    max_total_bytes: int = 16 << 20
    #: Lines processed in all, counting lines of repeatedly opened files again (this
    #: also bounds the number of :class:`ConfDir` returned).
    max_lines: int = 500_000


DEFAULT_LIMITS = ConfLimits()


def trim_dir(raw: bytes) -> bytes:
    """``add_dir_1``'s canonification: trailing ``isspace`` bytes, then trailing ``/``.

    Nothing else changes (``//d``, ``/./d/.`` and ``/usr/../d`` stay as they are); an
    empty result means the line names no directory.
    """
    return raw.rstrip(_SPACE).rstrip(b"/")


# --------------------------------------------------------------------------- helpers


def _fs(b: bytes) -> str:
    return os.fsdecode(b)


def _dirname(path: bytes) -> bytes:
    """glibc's ``dirname`` (``misc/dirname.c``)."""
    last = path.rfind(b"/")
    if last > 0 and last == len(path) - 1:
        # Trailing slashes: look further back.
        run = last
        while run > 0 and path[run - 1:run] == b"/":
            run -= 1
        if run > 0:
            last = path.rfind(b"/", 0, run)
    if last < 0:
        return b"."
    run = last
    while run > 0 and path[run - 1:run] == b"/":
        run -= 1
    if run == 0:
        # "//x" keeps both slashes; "/x" and "///x" give "/".
        return b"//" if last == 1 else b"/"
    return path[:run]


def _glob_needs_fd(pattern: bytes) -> bool:
    """Whether ``glob(pattern, 0)`` has to ``opendir`` (so fails silently without fds)."""
    slash = pattern.rfind(b"/")
    base = pattern[slash + 1:]
    dirpart = pattern[:slash] if slash >= 0 else b""
    return (glob_pattern_type(base) != GLOB_NONE
            or bool(glob_pattern_type(dirpart) & (GLOB_SPECIAL | GLOB_BRACKET)))


def _strtoul0(s: bytes) -> Tuple[int, int]:
    """``strtoul(s, &end, 0)`` with a 64-bit ``unsigned long``: (value, end index)."""
    i, n = 0, len(s)
    while i < n and s[i] in _SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    base = 10
    if s[i:i + 1] == b"0":
        if s[i + 1:i + 2] in (b"x", b"X") and s[i + 2:i + 3] and s[i + 2] in _HEX:
            base, i = 16, i + 2
        else:
            base = 8
    start = i
    value = 0
    while i < n and s[i] in _HEX and int(chr(s[i]), 16) < base:
        value = value * base + int(chr(s[i]), 16)
        i += 1
    if i == start:
        return 0, 0  # no digits: no conversion, end = the whole string
    if value >= 1 << 64:
        return (1 << 64) - 1, i  # ERANGE
    return ((-value) & ((1 << 64) - 1)) if neg else value, i


_HEX = b"0123456789abcdefABCDEF"


def _strsep_tokens(s: bytes) -> List[bytes]:
    """The non-empty fields of ``strsep(&s, " \\t")``."""
    out: List[bytes] = []
    start = 0
    for i, c in enumerate(s):
        if c in _BLANK:
            if i > start:
                out.append(s[start:i])
            start = i + 1
    if len(s) > start:
        out.append(s[start:])
    return out


class _DirLine(Record):
    lineno: int
    #: Trimmed; empty if the line names no directory (it may still print a message).
    path: bytes
    dir_type: Optional[int]
    #: ≤ 2.36: the text after ``=`` when it is not a known library type.
    unknown_type: Optional[bytes]


class _IncludeLine(Record):
    lineno: int
    patterns: List[bytes]


class _HwcapLine(Record):
    lineno: int
    #: The text after ``hwcap`` and its blank.
    rest: bytes


if TYPE_CHECKING:  # pragma: no cover
    _Record = Union[_DirLine, _IncludeLine, _HwcapLine]


def _split_lines(data: bytes, behaviour: Behaviour) -> List[_Record]:
    """The lines of one configuration file that say something, classified (this part
    does not depend on the file's name, so it is done once per file)."""
    records: List[_Record] = []
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the text after the final newline is not a line
    for lineno, line in enumerate(lines, 1):
        nul = line.find(b"\0")
        if nul >= 0:
            line = line[:nul]  # getline keeps it, but the C string ends there
        hashpos = line.find(b"#")
        if hashpos >= 0:
            line = line[:hashpos]
        line = line.lstrip(_SPACE)
        if not line:
            continue
        if line.startswith(b"include") and line[7:8] in (b" ", b"\t"):
            records.append(_IncludeLine(lineno, _strsep_tokens(line[8:])))
        elif line[:5].lower() == b"hwcap" and line[5:6] in (b" ", b"\t"):
            records.append(_HwcapLine(lineno, line[6:]))
        else:
            records.append(_dir_line(lineno, line, behaviour))
    return records


def _dir_line(lineno: int, line: bytes, behaviour: Behaviour) -> _DirLine:
    """``add_dir_1`` up to its ``stat``."""
    dir_type: Optional[int]
    unknown: Optional[bytes] = None
    if behaviour.libc5_classification:
        path, eq, type_name = line.partition(b"=")
        dir_type = None
        if eq:
            dir_type = _LIB_TYPES.get(type_name)
            if dir_type is None:
                unknown = type_name
    else:
        path, dir_type = line, FLAG_ELF_LIBC6
    return _DirLine(lineno, trim_dir(path), dir_type, unknown)


# ---------------------------------------------------------------------------- parser

#: A file to include: (name ldconfig gives it, in-root name to read it by or None to
#: canonicalise first, the ``do_chroot`` argument of ldconfig's ``parse_conf``).
if TYPE_CHECKING:  # pragma: no cover
    _Open = Tuple[bytes, Optional[bytes], bool]
_WARN_OPEN = "Warning: ignoring configuration file that cannot be opened: "


class _Parser:
    def __init__(self, root: Root, behaviour: Behaviour, chrooted: bool, limits: ConfLimits,
                 first_extra: int) -> None:
        self.root = root
        self.b = behaviour
        self.chrooted = chrooted
        self.limits = limits
        self.first_extra = first_extra
        self.result = ConfResult()
        self.cache: dict[bytes, Union[List[_Record], int]] = {}
        self.globs: dict[bytes, List[bytes]] = {}
        self.total_bytes = 0
        self.lines = 0
        slots = max(0, 64 - first_extra)
        self.hwcap_extra: List[Optional[bytes]] = [None] * slots
        if slots:
            self.hwcap_extra[slots - 1] = b"tls"  # bit 63, always reserved
        self.host_prefix = root.path.rstrip(b"/")

    def msg(self, text: str, verbose: bool = False) -> None:
        self.result.messages.append(ConfMessage(text, verbose, len(self.result.dirs)))

    @staticmethod
    def _in_root(name: bytes) -> bytes:
        """A relative name is resolved against ldconfig's cwd, the root's ``/``."""
        return name if name.startswith(b"/") else b"/" + name

    def load(self, read_name: bytes) -> Union[List[_Record], int]:
        """The records of a file, or an errno (0: silently nothing, like ENOENT)."""
        cached = self.cache.get(read_name)
        if cached is not None:
            return cached
        lim = self.limits
        res: Union[List[_Record], int]
        try:
            data = self.root.read_file(self._in_root(read_name), max_bytes=lim.max_file_bytes)
        except RootError as e:
            code = e.errno or _errno.EIO
            if code == _errno.EFBIG:
                raise ConfError(f"{_fs(read_name)}: configuration file larger than "
                                f"{lim.max_file_bytes} bytes") from e
            # fopen works on a directory and the first read fails: nothing, silently.
            res = 0 if code in (_errno.EISDIR, _errno.ENOENT) else code
        else:
            if data is None:
                res = 0
            else:
                if len(data) > lim.max_file_bytes:
                    raise ConfError(f"{_fs(read_name)}: configuration file larger than "
                                    f"{lim.max_file_bytes} bytes")
                self.total_bytes += len(data)
                if self.total_bytes > lim.max_total_bytes:
                    raise ConfError("configuration files larger than "
                                    f"{lim.max_total_bytes} bytes in all")
                res = _split_lines(data, self.b)
        self.cache[read_name] = res
        return res

    def parse_file(self, name: bytes, read_name: Optional[bytes], do_chroot: bool,
                   depth: int) -> Iterator[_Open]:
        """ldconfig's ``parse_conf(name, do_chroot)`` at nesting ``depth`` (1 = top).

        A generator: it yields the files to include, which the caller parses (at the
        point of the include) before resuming it.
        """
        lim = self.limits
        if depth > lim.max_depth:
            # Every fd is taken by the files being read: fopen fails with EMFILE.
            self.msg(f"{_WARN_OPEN}{_fs(name)}: {os.strerror(_errno.EMFILE)}")
            return
        self.result.files_read += 1
        if self.result.files_read > lim.max_files:
            raise ConfError(f"more than {lim.max_files} configuration files opened "
                            "(include loop?)")
        shown = name
        if read_name is None:
            # Non-chroot -r, top level: ldconfig opens chroot_canon(ROOT, name).
            try:
                read_name = self.root.resolve(self._in_root(name))
            except RootError as e:
                code = e.errno or _errno.ENOENT
                if code != _errno.ENOENT:
                    self.msg(f"{_WARN_OPEN}{_fs(name)}: {os.strerror(code)}")
                return
            shown = self.host_prefix + read_name
        records = self.load(read_name)
        if isinstance(records, int):
            if records:
                self.msg(f"{_WARN_OPEN}{_fs(shown)}: {os.strerror(records)}")
            return
        for rec in records:
            self.lines += 1
            if self.lines > lim.max_lines:
                raise ConfError(f"more than {lim.max_lines} configuration lines read "
                                "(include loop?)")
            if isinstance(rec, _DirLine):
                if rec.unknown_type is not None:
                    self.msg(f"{_fs(rec.unknown_type)} is not a known library type")
                if rec.path:
                    self.result.dirs.append(ConfDir(rec.path, name, rec.lineno, rec.dir_type))
            elif isinstance(rec, _IncludeLine):
                for pattern in rec.patterns:
                    yield from self.include(name, rec.lineno, do_chroot, pattern, depth)
            else:
                self.hwcap(name, rec.lineno, rec.rest)

    def include(self, config_file: bytes, lineno: int, do_chroot: bool, pattern: bytes,
                depth: int) -> Iterator[_Open]:
        """ldconfig's ``parse_conf_include``: the files one pattern names, in order."""
        if not self.chrooted and not pattern.startswith(b"/"):
            raise ConfError("need absolute file name for configuration file when using -r")
        if not pattern.startswith(b"/") and b"/" in config_file:
            pattern = _dirname(config_file) + b"/" + pattern
        if depth >= self.limits.max_depth and _glob_needs_fd(pattern):
            return  # opendir fails with EMFILE, which glob(flags 0) takes for no match
        try:
            if do_chroot and not self.chrooted:
                # glob(chroot_canon(ROOT, pattern)): host names, opened as they are.
                try:
                    canon = self.root.resolve(pattern)
                except RootError:
                    return
                matches = [(self.host_prefix + m, m) for m in self.glob(canon)]
            elif pattern.startswith(b"/"):
                # (Non-chroot nested includes: ldconfig globs the *host's* files; we stay
                # inside the root.)
                matches = [(m, m) for m in self.glob(pattern)]
            else:
                # Relative to ldconfig's cwd, the root's "/"; glob keeps the names relative.
                matches = [(m[1:], m[1:]) for m in self.glob(b"/" + pattern)]
        except RootError as e:
            self.msg(f"{_fs(config_file)}:{lineno}: cannot read directory {_fs(pattern)}: "
                     f"{os.strerror(e.errno or _errno.EIO)}", verbose=True)
            return
        for name, read_name in matches:
            yield name, read_name, False

    def glob(self, pattern: bytes) -> List[bytes]:
        """``root.glob``, remembered: an include loop globs the same pattern again and again."""
        found = self.globs.get(pattern)
        if found is None:
            found = self.globs[pattern] = self.root.glob(pattern)
        return found

    def hwcap(self, filename: bytes, lineno: int, rest: bytes) -> None:
        """A ``hwcap`` line (``rest``: the text after the keyword and its blank)."""
        where = f"{_fs(filename)}:{lineno}"
        if not self.b.hwcap_conf_lines:
            self.msg(f"{where}: hwcap directive ignored")
            return
        n, end = _strtoul0(rest)
        name: Optional[bytes] = None
        if rest[end:end + 1] in (b" ", b"\t"):
            tokens = _strsep_tokens(rest[end:])
            if len(tokens) == 1:
                name = tokens[0]
        if name is None:
            raise ConfError(f"{where}: bad syntax in hwcap line")
        slots = len(self.hwcap_extra)
        if n >= slots:
            raise ConfError(f"{where}: hwcap index {n} above maximum {slots - 1}")
        existing = self.hwcap_extra[n]
        if existing is None:
            for h, other in enumerate(self.hwcap_extra):
                if other == name:
                    raise ConfError(f"{where}: hwcap index {h} already defined as {_fs(name)}")
            self.hwcap_extra[n] = name
            self.result.hwcap_names[self.first_extra + n] = name
        elif existing != name:
            raise ConfError(f"{where}: hwcap index {n} already defined as {_fs(existing)}")
        else:
            self.msg(f"{where}: duplicate hwcap {n} {_fs(name)}", verbose=True)

    def run(self, path: bytes) -> ConfResult:
        top_read = path if self.chrooted else None
        # An explicit stack instead of recursion: include loops go ~1000 files deep.
        stack: List[Iterator[_Open]] = [self.parse_file(path, top_read, True, 1)]
        while stack:
            try:
                name, read_name, do_chroot = next(stack[-1])
            except StopIteration:
                stack.pop()
                continue
            stack.append(self.parse_file(name, read_name, do_chroot, len(stack) + 1))
        return self.result


def parse_conf(root: Root, path: Union[bytes, str] = b"/etc/ld.so.conf",
               behaviour: Optional[Behaviour] = None, *, chrooted: bool = True,
               limits: ConfLimits = DEFAULT_LIMITS,
               hwcap_first_extra: int = X86_DL_FIRST_EXTRA) -> ConfResult:
    """Read ``path`` (in-root) and everything it includes, as ``behaviour``'s ldconfig does.

    ``behaviour`` defaults to the newest glibc.  ``chrooted`` says how ``ldconfig -r``
    ran: True = as root, after a successful ``chroot`` (everything named in-root);
    False = non-root, paths mapped with ``chroot_canon``: include patterns must be
    absolute (:class:`ConfError` otherwise) and files included from the top-level file
    are named by their host paths (their own includes are resolved inside the root,
    where that ldconfig would read the host's files).  ``hwcap_first_extra`` is the
    port's ``_DL_FIRST_EXTRA``, for ≤ 2.31 ``hwcap`` lines.  Fatal configuration errors
    (≤ 2.31 bad ``hwcap`` lines, exceeded ``limits``) raise :class:`ConfError`.
    """
    b = behaviour if behaviour is not None else _default_behaviour()
    p = os.fsencode(path)
    # `-r /` is no root at all: ldconfig then reads the files directly.
    chroot_mode = chrooted or root.path.rstrip(b"/") == b""
    return _Parser(root, b, chroot_mode, limits, hwcap_first_extra).run(p)


# ------------------------------------------------------------------ system directories

#: Port rules of ``add_system_dir``.
ARCH_RULES = ("plain", "x86_64", "aarch64", "sparc-like", "mips", "riscv", "loongarch")


def _strip_first(path: bytes, suffixes: Tuple[bytes, ...]) -> bytes:
    for s in suffixes:
        if path.endswith(s):
            return path[:len(path) - len(s)] + b"/lib"
    return path


def _add_system_dir(rule: str, d: bytes, b: Behaviour) -> List[bytes]:
    """The directories one ``add_system_dir(d)`` call adds, untrimmed, in order."""
    if rule == "plain" or (rule == "loongarch" and not b.loongarch):
        return [d]
    if rule == "x86_64":
        p = _strip_first(d, (b"/lib64", b"/libx32"))
        subs: Tuple[bytes, ...] = (b"/lib64", b"/libx32")
    elif rule == "aarch64":
        p = _strip_first(d, (b"/lib64",))
        subs = (b"/lib64",)
        if b.aarch64_ilp32_dirs:
            p = _strip_first(p, (b"/libilp32",))
            subs = (b"/lib64", b"/libilp32")
    elif rule == "sparc-like":
        p = _strip_first(d, (b"/lib64",))
        subs = (b"/lib64",)
    elif rule == "mips":
        p = _strip_first(d, (b"/lib64", b"/lib32"))
        subs = (b"/lib32", b"/lib64")
    elif rule == "riscv":
        subs = (b"/lib64/lp64d", b"/lib64/lp64")
        if b.riscv_ilp32_dirs:
            subs += (b"/lib32/ilp32d", b"/lib32/ilp32")
        p = _strip_first(d, subs)
    elif rule == "loongarch":
        subs = (b"/lib64", b"/lib64/sf")
        p = _strip_first(d, subs)
    else:
        raise ValueError(f"unknown system-directory rule {rule!r} (one of {ARCH_RULES})")
    out = [p]
    if p.endswith(b"/lib"):
        out.extend(p[:-4] + s for s in subs)
    return out


def system_dirs(arch_rule: str, slibdir: bytes, libdir: bytes, behaviour: Behaviour, *,
                debian_multiarch: Optional[bytes] = None) -> List[bytes]:
    """The built-in directories ldconfig registers after the configuration, in order.

    Upstream: ``add_system_dir(SLIBDIR)``, then ``add_system_dir(LIBDIR)`` if different,
    with the port's ``arch_rule`` (one of :data:`ARCH_RULES`).  Debian
    (``debian_multiarch`` = the multiarch triplet): its ldconfig adds ld.so's trusted
    directories instead: SLIBDIR, LIBDIR, ``/lib``, ``/usr/lib``, each spelled with a
    trailing ``/`` (so no port rule ever matches); SLIBDIR and LIBDIR default to
    ``/lib/<triplet>`` and ``/usr/lib/<triplet>`` when passed empty.  Returned trimmed as
    ``add_dir`` stores them; not deduplicated (existence and inodes are checked later).
    """
    if arch_rule not in ARCH_RULES:
        raise ValueError(f"unknown system-directory rule {arch_rule!r} (one of {ARCH_RULES})")
    if debian_multiarch is not None:
        s = slibdir or b"/lib/" + debian_multiarch
        lib = libdir or b"/usr/lib/" + debian_multiarch
        calls = [s + b"/", lib + b"/", b"/lib/", b"/usr/lib/"]
    else:
        calls = [slibdir] if slibdir == libdir else [slibdir, libdir]
    out: List[bytes] = []
    for d in calls:
        for added in _add_system_dir(arch_rule, d, behaviour):
            t = trim_dir(added)
            if t:
                out.append(t)
    return out


def detect_layout(root: Root, triplet: Optional[bytes]) -> str:
    """``"debian-multiarch"`` if ``root`` keeps its libc in ``/lib/<triplet>`` or
    ``/usr/lib/<triplet>``, else ``"upstream"``; decided from the root's files only."""
    if not triplet or b"/" in triplet or triplet in (b".", b".."):
        return "upstream"
    for d in (b"/lib/", b"/usr/lib/"):
        try:
            if root.exists(d + triplet + b"/libc.so.6"):
                return "debian-multiarch"
        except RootError:
            continue
    return "upstream"
