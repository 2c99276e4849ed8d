"""The port table against what this machine can show: its compilers (char signedness,
alignment, ``struct exec``), its loaders and libcs, and the real ``ldconfig -p``."""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from ldcache.arch import ARCHES, arch_for_elf, host_arch, loader_flags
from ldcache.cacheflags import FLAG_WORDS, arch_word
from ldcache.conf import ARCH_RULES
from ldcache.elf import read_elf
from ldcache.glibc import behaviour

B236 = behaviour("2.36", debian=True)
B242 = behaviour("2.42")


def header_of(path: str) -> tuple[int, int, int, int, bytes | None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        info = read_elf(fd, os.fstat(fd).st_size)
    finally:
        os.close(fd)
    return info.ei_class, info.ei_data, info.e_machine, info.e_flags, info.interp


# --- the table itself ---------------------------------------------------------------------------

def test_table_is_consistent() -> None:
    assert len(ARCHES) >= 40
    for key, a in ARCHES.items():
        assert key == a.name
        assert a.elf_class in (32, 64) and a.byte_order in ("little", "big")
        assert a.default_flags in a.accepted_flags, a.name
        assert a.wrapper in ("x86", "arm", "powerpc", "s390", "sparc", "mips", "riscv",
                             "loongarch", "ia64", "generic")
        assert a.system_dirs_rule in ARCH_RULES
        assert a.cache_align in (2, 4, 8)
        assert a.slibdir.startswith("/lib") and a.libdir == "/usr" + a.slibdir
        assert all(p.startswith("/") for p in a.dynamic_linkers)
        # "/lib/" LD_SO comes first in glibc's interpreters[] and names the port's loader
        first = a.known_interpreters[0][0].decode()
        assert first.startswith("/lib/") and any(
            p.rsplit("/", 1)[1] == first.rsplit("/", 1)[1] for p in a.dynamic_linkers), a.name
        assert a.known_libraries[0][0] in (b"libc.so.6", b"libc.so.6.1")
        # the flags of the port's own objects: wrapper rule applied to its own ABI
        high = a.default_flags & 0xFF00
        assert high == 0 or high in FLAG_WORDS
        assert a.min_file_size >= (64 if a.elf_class == 64 else 52)


def test_ports_from_the_brief_are_present() -> None:
    for name in ("x86_64", "x32", "i386", "aarch64", "aarch64_be", "armhf", "armel", "powerpc",
                 "ppc64", "ppc64le", "s390", "s390x", "mips", "mipsel", "mipsn32",
                 "mipsn32el", "mips64", "mips64el", "mips_nan2008", "mips64el_nan2008",
                 "riscv32", "riscv64", "riscv64_soft", "loongarch64", "sparc", "sparc64",
                 "alpha", "ia64", "m68k", "hppa", "sh4", "arc", "csky", "or1k"):
        assert name in ARCHES


@pytest.mark.parametrize("name,default,accepted", [
    ("x86_64", 0x303, {0x303}), ("x32", 0x803, {0x803}), ("i386", 3, {1, 3}),
    ("aarch64", 0xA03, {0xA03}), ("armhf", 3, {0x903, 3}), ("armel", 3, {0xB03, 3}),
    ("ppc64le", 0x503, {0x503}), ("powerpc", 3, {1, 3}), ("s390x", 0x403, {0x403}),
    ("sparc64", 0x103, {0x103}), ("ia64", 0x203, {0x203}), ("mips64el", 0x703, {0x703}),
    ("mipsn32", 0x603, {0x603}), ("mips", 3, {1, 3}), ("mipsel_nan2008", 0xC03, {0xC03}),
    ("mips64_nan2008", 0xE03, {0xE03}), ("mipsn32el_nan2008", 0xD03, {0xD03}),
    ("riscv64", 0x1003, {0x1003}), ("riscv64_soft", 0xF03, {0xF03}),
    ("loongarch64", 0x1203, {0x1203}), ("loongarch64_soft", 0x1103, {0x1103}),
    ("m68k", 3, {1, 3}), ("alpha", 3, {1, 3}),
])
def test_loader_ids(name: str, default: int, accepted: set) -> None:
    assert loader_flags(ARCHES[name], B242) == (default, frozenset(accepted))


def test_loongarch_loader_before_2_38_is_generic() -> None:
    assert loader_flags(ARCHES["loongarch64"], B236) == (3, frozenset({1, 3}))
    assert loader_flags(ARCHES["loongarch64"], behaviour("2.38")) == (0x1203,
                                                                        frozenset({0x1203}))


def test_classification_tables() -> None:
    x = ARCHES["x86_64"]
    assert (b"/lib64/ld-linux-x86-64.so.2", 3) in x.known_interpreters
    assert (b"/lib/ld-linux.so.2", 3) in x.known_interpreters  # i386 objects: libc6
    assert not any(flag == 2 for _n, flag in x.known_libraries)
    for libc5 in ("i386", "m68k"):
        a = ARCHES[libc5]
        assert (b"/lib/ld-linux.so.1", 2) in a.known_interpreters
        assert (b"libc.so.5", 2) in a.known_libraries and (b"libm.so.5", 2) in a.known_libraries
    assert ARCHES["alpha"].known_libraries[:2] == ((b"libc.so.6.1", 3), (b"libm.so.6.1", 3))
    assert (b"libc.so.6", 3) in ARCHES["ia64"].known_libraries
    assert ARCHES["mips"].known_interpreters == ((b"/lib/ld.so.1", 3),)  # no mips32 ldconfig.h
    assert (b"/lib32/ld.so.1", 3) in ARCHES["mips64el"].known_interpreters


def test_arch_for_elf_finds_every_port_from_its_own_header() -> None:
    for a in ARCHES.values():
        found = arch_for_elf(a.ei_class, a.ei_data, a.e_machine, a.eflags_value,
                             a.dynamic_linkers[0].encode())
        assert found is a, (a.name, found and found.name)
    assert arch_for_elf(2, 1, 9999, 0) is None
    assert arch_for_elf(1, 1, 183, 0) is None  # aarch64 ILP32: no glibc port
    assert arch_for_elf(2, 1, 243, 0x2) is None  # riscv single-float
    assert arch_for_elf(1, 2, 18, 0).name == "sparc"  # type: ignore[union-attr]  # SPARC32PLUS


def test_arch_word_table() -> None:
    assert arch_word(0x303, B236) == ",x86-64"
    assert arch_word(3, B236) == "" and arch_word(0, B242) == ""
    assert arch_word(0x203, B236) == ",IA-64" and arch_word(0x203, B242) == ",512"
    assert arch_word(0x1203, B236) == ",4608" and arch_word(0x1203, B242) == ",double-float"
    assert arch_word(0x1103, behaviour("2.38")) == ",soft-float"
    assert arch_word(0x1303, B242) == ",4864" and arch_word(0xFF00, B242) == ",65280"
    assert arch_word(0x0E03, B242) == ",64bit,nan2008"


def write_cache(path: Path, entries: list[tuple[bytes, bytes, int]]) -> None:
    """A minimal new-format (glibc ≥ 2.33, little endian) cache with ``entries``."""
    strings = bytearray()
    offs = []
    base = 48 + 24 * len(entries)
    for key, value, _flags in entries:
        k = base + len(strings)
        strings += key + b"\0"
        v = base + len(strings)
        strings += value + b"\0"
        offs.append((k, v))
    out = bytearray(b"glibc-ld.so.cache1.1")
    out += struct.pack("<IIB3xI3I", len(entries), len(strings), 2, 0, 0, 0, 0)
    for (k, v), (_key, _value, flags) in zip(offs, entries):
        out += struct.pack("<iIIIQ", flags, k, v, 0, 0)
    out += strings
    path.write_bytes(bytes(out))


def test_arch_word_matches_the_real_ldconfig_print(ldconfig: str, tmp_path: Path) -> None:
    """Every value of the high byte, printed by Debian 2.36's ``ldconfig -p``."""
    # Keys sorted descending (as a cache must be); every flag value a separate entry.
    values = list(range(0, 0x2000, 0x100)) + [0xFF00]
    entries = [(b"lib%05d.so" % (99999 - i), b"/x/%d" % v, v | 3) for i, v in enumerate(values)]
    cache = tmp_path / "c"
    write_cache(cache, entries)
    out = subprocess.run([ldconfig, "-p", "-C", str(cache)], check=True, capture_output=True,
                         text=True).stdout
    seen = 0
    for line in out.splitlines()[1:]:
        if "=>" not in line:
            continue
        inside = line[line.index("(") + 1:line.rindex(")")]
        value = int(line.rsplit("/", 1)[1])
        assert inside == "libc6" + arch_word(value | 3, B236), line
        seen += 1
    assert seen == len(values)


# --- what this machine shows --------------------------------------------------------------------

def test_host_arch_is_this_machine() -> None:
    a = host_arch()
    machine = platform.machine()
    assert a.name == {"x86_64": "x86_64", "aarch64": "aarch64", "ppc64le": "ppc64le",
                      "s390x": "s390x", "riscv64": "riscv64"}.get(machine, a.name)
    assert a.byte_order == os.sys.byteorder  # type: ignore[attr-defined]


def test_host_libc_and_loader_identify_the_port() -> None:
    a = host_arch()
    libcs = [p for p in (f"/usr/lib/{a.multiarch}/libc.so.6", "/lib64/libc.so.6",
                         "/usr/lib/libc.so.6") if a.multiarch and os.path.exists(p)]
    assert libcs
    ei_class, ei_data, machine, flags, interp = header_of(libcs[0])
    assert arch_for_elf(ei_class, ei_data, machine, flags, interp) is a
    # libc.so.6 is runnable: its PT_INTERP is the port's dynamic linker
    assert interp is not None and interp.decode() in a.dynamic_linkers
    assert os.path.exists(a.dynamic_linkers[0])


@pytest.mark.parametrize("name,libdir", [("i386", "/usr/lib32"), ("x32", "/usr/libx32")])
def test_multilib_libcs_identify_their_ports(name: str, libdir: str) -> None:
    libc = os.path.join(libdir, "libc.so.6")
    if not os.path.exists(libc):
        pytest.skip(f"no {libc} (install libc6-dev-i386 and libc6-dev-x32)")
    ei_class, ei_data, machine, flags, interp = header_of(libc)
    found = arch_for_elf(ei_class, ei_data, machine, flags, interp)
    assert found is ARCHES[name]
    assert interp is not None and interp.decode() in found.dynamic_linkers
    assert (interp, 3) in ARCHES["x86_64"].known_interpreters


_LAYOUT_PROBE = r"""
#include <stdint.h>
#include <elf.h>
#include <link.h>
struct probe { char magic[20]; uint32_t n; uint64_t hwcap; };
/* The Linux a.out.h layout (i386 multilib ships no <a.out.h>). */
struct aout { unsigned long info; unsigned int text, data, bss, syms, entry, trsize, drsize; };
/* Answers as object sizes, so nothing has to run (this kernel may lack x32). */
char v_signed[1 + ((char) 0x80 < 0)];
char v_align[__alignof__ (struct probe)];
char v_exec[sizeof (struct aout)];
char v_ehdr[sizeof (ElfW(Ehdr))];
"""


def compile_sizes(tmp_path: Path, flags: Sequence[str], code: str) -> dict:
    src = tmp_path / "probe.c"
    src.write_text(code)
    obj = tmp_path / "probe.o"
    try:
        subprocess.run(["gcc", "-c", *flags, "-fno-common", "-o", str(obj), str(src)],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"gcc {' '.join(flags)} unavailable: {exc}")
    out = subprocess.run(["nm", "-S", str(obj)], check=True, capture_output=True,
                         text=True).stdout
    return {f[3]: int(f[1], 16) for f in (line.split() for line in out.splitlines())
            if len(f) == 4}


@pytest.mark.parametrize("name,flags", [("x86_64", []), ("i386", ["-m32"]), ("x32", ["-mx32"])])
def test_compiler_facts(tmp_path: Path, name: str, flags: list[str]) -> None:
    """char signedness, __alignof__ of a cache struct, MAX(struct exec, ElfW(Ehdr))."""
    a = ARCHES[name]
    v = compile_sizes(tmp_path, flags, _LAYOUT_PROBE)
    assert (v["v_signed"] == 2) == a.char_signed
    assert v["v_align"] == a.cache_align
    assert v["v_exec"] == a.aout_exec_size
    assert max(v["v_exec"], v["v_ehdr"]) == a.min_file_size


@pytest.mark.parametrize("name,flags", [("x86_64", []), ("i386", ["-m32"]), ("x32", ["-mx32"])])
def test_multiarch_triplets(tmp_path: Path, name: str, flags: list[str]) -> None:
    try:
        out = subprocess.run(["gcc", *flags, "-print-multiarch"], check=True,
                             capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("gcc -print-multiarch unavailable")
    if not out:
        pytest.skip("gcc without multiarch")
    assert ARCHES[name].multiarch == out


def test_host_ldconfig_classifies_with_this_table(ldconfig: str, tmp_path: Path) -> None:
    """The machine's ldconfig ``-p`` on its own cache: every flag it wrote is one this
    port's loader accepts or a 32-bit/x32 flag the table also knows."""
    out = subprocess.run([ldconfig, "-p"], check=True, capture_output=True, text=True).stdout
    a = host_arch()
    words = {arch_word(f, B236) for f in a.accepted_flags}
    lines = [line for line in out.splitlines() if "=>" in line]
    assert lines
    assert any(f"(libc6{w}" in line for line in lines for w in words)


_CROSS_PROBE = r"""
struct probe { char magic[20]; unsigned int n; unsigned long long hwcap; };
struct aout { unsigned long info; unsigned int text, data, bss, syms, entry, trsize, drsize; };
char v_signed[1 + ((char) 0x80 < 0)];
char v_align[__alignof__ (struct probe)];
char v_exec[sizeof (struct aout)];
"""

CROSS_PORTS = [("aarch64-linux-gnu", [], "aarch64"), ("arm-linux-gnueabihf", [], "armhf"),
               ("arm-linux-gnueabi", [], "armel"), ("powerpc64le-linux-gnu", [], "ppc64le"),
               ("powerpc-linux-gnu", [], "powerpc"), ("s390x-linux-gnu", [], "s390x"),
               ("s390x-linux-gnu", ["-m31"], "s390"),
               ("mips64el-linux-gnuabi64", [], "mips64el"),
               ("mips64el-linux-gnuabi64", ["-mabi=n32"], "mipsn32el"),
               ("mips64el-linux-gnuabi64", ["-mabi=32"], "mipsel"),
               ("mipsisa32r6el-linux-gnu", [], "mipsel_nan2008"),
               ("riscv64-linux-gnu", [], "riscv64"), ("alpha-linux-gnu", [], "alpha"),
               ("arc-linux-gnu", [], "arc"), ("hppa-linux-gnu", [], "hppa"),
               ("m68k-linux-gnu", [], "m68k"), ("sh4-linux-gnu", [], "sh4"),
               ("sparc64-linux-gnu", [], "sparc64"), ("sparc64-linux-gnu", ["-m32"], "sparc")]


@pytest.mark.parametrize("triplet,flags,name", CROSS_PORTS,
                         ids=[f"{t}{''.join(f)}" for t, f, _n in CROSS_PORTS])
def test_cross_compiler_facts(tmp_path: Path, triplet: str, flags: list[str], name: str) -> None:
    """Plain char signedness, cache struct alignment and ``struct exec`` size per psABI, as
    the port's own gcc lays them out (skipped where the cross compiler is missing)."""
    cc = next((shutil.which(f"{triplet}-gcc{v}") for v in ("", "-12", "-13", "-14")
               if shutil.which(f"{triplet}-gcc{v}")), None)
    if cc is None:
        pytest.skip(f"no {triplet}-gcc (Debian: gcc-{triplet})")
    a = ARCHES[name]
    src = tmp_path / "probe.c"
    src.write_text(_CROSS_PROBE)
    obj = tmp_path / "probe.o"
    subprocess.run([cc, "-c", *flags, "-fno-common", "-o", str(obj), str(src)], check=True,
                   capture_output=True)
    info = header_of(str(obj))
    assert (info[0], info[1]) == (a.ei_class, a.ei_data)
    nm = shutil.which(f"{triplet}-nm") or "nm"
    out = subprocess.run([nm, "-S", str(obj)], check=True, capture_output=True,
                         text=True).stdout
    v = {f[3]: int(f[1], 16) for f in (line.split() for line in out.splitlines()) if len(f) == 4}
    assert (v["v_signed"] == 2) == a.char_signed
    assert v["v_align"] == a.cache_align
    if a.family not in ("sparc", "alpha"):  # those have their own struct exec
        assert v["v_exec"] == a.aout_exec_size
