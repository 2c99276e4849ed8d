"""The flag values of an ``ld.so.cache`` entry, and of a library type in ``ld.so.conf``
(``dir=libc6``): glibc's ``sysdeps/generic/ldconfig.h``.  The one definition of each;
every module imports them from here.

The low byte (:data:`FLAG_TYPE_MASK`) is the library type, the high byte
(:data:`FLAG_REQUIRED_MASK`) the ABI variant of the port (``ldconfig -p``'s words for it
are :data:`FLAG_WORDS`, rendered by :func:`arch_word`).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .glibc import Behaviour

__all__ = [
    "FLAG_AARCH64_LIB64",
    "FLAG_ANY",
    "FLAG_ARM_LIBHF",
    "FLAG_ARM_LIBSF",
    "FLAG_ELF",
    "FLAG_ELF_LIBC5",
    "FLAG_ELF_LIBC6",
    "FLAG_IA64_LIB64",
    "FLAG_LARCH_FLOAT_ABI_DOUBLE",
    "FLAG_LARCH_FLOAT_ABI_SOFT",
    "FLAG_LIBC4",
    "FLAG_MIPS64_LIBN32",
    "FLAG_MIPS64_LIBN32_NAN2008",
    "FLAG_MIPS64_LIBN64",
    "FLAG_MIPS64_LIBN64_NAN2008",
    "FLAG_MIPS_LIB32_NAN2008",
    "FLAG_POWERPC_LIB64",
    "FLAG_REQUIRED_MASK",
    "FLAG_RISCV_FLOAT_ABI_DOUBLE",
    "FLAG_RISCV_FLOAT_ABI_SOFT",
    "FLAG_S390_LIB64",
    "FLAG_SPARC_LIB64",
    "FLAG_TYPE_MASK",
    "FLAG_X8664_LIB64",
    "FLAG_X8664_LIBX32",
    "FLAG_WORDS",
    "arch_word",
]

#: ``dir=TYPE`` absent: any library type (never stored in a cache).
FLAG_ANY = -1

# Library type: flags & FLAG_TYPE_MASK.
FLAG_TYPE_MASK = 0x00FF
FLAG_LIBC4 = 0x0000
FLAG_ELF = 0x0001
FLAG_ELF_LIBC5 = 0x0002
FLAG_ELF_LIBC6 = 0x0003

# ABI variant: flags & FLAG_REQUIRED_MASK.
FLAG_REQUIRED_MASK = 0xFF00
FLAG_SPARC_LIB64 = 0x0100
FLAG_IA64_LIB64 = 0x0200
FLAG_X8664_LIB64 = 0x0300
FLAG_S390_LIB64 = 0x0400
FLAG_POWERPC_LIB64 = 0x0500
FLAG_MIPS64_LIBN32 = 0x0600
FLAG_MIPS64_LIBN64 = 0x0700
FLAG_X8664_LIBX32 = 0x0800
FLAG_ARM_LIBHF = 0x0900
FLAG_AARCH64_LIB64 = 0x0A00
FLAG_ARM_LIBSF = 0x0B00
FLAG_MIPS_LIB32_NAN2008 = 0x0C00
FLAG_MIPS64_LIBN32_NAN2008 = 0x0D00
FLAG_MIPS64_LIBN64_NAN2008 = 0x0E00
FLAG_RISCV_FLOAT_ABI_SOFT = 0x0F00
FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000
FLAG_LARCH_FLOAT_ABI_SOFT = 0x1100
FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200


#: ``ldconfig -p`` words for ``flags & FLAG_REQUIRED_MASK`` (``elf/cache.c:print_entry``),
#: for the newest glibc; :func:`arch_word` applies the version differences.
FLAG_WORDS: dict[int, str] = {
    FLAG_SPARC_LIB64: ",64bit",
    FLAG_IA64_LIB64: ",IA-64",  # only up to 2.38
    FLAG_X8664_LIB64: ",x86-64",
    FLAG_S390_LIB64: ",64bit",
    FLAG_POWERPC_LIB64: ",64bit",
    FLAG_MIPS64_LIBN32: ",N32",
    FLAG_MIPS64_LIBN64: ",64bit",
    FLAG_X8664_LIBX32: ",x32",
    FLAG_ARM_LIBHF: ",hard-float",
    FLAG_AARCH64_LIB64: ",AArch64",
    FLAG_ARM_LIBSF: ",soft-float",
    FLAG_MIPS_LIB32_NAN2008: ",nan2008",
    FLAG_MIPS64_LIBN32_NAN2008: ",N32,nan2008",
    FLAG_MIPS64_LIBN64_NAN2008: ",64bit,nan2008",
    FLAG_RISCV_FLOAT_ABI_SOFT: ",soft-float",
    FLAG_RISCV_FLOAT_ABI_DOUBLE: ",double-float",
    FLAG_LARCH_FLOAT_ABI_SOFT: ",soft-float",  # from 2.38
    FLAG_LARCH_FLOAT_ABI_DOUBLE: ",double-float",  # from 2.38
}


def arch_word(flags: int, behaviour: Behaviour) -> str:
    """The ``ldconfig -p`` architecture word of ``flags`` for glibc ``behaviour``.

    ``",x86-64"`` etc.; ``""`` when ``flags & 0xff00`` is 0; ``",%d"`` of the masked value
    for values that glibc version does not name (IA-64 from 2.39, LoongArch before 2.38).
    """
    required = flags & FLAG_REQUIRED_MASK
    if required == 0:
        return ""
    word = FLAG_WORDS.get(required)
    if word is None or (required == FLAG_IA64_LIB64 and not behaviour.ia64) or (
            required in (FLAG_LARCH_FLOAT_ABI_SOFT, FLAG_LARCH_FLOAT_ABI_DOUBLE)
            and not behaviour.loongarch):
        return f",{required}"
    return word
