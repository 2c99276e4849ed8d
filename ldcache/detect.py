"""What a root is: its glibc version and build, found by reading (never running) its files."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .glibc import parse_version

__all__ = ["GlibcInfo", "detect_glibc", "LIBC_CANDIDATES"]

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

#: glibc's version banner (``csu/version.c``), e.g. ``GNU C Library (Debian GLIBC
#: 2.36-9+deb12u14) stable release version 2.36.``
_BANNER = re.compile(rb"GNU C Library (\([^)\n]{0,200}\) )?([a-z]{1,20}) release version "
                     rb"(\d+\.\d+(?:\.\d+)?)")
MAX_LIBC_BYTES = 64 << 20


@dataclass(frozen=True)
class GlibcInfo:
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


def banner_of(data: bytes) -> re.Match[bytes] | None:
    return _BANNER.search(data)


def detect_glibc(root: object, libc_path: bytes | None = None) -> GlibcInfo | None:
    """The glibc of ``root`` (a path or an open :class:`~ldcache.inroot.Root`), or None."""
    from .inroot import Root

    own = not isinstance(root, Root)
    r = Root(root) if own else root  # type: ignore[arg-type]
    try:
        paths = [libc_path] if libc_path else [p for pat in LIBC_CANDIDATES for p in r.glob(pat)]
        for path in paths:
            try:
                data = r.read_file(path, max_bytes=MAX_LIBC_BYTES)
            except OSError:
                continue
            if not data:
                continue
            m = banner_of(data)
            if m is None:
                continue
            pkg = (m.group(1) or b"").strip()
            return GlibcInfo(parse_version(m.group(3)), pkg, m.group(2), m.group(3), path)
        return None
    finally:
        if own:
            r.close()
