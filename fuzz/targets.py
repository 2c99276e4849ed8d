"""Fuzz targets: the cache reader, the ELF probe and the ld.so.conf parser.

Each target takes one input (bytes) and runs the public entry points on it.  The only
allowed outcomes are a valid result or the module's documented error:

=========== ============================================================ ==================
target      what runs                                                    documented error
=========== ============================================================ ==================
``cache``   ``format.parse``, ``format.decode`` (``info``),              ``CacheFormatError``
            ``printer.listing`` (``print``) for the oldest and newest
            glibc, ``cache_json`` (``print --json``), and ``convert``:
            ``build`` of the parsed cache in every layout × byte order,
            each result parsed again and compared
``elf``     ``elf.read_elf`` and ``elf.process_file`` (for ports of      ``ELFError`` (read_elf;
            both byte orders and classes, oldest and newest glibc) on    process_file never
            the input written to a temporary file                        raises)
``conf``    ``conf.parse_conf`` on a temporary root whose                ``ConfError``
            ``/etc/ld.so.conf`` and ``/etc/ld.so.conf.d/*.conf`` are
            cut from the input (parts separated by NUL bytes)
=========== ============================================================ ==================

Anything else raised is a bug.  Hangs and memory growth are caught by the driver
(``fuzz/run.py``: libFuzzer's ``-timeout`` and ``-rss_limit_mb``) and, for the pytest
replays, by :func:`bounded` (a per-input alarm).

Targets are plain functions so that ``tests/test_fuzz.py`` can replay the seeds and every
input that ever crashed (``fuzz/regressions/TARGET/``).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
REGRESSIONS = HERE / "regressions"

#: Per-input wall-time bound (seconds), uninstrumented (pytest replays).
INPUT_SECONDS = 5
#: libFuzzer's -timeout per target: atheris' coverage instrumentation makes the
#: configuration parser ~25x slower, and its worst inputs (include storms that end at
#: ConfLimits.max_files, ~1 s uninstrumented) would time out as false positives.
FUZZ_TIMEOUT = {"cache": 5, "elf": 5, "conf": 60}


class Hang(Exception):
    """An input ran longer than :data:`INPUT_SECONDS`."""


@contextmanager
def bounded(seconds: float = INPUT_SECONDS) -> Iterator[None]:
    """Raise :class:`Hang` in this (main) thread when the block outlives ``seconds``."""
    def alarm(signum: int, frame: object) -> None:
        raise Hang(f"input ran longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- cache

def byte_order_unknowable(cache: object, layout: str) -> bool:
    """A cache written whose header says nothing of its byte order: an old layout whose
    table is empty (legacy hwcap entries are left out of it), or a new header without
    entries, strings or the endianness flag (fuzz/regressions/cache/empty-old-to-big-new)."""
    entries = cache.entries
    if layout == "old":
        return not any(e.legacy_hwcap == 0 for e in entries)
    return not entries and not (cache.endian_flag or cache.generator
                                or cache.extra_strings)


def old_strings_read_as_new_header(out: bytes, order: str) -> bool:
    """An old-layout file whose strings begin, where glibc's readers look for a compat
    file's new header (the 8-byte boundary after the old entries), with the new magic:
    glibc takes them for that header and refuses the file.  Only a crafted cache has such a
    first string (a built one's come from absolute paths): converted to the old layout, it
    is written as the layout says and cannot be read back, by glibc or by ldcache
    (fuzz/regressions/cache/old-strings-at-new-header-place)."""
    from ldcache.format import NEW_MAGIC, NEW_VERSION, OLD_HEADER_SIZE, hidden_header_offset

    n = int.from_bytes(out[OLD_HEADER_SIZE - 4:OLD_HEADER_SIZE],
                       "big" if order == "big" else "little")
    return out.startswith(NEW_MAGIC + NEW_VERSION, hidden_header_offset(n))


def cache_target(data: bytes) -> None:
    from ldcache.errors import CacheFormatError
    from ldcache.format import build, decode, parse
    from ldcache.glibc import NEWEST, OLDEST, behaviour
    from ldcache.jsonout import cache_json
    from ldcache.printer import listing

    for v in (OLDEST, NEWEST):
        try:
            text = listing(data, b"/etc/ld.so.cache", behaviour("%d.%d" % v))
        except CacheFormatError:
            pass
        else:
            assert isinstance(text, bytes)
    try:
        cache = parse(data)
    except CacheFormatError:
        return
    raw = decode(data)  # must not fail where parse succeeded
    assert len(cache.entries) >= 0 and raw.strings_end >= raw.strings_start
    cache_json(cache, b"/etc/ld.so.cache")
    for layout in ("new", "compat", "old"):
        for order in ("little", "big"):
            try:
                out = build(cache.replace(layout=layout, byte_order=order))
            except ValueError as exc:
                # The two documented unrepresentable combinations (format.build).
                if isinstance(exc, CacheFormatError) or "merged string table" not in str(exc):
                    raise
                continue
            if layout == "old" and old_strings_read_as_new_header(out, order):
                try:
                    again = parse(out)
                except CacheFormatError:
                    continue
                assert again.layout == "compat", (layout, order)  # (a whole header there)
                continue
            again = parse(out)
            assert again.layout == layout, (layout, order)
            if byte_order_unknowable(cache, layout):
                if layout != "old":  # an old table keeps strings of entries it drops
                    assert build(again) == out, (layout, order)
                continue
            assert again.byte_order == order, (layout, order)
            if layout != "old":
                # (glibc reads a compat file's glibc-hwcaps names from the file start, not
                # where ldconfig meant them: spec 1.4.3)
                assert _unnamed(again.entries) == _unnamed(cache.entries), (layout, order)
            # Converting the converted cache again keeps its entries (not always its
            # bytes: an old-layout string table keeps the strings of the entries it
            # drops — README, "Known differences").
            twice = parse(build(again.replace(layout=layout, byte_order=order)))
            assert _unnamed(twice.entries) == _unnamed(again.entries), (layout, order)


def _unnamed(entries: Any) -> list:
    return [e._replace(hwcaps_name=None) for e in entries]


# --------------------------------------------------------------------------- ELF

class _ElfFile:
    """One temporary file rewritten for each input (a real file, as the scanner reads)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ldcache-fuzz-elf-")
        self.path = os.path.join(self.dir, "libfuzz.so.1")
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def load(self, data: bytes) -> int:
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        return os.fstat(self.fd).st_size


_elf_file: Optional[_ElfFile] = None
_ELF_ARCHES = ("x86_64", "i386", "s390x", "mips64el", "armhf", "ppc64", "sparc64")


def elf_target(data: bytes) -> None:
    global _elf_file
    from ldcache.arch import ARCHES
    from ldcache.elf import Library, Reject, process_file, read_elf
    from ldcache.errors import ELFError
    from ldcache.glibc import NEWEST, OLDEST, behaviour

    if _elf_file is None:
        _elf_file = _ElfFile()
    f = _elf_file
    size = f.load(data)
    try:
        info = read_elf(f.fd, size, needed=True, osversion=True)
    except ELFError:
        pass
    else:
        assert info.bits in (32, 64)
    # Two ports chosen by the input (all of them would make every input slow).
    pick = data[-1] if data else 0
    names = (_ELF_ARCHES[0], _ELF_ARCHES[1 + pick % (len(_ELF_ARCHES) - 1)])
    for name in names:
        for v in (OLDEST, NEWEST):
            res = process_file(f.fd, size, b"/usr/lib/libfuzz.so.1", ARCHES[name],
                               behaviour("%d.%d" % v))
            assert isinstance(res, (Library, Reject)), res


# --------------------------------------------------------------------------- conf

class _ConfRoot:
    """A temporary root with /etc/ld.so.conf, /etc/ld.so.conf.d and a few directories."""

    NAMES = ("/etc/ld.so.conf", "/etc/ld.so.conf.d/a.conf", "/etc/ld.so.conf.d/b.conf",
             "/etc/ld.so.conf.d/sub/c.conf", "/etc/other.conf")

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ldcache-fuzz-conf-")
        for d in ("etc/ld.so.conf.d/sub", "usr/lib", "opt/lib"):
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)

    def load(self, data: bytes) -> None:
        parts = data.split(b"\0")
        for i, name in enumerate(self.NAMES):
            p = os.path.join(self.dir, name.lstrip("/"))
            if i < len(parts):
                with open(p, "wb") as fh:
                    fh.write(parts[i])
            else:
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


_conf_root: Optional[_ConfRoot] = None
_VERSIONS = ((2, 31), (2, 32), (2, 35), (2, 37), (2, 42))


def conf_target(data: bytes) -> None:
    global _conf_root
    from ldcache.conf import ConfResult, parse_conf
    from ldcache.errors import ConfError
    from ldcache.glibc import behaviour
    from ldcache.inroot import Root

    if _conf_root is None:
        _conf_root = _ConfRoot()
    _conf_root.load(data)
    v = _VERSIONS[(data[0] if data else 0) % len(_VERSIONS)]
    with Root(_conf_root.dir) as root:
        for chrooted in (True, False):
            try:
                res = parse_conf(root, b"/etc/ld.so.conf", behaviour("%d.%d" % v),
                                 chrooted=chrooted)
            except ConfError:
                continue
            assert isinstance(res, ConfResult)
            for d in res.dirs:
                assert isinstance(d.path, bytes)


TARGETS: Dict[str, Callable[[bytes], None]] = {
    "cache": cache_target,
    "elf": elf_target,
    "conf": conf_target,
}


# --------------------------------------------------------------------------- seeds

def _small_elf_files(limit: int = 24, max_size: int = 96 << 10) -> List[Path]:
    out: List[Path] = []
    for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib32", "/usr/lib32",
              "/lib64", "/usr/libx32"):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            p = Path(d) / n
            try:
                if p.is_symlink() or not p.is_file() or ".so" not in n:
                    continue
                if p.stat().st_size > max_size:
                    continue
                with open(p, "rb") as fh:
                    if fh.read(4) != b"\x7fELF":
                        continue
            except OSError:
                continue
            out.append(p)
            if len(out) >= limit:
                return out
    return out


CONF_SEEDS = [
    b"include /etc/ld.so.conf.d/*.conf\n\x00/usr/lib\n/opt/lib # c\n\x00include sub/*.conf\n"
    b"\x00/opt/lib\n",
    b"\x02include /etc/ld.so.conf.d/*.conf\n/opt/lib\n\x00include /etc/ld.so.conf\n",
    b"\x00hwcap 1 foo\n/usr/lib=libc6\n/opt/lib:libc5\n\x00include /etc/other.conf\n"
    b"\x00\x00include a.conf b.conf\n",
    b"\x03include /etc/ld.so.conf.d/*.conf /etc/ld.so.conf.d/sub/*\n\x00"
    b"include /etc/ld.so.conf.d/*.conf\n\x00include /etc/ld.so.conf.d/[ab].conf\n",
    b"include ../../etc/*.conf\n/../../../../usr/lib/\n\t/opt//lib///\n\x00include\n"
    b"\x00include \\/etc/*\n",
]


def seeds(target: str) -> Dict[str, bytes]:
    """Seed inputs: real caches (vectors/), real ELF files, hand-written configurations."""
    out: Dict[str, bytes] = {}
    if target == "cache":
        for p in sorted((PROJECT / "vectors").glob("*.cache")):
            out[p.name] = p.read_bytes()
    elif target == "elf":
        for p in _small_elf_files():
            out[p.name] = p.read_bytes()
        for p in sorted(Path(tempfile.gettempdir()).glob(f"ldcache-gcclib-{os.getuid()}/*")):
            if p.is_file() and p.stat().st_size < (96 << 10):
                data = p.read_bytes()
                if data[:4] == b"\x7fELF":
                    out["gcclib-" + p.name] = data
    elif target == "conf":
        for i, s in enumerate(CONF_SEEDS):
            out[f"seed{i}"] = s
    return out


def regressions(target: str) -> Dict[str, bytes]:
    d = REGRESSIONS / target
    if not d.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}
