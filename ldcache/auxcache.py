"""The aux cache: per-file ELF probe results, keyed by file identity.

Like glibc's ``/var/cache/ldconfig/aux-cache`` it only saves work: a file whose identity
(device, inode, size, ctime, mtime — ns resolution) is unchanged is not read again.  It is
ldcache's own file, ``/var/cache/ldconfig/ldcache-aux`` inside the root, so the root's
glibc ldconfig is not confused by it.  The file lives in an attacker-controlled root: it is
parsed with bounds checks only, a result is trusted no more than the file it describes
(which the image controls anyway), and any damage simply makes it ignored.

Layout (little endian): magic ``ldcache-aux-1\\n``, a key line naming the architecture and
glibc behaviour the results were computed for, then records::

    u64 dev, u64 ino, u64 size, i64 ctime_ns, i64 mtime_ns,
    i32 flags, u32 isa_level, u32 osversion, u32 soname_len (0xffffffff: none), soname
"""

from __future__ import annotations

import os
import struct

from .elf import Library
from .errors import RootError

__all__ = ["AuxCache", "AUX_PATH"]

AUX_DIR = b"/var/cache/ldconfig"
AUX_PATH = AUX_DIR + b"/ldcache-aux"
MAGIC = b"ldcache-aux-1\n"
_REC = struct.Struct("<QQQqqiIII")
_NONE = 0xFFFFFFFF
#: Largest aux cache read (about 8 MB holds 100,000 libraries).
MAX_BYTES = 64 << 20

Ident = tuple[int, int, int, int, int]


def file_ident(st: os.stat_result) -> Ident:
    """A file's identity and version: what the aux cache (and the scanner's memory of the
    files it read) keys a probe result by."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_ctime_ns, st.st_mtime_ns)


class AuxCache:
    def __init__(self, key: bytes) -> None:
        self.key = key
        self.known: dict[Ident, Library] = {}
        self.used: dict[Ident, Library] = {}

    @classmethod
    def load(cls, root: object, key: bytes) -> "AuxCache":
        aux = cls(key)
        try:
            data = root.read_file(AUX_PATH, max_bytes=MAX_BYTES)  # type: ignore[attr-defined]
        except RootError:
            data = None
        if data:
            aux.known = _decode(data, key)
        return aux

    def lookup(self, ident: Ident) -> Library | None:
        lib = self.known.get(ident)
        if lib is not None:
            self.used[ident] = lib
        return lib

    def store(self, ident: Ident, lib: Library) -> None:
        self.used[ident] = lib

    def encode(self) -> bytes:
        out = [MAGIC, self.key.replace(b"\n", b" ") + b"\n"]
        for (dev, ino, size, ctime, mtime), lib in self.used.items():
            soname = lib.soname
            out.append(_REC.pack(dev & 0xFFFFFFFFFFFFFFFF, ino, size, ctime, mtime, lib.flags,
                                 lib.isa_level, lib.osversion,
                                 _NONE if soname is None else len(soname)))
            if soname is not None:
                out.append(soname)
        return b"".join(out)

    def save(self, root: object) -> None:
        """Write the results used in this run; silently give up on any failure, as ldconfig."""
        from .lock import locked

        try:
            # Like ldconfig: create the last level only (not /var/cache itself).
            root.mkdir(AUX_DIR, 0o700, exist_ok=True)  # type: ignore[attr-defined]
            with locked(root) as held:  # type: ignore[arg-type]
                if held:  # temporaries of killed runs (see ldcache.apply)
                    root.remove_stale_temps(AUX_PATH)  # type: ignore[attr-defined]
                root.write_atomic(AUX_PATH, self.encode(), 0o600)  # type: ignore[attr-defined]
        except (RootError, OSError):
            pass


def _decode(data: bytes, key: bytes) -> dict[Ident, Library]:
    if not data.startswith(MAGIC):
        return {}
    pos = len(MAGIC)
    end = data.find(b"\n", pos)
    if end < 0 or data[pos:end] != key.replace(b"\n", b" "):
        return {}
    pos = end + 1
    out: dict[Ident, Library] = {}
    n = len(data)
    while pos + _REC.size <= n:
        dev, ino, size, ctime, mtime, flags, isa, osv, slen = _REC.unpack_from(data, pos)
        pos += _REC.size
        soname = None
        if slen != _NONE:
            if pos + slen > n:
                return {}
            soname = data[pos:pos + slen]
            pos += slen
        out[(dev, ino, size, ctime, mtime)] = Library(flags=flags, soname=soname,
                                                      isa_level=isa, osversion=osv)
    if pos != n:
        return {}
    return out
