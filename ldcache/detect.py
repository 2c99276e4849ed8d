"""What a root is: its glibc version and build, found by reading (never running) its files."""

from __future__ import annotations

from . import _os as os
from ._record import Record
from .glibc import digits_end, parse_version

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .arch import Arch
    from .glibc import Behaviour
    from .inroot import Root

__all__ = ["GlibcInfo", "RootInfo", "detect_glibc", "detect_arch", "describe_root",
           "LIBC_CANDIDATES"]

#: Where a root keeps its libc: multiarch directories first, then lib64 and lib layouts.
LIBC_CANDIDATES = (
    b"/lib/*-linux-gnu*/libc.so.6",
    b"/usr/lib/*-linux-gnu*/libc.so.6",
    b"/lib64/libc.so.6",
    b"/usr/lib64/libc.so.6",
    b"/lib/libc.so.6",
    b"/usr/lib/libc.so.6",
    b"/lib32/libc.so.6",
    b"/usr/lib32/libc.so.6",
)

MAX_LIBC_BYTES = 64 << 20

#: glibc's version banner (``csu/version.c``), e.g. ``GNU C Library (Debian GLIBC
#: 2.36-9+deb12u14) stable release version 2.36.``: the head, an optional PKGVERSION part
#: ``(…) `` (at most 200 bytes within the parentheses, no newline and no ``)``), the release
#: word (1 to 20 of a-z), the middle, and the version DIGITS.DIGITS[.DIGITS] (ASCII digits).
_BANNER_HEAD = b"GNU C Library "
_BANNER_MID = b" release version "
_PKG_MAX = 200
_RELEASE_MAX = 20
_LOWER = b"abcdefghijklmnopqrstuvwxyz"

if TYPE_CHECKING:  # pragma: no cover
    #: (PKGVERSION part with its parentheses and trailing blank, or b""; release word;
    #: version text; the offset just past the banner).
    Banner = tuple[bytes, bytes, bytes, int]




def _banner_at(data: bytes, start: int) -> "Banner | None":
    """The banner whose head is at ``data[start]``, or None."""
    i = start + len(_BANNER_HEAD)
    pkg = b""
    if data[i:i + 1] == b"(":
        close = data.find(b")", i + 1, i + 2 + _PKG_MAX)
        if close < 0 or b"\n" in data[i + 1:close] or data[close + 1:close + 2] != b" ":
            return None
        pkg = data[i:close + 2]
        i = close + 2
    seg = data[i:i + _RELEASE_MAX + 1]
    n = len(seg) - len(seg.lstrip(_LOWER))
    if not 1 <= n <= _RELEASE_MAX or not data.startswith(_BANNER_MID, i + n):
        return None
    release = data[i:i + n]
    v = i + n + len(_BANNER_MID)
    end = digits_end(data, v)
    if end == v or data[end:end + 1] != b".":
        return None
    more = digits_end(data, end + 1)
    if more == end + 1:
        return None
    end = more
    if data[end:end + 1] == b".":
        more = digits_end(data, end + 1)
        if more > end + 1:
            end = more
    return pkg, release, data[v:end], end


def _banner_search(data: bytes) -> "Banner | None":
    """The first banner in ``data`` (the one starting earliest), or None."""
    start = data.find(_BANNER_HEAD)
    while start >= 0:
        found = _banner_at(data, start)
        if found is not None:
            return found
        start = data.find(_BANNER_HEAD, start + 1)
    return None


class GlibcInfo(Record):
    version: tuple[int, int]
    #: The PKGVERSION part of the banner, e.g. ``(Debian GLIBC 2.36-9+deb12u14)``, or b"".
    pkgversion: bytes
    #: "stable" or "release" (RELEASE in glibc's version.h).
    release: bytes
    version_text: bytes
    libc_path: bytes

    @property
    def debian(self) -> bool:
        return b"Debian" in self.pkgversion or b"Ubuntu" in self.pkgversion

    @property
    def ldconfig_generator(self) -> bytes:
        """The generator string this glibc's ldconfig writes (glibc ≥ 2.33)."""
        pkg = self.pkgversion + b" " if self.pkgversion else b"(GNU libc) "
        return b"ldconfig " + pkg + self.release + b" release version " + self.version_text


def detect_glibc(root: object, libc_path: bytes | None = None) -> GlibcInfo | None:
    """The glibc of ``root`` (a path or an open :class:`~ldcache.inroot.Root`), or None."""
    from .inroot import Root

    own = not isinstance(root, Root)
    r: Root = Root(root) if own else root  # type: ignore[arg-type,assignment]
    try:
        patterns = [libc_path] if libc_path else LIBC_CANDIDATES
        for pattern in patterns:
            for path in ([pattern] if libc_path else r.glob(pattern)):
                found = _banner_in(r, path)
                if found is not None:
                    pkg, release, version, _end = found
                    return GlibcInfo(parse_version(version), pkg.strip(), release, version,
                                     path)
        return None
    finally:
        if own:
            r.close()


#: How much of the libc one read takes, and how much of the previous read is searched again
#: (a banner cut by a chunk boundary is whole in the next search; the banner pattern bounds its
#: length).
_CHUNK = 1 << 20
_OVERLAP = 512


def _banner_in(r: "Root", path: bytes) -> "Banner | None":
    """glibc's version banner in the file at ``path``: read with bounded ``pread`` calls
    (never mapped — a file truncated meanwhile must not fault the process; it just ends)."""
    try:
        fd = r.open(path)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if not 0 < size <= MAX_LIBC_BYTES:
            return None
        # The banner is a string constant: in a real libc it is in .rodata, a tenth of the
        # file.  Only where that finds none is the whole file searched.
        rodata = _rodata_span(fd, size)
        if rodata is not None:
            start, length = rodata
            found = _banner_search(os.pread(fd, length, start))
            if found is not None:
                return found
        tail = b""
        offset = 0
        while offset < size:
            chunk = os.pread(fd, min(_CHUNK, size - offset), offset)
            if not chunk:
                return None  # shrank under us
            window = tail + chunk
            offset += len(chunk)
            found = _banner_search(window)
            # A match reaching into the last _OVERLAP bytes may be cut short ("2.3" of
            # "2.36"): the next window has it whole.
            if found is not None and (found[3] <= len(window) - _OVERLAP
                                      or offset >= size):
                return found
            tail = window[-_OVERLAP:]
        return None
    except OSError:
        return None
    finally:
        os.close(fd)


def _rodata_span(fd: int, size: int) -> "tuple[int, int] | None":
    """(offset, size) of the ``.rodata`` section of the ELF file on ``fd``, clipped to the
    file; None when the file has no such section or its headers make no sense."""
    from .elf import section_span
    from .errors import ELFError

    try:
        span = section_span(fd, size, b".rodata")
    except ELFError:
        return None
    if span is None or span[0] >= size or span[1] == 0:
        return None
    return span[0], min(span[1], size - span[0])


# --- the whole picture: architecture, glibc behaviour, system directories --------------------

class RootInfo(Record):
    """What ldcache found out about a root, and will behave as."""

    arch: "Arch"
    behaviour: "Behaviour"
    glibc: GlibcInfo | None
    #: "debian-multiarch" or "upstream".
    layout: str
    system_dirs: tuple[bytes, ...]
    notices: tuple[str, ...] = ()

    @property
    def key(self) -> bytes:
        """Identifies the probe semantics (for the aux cache)."""
        v = self.behaviour.version
        return f"{self.arch.name} glibc-{v[0]}.{v[1]}".encode()


def _arch_of_file(r: "Root", path: bytes) -> "Arch | None":
    from .arch import arch_for_elf
    from .elf import read_elf

    try:
        fd = r.open(path)
    except OSError:
        return None
    try:
        info = read_elf(fd, os.fstat(fd).st_size)
    except Exception:  # noqa: BLE001 - any malformed file just does not tell
        return None
    finally:
        os.close(fd)
    return arch_for_elf(info.ei_class, info.ei_data, info.e_machine, info.e_flags)


def detect_arch(r: "Root", libc_path: bytes | None = None) -> "Arch | None":
    """The root's architecture: from its libc, else from its dynamic linker."""
    from .arch import ARCHES

    if libc_path is not None:
        found = _arch_of_file(r, libc_path)
        if found is not None:
            return found
    seen: set[bytes] = set()
    for a in ARCHES.values():
        for loader in a.dynamic_linkers:
            path = os.fsencode(loader)
            if path in seen:
                continue
            seen.add(path)
            if r.exists(path):
                found = _arch_of_file(r, path)
                if found is not None:
                    return found
    # A musl image: its loader is /lib/ld-musl-ARCH.so.1.
    for path in r.glob(b"/lib/ld-musl-*.so.1"):
        found = _arch_of_file(r, path)
        if found is not None:
            return found
    return None


def describe_root(r: "Root", *, glibc: str | None = None, arch: str | None = None
                  ) -> RootInfo:
    """Detect (or take from the overrides) the root's architecture, glibc and layout.

    What had to be assumed is in the result's ``notices`` (for the frontend to say)."""
    from .arch import arch_by_name, host_arch
    from .conf import detect_layout, system_dirs
    from .glibc import NEWEST, behaviour, names_distribution_build, supported_version

    notices: list[str] = []
    g = detect_glibc(r)
    debian_version = glibc is not None and names_distribution_build(glibc)
    if glibc is not None:
        b = behaviour(supported_version(glibc),
                      debian=(g.debian if g else False) or debian_version)
    elif g is not None:
        b = behaviour(g.version, debian=g.debian)
    else:
        b = behaviour(NEWEST)
        notices.append(f"no glibc found in {os.fsdecode(r.path)}; behaving as glibc "
                       f"{NEWEST[0]}.{NEWEST[1]}")
    if arch is not None:
        a = arch_by_name(arch)
    else:
        found = detect_arch(r, g.libc_path if g else None)
        if found is None:
            found = host_arch()
            notices.append(f"architecture of {os.fsdecode(r.path)} not found; assuming "
                           f"{found.name}")
        a = found
    triplet = _triplet_of(g.libc_path) if g else None
    if triplet is None and a.multiarch:
        triplet = os.fsencode(a.multiarch)
    layout = detect_layout(r, triplet)
    if layout == "upstream" and g is None and debian_version and triplet:
        # No libc to tell: a Debian glibc keeps its libraries in the multiarch directories
        # of the architecture.
        layout = "debian-multiarch"
    if layout == "debian-multiarch":
        # Debian builds SLIBDIR=/lib/<triplet>, LIBDIR=/usr/lib/<triplet>.
        dirs = system_dirs(a.system_dirs_rule, b"", b"", b, debian_multiarch=triplet)
    else:
        dirs = system_dirs(a.system_dirs_rule, os.fsencode(a.slibdir), os.fsencode(a.libdir), b)
    return RootInfo(a, b, g, layout, tuple(dirs), tuple(notices))


def _triplet_of(libc_path: bytes) -> bytes | None:
    parts = libc_path.split(b"/")
    # /lib/<triplet>/libc.so.6 or /usr/lib/<triplet>/libc.so.6
    if len(parts) >= 3 and parts[-3] == b"lib" and b"-linux-" in parts[-2]:
        return parts[-2]
    return None
