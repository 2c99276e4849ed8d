"""The aux cache: per-file ELF probe results, keyed by file identity.

Like glibc's ``/var/cache/ldconfig/aux-cache`` it only saves work: a file whose identity
(device, inode, size, ctime, mtime — ns resolution) is unchanged is not read again.  It is
ldcache's own file, ``/var/cache/ldconfig/ldcache-aux`` inside the root, so the root's
glibc ldconfig is not confused by it.  The file lives in an attacker-controlled root: it is
parsed with bounds checks only, a result is trusted no more than the file it describes
(which the image controls anyway), and any damage simply makes it ignored.

Layout (little endian): magic ``ldcache-aux-1\\n``, a key line naming the architecture and
glibc behaviour the results were computed for, then records::

    u64 dev, u64 ino, u64 size, u64 ctime_ns, u64 mtime_ns (the times modulo 2**64),
    i32 flags, u32 isa_level, u32 osversion, u32 soname_len (0xffffffff: none), soname

A file's identity (:func:`file_ident`) is kept as the record's first 40 bytes, and each
result used is appended to the file's bytes as it is stored: a run over 50,000 libraries
keeps one bytes object per file and one buffer, not a tuple of five integers and a record.
"""

from __future__ import annotations

import struct

from . import _os as os
from .elf import Library
from .errors import RootError

__all__ = ["AuxCache", "AUX_PATH"]

AUX_DIR = b"/var/cache/ldconfig"
AUX_PATH = AUX_DIR + b"/ldcache-aux"
MAGIC = b"ldcache-aux-1\n"
#: (the times as stored: two's complement, so that any time a file system gives packs)
_IDENT = struct.Struct("<QQQQQ")
_RESULT = struct.Struct("<iIII")
_IDENT_SIZE = _IDENT.size
_REC_SIZE = _IDENT_SIZE + _RESULT.size
_NONE = 0xFFFFFFFF
#: Largest aux cache read (about 8 MB holds 100,000 libraries).
MAX_BYTES = 64 << 20

#: A file's identity and version, packed as the record's first fields.
Ident = bytes


def file_ident(st: os.stat_result) -> Ident:
    """A file's identity and version (device, inode, size, ctime and mtime in ns): what the
    aux cache (and the scanner's memory of the files it read) keys a probe result by."""
    m = 0xFFFFFFFFFFFFFFFF
    return _IDENT.pack(st.st_dev & m, st.st_ino & m, st.st_size & m, st.st_ctime_ns & m,
                       st.st_mtime_ns & m)


class AuxCache:
    def __init__(self, key: bytes) -> None:
        self.key = key
        self.known: dict[Ident, Library] = {}
        #: the records of the results used in this run, in the order used (a file reached
        #: through two directories may have two, the same: reading keeps the last)
        self._records = bytearray()
        #: how many results this run used (and :meth:`save` writes)
        self.used = 0

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
            self.store(ident, lib)
        return lib

    def store(self, ident: Ident, lib: Library) -> None:
        self.used += 1
        soname = lib.soname
        self._records += ident
        self._records += _RESULT.pack(lib.flags, lib.isa_level, lib.osversion,
                                      _NONE if soname is None else len(soname))
        if soname is not None:
            self._records += soname

    def encode(self) -> bytes:
        return b"".join((MAGIC, self.key.replace(b"\n", b" ") + b"\n", self._records))

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
    while pos + _REC_SIZE <= n:
        ident = data[pos:pos + _IDENT_SIZE]
        flags, isa, osv, slen = _RESULT.unpack_from(data, pos + _IDENT_SIZE)
        pos += _REC_SIZE
        soname = None
        if slen != _NONE:
            if pos + slen > n:
                return {}
            soname = data[pos:pos + slen]
            pos += slen
        out[ident] = Library(flags=flags, soname=soname, isa_level=isa, osversion=osv)
    if pos != n:
        return {}
    return out
