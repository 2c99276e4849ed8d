"""The ELF probe: what glibc's ``ldconfig`` reads from a library, read the way it reads it.

Two entry points:

* :func:`read_elf` — a general, bounded ELF probe (header, ``PT_INTERP``, ``DT_SONAME``,
  ``DT_NEEDED``, x86 ISA level, ABI-tag osversion) for any ELF file of either class and
  byte order; malformed input raises :class:`~ldcache.errors.ELFError`.
* :func:`process_file` — glibc's ``elf/readlib.c:process_file`` decision for one file and
  one port (:class:`~ldcache.arch.Arch`) and glibc version
  (:class:`~ldcache.glibc.Behaviour`): a :class:`Library` or a :class:`Reject` carrying
  the exact message ldconfig prints.  It never raises for any file content.

How glibc reads (``elf/readelflib.c``, spec §4.3–§4.6), and how this module mirrors it:

* the file is ``mmap``ed and read in the *host* byte order of the port — ``EI_DATA`` is
  never looked at by ldconfig (so :func:`process_file` parses with ``arch.byte_order``);
* pointers are only checked at their start (``check_ptr``: ``start <= file end``), so
  structures that straddle the end of the file are read from the zero-filled rest of the
  last page.  Here reads past the end of the file yield zero bytes;
* pointer arithmetic wraps at the port's pointer width (``arch.elf_class``);
* the dynamic array is walked to ``DT_NULL`` whatever ``PT_DYNAMIC``'s ``p_filesz``.

Every read is bounded so hostile files cost little: the program-header table (at most
65535 entries), the dynamic array (:data:`MAX_DYNAMIC`), strings (:data:`MAX_STRING`),
note walks (:data:`MAX_NOTES`).  A library costs a few ``pread`` calls whatever its size:
the first 4 KiB (ELF header, program headers, notes), its dynamic array, its strings.
"""

from __future__ import annotations

import struct

from . import _os as os
from ._record import Record
from .arch import EM_386, EM_IA_64, EM_X86_64, Arch
from .cacheflags import (
    FLAG_AARCH64_LIB64,
    FLAG_ARM_LIBHF,
    FLAG_ARM_LIBSF,
    FLAG_ELF,
    FLAG_ELF_LIBC6,
    FLAG_IA64_LIB64,
    FLAG_LARCH_FLOAT_ABI_DOUBLE,
    FLAG_LARCH_FLOAT_ABI_SOFT,
    FLAG_LIBC4,
    FLAG_MIPS64_LIBN32,
    FLAG_MIPS64_LIBN32_NAN2008,
    FLAG_MIPS64_LIBN64,
    FLAG_MIPS64_LIBN64_NAN2008,
    FLAG_MIPS_LIB32_NAN2008,
    FLAG_POWERPC_LIB64,
    FLAG_RISCV_FLOAT_ABI_DOUBLE,
    FLAG_RISCV_FLOAT_ABI_SOFT,
    FLAG_S390_LIB64,
    FLAG_SPARC_LIB64,
    FLAG_X8664_LIB64,
    FLAG_X8664_LIBX32,
)
from .errors import ELFError
from .glibc import Behaviour

__all__ = [
    "MAX_DYNAMIC",
    "MAX_NOTES",
    "MAX_STRING",
    "ELFInfo",
    "Library",
    "Reject",
    "process_file",
    "read_elf",
    "read_note",
    "section_span",
]

#: Bytes of dynamic array walked before giving up (glibc walks to ``DT_NULL``).
MAX_DYNAMIC = 1 << 20
#: Longest string read (SONAME, DT_NEEDED, PT_INTERP).
MAX_STRING = 1 << 16
#: Bytes of a note segment walked (PT_GNU_PROPERTY, PT_NOTE), and the largest note section
#: or segment :func:`read_note` reads.
MAX_NOTES = 1 << 20
#: Largest section or program header table :func:`read_note` reads (65536 ELF64 headers).
_MAX_HEADERS = 1 << 22
#: Largest section name table :func:`read_note` reads.
_MAX_SHSTRTAB = 1 << 20
#: First read of every file: ELF header and, almost always, the program headers.
_HEAD = 4096
#: Longest name in the ≤2.36 known interpreter / library tables, plus slack.
_KNOWN_MAX = 64

# Module-level so tests can count what is read.
_pread = os.pread

ET_DYN = 3
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4
PT_GNU_PROPERTY = 0x6474E553
DT_NULL = 0
DT_NEEDED = 1
DT_STRTAB = 5
DT_SONAME = 14
NT_GNU_PROPERTY_TYPE_0 = 5
NT_GNU_ABI_TAG = 1
SHT_NOTE = 7
SHN_XINDEX = 0xFFFF
GNU_PROPERTY_X86_ISA_1_NEEDED = 0xC0008002
ZMAGIC = 0o413
QMAGIC = 0o314


class ELFInfo(Record):
    """What :func:`read_elf` found in one ELF file."""

    ei_class: int  #: ``EI_CLASS``: 1 (32-bit) or 2 (64-bit)
    ei_data: int  #: ``EI_DATA``: 1 (little endian) or 2 (big endian)
    e_type: int
    e_machine: int
    e_flags: int
    soname: bytes | None  #: first ``DT_SONAME``, None without one
    interp: bytes | None  #: first ``PT_INTERP`` string
    needed: tuple[bytes, ...]  #: ``DT_NEEDED`` strings in order (only when asked for)
    isa_level: int  #: x86 ISA level from ``GNU_PROPERTY_X86_ISA_1_NEEDED`` (0: baseline)
    osversion: int  #: ABI-tag note value (only when asked for), 0 without one
    dynamic: bool  #: a ``PT_DYNAMIC`` with a non-zero size and a ``DT_STRTAB`` exists

    @property
    def bits(self) -> int:
        return 64 if self.ei_class == 2 else 32


class Library(Record):
    """ldconfig accepted the file: the cache entry's flags and what the scan needs."""

    flags: int
    soname: bytes | None  #: None when the file has no ``DT_SONAME``
    isa_level: int = 0
    osversion: int = 0
    #: Messages ldconfig prints while reading the file although it accepts it
    #: (``"more than one dynamic segment\n"``).
    warnings: tuple[str, ...] = ()


class Reject(Record):
    """ldconfig skips the file.

    ``message`` is the text ldconfig passes to ``error()`` with the file name substituted
    (so it may end in ``"\\n"``, which then shows as an empty line), or None where
    ldconfig says nothing.  ``verbose_only``: printed only with ``-v``.
    """

    message: str | None
    verbose_only: bool = False
    #: Messages printed before the final one (see :attr:`Library.warnings`).
    warnings: tuple[str, ...] = ()


class _Layout:
    """Precompiled structs of one (ELF class, byte order)."""

    __slots__ = (
        "addr_mask",
        "bits",
        "dyn",
        "dynentsize",
        "ehdr",
        "nhdr",
        "order",
        "p_filesz",
        "p_off",
        "p_vaddr",
        "pair",
        "phdr",
        "phentsize",
        "u16",
        "u32",
        "u32x8",
        "word",
        "wordcode",
    )

    def __init__(self, bits: int, order: str) -> None:
        w = "Q" if bits == 64 else "I"
        self.bits = bits
        self.order = order
        # e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
        # e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx (from offset 16)
        self.ehdr = struct.Struct(f"{order}HHI{w}{w}{w}IHHHHHH")
        if bits == 64:
            # p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
            self.phdr = struct.Struct(f"{order}IIQQQQQQ")
            self.p_off, self.p_vaddr, self.p_filesz = 2, 3, 5
            self.dyn = struct.Struct(f"{order}qQ")
        else:
            # p_type, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_flags, p_align
            self.phdr = struct.Struct(f"{order}IIIIIIII")
            self.p_off, self.p_vaddr, self.p_filesz = 1, 2, 4
            self.dyn = struct.Struct(f"{order}iI")
        self.phentsize = self.phdr.size
        self.dynentsize = self.dyn.size
        self.addr_mask = (1 << bits) - 1
        self.word = bits // 8
        self.u32 = struct.Struct(f"{order}I")
        self.u16 = struct.Struct(f"{order}H")
        self.nhdr = struct.Struct(f"{order}III")
        self.u32x8 = struct.Struct(f"{order}8I")
        self.pair = struct.Struct(f"{order}II")
        # The dynamic array as unsigned words (d_tag values of interest are small); struct
        # rather than array (which imports collections: a millisecond of start-up).
        self.wordcode = w


_LAYOUTS = {(bits, order): _Layout(bits, order) for bits in (32, 64) for order in "<>"}


class _Reader:
    """Reads of one file: exact lengths, zero bytes past its end, few ``pread`` calls."""

    __slots__ = ("blk", "blk_off", "fd", "head", "size")

    def __init__(self, fd: int, size: int, head: bytes) -> None:
        self.fd = fd
        self.size = size
        self.head = head
        self.blk_off = 0
        self.blk = b""

    def read(self, off: int, n: int, ahead: int = 0) -> bytes:
        end = off + n
        head = self.head
        if end <= len(head):
            return head[off:end]
        base = self.blk_off
        if base <= off and end <= base + len(self.blk):
            return self.blk[off - base:end - base]
        size = self.size
        if off >= size:
            return bytes(n)
        # (conditionals, not min and max: a builtin's call costs more than the test, and
        # these run for every file)
        want = n if n > ahead else ahead
        data = _pread(self.fd, want if want < size - off else size - off, off)
        self.blk_off = off
        self.blk = data
        if len(data) < n:
            return data + bytes(n - len(data))
        return data[:n]

    def prefetch(self, off: int, n: int) -> None:
        """Keep ``[off, off+n)`` (clipped to the file) for the reads that follow."""
        if off + n <= len(self.head) or off >= self.size:
            return
        base = self.blk_off
        if base <= off and off + n <= base + len(self.blk):
            return
        self.blk = _pread(self.fd, min(n, self.size - off), off)
        self.blk_off = off

    def cstring(self, off: int, limit: int) -> bytes | None:
        """The NUL-terminated string at ``off`` (ending at the end of the file at the
        latest), or None if it is longer than ``limit``."""
        size = self.size
        if off >= size:
            return b""
        stop = off + limit + 1
        if stop > size:
            stop = size
        for base, buf in ((0, self.head), (self.blk_off, self.blk)):
            if base <= off < base + len(buf):
                end = base + len(buf)
                if end > stop:
                    end = stop
                i = buf.find(b"\0", off - base, end - base)
                if i >= 0:
                    return buf[off - base:i]
                if end == stop:
                    return buf[off - base:stop - base] if stop - off <= limit else None
        parts: list[bytes] = []
        pos = off
        n = 512
        first = True
        while pos < stop:
            chunk = _pread(self.fd, min(n, stop - pos), pos)
            if first:
                self.blk_off, self.blk, first = pos, chunk, False
            if not chunk:
                break
            i = chunk.find(b"\0")
            if i >= 0:
                parts.append(chunk[:i])
                return b"".join(parts)
            parts.append(chunk)
            pos += len(chunk)
            n *= 4
        s = b"".join(parts)
        return s if len(s) <= limit else None


class _Fail(Exception):
    """A glibc ``return 1`` with a message (None: silent)."""

    def __init__(self, message: str | None, verbose_only: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.verbose_only = verbose_only


_TRUNCATED = "file {} is truncated\n"


class _Walk:
    """Options of one walk of the generic ``process_elf_file``."""

    __slots__ = (
        "classify",
        "collect_needed",
        "flag_matters",
        "interp_props",
        "interps",
        "isa",
        "libs",
        "osversion",
        "probe",
    )

    def __init__(self, *, classify: bool = False, flag_matters: bool = True,
                 interps: tuple[tuple[bytes, int], ...] = (),
                 libs: tuple[tuple[bytes, int], ...] = (), isa: bool = False,
                 osversion: bool = False, interp_props: bool = False,
                 collect_needed: bool = False, probe: bool = False) -> None:
        self.classify = classify  # ≤2.36 libc4/libc5/ELF classification
        self.flag_matters = flag_matters  # False: the port's wrapper replaces the type
        self.interps = interps
        self.libs = libs
        self.isa = isa  # x86 read_gnu_property
        self.osversion = osversion  # ≤2.35 ABI-tag note
        self.interp_props = interp_props  # 2.37–2.38: PT_INTERP falls into PT_GNU_PROPERTY
        self.collect_needed = collect_needed
        self.probe = probe  # read_elf: first SONAME, interp string, needed names


class _Result:
    __slots__ = ("dynamic", "flag", "interp", "isa", "needed", "osversion", "soname")

    def __init__(self) -> None:
        self.flag = FLAG_ELF_LIBC6
        self.soname: bytes | None = None
        self.isa = 0
        self.osversion = 0
        self.interp: bytes | None = None
        self.needed: list[bytes] = []
        self.dynamic = False


def _align_up(value: int, align: int, mask: int) -> int:
    return ((value + align - 1) & -align) & mask


def _isa_level(r: _Reader, lay: _Layout, ptr_mask: int, p_offset: int, p_filesz: int,
               p_align: int) -> int | None:
    """x86 ``read_gnu_property`` over one segment: the new ISA level, or None (unchanged)."""
    word = lay.word
    if p_align != word:
        return None
    start = p_offset & ptr_mask
    end_cap = start + MAX_NOTES
    if end_cap > r.size:
        end_cap = r.size
    addr_mask = lay.addr_mask
    rel = 0
    while ((rel + 12) & addr_mask) < p_filesz:
        pos = start + rel
        if pos >= end_cap:  # only zero bytes (or more than we read) from here on
            return None
        namesz, descsz, ntype = lay.nhdr.unpack(r.read(pos, 12))
        if namesz == 4 and ntype == NT_GNU_PROPERTY_TYPE_0 and r.read(pos + 12, 4) == b"GNU\0":
            if descsz < 8 or descsz % word:
                return None
            data = r.read(pos + 16, min(descsz, MAX_NOTES))
            last = 0
            p = 0
            while True:
                if p + 8 > len(data):
                    return None
                ptype, datasz = lay.pair.unpack_from(data, p)
                if ptype < last:
                    return None
                p += 8
                if p + datasz > descsz:
                    return None
                last = ptype
                if ptype > GNU_PROPERTY_X86_ISA_1_NEEDED:
                    return None
                if ptype == GNU_PROPERTY_X86_ISA_1_NEEDED:
                    if datasz == 4 and p + 4 <= len(data):
                        mask = lay.u32.unpack_from(data, p)[0]
                        if mask:
                            return int(mask).bit_length() - 1
                    return None
                p += (datasz + word - 1) & -word
                if descsz - p < 8:
                    return None
        step = _align_up(_align_up(12 + namesz, p_align, ptr_mask) + descsz, p_align, ptr_mask)
        if step == 0:  # glibc would loop forever (32-bit hosts only)
            return None
        rel += step
    return None


def _abi_tag(r: _Reader, lay: _Layout, ptr_mask: int, p_offset: int, p_filesz: int,
             p_align: int) -> int | None:
    """≤2.35 ``PT_NOTE`` walk for the ``NT_GNU_ABI_TAG`` note: osversion, or None."""
    if p_filesz < 32 or p_align < 4:
        return None
    if p_align not in (4, 8):
        return None
    addr_mask = lay.addr_mask
    pos = start = p_offset & ptr_mask
    size = p_filesz
    while True:
        if pos >= r.size or pos - start > MAX_NOTES:
            return None
        raw = r.read(pos, 32)
        w = lay.u32x8.unpack(raw)
        if w[0] == 4 and w[1] == 16 and w[2] == NT_GNU_ABI_TAG and raw[12:16] == b"GNU\0":
            break
        note_size = _align_up(_align_up(12 + w[0], p_align, ptr_mask) + w[1], p_align,
                              ptr_mask) & addr_mask
        if ((size - 32) & addr_mask) < note_size or note_size == 0:
            return None
        size -= note_size
        pos += note_size
    return int(((w[4] << 24) & 0xFFFFFFFF) | ((w[5] & 0xFF) << 16) | ((w[6] & 0xFF) << 8)
               | (w[7] & 0xFF))


def _one_soname_in_file(names: list[tuple[int, int]], strings: int, ptr_mask: int,
                        size: int) -> bool:
    """At most one DT_SONAME among ``names``, and every name's string starts in the file."""
    if not names:
        return True
    tags, vals = zip(*names)
    if tags.count(DT_SONAME) > 1:
        return False
    if strings + max(vals) <= size:  # (no sum wraps: each is at most the largest)
        return True
    return all(((strings + val) & ptr_mask) <= size for val in vals)


def _walk(r: _Reader, lay: _Layout, ptr_mask: int, opt: _Walk, name: str,
          warnings: list[str], res: _Result) -> _Result:
    """The generic ``process_elf_file`` of one ELF class (after the class check).

    Fills ``res`` as it goes; raises :class:`_Fail` where glibc returns 1.
    """
    size = r.size
    (_e_type, _e_machine, _e_version, _e_entry, e_phoff, _e_shoff, _e_flags, _e_ehsize,
     _e_phentsize, e_phnum, _e_shentsize, _e_shnum, _e_shstrndx) = lay.ehdr.unpack(
        r.read(16, lay.ehdr.size))
    phoff = e_phoff & ptr_mask
    if phoff > size:
        raise _Fail(_TRUNCATED.format(name))
    classify = opt.classify
    flag = FLAG_ELF if classify else FLAG_ELF_LIBC6

    # Program headers: glibc steps by sizeof (ElfW(Phdr)) and check_ptr()s each start.
    ent = lay.phentsize
    count = e_phnum
    if count and phoff + (count - 1) * ent > size:
        count = (size - phoff) // ent + 1
    segs = list(lay.phdr.iter_unpack(r.read(phoff, count * ent, ahead=1024)))
    i_off, i_vaddr, i_filesz = lay.p_off, lay.p_vaddr, lay.p_filesz
    dynamic_addr = 0
    dynamic_size = 0
    for seg in segs:
        p_type = seg[0]
        if p_type == PT_DYNAMIC:
            if dynamic_addr:
                warnings.append("more than one dynamic segment\n")
            dynamic_addr = seg[i_off] & 0xFFFFFFFF  # an unsigned int in glibc
            dynamic_size = seg[i_filesz] & ptr_mask
        elif p_type == PT_INTERP:
            interp_off = seg[i_off] & ptr_mask
            if interp_off > size:
                raise _Fail(_TRUNCATED.format(name))
            if opt.probe:
                if res.interp is None:
                    res.interp = r.cstring(interp_off, MAX_STRING)
            elif classify:
                text = r.cstring(interp_off, _KNOWN_MAX)
                for known, known_flag in opt.interps:
                    if text == known:
                        flag = known_flag
                        break
            if opt.interp_props and opt.isa:
                level = _isa_level(r, lay, ptr_mask, seg[i_off], seg[i_filesz], seg[7])
                if level is not None:
                    res.isa = level
        elif p_type == PT_GNU_PROPERTY:
            if opt.isa:
                level = _isa_level(r, lay, ptr_mask, seg[i_off], seg[i_filesz], seg[7])
                if level is not None:
                    res.isa = level
        elif p_type == PT_NOTE and opt.osversion and not res.osversion:
            value = _abi_tag(r, lay, ptr_mask, seg[i_off], seg[i_filesz], seg[7])
            if value is not None:
                res.osversion = value
    if count < e_phnum:
        raise _Fail(_TRUNCATED.format(name))

    if dynamic_size == 0:
        raise _Fail(None)
    if dynamic_addr > size:
        raise _Fail(_TRUNCATED.format(name))

    # The dynamic array, to DT_NULL (zero bytes past the end of the file end it).
    strtab: int | None = None
    names: list[tuple[int, int]] = []
    step = lay.dynentsize
    pos = dynamic_addr
    chunk = dynamic_size if dynamic_size > step else step
    if chunk > MAX_DYNAMIC:
        chunk = MAX_DYNAMIC
    chunk -= chunk % step
    while pos < size:
        if pos - dynamic_addr >= MAX_DYNAMIC:
            raise _Fail(_TRUNCATED.format(name))
        words = struct.unpack(f"{lay.order}{chunk // lay.word}{lay.wordcode}", r.read(pos, chunk))
        tags = words[0::2]
        try:
            n = tags.index(DT_NULL)
        except ValueError:
            n = len(tags)
        else:
            tags = tags[:n]
        if DT_NEEDED in tags or DT_SONAME in tags or (strtab is None and DT_STRTAB in tags):
            vals = words[1::2]
            if strtab is None and DT_STRTAB in tags:
                strtab = vals[tags.index(DT_STRTAB)]
            names.extend([(t, v) for t, v in zip(tags, vals) if t == DT_NEEDED or t == DT_SONAME])
        if n < len(words) // 2:
            break
        pos += chunk
        chunk = min(MAX_DYNAMIC, max(chunk * 2, 4096 - 4096 % step))
    if strtab is None:
        raise _Fail(None)
    res.dynamic = True

    # DT_STRTAB's address → file offset through the first PT_LOAD containing it.
    addr_mask = lay.addr_mask
    loadoff = 0
    for seg in segs:
        if seg[0] == PT_LOAD:
            vaddr = seg[i_vaddr]
            if vaddr <= strtab < vaddr + seg[i_filesz]:
                loadoff = (vaddr - seg[i_off]) & addr_mask
                if loadoff == addr_mask:  # glibc's "not found" marker
                    loadoff = 0
                break
    strings = (strtab - loadoff) & ptr_mask
    if strings > size:
        raise _Fail(_TRUNCATED.format(name))

    # When the port's wrapper replaces the type afterwards, the classification only decides
    # where the loop below stops, which matters only with several DT_SONAMEs or a name
    # outside the file: otherwise skip reading the DT_NEEDED names.
    if classify and not opt.flag_matters and _one_soname_in_file(names, strings, ptr_mask, size):
        classify = False

    if classify or opt.collect_needed:
        # Several strings will be read: they sit together at the end of .dynstr, so one
        # read brings them all.
        offsets = [(strings + val) & ptr_mask for _tag, val in names]
        if len(offsets) > 1:
            lo = min(offsets)
            hi = max(offsets)
            if hi - lo < 16384:
                r.prefetch(lo, hi - lo + 256)

    if classify:
        # ≤2.36: DT_NEEDED classify while still FLAG_ELF; every DT_SONAME replaces the
        # previous one; stop once both a soname and a type are known.
        soname: bytes | None = None
        for tag, val in names:
            off = (strings + val) & ptr_mask
            if off > size:
                raise _Fail(_TRUNCATED.format(name))
            if tag == DT_NEEDED:
                if flag == FLAG_ELF:
                    text = r.cstring(off, _KNOWN_MAX)
                    for known, known_flag in opt.libs:
                        if text == known:
                            flag = known_flag
                            break
            else:
                soname = r.cstring(off, MAX_STRING)
                if soname is None:
                    raise _Fail(_TRUNCATED.format(name))
            if soname is not None and flag != FLAG_ELF:
                break
        res.soname = soname
    else:
        for tag, val in names:
            if tag == DT_SONAME:
                if res.soname is not None:
                    continue
                off = (strings + val) & ptr_mask
                if off > size:
                    raise _Fail(_TRUNCATED.format(name))
                res.soname = r.cstring(off, MAX_STRING)
                if res.soname is None:
                    raise _Fail(_TRUNCATED.format(name))
                if not opt.collect_needed:
                    break
            elif opt.collect_needed:
                off = (strings + val) & ptr_mask
                if off > size:
                    raise _Fail(_TRUNCATED.format(name))
                text = r.cstring(off, MAX_STRING)
                if text is None:
                    raise _Fail(_TRUNCATED.format(name))
                res.needed.append(text)
    res.flag = flag
    return res


# --- read_elf ---------------------------------------------------------------------------------

def read_elf(fd: int, size: int, *, needed: bool = False, osversion: bool = False) -> ELFInfo:
    """Probe the ELF file open on ``fd`` (``size`` bytes long).

    Reads the header, program headers, ``PT_INTERP``, the dynamic array and the strings
    it names, the x86 ISA-level property (``EM_386``/``EM_X86_64`` only), and — when
    asked — ``DT_NEEDED`` names and the ABI-tag osversion.  Structures are located with
    glibc's rules (``DT_STRTAB`` mapped through the first covering ``PT_LOAD``, program
    headers stepped by their native size); bytes past the end of the file read as zeros.
    Raises :class:`ELFError` for non-ELF or truncated files.
    """
    if size < 16:
        raise ELFError("file too small for an ELF header")
    head = _pread(fd, min(size, _HEAD), 0)
    if len(head) < 16 or head[:4] != b"\x7fELF":
        raise ELFError("not an ELF file")
    ei_class, ei_data = head[4], head[5]
    if ei_class not in (1, 2):
        raise ELFError(f"unknown ELF class {ei_class}")
    if ei_data not in (1, 2):
        raise ELFError(f"unknown ELF data encoding {ei_data}")
    bits = 64 if ei_class == 2 else 32
    lay = _LAYOUTS[(bits, "<" if ei_data == 1 else ">")]
    if size < 16 + lay.ehdr.size or len(head) < 16 + lay.ehdr.size:
        raise ELFError("truncated ELF header")
    r = _Reader(fd, size, head)
    e_type, e_machine = lay.u16.unpack_from(head, 16)[0], lay.u16.unpack_from(head, 18)[0]
    e_flags = lay.u32.unpack_from(head, 48 if bits == 64 else 36)[0]
    opt = _Walk(isa=e_machine in (EM_386, EM_X86_64), osversion=osversion,
                collect_needed=needed, probe=True)
    res = _Result()
    try:
        _walk(r, lay, (1 << 64) - 1, opt, "", [], res)
    except _Fail as exc:
        if exc.message is not None:
            raise ELFError("truncated ELF file") from None
        # No usable dynamic array: header, interp, ISA level and osversion still stand.
    return ELFInfo(ei_class, ei_data, e_type, e_machine, e_flags, res.soname, res.interp,
                   tuple(res.needed), res.isa, res.osversion, res.dynamic)


# --- read_note --------------------------------------------------------------------------------

def _read_exact(fd: int, off: int, n: int) -> bytes:
    data = _pread(fd, n, off) if n else b""
    if len(data) != n:
        raise ELFError("truncated ELF file")
    return data


def _find_note(data: bytes, order: str, align: int, owner: bytes,
               note_type: int | None) -> bytes | None:
    """The descriptor of the first note of ``owner`` (and ``note_type``) in the note
    section or segment ``data``; entries padded to ``align`` (4 or 8)."""
    nhdr = _LAYOUTS[(32, order)].nhdr
    pos = 0
    end = len(data)
    while end - pos >= 12:
        namesz, descsz, ntype = nhdr.unpack_from(data, pos)
        name_at = pos + 12
        desc_at = pos + ((12 + namesz + align - 1) & -align)  # as glibc and readelf pad
        next_at = desc_at + ((descsz + align - 1) & -align)
        if desc_at + descsz > end:
            raise ELFError("truncated note")
        name = data[name_at:name_at + namesz]
        if name.endswith(b"\0"):
            name = name[:-1]
        if name == owner and (note_type is None or ntype == note_type):
            return data[desc_at:desc_at + descsz]
        pos = next_at
    return None


def _file_header(fd: int, size: int) -> tuple[str, _Layout, tuple[int, ...]]:
    """(byte order, layout, the header's fields from ``e_type`` on) of the ELF file on
    ``fd``; ELFError for a file that is not ELF."""
    if size < 16:
        raise ELFError("file too small for an ELF header")
    ident = _read_exact(fd, 0, 16)
    if ident[:4] != b"\x7fELF":
        raise ELFError("not an ELF file")
    if ident[4] not in (1, 2):
        raise ELFError(f"unknown ELF class {ident[4]}")
    if ident[5] not in (1, 2):
        raise ELFError(f"unknown ELF data encoding {ident[5]}")
    order = "<" if ident[5] == 1 else ">"
    lay = _LAYOUTS[(64 if ident[4] == 2 else 32, order)]
    return order, lay, lay.ehdr.unpack(_read_exact(fd, 16, lay.ehdr.size))


def _section_headers(fd: int, order: str, lay: _Layout, ehdr: tuple[int, ...],
                     names: bool) -> tuple[list[tuple[int, ...]], bytes]:
    """The section headers (sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link,
    sh_info, sh_addralign, sh_entsize) and, when ``names``, the section name table; both
    empty without section headers.  Bounded reads; ELFError when out of bounds."""
    e_shoff, e_shentsize, e_shnum, e_shstrndx = ehdr[5], ehdr[10], ehdr[11], ehdr[12]
    if not e_shoff:
        return [], b""
    w = "Q" if lay.bits == 64 else "I"
    shdr = struct.Struct(f"{order}II{w}{w}{w}{w}II{w}{w}")
    if e_shentsize < shdr.size:
        raise ELFError("bad section header size")
    first = shdr.unpack(_read_exact(fd, e_shoff, shdr.size))
    shnum = e_shnum or first[5]  # extended numbering: the counts are in section 0
    shstrndx = first[6] if e_shstrndx == SHN_XINDEX else e_shstrndx
    if shnum == 0:
        return [], b""
    if shnum * e_shentsize > _MAX_HEADERS:
        raise ELFError("section header table too large")
    table = _read_exact(fd, e_shoff, shnum * e_shentsize)
    headers = [shdr.unpack_from(table, i * e_shentsize) for i in range(shnum)]
    if not names:
        return headers, b""
    if shstrndx >= shnum:
        raise ELFError("bad section name table index")
    str_off, str_size = headers[shstrndx][4:6]
    if str_size > _MAX_SHSTRTAB:
        raise ELFError("section name table too large")
    return headers, _read_exact(fd, str_off, str_size)


def _named(names: bytes, sh_name: int, name: bytes) -> bool:
    end = names.find(b"\0", sh_name)
    return sh_name < len(names) and names[sh_name:end if end >= 0 else None] == name


def section_span(fd: int, size: int, name: bytes) -> tuple[int, int] | None:
    """(offset, size) of the first section called ``name`` in the ELF file on ``fd``
    (``size`` bytes long), or None; ELFError for a file that is not ELF or whose section
    headers are out of bounds.  The span is not checked against the file."""
    order, lay, ehdr = _file_header(fd, size)
    headers, names = _section_headers(fd, order, lay, ehdr, True)
    for h in headers:
        if _named(names, h[0], name):
            return h[4], h[5]
    return None


def read_note(fd: int, size: int, owner: bytes, note_type: int | None = None, *,
              section: bytes | None = None) -> bytes | None:
    """The descriptor of the first ELF note of ``owner`` (its name, without the
    terminating NUL) of type ``note_type`` (any type when None) in the ELF file open on
    ``fd`` (``size`` bytes long); None when it has none.

    The notes are looked for in the file's ``SHT_NOTE`` sections — only the one named
    ``section`` when given — and, in a file without section headers and when no
    ``section`` is asked for, in its ``PT_NOTE`` segments.  Entries are padded to 4 bytes,
    or 8 in a section or segment aligned to 8 (``NT_GNU_PROPERTY_TYPE_0``).  Every read is
    a bounded ``pread`` (headers, the section name table, notes up to :data:`MAX_NOTES`);
    raises :class:`ELFError` for a file that is not ELF or whose structures are out of
    bounds.
    """
    order, lay, ehdr = _file_header(fd, size)
    e_phoff, e_shoff, e_phentsize, e_phnum = ehdr[4], ehdr[5], ehdr[8], ehdr[9]
    if e_shoff:
        headers, names = _section_headers(fd, order, lay, ehdr, section is not None)
        for (sh_name, sh_type, _f, _a, sh_offset, sh_size, _l, _i, sh_addralign,
             _e) in headers:
            if sh_type != SHT_NOTE:
                continue
            if section is not None and not _named(names, sh_name, section):
                continue
            if sh_size > MAX_NOTES:
                raise ELFError("note section too large")
            found = _find_note(_read_exact(fd, sh_offset, sh_size), order,
                               8 if sh_addralign == 8 else 4, owner, note_type)
            if found is not None or section is not None:
                return found
        return None
    if section is not None or not e_phoff:
        return None
    if e_phentsize < lay.phentsize or e_phnum * e_phentsize > _MAX_HEADERS:
        raise ELFError("bad program header table")
    phdrs = _read_exact(fd, e_phoff, e_phnum * e_phentsize)
    for i in range(e_phnum):
        seg = lay.phdr.unpack_from(phdrs, i * e_phentsize)
        if seg[0] != PT_NOTE:
            continue
        p_filesz = seg[lay.p_filesz]
        if p_filesz > MAX_NOTES:
            raise ELFError("note segment too large")
        found = _find_note(_read_exact(fd, seg[lay.p_off], p_filesz), order,
                           8 if seg[7] == 8 else 4, owner, note_type)
        if found is not None:
            return found
    return None


# --- process_file -----------------------------------------------------------------------------

def _aout_soname(path: bytes) -> bytes:
    return soname_from_file_name(path.rsplit(b"/", 1)[-1])


def soname_from_file_name(lib: bytes) -> bytes:
    """A file name cut at the first ``.`` after ``.so.`` (``libfoo.so.1.2.3`` → ``libfoo.so.1``):
    the a.out soname, and glibc 2.37's name for a library without DT_SONAME."""
    major = lib.find(b".so.")
    if major >= 0:
        dot = lib.find(b".", major + 4)
        if dot >= 0:
            return lib[:dot]
    return lib


def process_file(fd: int, size: int, path: bytes, arch: Arch, behaviour: Behaviour, *,
                 seen: dict | None = None, key: object = None) -> Library | Reject:
    """glibc ``process_file`` for the file open on ``fd`` (``size`` = its ``st_size``).

    ``path`` is the name ldconfig prints (``<dir as written>/<entry name>``); its last
    component is the ``lib`` argument (a.out pseudo-soname).  Returns the
    :class:`Library` ldconfig enters or the :class:`Reject` it skips.  Never raises for
    any file content; a read error gives ldconfig's "Cannot mmap file" reject.

    ``seen``: a result that is the same whatever name the file is reached by (an ELF
    library without warnings; not an a.out one, whose soname is its name, nor a reject,
    whose message names it) is stored there under ``key``.
    """
    name = os.fsdecode(path)
    try:
        res = _process(fd, size, path, name, arch, behaviour)
    except OSError:
        return Reject(f"Cannot mmap file {name}.\n")
    if seen is not None and type(res) is _ElfLibrary:
        seen[key] = res
    return res


def _process(fd: int, size: int, path: bytes, name: str, arch: Arch,
             b: Behaviour) -> Library | Reject:
    port = _port(arch, b)
    min_size = port.min_size
    if size < min_size:
        if size <= 0:
            return Reject(f"File {name} is empty, not checked.")
        n = min(size, 4)
        start = _pread(fd, n, 0)
        if len(start) == n and start == b"\x7fELF"[:n]:
            return Reject(f"File {name} is too small, not checked.")
        return Reject(None)
    head = _pread(fd, size if size < _HEAD else _HEAD, 0)
    if len(head) < min_size:  # the file shrank under us: zeros, like a short mapping
        head += bytes(min_size - len(head))

    # a.out: N_MAGIC is the low 16 bits of a_info, read in host order.
    magic = int.from_bytes(head[port.info_at:port.info_end],
                           "little" if arch.byte_order == "little" else "big") & 0xFFFF
    if magic == ZMAGIC or magic == QMAGIC:
        flag = FLAG_LIBC4 if b.libc5_classification else FLAG_ELF_LIBC6
        return Library(flag, _aout_soname(path))

    if head[:4] != b"\x7fELF":
        window = head[:min(size, 512)]
        if (b"GROUP" in window or b"GNU ld script" in window
                or any(path.endswith(s.encode()) for s in b.gdb_suffixes)):
            return Reject(None)
        return Reject(f"{name} is not an ELF file - it has the wrong magic bytes at the start.\n")

    e_type, e_machine = port.type_machine.unpack_from(head, 16)
    if e_type != ET_DYN:
        return Reject(None)

    r = _Reader(fd, size, head)
    warnings: list[str] = []
    try:
        flag, res = _wrapper(r, head, e_machine, name, port, warnings)
    except _Fail as exc:
        return Reject(exc.message, exc.verbose_only, tuple(warnings))
    if warnings:
        return Library(flag, res.soname, res.isa, res.osversion, tuple(warnings))
    return _ElfLibrary(flag, res.soname, res.isa, res.osversion, ())


class _ElfLibrary(Library):
    """A :class:`Library` read from ELF headers alone, without warnings: the same result
    whatever name the file is reached by."""

    __slots__ = ()


class _Port:
    """What reading files for (arch, behaviour) needs, worked out once for the pair rather
    than for every file."""

    __slots__ = ("arch", "b", "min_size", "info_at", "info_end", "type_machine", "wrapper",
                 "layouts", "walks", "ptr_mask")

    def __init__(self, arch: Arch, b: Behaviour) -> None:
        self.arch = arch
        self.b = b
        self.min_size = arch.min_file_size
        self.info_at = arch.aout_info_offset
        self.info_end = arch.aout_info_offset + arch.aout_info_size
        order = arch.struct_order
        self.type_machine = struct.Struct(order + "HH")  # e_type, e_machine
        wrapper = arch.wrapper
        if wrapper == "loongarch" and not b.loongarch:
            wrapper = "generic"
        self.wrapper = wrapper
        self.layouts = {bits: _LAYOUTS[(bits, order)] for bits in (32, 64)}
        self.ptr_mask = (1 << arch.elf_class) - 1

        def walk(flag_matters: bool) -> _Walk:
            return _Walk(classify=b.libc5_classification, flag_matters=flag_matters,
                         interps=arch.known_interpreters, libs=arch.known_libraries,
                         isa=arch.reads_isa_level and b.glibc_hwcaps, osversion=b.osversion,
                         interp_props=b.interp_property_fallthrough)

        #: (the type matters, the wrapper replaces the type)
        self.walks = (walk(True), walk(False))


_PORTS: dict[tuple[int, int], _Port] = {}


def _port(arch: Arch, b: Behaviour) -> _Port:
    key = (id(arch), id(b))
    hit = _PORTS.get(key)
    if hit is not None and hit.arch is arch and hit.b is b:
        return hit
    if len(_PORTS) > 64:
        _PORTS.clear()
    port = _PORTS[key] = _Port(arch, b)
    return port


def _generic(r: _Reader, bits: int, name: str, port: _Port,
             warnings: list[str], flag_matters: bool = True) -> _Result:
    """``process_elf32_file`` / ``process_elf64_file``: the class check, then the walk."""
    ei_class = r.head[4]
    if ei_class != (2 if bits == 64 else 1):
        if ei_class == 1:
            message = f"{name} is a 32 bit ELF file.\n"
        elif ei_class == 2:
            message = f"{name} is a 64 bit ELF file.\n"
        else:
            message = f"Unknown ELFCLASS in file {name}.\n"
        raise _Fail(message, verbose_only=True)
    opt = port.walks[0 if flag_matters else 1]
    return _walk(r, port.layouts[bits], port.ptr_mask, opt, name, warnings, _Result())


_LIB64_FLAG = {"powerpc": FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6,
               "s390": FLAG_S390_LIB64 | FLAG_ELF_LIBC6,
               "sparc": FLAG_SPARC_LIB64 | FLAG_ELF_LIBC6,
               "ia64": FLAG_IA64_LIB64 | FLAG_ELF_LIBC6}
# The wrappers' other flags, made once: an int made per file is 32 bytes kept per library.
_X8664_FLAG = FLAG_X8664_LIB64 | FLAG_ELF_LIBC6
_X32_FLAG = FLAG_X8664_LIBX32 | FLAG_ELF_LIBC6
_ARMHF_FLAG = FLAG_ARM_LIBHF | FLAG_ELF_LIBC6
_ARMSF_FLAG = FLAG_ARM_LIBSF | FLAG_ELF_LIBC6
_AARCH64_FLAG = FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6


def _e_flags(r: _Reader, arch: Arch, bits: int) -> int:
    return int(struct.unpack(arch.struct_order + "I", r.read(48 if bits == 64 else 36, 4))[0])


def _wrapper(r: _Reader, head: bytes, e_machine: int, name: str, port: _Port,
             warnings: list[str]) -> tuple[int, _Result]:
    """The port's ``sysdeps/…/readelflib.c`` around the generic reader (spec §4.3)."""
    arch, b = port.arch, port.b
    ei_class = head[4]
    bits = 32 if ei_class == 1 else 64  # "ELFCLASS32 ? elf32 : elf64" in every wrapper
    wrapper = port.wrapper

    if wrapper == "x86":
        file_flag = 0
        if e_machine == EM_X86_64:
            file_flag = _X8664_FLAG if ei_class == 2 else _X32_FLAG
        elif (e_machine == EM_IA_64 and ei_class == 2 and arch.x86_accepts_ia64 and b.ia64):
            file_flag = _LIB64_FLAG["ia64"]
        elif not (e_machine == EM_386 and ei_class == 1):
            raise _Fail(f"{name} is for unknown machine {e_machine}.\n",
                        verbose_only=b.quiet_unknown_machine)
        res = _generic(r, bits, name, port, warnings, flag_matters=not file_flag)
        return (file_flag or res.flag), res

    if wrapper == "arm":
        if ei_class == 1:
            e_flags = _e_flags(r, arch, 32)
            eabi5 = e_flags & 0xFF000000 == 0x05000000
            res = _generic(r, 32, name, port, warnings, flag_matters=not eabi5)
            if eabi5:  # EF_ARM_EABI_VER5
                if e_flags & 0x400:  # EF_ARM_ABI_FLOAT_HARD
                    return _ARMHF_FLAG, res
                if e_flags & 0x200:  # EF_ARM_ABI_FLOAT_SOFT
                    return _ARMSF_FLAG, res
                return FLAG_ELF_LIBC6, res
            return res.flag, res
        res = _generic(r, 64, name, port, warnings, flag_matters=False)
        return _AARCH64_FLAG, res

    if wrapper in _LIB64_FLAG:
        res = _generic(r, bits, name, port, warnings, flag_matters=bits == 32)
        return (_LIB64_FLAG[wrapper] if bits == 64 else res.flag), res

    if wrapper == "mips":
        e_flags = _e_flags(r, arch, bits)
        nan2008 = e_flags & 0x400  # EF_MIPS_NAN2008
        res = _generic(r, bits, name, port, warnings,
                       flag_matters=bits == 32 and not (e_flags & 0x20 or nan2008))
        if bits == 32:
            if e_flags & 0x20:  # EF_MIPS_ABI2: n32
                return (FLAG_MIPS64_LIBN32_NAN2008 if nan2008 else FLAG_MIPS64_LIBN32) \
                    | FLAG_ELF_LIBC6, res
            if nan2008:
                return FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6, res
            return res.flag, res
        return (FLAG_MIPS64_LIBN64_NAN2008 if nan2008 else FLAG_MIPS64_LIBN64) \
            | FLAG_ELF_LIBC6, res

    if wrapper == "riscv":
        # glibc checks e_flags after the generic part even when that failed; the
        # generic failure (and its message) decides then.
        res = _generic(r, bits, name, port, warnings)
        e_flags = _e_flags(r, arch, bits)
        abi = e_flags & 0x6  # EF_RISCV_FLOAT_ABI
        if abi == 0x0:
            extra = FLAG_RISCV_FLOAT_ABI_SOFT
        elif abi == 0x4:
            extra = FLAG_RISCV_FLOAT_ABI_DOUBLE
        else:
            raise _Fail(None)
        if e_flags & ~0x7:  # anything but EF_RISCV_FLOAT_ABI | EF_RISCV_RVC
            raise _Fail(None)
        return res.flag | extra, res

    if wrapper == "loongarch":
        res = _generic(r, 64, name, port, warnings)
        e_flags = _e_flags(r, arch, 64) & ~0x40  # EF_LARCH_OBJABI_V1 ignored
        abi = e_flags & 0x3
        if abi == 0x1:
            extra = FLAG_LARCH_FLOAT_ABI_SOFT
        elif abi == 0x3:
            extra = FLAG_LARCH_FLOAT_ABI_DOUBLE
        else:
            raise _Fail(None)
        if e_flags & ~0x3:
            raise _Fail(None)
        return res.flag | extra, res

    # Generic ports: only the native class is compiled.
    res = _generic(r, arch.elf_class, name, port, warnings)
    return res.flag, res
