"""Per-architecture facts of glibc's ``ldconfig`` ports on Linux: one table.

Every fact ldcache needs about the machine an ``ld.so.cache`` is written for lives in
:data:`ARCHES`, one frozen :class:`Arch` per ABI variant of a glibc port:

* which ELF objects the port's ldconfig accepts and how it flags them
  (``wrapper`` = the ``sysdeps/…/readelflib.c`` in use, spec §4.3);
* what its dynamic loader accepts (``_DL_CACHE_DEFAULT_ID``,
  ``_dl_cache_check_flags``; spec §4.2), see :func:`loader_flags`;
* host properties that leak into the cache bytes: byte order, plain ``char``
  signedness (``_dl_cache_libcmp``), ``__alignof__ (struct cache_file_new)``;
* how ldconfig reads a file: ``sizeof (struct exec)`` and where its ``a_info`` is,
  the minimum file size, the pointer width used for glibc's bounds checks;
* the ≤2.36 libc4/libc5/ELF classification tables (``SYSDEP_KNOWN_INTERPRETER_NAMES``,
  ``SYSDEP_KNOWN_LIBRARY_NAMES`` plus ``"/lib/" LD_SO``, ``LIBC_SO``, ``LIBM_SO``);
* how to recognise a root of this ABI: dynamic-linker paths, Debian multiarch triplet,
  upstream ``SLIBDIR``/``LIBDIR`` and the ``add_system_dir`` rule (spec §6.4).

Sources: glibc ``sysdeps/unix/sysv/linux/*/{readelflib.c,dl-cache.h,ldconfig.h,
shlib-versions,configure}``, ``sysdeps/x86*/``, ``elf/cache.c:print_entry`` (tags 2.31 …
2.42), ``sysdeps/unix/sysv/linux/*/a.out.h``; psABIs for ``char`` signedness and
``long long`` alignment.  Version-dependent decisions read :class:`~ldcache.glibc.Behaviour`.
"""

from __future__ import annotations

import struct
import sys

from . import _os as os
from ._record import Record
from .cacheflags import (
    FLAG_AARCH64_LIB64,
    FLAG_ARM_LIBHF,
    FLAG_ARM_LIBSF,
    FLAG_ELF,
    FLAG_ELF_LIBC5,
    FLAG_ELF_LIBC6,
    FLAG_IA64_LIB64,
    FLAG_LARCH_FLOAT_ABI_DOUBLE,
    FLAG_LARCH_FLOAT_ABI_SOFT,
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

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .glibc import Behaviour

__all__ = [
    "ARCHES",
    "arch_by_name",
    "Arch",
    "arch_for_elf",
    "host_arch",
    "loader_flags",
]

# --- ELF constants used by the table ----------------------------------------------------------
EM_SPARC = 2
EM_386 = 3
EM_68K = 4
EM_MIPS = 8
EM_PARISC = 15
EM_SPARC32PLUS = 18
EM_PPC = 20
EM_PPC64 = 21
EM_S390 = 22
EM_ARM = 40
EM_SH = 42
EM_SPARCV9 = 43
EM_IA_64 = 50
EM_X86_64 = 62
EM_OPENRISC = 92
EM_ALTERA_NIOS2 = 113
EM_AARCH64 = 183
EM_MICROBLAZE = 189
EM_ARCV2 = 195
EM_RISCV = 243
EM_CSKY = 252
EM_LOONGARCH = 258
EM_ALPHA = 0x9026

ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2


class Arch(Record):
    """One ABI variant of a glibc Linux port, as its ``ldconfig`` and ``ld.so`` see files."""

    #: Short key in :data:`ARCHES` (``"x86_64"``, ``"armhf"``, ``"mips64el"``, …).
    name: str
    #: Port family (``"x86"``, ``"arm"``, ``"aarch64"``, ``"mips"``, …); also the key of the
    #: legacy (≤2.36) hwcap name tables.
    family: str
    #: ELF ``e_machine`` of the port's own objects.
    e_machine: int
    #: ELF class of the port (32 or 64) — also ldconfig's pointer and ``ElfW`` width.
    elf_class: int
    #: ``"little"`` or ``"big"``: the byte order ldconfig reads files and writes caches in.
    byte_order: str
    #: ``_DL_CACHE_DEFAULT_ID``: the flags of the port's own libraries.
    default_flags: int
    #: Flags ``_dl_cache_check_flags`` accepts (spec §4.2).
    accepted_flags: frozenset[int]
    #: Plain ``char`` is signed (``_dl_cache_libcmp`` on bytes ≥ 0x80).
    char_signed: bool
    #: ``__alignof__ (struct cache_file_new)`` = alignment of ``uint64_t`` in a struct.
    cache_align: int
    #: Which ``readelflib.c`` wrapper the port's ldconfig uses: ``"x86"``, ``"arm"`` (arm and
    #: aarch64), ``"powerpc"``, ``"s390"``, ``"sparc"``, ``"mips"``, ``"riscv"``,
    #: ``"loongarch"`` (from 2.38; generic before), ``"ia64"`` (≤2.38) or ``"generic"``.
    wrapper: str
    #: Dynamic-linker paths (``PT_INTERP`` of the port's executables).
    dynamic_linkers: tuple[str, ...]
    #: Upstream ``--prefix=/usr`` defaults.
    slibdir: str
    libdir: str
    #: ``add_system_dir`` rule (spec §6.4): ``"x86_64"``, ``"aarch64"``, ``"sparc-like"``,
    #: ``"mips"``, ``"riscv"``, ``"loongarch"`` or ``"plain"``.
    system_dirs_rule: str
    #: ≤2.36 ``interpreters[]`` of ``elf/readlib.c``: ``"/lib/" LD_SO`` then
    #: ``SYSDEP_KNOWN_INTERPRETER_NAMES``, each with the flag it implies.
    known_interpreters: tuple[tuple[bytes, int], ...]
    #: ≤2.36 ``known_libs[]``: ``LIBC_SO``, ``LIBM_SO``, then ``SYSDEP_KNOWN_LIBRARY_NAMES``.
    known_libraries: tuple[tuple[bytes, int], ...]
    #: Debian multiarch triplet, or None where Debian has no such architecture.
    multiarch: str | None = None
    #: ``(e_flags & mask) == value`` selects this variant among same-machine ports.
    eflags_mask: int = 0
    eflags_value: int = 0
    #: Other ``e_machine`` values of the port's own objects (sparc: ``EM_SPARC32PLUS``).
    alt_machines: tuple[int, ...] = ()
    #: ``struct exec`` (``a.out.h``): offset and size of ``a_info`` whose low 16 bits (host
    #: order) are ``N_MAGIC``, and ``sizeof (struct exec)``.  A row of :func:`_build` that
    #: gives no sizes has the generic ``struct exec`` of its ELF class, filled in there
    #: (:func:`_generic_aout`): ``a_info`` of ``elf_class // 8`` bytes at 0, 32 or 40 bytes.
    aout_info_offset: int = 0
    aout_info_size: int = 0
    aout_exec_size: int = 0
    #: The x86 ``readelflib.c`` of the i386 build also accepts 64-bit ``EM_IA_64`` (≤2.38).
    x86_accepts_ia64: bool = False

    @property
    def ei_class(self) -> int:
        """``ELFCLASS32`` (1) or ``ELFCLASS64`` (2)."""
        return ELFCLASS64 if self.elf_class == 64 else ELFCLASS32

    @property
    def ei_data(self) -> int:
        """``ELFDATA2LSB`` (1) or ``ELFDATA2MSB`` (2)."""
        return ELFDATA2LSB if self.byte_order == "little" else ELFDATA2MSB

    @property
    def struct_order(self) -> str:
        """``"<"`` or ``">"`` for :mod:`struct`."""
        return "<" if self.byte_order == "little" else ">"

    @property
    def min_file_size(self) -> int:
        """``MAX (sizeof (struct exec), sizeof (ElfW(Ehdr)))``: smaller files are not read."""
        return max(self.aout_exec_size, 64 if self.elf_class == 64 else 52)

    @property
    def reads_isa_level(self) -> bool:
        """``read_gnu_property`` records the x86 ISA level (x86 ports only, ≥2.33)."""
        return self.wrapper == "x86"


def _names(*items: tuple[str, int]) -> tuple[tuple[bytes, int], ...]:
    return tuple((n.encode(), f) for n, f in items)


L6 = FLAG_ELF_LIBC6
L5 = FLAG_ELF_LIBC5
_LIBC6_LIBS = _names(("libc.so.6", L6), ("libm.so.6", L6))
# LIBC_SO/LIBM_SO plus a SYSDEP list repeating them (most ports with an ldconfig.h).
_LIBC6_LIBS_TWICE = _LIBC6_LIBS + _LIBC6_LIBS
_I386_LIBS = _LIBC6_LIBS + _names(("libc.so.5", L5), ("libm.so.5", L5))
_X86_INTERPS = _names(("/lib/ld-linux.so.2", L6), ("/libx32/ld-linux-x32.so.2", L6),
                      ("/lib64/ld-linux-x86-64.so.2", L6))
_AARCH64_INTERPS = _names(
    ("/lib/ld-linux-aarch64.so.1", L6), ("/lib/ld-linux-aarch64_be.so.1", L6),
    ("/lib/ld-linux-aarch64_ilp32.so.1", L6), ("/lib/ld-linux-aarch64_be_ilp32.so.1", L6),
    ("/lib/ld-linux.so.3", L6), ("/lib/ld-linux-armhf.so.3", L6))
_ARM_INTERPS = _names(("/lib/ld-linux.so.3", L6), ("/lib/ld-linux-armhf.so.3", L6))
_PPC_INTERPS = _names(("/lib/ld.so.1", L6), ("/lib64/ld64.so.1", L6), ("/lib64/ld64.so.2", L6))
_S390_INTERPS = _names(("/lib/ld.so.1", L6), ("/lib/ld64.so.1", L6))
_MIPS64_INTERPS = _names(("/lib32/ld.so.1", L6), ("/lib64/ld.so.1", L6))

_ANY6 = frozenset({FLAG_ELF, FLAG_ELF_LIBC6})  # generic _dl_cache_check_flags


def _lib(ld_so: str) -> tuple[tuple[bytes, int], ...]:
    return _names(("/lib/" + ld_so, L6))


_AOUT_INFO_SIZE = Arch._fields.index("aout_info_size")
_AOUT_EXEC_SIZE = Arch._fields.index("aout_exec_size")


def _generic_aout(arch: Arch) -> Arch:
    """``arch`` with the generic ``struct exec`` of its ELF class where its row gives no
    sizes: ``a_info`` of ``elf_class // 8`` bytes, ``sizeof`` 32 (32-bit) or 40 (64-bit)."""
    info, size = arch.aout_info_size, arch.aout_exec_size
    if info and size:
        return arch
    # One tuple, not _replace's keyword pass: ARCHES is built at every command's start-up.
    values = list(arch)
    values[_AOUT_INFO_SIZE] = info or arch.elf_class // 8
    values[_AOUT_EXEC_SIZE] = size or (40 if arch.elf_class == 64 else 32)
    return tuple.__new__(Arch, values)


def _build() -> dict[str, Arch]:
    # One Arch per ABI variant, every value named by its field (documented on Arch); the
    # loops make the variants of a port that differ only in byte order, float ABI, …
    arches: list[Arch] = []
    add = arches.append

    # x86 (sysdeps/x86/readelflib.c; ≤2.37 sysdeps/unix/sysv/linux/x86/readelflib.c)
    add(Arch(name="x86_64", family="x86", e_machine=EM_X86_64, elf_class=64,
             byte_order="little", default_flags=FLAG_X8664_LIB64 | L6,
             accepted_flags=frozenset({FLAG_X8664_LIB64 | L6}),
             char_signed=True, cache_align=8, wrapper="x86",
             dynamic_linkers=("/lib64/ld-linux-x86-64.so.2",),
             slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="x86_64",
             known_interpreters=_lib("ld-linux-x86-64.so.2") + _X86_INTERPS,
             known_libraries=_LIBC6_LIBS_TWICE, multiarch="x86_64-linux-gnu"))
    add(Arch(name="x32", family="x86", e_machine=EM_X86_64, elf_class=32,
             byte_order="little", default_flags=FLAG_X8664_LIBX32 | L6,
             accepted_flags=frozenset({FLAG_X8664_LIBX32 | L6}),
             char_signed=True, cache_align=8, wrapper="x86",
             dynamic_linkers=("/libx32/ld-linux-x32.so.2",),
             slibdir="/libx32", libdir="/usr/libx32", system_dirs_rule="x86_64",
             known_interpreters=_lib("ld-linux-x32.so.2") + _X86_INTERPS,
             known_libraries=_LIBC6_LIBS_TWICE, multiarch="x86_64-linux-gnux32"))
    add(Arch(name="i386", family="x86", e_machine=EM_386, elf_class=32,
             byte_order="little", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=4, wrapper="x86",
             dynamic_linkers=("/lib/ld-linux.so.2",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld-linux.so.2") + _names(("/lib/ld-linux.so.1", L5)),
             known_libraries=_I386_LIBS, multiarch="i386-linux-gnu",
             x86_accepts_ia64=True))

    # arm / aarch64 (sysdeps/unix/sysv/linux/arm/readelflib.c, included by aarch64)
    for name, order, ld, triplet in (("aarch64", "little", "ld-linux-aarch64.so.1",
                                      "aarch64-linux-gnu"),
                                     ("aarch64_be", "big", "ld-linux-aarch64_be.so.1", None)):
        add(Arch(name=name, family="aarch64", e_machine=EM_AARCH64, elf_class=64,
                 byte_order=order, default_flags=FLAG_AARCH64_LIB64 | L6,
                 accepted_flags=frozenset({FLAG_AARCH64_LIB64 | L6}),
                 char_signed=False, cache_align=8, wrapper="arm",
                 dynamic_linkers=("/lib/" + ld,),
                 slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="aarch64",
                 known_interpreters=_lib(ld) + _AARCH64_INTERPS,
                 known_libraries=_LIBC6_LIBS_TWICE, multiarch=triplet))
    for name, order, hard, triplet in (("armhf", "little", True, "arm-linux-gnueabihf"),
                                       ("armel", "little", False, "arm-linux-gnueabi"),
                                       ("armhfeb", "big", True, None),
                                       ("armeb", "big", False, None)):
        ld = "ld-linux-armhf.so.3" if hard else "ld-linux.so.3"
        add(Arch(name=name, family="arm", e_machine=EM_ARM, elf_class=32,
                 byte_order=order, default_flags=FLAG_ELF_LIBC6,
                 accepted_flags=frozenset({(FLAG_ARM_LIBHF if hard else FLAG_ARM_LIBSF) | L6,
                                           FLAG_ELF_LIBC6}),
                 char_signed=False, cache_align=8, wrapper="arm",
                 dynamic_linkers=("/lib/" + ld,),
                 slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
                 known_interpreters=_lib(ld) + _ARM_INTERPS,
                 known_libraries=_LIBC6_LIBS_TWICE, multiarch=triplet,
                 eflags_mask=0x400, eflags_value=0x400 if hard else 0))

    # powerpc (…/powerpc/readelflib.c; dl-cache.h includes sparc's add_system_dir)
    add(Arch(name="powerpc", family="powerpc", e_machine=EM_PPC, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=False, cache_align=8, wrapper="powerpc",
             dynamic_linkers=("/lib/ld.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="sparc-like",
             known_interpreters=_lib("ld.so.1") + _PPC_INTERPS,
             known_libraries=_LIBC6_LIBS_TWICE, multiarch="powerpc-linux-gnu"))
    for name, order, ld, triplet in (("ppc64", "big", "ld64.so.1", "powerpc64-linux-gnu"),
                                     ("ppc64le", "little", "ld64.so.2",
                                      "powerpc64le-linux-gnu")):
        add(Arch(name=name, family="powerpc", e_machine=EM_PPC64, elf_class=64,
                 byte_order=order, default_flags=FLAG_POWERPC_LIB64 | L6,
                 accepted_flags=frozenset({FLAG_POWERPC_LIB64 | L6}),
                 char_signed=False, cache_align=8, wrapper="powerpc",
                 dynamic_linkers=("/lib64/" + ld,),
                 slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="sparc-like",
                 known_interpreters=_lib(ld) + _PPC_INTERPS,
                 known_libraries=_LIBC6_LIBS_TWICE, multiarch=triplet))

    # s390
    add(Arch(name="s390", family="s390", e_machine=EM_S390, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=False, cache_align=8, wrapper="s390",
             dynamic_linkers=("/lib/ld.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="sparc-like",
             known_interpreters=_lib("ld.so.1") + _S390_INTERPS,
             known_libraries=_LIBC6_LIBS_TWICE, multiarch="s390-linux-gnu"))
    add(Arch(name="s390x", family="s390", e_machine=EM_S390, elf_class=64,
             byte_order="big", default_flags=FLAG_S390_LIB64 | L6,
             accepted_flags=frozenset({FLAG_S390_LIB64 | L6}),
             char_signed=False, cache_align=8, wrapper="s390",
             dynamic_linkers=("/lib/ld64.so.1",),
             slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="sparc-like",
             known_interpreters=_lib("ld64.so.1") + _S390_INTERPS,
             known_libraries=_LIBC6_LIBS_TWICE, multiarch="s390x-linux-gnu"))

    # mips: o32 / n32 / n64, legacy NaN / NaN2008, both byte orders
    for nan2008 in (False, True):
        ld = "ld-linux-mipsn8.so.1" if nan2008 else "ld.so.1"
        sfx = "_nan2008" if nan2008 else ""
        r6 = "isa32r6" if nan2008 else ""
        r6_64 = "isa64r6" if nan2008 else "64"
        for order, el in (("big", ""), ("little", "el")):
            add(Arch(name=f"mips{el}{sfx}", family="mips", e_machine=EM_MIPS, elf_class=32,
                     byte_order=order,
                     default_flags=FLAG_MIPS_LIB32_NAN2008 | L6 if nan2008 else FLAG_ELF_LIBC6,
                     accepted_flags=frozenset({FLAG_MIPS_LIB32_NAN2008 | L6}) if nan2008 else _ANY6,
                     char_signed=True, cache_align=8, wrapper="mips",
                     dynamic_linkers=("/lib/" + ld,),
                     slibdir="/lib", libdir="/usr/lib", system_dirs_rule="mips",
                     known_interpreters=_lib(ld),
                     known_libraries=_LIBC6_LIBS, multiarch=f"mips{r6}{el}-linux-gnu",
                     eflags_mask=0x420, eflags_value=0x400 if nan2008 else 0))
            n32_id = (FLAG_MIPS64_LIBN32_NAN2008 if nan2008 else FLAG_MIPS64_LIBN32) | L6
            add(Arch(name=f"mipsn32{el}{sfx}", family="mips", e_machine=EM_MIPS, elf_class=32,
                     byte_order=order, default_flags=n32_id, accepted_flags=frozenset({n32_id}),
                     char_signed=True, cache_align=8, wrapper="mips",
                     dynamic_linkers=("/lib32/" + ld,),
                     slibdir="/lib32", libdir="/usr/lib32", system_dirs_rule="mips",
                     known_interpreters=_lib(ld) + _MIPS64_INTERPS,
                     known_libraries=_LIBC6_LIBS_TWICE,
                     multiarch=f"mips{r6_64}{el}-linux-gnuabin32",
                     eflags_mask=0x420, eflags_value=0x420 if nan2008 else 0x20))
            n64_id = (FLAG_MIPS64_LIBN64_NAN2008 if nan2008 else FLAG_MIPS64_LIBN64) | L6
            add(Arch(name=f"mips64{el}{sfx}", family="mips", e_machine=EM_MIPS, elf_class=64,
                     byte_order=order, default_flags=n64_id, accepted_flags=frozenset({n64_id}),
                     char_signed=True, cache_align=8, wrapper="mips",
                     dynamic_linkers=("/lib64/" + ld,),
                     slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="mips",
                     known_interpreters=_lib(ld) + _MIPS64_INTERPS,
                     known_libraries=_LIBC6_LIBS_TWICE,
                     multiarch=f"mips{r6_64}{el}-linux-gnuabi64",
                     eflags_mask=0x400, eflags_value=0x400 if nan2008 else 0))

    # riscv (float ABI in e_flags; XLEN never checked by ldconfig)
    for xlen in (64, 32):
        base = "riscv64-lp64" if xlen == 64 else "riscv32-ilp32"
        for double in (True, False):
            ld = f"ld-linux-{base}{'d' if double else ''}.so.1"
            sub = ("lib64/lp64" if xlen == 64 else "lib32/ilp32") + ("d" if double else "")
            ident = (FLAG_RISCV_FLOAT_ABI_DOUBLE if double else FLAG_RISCV_FLOAT_ABI_SOFT) | L6
            add(Arch(name=f"riscv{xlen}" + ("" if double else "_soft"), family="riscv",
                     e_machine=EM_RISCV, elf_class=xlen,
                     byte_order="little", default_flags=ident, accepted_flags=frozenset({ident}),
                     char_signed=False, cache_align=8, wrapper="riscv",
                     dynamic_linkers=("/lib/" + ld,),
                     slibdir="/" + sub, libdir="/usr/" + sub, system_dirs_rule="riscv",
                     known_interpreters=_lib(ld) + _names((f"/lib/ld-linux-{base}d.so.1", L6),
                                                          (f"/lib/ld-linux-{base}.so.1", L6)),
                     known_libraries=_LIBC6_LIBS_TWICE,
                     multiarch="riscv64-linux-gnu" if (xlen == 64 and double) else None,
                     eflags_mask=0x6, eflags_value=0x4 if double else 0))

    # loongarch (wrapper and flags from 2.38; generic before, see loader_flags)
    for double in (True, False):
        ld = "ld-linux-loongarch-lp64d.so.1" if double else "ld-linux-loongarch-lp64s.so.1"
        ident = (FLAG_LARCH_FLOAT_ABI_DOUBLE if double else FLAG_LARCH_FLOAT_ABI_SOFT) | L6
        sub = "/lib64" if double else "/lib64/sf"
        add(Arch(name="loongarch64" if double else "loongarch64_soft", family="loongarch",
                 e_machine=EM_LOONGARCH, elf_class=64,
                 byte_order="little", default_flags=ident, accepted_flags=frozenset({ident}),
                 char_signed=True, cache_align=8, wrapper="loongarch",
                 dynamic_linkers=("/lib64/" + ld,),
                 slibdir=sub, libdir="/usr" + sub, system_dirs_rule="loongarch",
                 known_interpreters=_lib(ld),
                 known_libraries=_LIBC6_LIBS,
                 multiarch="loongarch64-linux-gnu" if double else None,
                 eflags_mask=0x3, eflags_value=0x3 if double else 0x1))

    # sparc (a.out's a_info is the 16-bit a_magic at offset 2 of a 32-byte struct exec)
    add(Arch(name="sparc", family="sparc", e_machine=EM_SPARC, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=8, wrapper="sparc",
             dynamic_linkers=("/lib/ld-linux.so.2",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="sparc-like",
             known_interpreters=_lib("ld-linux.so.2"),
             known_libraries=_LIBC6_LIBS, multiarch="sparc-linux-gnu",
             alt_machines=(EM_SPARC32PLUS,),
             aout_info_offset=2, aout_info_size=2, aout_exec_size=32))
    add(Arch(name="sparc64", family="sparc", e_machine=EM_SPARCV9, elf_class=64,
             byte_order="big", default_flags=FLAG_SPARC_LIB64 | L6,
             accepted_flags=frozenset({FLAG_SPARC_LIB64 | L6}),
             char_signed=True, cache_align=8, wrapper="sparc",
             dynamic_linkers=("/lib64/ld-linux.so.2",),
             slibdir="/lib64", libdir="/usr/lib64", system_dirs_rule="sparc-like",
             known_interpreters=_lib("ld-linux.so.2"),
             known_libraries=_LIBC6_LIBS, multiarch="sparc64-linux-gnu",
             aout_info_offset=2, aout_info_size=2, aout_exec_size=32))

    # generic-wrapper ports (and ia64)
    add(Arch(name="alpha", family="alpha", e_machine=EM_ALPHA, elf_class=64,
             byte_order="little", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=8, wrapper="generic",
             dynamic_linkers=("/lib/ld-linux.so.2",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld-linux.so.2"),
             known_libraries=_names(("libc.so.6.1", L6), ("libm.so.6.1", L6)),
             multiarch="alpha-linux-gnu",
             # OSF/1 ECOFF-style struct exec: filehdr (24 bytes) then aouthdr.info.
             aout_info_offset=24, aout_info_size=8, aout_exec_size=104))
    add(Arch(name="ia64", family="ia64", e_machine=EM_IA_64, elf_class=64,
             byte_order="little", default_flags=FLAG_IA64_LIB64 | L6,
             accepted_flags=frozenset({FLAG_IA64_LIB64 | L6}),
             char_signed=True, cache_align=8, wrapper="ia64",
             dynamic_linkers=("/lib/ld-linux-ia64.so.2",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld-linux-ia64.so.2") + _names(("/lib/ld-linux.so.2", L6)),
             known_libraries=_names(("libc.so.6.1", L6), ("libm.so.6.1", L6)) + _LIBC6_LIBS,
             multiarch="ia64-linux-gnu"))
    add(Arch(name="m68k", family="m68k", e_machine=EM_68K, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=2, wrapper="generic",
             dynamic_linkers=("/lib/ld.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld.so.1") + _names(("/lib/ld-linux.so.1", L5)),
             known_libraries=_I386_LIBS, multiarch="m68k-linux-gnu"))
    add(Arch(name="hppa", family="hppa", e_machine=EM_PARISC, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=8, wrapper="generic",
             dynamic_linkers=("/lib/ld.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld.so.1"),
             known_libraries=_LIBC6_LIBS, multiarch="hppa-linux-gnu"))
    for name, order, triplet in (("sh4", "little", "sh4-linux-gnu"), ("sh4eb", "big", None)):
        add(Arch(name=name, family="sh", e_machine=EM_SH, elf_class=32,
                 byte_order=order, default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
                 char_signed=True, cache_align=4, wrapper="generic",
                 dynamic_linkers=("/lib/ld-linux.so.2",),
                 slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
                 known_interpreters=_lib("ld-linux.so.2"),
                 known_libraries=_LIBC6_LIBS, multiarch=triplet))
    for name, order, ld, triplet in (("arc", "little", "ld-linux-arc.so.2", "arc-linux-gnu"),
                                     ("arceb", "big", "ld-linux-arceb.so.2", None)):
        add(Arch(name=name, family="arc", e_machine=EM_ARCV2, elf_class=32,
                 byte_order=order, default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
                 char_signed=False, cache_align=4, wrapper="generic",
                 dynamic_linkers=("/lib/" + ld,),
                 slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
                 known_interpreters=_lib(ld) + _names(("/lib/ld-linux-arc.so.2", L6),
                                                      ("/lib/ld-linux-arceb.so.2", L6)),
                 known_libraries=_LIBC6_LIBS_TWICE, multiarch=triplet))
    for name, ld in (("csky", "ld-linux-cskyv2.so.1"), ("csky_hf", "ld-linux-cskyv2-hf.so.1")):
        add(Arch(name=name, family="csky", e_machine=EM_CSKY, elf_class=32,
                 byte_order="little", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
                 char_signed=False, cache_align=4, wrapper="generic",
                 dynamic_linkers=("/lib/" + ld,),
                 slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
                 known_interpreters=_lib(ld) + _lib(ld),
                 known_libraries=_LIBC6_LIBS_TWICE))
    add(Arch(name="or1k", family="or1k", e_machine=EM_OPENRISC, elf_class=32,
             byte_order="big", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=4, wrapper="generic",
             dynamic_linkers=("/lib/ld-linux-or1k.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld-linux-or1k.so.1"),
             known_libraries=_LIBC6_LIBS))
    for name, order in (("microblaze", "big"), ("microblazeel", "little")):
        add(Arch(name=name, family="microblaze", e_machine=EM_MICROBLAZE, elf_class=32,
                 byte_order=order, default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
                 char_signed=True, cache_align=4, wrapper="generic",
                 dynamic_linkers=("/lib/ld.so.1",),
                 slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
                 known_interpreters=_lib("ld.so.1"),
                 known_libraries=_LIBC6_LIBS))
    add(Arch(name="nios2", family="nios2", e_machine=EM_ALTERA_NIOS2, elf_class=32,
             byte_order="little", default_flags=FLAG_ELF_LIBC6, accepted_flags=_ANY6,
             char_signed=True, cache_align=4, wrapper="generic",
             dynamic_linkers=("/lib/ld-linux-nios2.so.1",),
             slibdir="/lib", libdir="/usr/lib", system_dirs_rule="plain",
             known_interpreters=_lib("ld-linux-nios2.so.1"),
             known_libraries=_LIBC6_LIBS))
    return {a.name: _generic_aout(a) for a in arches}


#: Every ABI variant, keyed by :attr:`Arch.name`.
ARCHES: dict[str, Arch] = _build()


def loader_flags(arch: Arch, behaviour: Behaviour) -> tuple[int, frozenset[int]]:
    """``(_DL_CACHE_DEFAULT_ID, accepted flags)`` of ``arch``'s loader in glibc ``behaviour``.

    Differs from the table only where the port's ``dl-cache.h`` arrived later: LoongArch
    (2.36, 2.37) used the generic id 3 and accepted 1 or 3.
    """
    if arch.wrapper == "loongarch" and not behaviour.loongarch:
        return FLAG_ELF_LIBC6, _ANY6
    return arch.default_flags, arch.accepted_flags


def arch_for_elf(ei_class: int, ei_data: int, e_machine: int, e_flags: int,
                 interp: bytes | None = None) -> Arch | None:
    """The port whose ``libc.so.6``/``ld.so`` has these ELF header values, or None.

    ``interp`` (a ``PT_INTERP`` path) breaks ties where ``e_flags`` cannot (C-SKY float ABI).
    """
    bits = 64 if ei_class == ELFCLASS64 else 32 if ei_class == ELFCLASS32 else 0
    order = "little" if ei_data == ELFDATA2LSB else "big" if ei_data == ELFDATA2MSB else ""
    found = [a for a in ARCHES.values()
             if (a.e_machine == e_machine or e_machine in a.alt_machines)
             and a.elf_class == bits and a.byte_order == order
             and (e_flags & a.eflags_mask) == a.eflags_value]
    if len(found) > 1 and interp is not None:
        text = interp.decode("latin-1")
        by_interp = [a for a in found if text in a.dynamic_linkers]
        if by_interp:
            return by_interp[0]
    return found[0] if found else None


_MACHINE_NAMES = {
    "x86_64": "x86_64", "amd64": "x86_64", "i386": "i386", "i486": "i386", "i586": "i386",
    "i686": "i386", "aarch64": "aarch64", "arm64": "aarch64", "ppc64le": "ppc64le",
    "ppc64": "ppc64", "ppc": "powerpc", "s390x": "s390x", "s390": "s390",
    "riscv64": "riscv64", "loongarch64": "loongarch64", "sparc64": "sparc64",
    "alpha": "alpha", "ia64": "ia64", "m68k": "m68k", "parisc": "hppa", "sh4": "sh4",
}


def arch_by_name(name: str) -> Arch:
    """An :data:`ARCHES` entry, or LdcacheError naming the known ones."""
    from .errors import LdcacheError

    try:
        return ARCHES[name]
    except KeyError:
        raise LdcacheError(f"unknown architecture {name!r} (known: "
                           f"{', '.join(sorted(ARCHES))})") from None


def host_arch() -> Arch:
    """The ABI variant of this Python process (read from its own ELF header)."""
    exe = os.path.realpath(sys.executable) if sys.executable else "/proc/self/exe"
    for path in (exe, "/proc/self/exe"):
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError:
            continue
        if len(head) < 52 or head[:4] != b"\x7fELF":
            continue
        order = "<" if head[5] == ELFDATA2LSB else ">"
        e_machine = struct.unpack_from(order + "H", head, 18)[0]
        e_flags = struct.unpack_from(order + "I", head, 48 if head[4] == ELFCLASS64 else 36)[0]
        found = arch_for_elf(head[4], head[5], e_machine, e_flags)
        if found is not None:
            return found
    machine = os.uname().machine.lower()
    if machine.startswith("arm"):
        return ARCHES["armhf"]
    if machine in ("mips", "mips64") or machine.startswith("mips"):
        key = "mips64el" if sys.byteorder == "little" else "mips64"
        return ARCHES[key if sys.maxsize > 2**32 else key.replace("64", "")]
    name = _MACHINE_NAMES.get(machine)
    if name is None:
        raise RuntimeError(f"unknown host architecture {machine!r}")
    return ARCHES[name]
