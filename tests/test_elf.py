"""ldcache.elf against its authorities: pyelftools for what an ELF file says, the machine's
own glibc ``ldconfig`` for what ldconfig decides, the glibc sources (spec §4) for ports and
versions we cannot run."""

from __future__ import annotations

import os
import random
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ldcache import elf
from ldcache.arch import ARCHES, Arch, arch_for_elf
from ldcache.cacheflags import arch_word
from ldcache.elf import ELFInfo, Library, Reject, process_file, read_elf
from ldcache.errors import ELFError
from ldcache.glibc import Behaviour, behaviour

B236 = behaviour("2.36", debian=True)
X86_64 = ARCHES["x86_64"]
LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
SEARCH_ROOTS = ("/usr/lib", "/lib", "/usr/lib64", "/usr/local/lib", "/usr/lib32", "/usr/libx32")


# --- helpers -----------------------------------------------------------------------------------

def probe(path: str | Path, arch: Arch = X86_64, b: Behaviour = B236,
          name: bytes | None = None) -> Library | Reject:
    fd = os.open(path, os.O_RDONLY)
    try:
        return process_file(fd, os.fstat(fd).st_size, name or os.fsencode(path), arch, b)
    finally:
        os.close(fd)


def probe_bytes(data: bytes, tmp_path: Path, arch: Arch = X86_64, b: Behaviour = B236,
                name: str = "libt.so.1") -> Library | Reject:
    p = tmp_path / name
    p.write_bytes(data)
    return probe(p, arch, b)


def read_path(path: str | Path, **kw: bool) -> ELFInfo:
    fd = os.open(path, os.O_RDONLY)
    try:
        return read_elf(fd, os.fstat(fd).st_size, **kw)
    finally:
        os.close(fd)


def elf_files() -> Iterator[Path]:
    """Every ELF file (executables, libraries, objects) under the library roots, once."""
    seen = set()
    for top in SEARCH_ROOTS:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for fn in sorted(filenames):
                p = os.path.join(dirpath, fn)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if not os.path.isfile(p) or (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
                try:
                    with open(p, "rb") as f:
                        if f.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                yield Path(p)


def gcc(tmp: Path, name: str, args: Sequence[str], code: str = "int f(void){return 42;}\n"
        ) -> Path:
    src = tmp / (name + ".c")
    src.write_text(code)
    out = tmp / name
    try:
        subprocess.run(["gcc", *args, "-o", str(out), str(src)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"gcc {' '.join(args)} unavailable: {exc}")
    return out


# --- a minimal ELF writer for ports we cannot build for --------------------------------------

def build_elf(bits: int = 64, order: str = "<", machine: int = 62, e_flags: int = 0, *,
              e_type: int = 3, soname: bytes | None = b"libt.so.1",
              needed: Sequence[bytes] = (), interp: bytes | None = None,
              sonames: Sequence[bytes] = (), abi_tag: tuple[int, int, int, int] | None = None,
              isa_needed: int | None = None, ei_class: int | None = None,
              strtab_vaddr_shift: int = 0x10000, dynamic: bool = True,
              extra_dynamic: Sequence[tuple[int, int]] = ()) -> bytes:
    """ehdr + phdrs (PT_LOAD, PT_DYNAMIC, [PT_INTERP], [PT_NOTE], [PT_GNU_PROPERTY]) + data.

    Addresses are file offsets + ``strtab_vaddr_shift`` so the PT_LOAD mapping matters.
    """
    w = "Q" if bits == 64 else "I"
    ehsize = 64 if bits == 64 else 52
    phsize = 56 if bits == 64 else 32
    align = bits // 8
    strings = bytearray(b"\0")
    offsets: dict[bytes, int] = {}

    def intern(s: bytes) -> int:
        if s not in offsets:
            offsets[s] = len(strings)
            strings.extend(s + b"\0")
        return offsets[s]

    dyn: list[tuple[int, int]] = [(1, intern(n)) for n in needed]
    for s in ([soname] if soname is not None else []) + list(sonames):
        dyn.append((14, intern(s)))
    dyn.append((5, 0))  # DT_STRTAB, patched below
    dyn.extend(extra_dynamic)
    dyn.append((0, 0))
    notes = b""
    if abi_tag is not None:
        notes = (struct.pack(order + "III", 4, 16, 1) + b"GNU\0"
                 + struct.pack(order + "4I", *abi_tag))
    prop = b""
    if isa_needed is not None:
        desc = struct.pack(order + "II", 0xC0008002, 4) + struct.pack(order + "I", isa_needed)
        desc += b"\0" * (-len(desc) % align)
        prop = struct.pack(order + "III", 4, len(desc), 5) + b"GNU\0" + desc
    nph = 2 + (interp is not None) + bool(notes) + bool(prop)
    if not dynamic:
        nph -= 1
    off = ehsize + nph * phsize
    interp_off = off
    interp_data = (interp + b"\0") if interp is not None else b""
    off += len(interp_data)
    off += -off % 8
    note_off = off
    off += len(notes)
    off += -off % 8
    prop_off = off
    off += len(prop)
    off += -off % 8
    str_off = off
    off += len(strings)
    off += -off % 8
    dyn_off = off
    dynent = 16 if bits == 64 else 8
    total = dyn_off + len(dyn) * dynent
    shift = strtab_vaddr_shift
    dyn = [(t, str_off + shift) if t == 5 else (t, v) for t, v in dyn]

    def phdr(p_type: int, p_off: int, filesz: int, p_align: int) -> bytes:
        if bits == 64:
            return struct.pack(order + "IIQQQQQQ", p_type, 4, p_off, p_off + shift,
                               p_off + shift, filesz, filesz, p_align)
        return struct.pack(order + "IIIIIIII", p_type, p_off, p_off + shift, p_off + shift,
                           filesz, filesz, 4, p_align)

    ph = phdr(1, 0, total, 0x1000)
    if dynamic:
        ph += phdr(2, dyn_off, len(dyn) * dynent, align)
    if interp is not None:
        ph += phdr(3, interp_off, len(interp_data), 1)
    if notes:
        ph += phdr(4, note_off, len(notes), 4)
    if prop:
        ph += phdr(0x6474E553, prop_off, len(prop), align)
    ident = b"\x7fELF" + bytes([ei_class or (2 if bits == 64 else 1),
                               1 if order == "<" else 2, 1, 0]) + b"\0" * 8
    ehdr = ident + struct.pack(order + f"HHI{w}{w}{w}IHHHHHH", e_type, machine, 1, 0, ehsize, 0,
                               e_flags, ehsize, phsize, nph, 64 if bits == 64 else 40, 0, 0)
    out = bytearray(total)
    out[0:len(ehdr)] = ehdr
    out[ehsize:ehsize + len(ph)] = ph
    out[interp_off:interp_off + len(interp_data)] = interp_data
    out[note_off:note_off + len(notes)] = notes
    out[prop_off:prop_off + len(prop)] = prop
    out[str_off:str_off + len(strings)] = strings
    d = b"".join(struct.pack(order + ("qQ" if bits == 64 else "iI"), t, v) for t, v in dyn)
    out[dyn_off:dyn_off + len(d)] = d
    return bytes(out)


# --- the real ldconfig as an oracle ------------------------------------------------------------

class Oracle:
    """Runs ``/sbin/ldconfig -r ROOT -X -C /c`` over files, each alone in a glibc-hwcaps
    directory ``/dK/glibc-hwcaps/t`` (so the cache records the file's own name, flags,
    soname and ISA level), and reads back the cache bytes and stderr."""

    NOISE = re.compile(r"^(\S*ldconfig: Can't stat .*|/d\d+.*: \(.*|\t.*|)$")

    def __init__(self, ldconfig: str, root: Path) -> None:
        self.ldconfig = ldconfig
        self.root = root

    def run(self, files: Sequence[tuple[str, bytes]], verbose: bool = False
            ) -> tuple[dict[int, tuple[bytes, int, int]], list[str], int]:
        if self.root.exists():
            shutil.rmtree(self.root)
        (self.root / "etc").mkdir(parents=True)
        conf = []
        for k, (name, data) in enumerate(files):
            d = self.root / f"d{k}" / "glibc-hwcaps" / "t"
            d.mkdir(parents=True)
            (d / name).write_bytes(data)
            conf.append(f"/d{k}\n")
        (self.root / "etc" / "ld.so.conf").write_text("".join(conf))
        args = [self.ldconfig, "-r", str(self.root), "-X", "-C", "/c"] + (["-v"] if verbose else [])
        try:
            proc = subprocess.run(args, capture_output=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            return {}, [], -999
        if proc.returncode != 0:
            return {}, [], proc.returncode
        entries: dict[int, tuple[bytes, int, int]] = {}
        data = (self.root / "c").read_bytes()
        assert data[:20] == b"glibc-ld.so.cache1.1"
        (nlibs,) = struct.unpack_from("<I", data, 20)
        for i in range(nlibs):
            flags, key, value, _osv, hwcap = struct.unpack_from("<iIIIQ", data, 48 + 24 * i)
            k = data[key:data.index(b"\0", key)]
            v = data[value:data.index(b"\0", value)].decode()
            m = re.match(r"/d(\d+)/glibc-hwcaps/t/", v)
            assert m, v
            assert hwcap >> 62 == 1
            entries[int(m.group(1))] = (k, flags, (hwcap >> 32) & 0x3FF)
        lines = [re.sub(r"^\S*ldconfig: ", "", line)
                 for line in proc.stderr.decode("utf-8", "surrogateescape").split("\n")
                 if not self.NOISE.match(line)]
        return entries, lines, 0

    def compare(self, files: Sequence[tuple[str, bytes]], b: Behaviour = B236,
                verbose: bool = False) -> tuple[int, int]:
        """Assert our decisions equal ldconfig's; bisect around ldconfig crashes.
        Returns (files compared, files skipped because ldconfig itself crashed)."""
        entries, lines, rc = self.run(files, verbose)
        if rc != 0:
            if len(files) == 1:
                return 0, 1
            half = len(files) // 2
            a = self.compare(files[:half], b, verbose)
            c = self.compare(files[half:], b, verbose)
            return a[0] + c[0], a[1] + c[1]
        expected_lines: list[str] = []
        mismatches = []
        for k, (name, data) in enumerate(files):
            path = f"/d{k}/glibc-hwcaps/t/{name}"
            p = self.root / path.lstrip("/")
            fd = os.open(p, os.O_RDONLY)
            try:
                ours = process_file(fd, len(data), path.encode(), X86_64, b)
            finally:
                os.close(fd)
            got = entries.get(k)
            if isinstance(ours, Library):
                want = (ours.soname if ours.soname is not None else name.encode(), ours.flags,
                        ours.isa_level)
            else:
                want = None
            if want != got:
                mismatches.append((k, name, ours, got))
            msgs = list(ours.warnings)
            if isinstance(ours, Reject) and ours.message is not None and (
                    verbose or not ours.verbose_only):
                msgs.append(ours.message)
            for m in msgs:
                expected_lines.extend(line for line in m.split("\n") if line)
        assert not mismatches, mismatches[:10]
        assert sorted(lines) == sorted(expected_lines)
        return len(files), 0


@pytest.fixture
def oracle(ldconfig: str, tmp_path: Path) -> Oracle:
    if os.geteuid() != 0:
        pytest.skip("ldconfig -r chroots only as root")
    return Oracle(ldconfig, tmp_path / "root")


# --- pyelftools cross-check --------------------------------------------------------------------

def pyelftools_view(path: Path) -> dict:
    """What pyelftools (the authority) says; raises whatever pyelftools raises."""
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE
    from elftools.elf.notes import iter_notes
    from elftools.elf.segments import InterpSegment

    with open(path, "rb") as f:
        e = ELFFile(f)
        h = e.header
        machine = h["e_machine"]
        etype = h["e_type"]
        view: dict = {
            "ei_class": {"ELFCLASS32": 1, "ELFCLASS64": 2}[h["e_ident"]["EI_CLASS"]],
            "ei_data": {"ELFDATA2LSB": 1, "ELFDATA2MSB": 2}[h["e_ident"]["EI_DATA"]],
            "e_machine": ENUM_E_MACHINE.get(machine, machine) if isinstance(machine, str)
            else machine,
            "e_type": ENUM_E_TYPE.get(etype, etype) if isinstance(etype, str) else etype,
            "e_flags": h["e_flags"],
            "soname": None, "needed": [], "interp": None, "isa_level": 0, "osversion": 0,
        }
        for seg in e.iter_segments():
            if isinstance(seg, InterpSegment) and view["interp"] is None:
                view["interp"] = seg.get_interp_name().encode("latin-1")
            elif isinstance(seg, DynamicSegment):
                for tag in seg.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        view["needed"].append(tag.needed.encode("latin-1"))
                    elif tag.entry.d_tag == "DT_SONAME" and view["soname"] is None:
                        view["soname"] = tag.soname.encode("latin-1")
            elif seg["p_type"] == "PT_GNU_PROPERTY" and view["e_machine"] in (3, 62) \
                    and seg["p_align"] == (8 if view["ei_class"] == 2 else 4):
                for note in iter_notes(e, seg["p_offset"], seg["p_filesz"]):
                    if note["n_type"] != "NT_GNU_PROPERTY_TYPE_0" or note["n_name"] != "GNU":
                        continue
                    for prop in note["n_desc"]:
                        if prop["pr_type"] == "GNU_PROPERTY_X86_ISA_1_NEEDED" and \
                                prop["pr_datasz"] == 4 and prop["pr_data"]:
                            view["isa_level"] = prop["pr_data"].bit_length() - 1
                    break
            elif seg["p_type"] == "PT_NOTE" and not view["osversion"] and seg["p_filesz"] >= 32 \
                    and seg["p_align"] in (4, 8):
                for note in iter_notes(e, seg["p_offset"], seg["p_filesz"]):
                    if note["n_type"] == "NT_GNU_ABI_TAG" and note["n_name"] == "GNU" \
                            and note["n_descsz"] == 16:
                        d = note["n_desc"]
                        os_id = {"ELF_NOTE_OS_LINUX": 0, "ELF_NOTE_OS_GNU": 1,
                                 "ELF_NOTE_OS_SOLARIS2": 2, "ELF_NOTE_OS_FREEBSD": 3}.get(
                            d["abi_os"], d["abi_os"])
                        view["osversion"] = (os_id << 24 | d["abi_major"] << 16
                                             | d["abi_minor"] << 8 | d["abi_tiny"])
                        break
    view["needed"] = tuple(view["needed"])
    return view


def test_crosscheck_with_pyelftools_on_every_system_elf_file() -> None:
    started = time.monotonic()
    compared = pyelftools_failed = ours_failed = 0
    libdir_libs = 0
    problems = []
    for path in elf_files():
        try:
            ours: ELFInfo | None = read_path(path, needed=True, osversion=True)
        except ELFError:
            ours = None
            ours_failed += 1
        try:
            ref = pyelftools_view(path)
        except Exception:  # noqa: BLE001 - pyelftools raises many things on odd files
            pyelftools_failed += 1
            continue
        if ours is None:
            problems.append((path, "ELFError but pyelftools reads it"))
            continue
        compared += 1
        if path.parent == LIBDIR and ours.e_type == 3:
            libdir_libs += 1
        mine = {k: getattr(ours, k) for k in ref}
        if mine != ref:
            problems.append((path, {k: (mine[k], ref[k]) for k in ref if mine[k] != ref[k]}))
    elapsed = time.monotonic() - started
    print(f"\ncompared {compared} ELF files ({libdir_libs} shared objects in {LIBDIR}), "
          f"pyelftools failed on {pyelftools_failed}, read_elf on {ours_failed}, "
          f"{elapsed:.1f} s")
    assert not problems, problems[:10]
    assert compared > 300 and libdir_libs > 100


def test_crosscheck_sees_sonames_interps_needed_and_osversion() -> None:
    """The system cross-check is not vacuous: real values come out."""
    libc = read_path(LIBDIR / "libc.so.6", needed=True, osversion=True)
    assert libc.soname == b"libc.so.6"
    assert libc.needed == (b"ld-linux-x86-64.so.2",)
    assert libc.interp == b"/lib64/ld-linux-x86-64.so.2"  # libc.so.6 is executable
    assert libc.osversion == 0x030200  # OS: Linux, ABI: 3.2.0
    assert (libc.ei_class, libc.ei_data, libc.e_machine, libc.e_type) == (2, 1, 62, 3)
    ls = read_path("/usr/bin/ls", needed=True)
    assert ls.soname is None and b"libc.so.6" in ls.needed and ls.dynamic
    assert ls.osversion == 0  # not asked for


def test_read_elf_on_objects_and_static_files(tmp_path: Path) -> None:
    obj = gcc(tmp_path, "t.o", ["-c"])
    info = read_path(obj)
    assert info.e_type == 1 and info.soname is None and not info.dynamic and info.interp is None
    static = gcc(tmp_path, "static", ["-static"], "int main(void){return 0;}\n")
    info = read_path(static, osversion=True)
    assert info.e_type in (2, 3) and info.soname is None and info.osversion == 0x030200
    assert pyelftools_view(static)["osversion"] == info.osversion


@pytest.mark.parametrize("data,error", [
    (b"", "too small"), (b"\x7fELF", "too small"), (b"#!/bin/sh\n" * 10, "not an ELF"),
    (b"\x7fELF\x03\x01" + bytes(60), "class"), (b"\x7fELF\x02\x03" + bytes(60), "data"),
    (b"\x7fELF\x02\x01" + bytes(30), "truncated"),
])
def test_read_elf_errors(tmp_path: Path, data: bytes, error: str) -> None:
    p = tmp_path / "x"
    p.write_bytes(data)
    with pytest.raises(ELFError, match=error):
        read_path(p)


def test_read_elf_truncated_real_library_is_a_clean_error(tmp_path: Path) -> None:
    data = (LIBDIR / "libz.so.1").read_bytes()
    p = tmp_path / "libz.so.1"
    outcomes = set()
    for cut in range(16, 8192, 7):
        p.write_bytes(data[:cut])
        try:
            outcomes.add(read_path(p, needed=True).soname)
        except ELFError:
            outcomes.add("error")
    assert "error" in outcomes


# --- process_file against the real ldconfig ---------------------------------------------------

def gcc_suite(tmp: Path) -> list[tuple[str, bytes]]:
    """gcc-built objects of every kind ldconfig meets, plus non-ELF and tiny files."""
    lib = "int f(void){return 42;}\n"
    main = "int main(void){return 0;}\n"
    builds = [
        ("so", ["-shared", "-fPIC", "-Wl,-soname,libso.so.1"], lib),
        ("nosoname", ["-shared", "-fPIC"], lib),
        ("nostdlib", ["-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libns.so.2"], lib),
        ("libc", ["-shared", "-fPIC", "-Wl,--no-as-needed", "-Wl,-soname,libc2.so.3", "-lc"],
         lib),
        ("libm", ["-shared", "-fPIC", "-Wl,--no-as-needed", "-lm"], lib),
        ("v2", ["-shared", "-fPIC", "-Wl,-z,x86-64-v2", "-Wl,-soname,libv.so.1"], lib),
        ("v3", ["-shared", "-fPIC", "-Wl,-z,x86-64-v3", "-Wl,-soname,libv.so.1"], lib),
        ("v4", ["-shared", "-fPIC", "-Wl,-z,x86-64-v4", "-Wl,-soname,libv.so.1"], lib),
        ("baseline", ["-shared", "-fPIC", "-Wl,-z,x86-64-baseline"], lib),
        ("pie", ["-fPIE", "-pie"], main),
        ("exec", ["-no-pie", "-fno-PIE"], main),
        ("m32", ["-m32", "-shared", "-fPIC", "-Wl,-soname,lib32.so.1"], lib),
        ("m32libc", ["-m32", "-shared", "-fPIC", "-Wl,--no-as-needed", "-lc"], lib),
        ("m32nostd", ["-m32", "-shared", "-fPIC", "-nostdlib"], lib),
        ("m32pie", ["-m32", "-fPIE", "-pie"], main),
        ("m32v3", ["-m32", "-shared", "-fPIC", "-Wl,-z,x86-64-v3"], lib),
        ("x32", ["-mx32", "-shared", "-fPIC", "-Wl,-soname,libx32t.so.1"], lib),
        ("twosonames", ["-shared", "-fPIC", "-nostdlib", "-Wl,-soname,liba.so.1",
                        "-Wl,--no-as-needed"], lib),
    ]
    files: list[tuple[str, bytes]] = []
    for name, args, code in builds:
        src = tmp / f"{name}.c"
        src.write_text(code)
        out = tmp / name
        try:
            subprocess.run(["gcc", *args, "-o", str(out), str(src)], check=True,
                           capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            continue  # e.g. no multilib: covered by the skip test below
        files.append(("libt.so.1", out.read_bytes()))
    real = (LIBDIR / "libz.so.1").read_bytes()
    files += [
        ("libt.so.1", b""),
        ("libt.so.1", b"\x7f"), ("libt.so.1", b"\x7fEL"), ("libt.so.1", b"\x7fELF"),
        ("libt.so.1", b"\x7fELF" + bytes(59)), ("libt.so.1", b"abc"),
        ("libt.so.1", b"x" * 63), ("libt.so.1", b"hello, world\n" * 10),
        ("libt.so.1", b"/* GNU ld script */\nGROUP ( /lib/libc.so.6 )\n" + b" " * 40),
        ("libt.so.1", b"INPUT(-lfoo) " * 10 + b"GROUP" + b" " * 10),
        ("libt.so.1", b"x" * 600 + b"GROUP"),  # beyond the first 512 bytes
        ("libt.so.1-gdb.py", b"import gdb\n" * 10),
        ("libt.so.1-gdb.scm", b"(define x 1)\n" * 10),  # suppressed only from 2.40
        ("libt.so.1.2.3", struct.pack("<I", 0o413) + bytes(100)),  # a.out ZMAGIC
        ("libq.so.4", struct.pack("<I", 0o314) + bytes(100)),  # QMAGIC
        ("libt.so.1", struct.pack("<I", 0o413) + bytes(20)),  # a.out, too small
        ("libt.so.1", real[:200]), ("libt.so.1", real[:1000]), ("libt.so.1", real),
        ("libt.so.1", real[:16] + struct.pack("<H", 2) + real[18:]),  # ET_EXEC
        ("libt.so.1", real[:4] + b"\x01" + real[5:]),  # ELFCLASS32 on x86-64 data
        ("libt.so.1", real[:4] + b"\x07" + real[5:]),  # bad class
        ("libt.so.1", real[:5] + b"\x02" + real[6:]),  # EI_DATA ignored by ldconfig
        ("libt.so.1", real[:18] + struct.pack("<H", 183) + real[20:]),  # aarch64
        ("libt.so.1", real[:18] + struct.pack("<H", 3) + real[20:]),  # EM_386, class 64
        ("libt.so.1", real[:18] + struct.pack("<H", 50) + real[20:]),  # EM_IA_64
        ("libt.so.1", build_elf(64, ">", 62)),  # big-endian: e_type unreadable
        ("libt.so.1", build_elf(64, "<", 62, needed=[b"libc.so.6"], sonames=[b"second.so"])),
        ("libt.so.1", build_elf(32, "<", 3, sonames=[b"second.so"])),  # ≤2.36: last wins
        ("libt.so.1", build_elf(32, "<", 3, needed=[b"libc.so.6"], sonames=[b"second.so"])),
        ("libt.so.1", build_elf(32, "<", 3, needed=[b"libc.so.5"])),  # libc5 only on i386
        ("libt.so.1", build_elf(32, "<", 3, interp=b"/lib/ld-linux.so.2")),
        ("libt.so.1", build_elf(32, "<", 3, interp=b"/lib/ld-linux.so.1")),
        ("libt.so.1", build_elf(64, "<", 62, interp=b"/lib64/ld-linux-x86-64.so.2")),
        ("libt.so.1", build_elf(64, "<", 62, soname=None)),
        ("libt.so.1", build_elf(64, "<", 62, dynamic=False)),
        ("libt.so.1", build_elf(64, "<", 62, strtab_vaddr_shift=0)),
        ("libt.so.1", build_elf(64, "<", 62, isa_needed=0x4)),
        ("libt.so.1", build_elf(32, "<", 3, isa_needed=0x8)),
        ("libt.so.1", build_elf(64, "<", 62, isa_needed=0x80000000)),
        ("libt.so.1", build_elf(64, "<", 62, abi_tag=(0, 2, 6, 32))),
        ("libt.so.1", build_elf(64, "<", 62, extra_dynamic=[(5, 0x99999999)])),  # 2nd STRTAB
    ]
    # Two PT_DYNAMIC segments: "more than one dynamic segment".
    two = bytearray(build_elf(64, "<", 62))
    ph = 64 + 56  # the PT_DYNAMIC header
    two[64 + 56 * 1: 64 + 56 * 2] = two[ph:ph + 56]
    struct.pack_into("<H", two, 56, 2)
    files.append(("libt.so.1", bytes(two)))
    return files


def test_process_file_matches_ldconfig_on_built_and_odd_files(oracle: Oracle,
                                                              tmp_path: Path) -> None:
    files = gcc_suite(tmp_path)
    assert oracle.compare(files) == (len(files), 0)
    assert oracle.compare(files, verbose=True) == (len(files), 0)


def test_process_file_matches_ldconfig_on_truncated_copies(oracle: Oracle) -> None:
    files = []
    for lib in ("libz.so.1", "libc.so.6"):
        data = (LIBDIR / lib).read_bytes()
        limit = min(len(data), 64 << 10)
        # Page-aligned cuts would let the real ldconfig read past its mapping (SIGBUS).
        cuts = [c for c in range(1, limit, 37) if c % 4096] + [len(data) - 1]
        files += [("libt.so.1", data[:c]) for c in cuts]
    compared, crashed = oracle.compare(files)
    print(f"\n{compared} truncated copies compared, {crashed} crashed ldconfig")
    assert compared > 3000 and crashed == 0


def read_elf_bytes(data: bytes) -> ELFInfo:
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return read_path(f.name)


def hot_ranges(data: bytes) -> list[int]:
    """Offsets of the bytes ldconfig looks at: ELF and program headers, the dynamic array,
    notes, the interpreter and the strings the dynamic array names."""
    bits = 64 if data[4] == 2 else 32
    o = "<" if data[5] == 1 else ">"
    if bits == 64:
        phoff, = struct.unpack_from(o + "Q", data, 32)
        phnum, = struct.unpack_from(o + "H", data, 56)
        ent, fmt = 56, o + "IIQQQQQQ"
    else:
        phoff, = struct.unpack_from(o + "I", data, 28)
        phnum, = struct.unpack_from(o + "H", data, 44)
        ent, fmt = 32, o + "IIIIIIII"
    hot = list(range(64)) + list(range(phoff, phoff + phnum * ent))
    info = read_elf_bytes(data)
    for i in range(phnum):
        seg = struct.unpack_from(fmt, data, phoff + i * ent)
        p_type = seg[0]
        off, filesz = (seg[2], seg[5]) if bits == 64 else (seg[1], seg[4])
        if p_type in (3, 4, 0x6474E553):
            hot += list(range(off, min(off + filesz, len(data))))
        elif p_type == 2:  # the entries that matter: DT_NEEDED, DT_STRTAB, DT_SONAME, DT_NULL
            dent = 16 if bits == 64 else 8
            for at in range(off, min(off + filesz, len(data)), dent):
                tag = struct.unpack_from(o + ("q" if bits == 64 else "i"), data, at)[0]
                if tag in (0, 1, 5, 14):
                    hot += list(range(at, at + dent)) * 2
    for s in (info.soname or b"",) + info.needed:
        at = data.find(s + b"\0")
        if s and at > 0:
            hot += list(range(at - 2, at + len(s) + 2))
    return hot


def mutants(seed: int, base: bytes, count: int) -> list[bytes]:
    """Seeded byte and field mutations, nine in ten on the bytes ldconfig reads."""
    rng = random.Random(seed)
    hot = hot_ranges(base)
    out = []
    for _ in range(count):
        b = bytearray(base)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            pos = rng.choice(hot) if rng.random() < 0.9 else rng.randrange(len(b))
            kind = rng.random()
            if kind < 0.6:
                b[pos] = rng.choice((0, 0xFF, rng.randrange(256), b[pos] ^ (1 << rng.randrange(8)),
                                     (b[pos] + 1) & 0xFF, (b[pos] - 1) & 0xFF))
            else:  # a whole aligned word: small, huge, or near the file size
                pos &= ~3 if kind < 0.8 else ~7
                width = 4 if kind < 0.8 else 8
                value = rng.choice((0, 1, 2**(8 * width) - 1, len(b), len(b) - rng.randrange(64),
                                    rng.randrange(2**(8 * width)), rng.randrange(len(b))))
                b[pos:pos + width] = value.to_bytes(width, "little")
        out.append(bytes(b[:len(base)]))
    return out


def test_process_file_matches_ldconfig_on_random_mutations(oracle: Oracle,
                                                           tmp_path: Path) -> None:
    small = gcc(tmp_path, "libm.so", ["-shared", "-fPIC", "-Wl,--no-as-needed",
                                      "-Wl,-soname,libmut.so.1", "-lm", "-lc"]).read_bytes()
    small32 = gcc(tmp_path, "lib32.so", ["-m32", "-shared", "-fPIC", "-Wl,-z,x86-64-v2",
                                         "-Wl,--no-as-needed", "-Wl,-soname,libmut32.so.1",
                                         "-lm", "-lc"]).read_bytes()
    files = [("libt.so.1", m) for m in mutants(1, small, 1500) + mutants(2, small32, 700)
             + mutants(3, (LIBDIR / "libz.so.1").read_bytes(), 800)]
    started = time.monotonic()
    compared, crashed = oracle.compare(files)
    print(f"\n{compared} mutants compared, {crashed} crashed ldconfig "
          f"({time.monotonic() - started:.1f} s)")
    assert compared >= 0.98 * len(files)


def test_never_raises_on_mutants_any_port_any_version(tmp_path: Path) -> None:
    base = build_elf(64, "<", 62, needed=[b"libc.so.6"], interp=b"/lib/ld.so.1",
                     abi_tag=(0, 3, 2, 0), isa_needed=2)
    base32 = build_elf(32, ">", 8, 0x20, needed=[b"libc.so.6"], abi_tag=(0, 3, 2, 0))
    data = mutants(7, base, 600) + mutants(8, base32, 600)
    arches = [ARCHES[n] for n in ("x86_64", "i386", "mips64", "mipsn32el", "riscv64",
                                  "loongarch64", "armhf", "alpha", "s390x", "sparc")]
    versions = [behaviour(v) for v in ("2.31", "2.35", "2.36", "2.37", "2.42")]
    p = tmp_path / "libt.so.1"
    kinds = set()
    for i, d in enumerate(data):
        p.write_bytes(d)
        res = probe(p, arches[i % len(arches)], versions[i % len(versions)])
        assert isinstance(res, (Library, Reject))
        kinds.add(type(res).__name__ + str(getattr(res, "message", "") is None))
        try:
            read_path(p, needed=True, osversion=True)
        except ELFError:
            pass
    assert len(kinds) >= 3


# --- per-port flags (spec §4.3) for ports we cannot run -----------------------------------------

def flags_of(tmp_path: Path, arch: str, version: str, data: bytes) -> int | str | None:
    res = probe_bytes(data, tmp_path, ARCHES[arch], behaviour(version, debian=False))
    if isinstance(res, Library):
        return res.flags
    return res.message and ("verbose:" if res.verbose_only else "") + res.message.split(" ", 1)[1]


LIBC6 = [b"libc.so.6"]


@pytest.mark.parametrize("arch,bits,order,machine,eflags,needed,want", [
    # mips: n64, n32, o32 and NaN2008, both byte orders; any mips ldconfig reads every ABI
    ("mips64el", 64, "<", 8, 0, [], {"2.31": 0x703, "2.36": 0x703, "2.42": 0x703}),
    ("mips64", 64, ">", 8, 0x400, [], {"2.36": 0xE03, "2.42": 0xE03}),
    ("mips64el", 32, "<", 8, 0x20, [], {"2.36": 0x603, "2.42": 0x603}),
    ("mipsn32", 32, ">", 8, 0x420, [], {"2.36": 0xD03}),
    ("mipsel", 32, "<", 8, 0, [], {"2.31": 1, "2.36": 1, "2.37": 3, "2.42": 3}),
    ("mipsel", 32, "<", 8, 0, LIBC6, {"2.36": 3}),
    ("mips_nan2008", 32, ">", 8, 0x400, [], {"2.36": 0xC03, "2.42": 0xC03}),
    ("mipsel", 64, "<", 8, 0x400, [], {"2.42": 0xE03}),
    # riscv: soft/double accepted, single/quad/RVE/TSO rejected; low byte 1 on ≤2.36
    ("riscv64", 64, "<", 243, 0x5, [], {"2.31": 0x1001, "2.36": 0x1001, "2.42": 0x1003}),
    ("riscv64", 64, "<", 243, 0x5, LIBC6, {"2.36": 0x1003}),
    ("riscv64", 64, "<", 243, 0x1, LIBC6, {"2.36": 0xF03, "2.42": 0xF03}),
    ("riscv64", 64, "<", 243, 0x0, [], {"2.42": 0xF03}),
    ("riscv64", 64, "<", 243, 0x3, LIBC6, {"2.36": None, "2.42": None}),
    ("riscv64", 64, "<", 243, 0x7, LIBC6, {"2.42": None}),
    ("riscv64", 64, "<", 243, 0x4 | 0x8, LIBC6, {"2.42": None}),
    ("riscv64", 64, "<", 243, 0x4 | 0x10, LIBC6, {"2.42": None}),
    ("riscv64", 32, "<", 243, 0x4, LIBC6, {"2.42": 0x1003}),  # XLEN not checked
    ("riscv32_soft", 32, "<", 243, 0x0, [], {"2.42": 0xF03}),
    # loongarch: own wrapper from 2.38, generic before
    ("loongarch64", 64, "<", 258, 0x43, [], {"2.36": 1, "2.37": 3, "2.38": 0x1203,
                                             "2.42": 0x1203}),
    ("loongarch64", 64, "<", 258, 0x41, [], {"2.42": 0x1103}),
    ("loongarch64", 64, "<", 258, 0x2, [], {"2.38": None, "2.42": None}),
    ("loongarch64", 64, "<", 258, 0x7, [], {"2.42": None}),
    ("loongarch64", 32, "<", 258, 0x3, [], {"2.42": "verbose:is a 32 bit ELF file.\n"}),
    # sparc64 / sparc32 objects on sparc
    ("sparc64", 64, ">", 43, 0, [], {"2.36": 0x103, "2.42": 0x103}),
    ("sparc64", 32, ">", 2, 0, [], {"2.36": 1, "2.42": 3}),
    ("sparc", 64, ">", 43, 0, [], {"2.36": 0x103}),
    # arm: EABI5 hard/soft/unmarked, old EABI generic; aarch64 objects on arm and back
    ("armhf", 32, "<", 40, 0x05000400, [], {"2.31": 0x903, "2.36": 0x903, "2.42": 0x903}),
    ("armhf", 32, "<", 40, 0x05000200, [], {"2.36": 0xB03, "2.42": 0xB03}),
    ("armel", 32, "<", 40, 0x05000000, [], {"2.36": 3, "2.42": 3}),
    ("armel", 32, "<", 40, 0x04000000, [], {"2.36": 1, "2.42": 3}),
    ("armel", 32, "<", 40, 0x04000000, LIBC6, {"2.36": 3}),
    ("armhf", 64, "<", 183, 0, [], {"2.36": 0xA03}),  # e_machine not checked
    ("aarch64", 64, "<", 183, 0, [], {"2.36": 0xA03, "2.42": 0xA03}),
    ("aarch64", 32, "<", 40, 0x05000400, [], {"2.42": 0x903}),
    ("aarch64_be", 64, ">", 183, 0, [], {"2.36": 0xA03}),
    # powerpc / s390
    ("ppc64le", 64, "<", 21, 2, [], {"2.36": 0x503}),
    ("ppc64", 64, ">", 21, 1, [], {"2.36": 0x503}),
    ("powerpc", 32, ">", 20, 0, LIBC6, {"2.36": 3}),
    ("s390x", 64, ">", 22, 0, [], {"2.36": 0x403, "2.42": 0x403}),
    ("s390x", 32, ">", 22, 0, [], {"2.36": 1, "2.42": 3}),
    # x86: x32 on x86-64, ia64 only in the i386 build up to 2.38
    ("x86_64", 32, "<", 62, 0, [], {"2.31": 0x803, "2.36": 0x803, "2.42": 0x803}),
    ("x32", 64, "<", 62, 0, [], {"2.42": 0x303}),
    ("i386", 64, "<", 50, 0, [], {"2.31": 0x203, "2.38": 0x203,
                                  "2.39": "is for unknown machine 50.\n"}),
    ("x86_64", 64, "<", 50, 0, [], {"2.36": "is for unknown machine 50.\n"}),
    ("i386", 32, "<", 3, 0, [b"libc.so.5"], {"2.36": 2, "2.37": 3}),
    ("x86_64", 32, "<", 3, 0, [b"libc.so.5"], {"2.36": 1}),
    ("m68k", 32, ">", 4, 0, [b"libm.so.5"], {"2.36": 2, "2.42": 3}),
    # generic ports: native class only
    ("alpha", 64, "<", 0x9026, 0, [b"libc.so.6.1"], {"2.36": 3}),
    ("alpha", 64, "<", 0x9026, 0, LIBC6, {"2.36": 1, "2.42": 3}),
    ("alpha", 32, "<", 0x9026, 0, [], {"2.36": "verbose:is a 32 bit ELF file.\n"}),
    ("ia64", 64, "<", 50, 0, [b"libc.so.6.1"], {"2.36": 0x203}),
    ("ia64", 32, "<", 50, 0, [b"libc.so.6.1"], {"2.36": 3}),
    ("hppa", 32, ">", 15, 0, [], {"2.36": 1, "2.42": 3}),
    ("sh4", 32, "<", 42, 0, LIBC6, {"2.36": 3}),
    ("or1k", 64, ">", 92, 0, [], {"2.42": "verbose:is a 64 bit ELF file.\n"}),
])
def test_port_flags(tmp_path: Path, arch: str, bits: int, order: str, machine: int,
                    eflags: int, needed: list[bytes], want: dict[str, object]) -> None:
    data = build_elf(bits, order, machine, eflags, needed=needed)
    for version, flags in want.items():
        assert flags_of(tmp_path, arch, version, data) == flags, version


def test_foreign_byte_order_is_silently_skipped(tmp_path: Path) -> None:
    """ldconfig reads in host order and never looks at EI_DATA: the e_type check fails."""
    for arch, bits, order, machine in (("x86_64", 64, ">", 62), ("mips64", 64, "<", 8),
                                       ("aarch64", 64, ">", 183)):
        assert probe_bytes(build_elf(bits, order, machine), tmp_path, ARCHES[arch]) \
            == Reject(None)


def test_interpreter_classification(tmp_path: Path) -> None:
    b = behaviour("2.36")
    cases = [("i386", b"/lib/ld-linux.so.1", 2), ("i386", b"/lib/ld-linux.so.2", 3),
             ("m68k", b"/lib/ld-linux.so.1", 2), ("m68k", b"/lib/ld.so.1", 3),
             ("powerpc", b"/lib64/ld64.so.2", 3), ("mipsel", b"/lib32/ld.so.1", 1),
             ("mipsn32el", b"/lib32/ld.so.1", 0x603),
             ("riscv64", b"/lib/ld-linux-riscv64-lp64.so.1", 0x1003),
             ("riscv64", b"/lib/ld-linux-riscv32-ilp32d.so.1", 0x1001),
             ("s390", b"/lib/ld64.so.1", 3), ("sparc", b"/lib/ld-linux.so.2", 3),
             ("sh4", b"/lib/ld.so.1", 1)]
    for arch_name, interp, want in cases:
        a = ARCHES[arch_name]
        machine = {"x86": 3, "m68k": 4, "powerpc": 20, "mips": 8, "riscv": 243, "s390": 22,
                   "sparc": 2, "sh": 42}[a.family]
        eflags = {"mipsn32el": 0x20, "riscv64": 0x4}.get(arch_name, 0)
        order = "<" if a.byte_order == "little" else ">"
        data = build_elf(32 if machine != 243 else 64, order, machine, eflags, interp=interp)
        res = probe_bytes(data, tmp_path, a, b)
        assert isinstance(res, Library) and res.flags == want, (arch_name, interp, res)


def test_soname_rules_by_version(tmp_path: Path) -> None:
    data = build_elf(32, "<", 3, sonames=[b"libsecond.so.2"])
    first = probe_bytes(data, tmp_path, ARCHES["i386"], behaviour("2.42"))
    last = probe_bytes(data, tmp_path, ARCHES["i386"], behaviour("2.36"))
    assert isinstance(first, Library) and first.soname == b"libt.so.1"
    assert isinstance(last, Library) and last.soname == b"libsecond.so.2" and last.flags == 1
    data = build_elf(32, "<", 3, needed=LIBC6, sonames=[b"libsecond.so.2"])
    res = probe_bytes(data, tmp_path, ARCHES["i386"], behaviour("2.36"))
    assert isinstance(res, Library) and res.soname == b"libt.so.1" and res.flags == 3


def test_osversion_only_up_to_2_35(tmp_path: Path) -> None:
    data = build_elf(64, "<", 62, abi_tag=(0, 3, 2, 0))
    for version, want in (("2.31", 0x030200), ("2.35", 0x030200), ("2.36", 0)):
        res = probe_bytes(data, tmp_path, X86_64, behaviour(version))
        assert isinstance(res, Library) and res.osversion == want
    res = probe(LIBDIR / "libc.so.6", X86_64, behaviour("2.31"))
    assert isinstance(res, Library) and res.osversion == 0x030200


def test_isa_level_only_from_2_33_and_only_on_x86(tmp_path: Path) -> None:
    data = build_elf(64, "<", 62, isa_needed=0b100)
    assert probe_bytes(data, tmp_path, X86_64, behaviour("2.33")).isa_level == 2  # type: ignore
    assert probe_bytes(data, tmp_path, X86_64, behaviour("2.32")).isa_level == 0  # type: ignore
    data = build_elf(64, ">", 8, isa_needed=0b100)
    assert probe_bytes(data, tmp_path, ARCHES["mips64"], behaviour("2.42")).isa_level == 0  # type: ignore
    assert read_elf_bytes(build_elf(64, "<", 62, isa_needed=0b1000)).isa_level == 3


def test_interp_parsed_as_property_in_2_37_and_2_38(tmp_path: Path) -> None:
    # A PT_INTERP whose bytes form an ISA property note, aligned like a property segment.
    desc = struct.pack("<II", 0xC0008002, 4) + struct.pack("<I", 0b10) + bytes(4)
    note = struct.pack("<III", 4, len(desc), 5) + b"GNU\0" + desc
    data = bytearray(build_elf(64, "<", 62, interp=note.replace(b"\0", b"\1")))
    start = data.index(note.replace(b"\0", b"\1"))
    data[start:start + len(note)] = note
    # PT_INTERP is the third program header; set its p_filesz and p_align (8).
    ph = 64 + 56 * 2
    assert struct.unpack_from("<I", data, ph)[0] == 3
    struct.pack_into("<Q", data, ph + 32, len(note))
    struct.pack_into("<Q", data, ph + 48, 8)
    got = {v: probe_bytes(bytes(data), tmp_path, X86_64, behaviour(v)).isa_level  # type: ignore
           for v in ("2.36", "2.37", "2.38", "2.39")}
    assert got == {"2.36": 0, "2.37": 1, "2.38": 1, "2.39": 0}


def test_unknown_machine_message_is_quiet_on_debian_only(tmp_path: Path) -> None:
    data = build_elf(64, "<", 183)
    debian = probe_bytes(data, tmp_path, X86_64, behaviour("2.36", debian=True))
    upstream = probe_bytes(data, tmp_path, X86_64, behaviour("2.36"))
    assert isinstance(debian, Reject) and debian.verbose_only
    assert isinstance(upstream, Reject) and not upstream.verbose_only
    assert upstream.message == f"{tmp_path}/libt.so.1 is for unknown machine 183.\n"


def test_gdb_suffixes_by_version(tmp_path: Path) -> None:
    for name, version, silent in (("libt.so-gdb.py", "2.36", True),
                                  ("libt.so-gdb.scm", "2.36", False),
                                  ("libt.so-gdb.scm", "2.40", True),
                                  ("libt.so-gdb.gdb", "2.42", True)):
        res = probe_bytes(b"python code " * 10, tmp_path, X86_64, behaviour(version), name)
        assert isinstance(res, Reject) and (res.message is None) == silent, (name, version)


def test_aout_per_port(tmp_path: Path) -> None:
    zmagic = 0o413
    cases = [("x86_64", struct.pack("<Q", zmagic) + bytes(100)),
             ("i386", struct.pack("<I", zmagic) + bytes(100)),
             ("s390x", struct.pack(">Q", zmagic) + bytes(100)),
             ("powerpc", struct.pack(">I", zmagic) + bytes(100)),
             ("sparc64", b"\0\0" + struct.pack(">H", zmagic) + bytes(100)),
             ("alpha", bytes(24) + struct.pack("<Q", zmagic) + bytes(100))]
    for arch, data in cases:
        for version, flag in (("2.36", 0), ("2.37", 3)):
            res = probe_bytes(data, tmp_path, ARCHES[arch], behaviour(version), "libx.so.1.2")
            assert res == Library(flag, b"libx.so.1"), (arch, version)
    # the same bytes mean nothing on a port that looks elsewhere
    assert probe_bytes(struct.pack(">Q", zmagic) + bytes(100), tmp_path, X86_64) == Reject(
        f"{tmp_path}/libt.so.1 is not an ELF file - it has the wrong magic bytes at the start.\n")
    # alpha's struct exec is 104 bytes: smaller files are not read
    assert probe_bytes(bytes(24) + struct.pack("<Q", zmagic) + bytes(40), tmp_path,
                       ARCHES["alpha"]) == Reject(None)


# --- hostile input: bounded work, no exceptions -----------------------------------------------

def hostile_files() -> Iterator[tuple[str, bytes]]:
    base = bytearray(build_elf(64, "<", 62, needed=LIBC6))
    ph = 64

    def with_phdr(index: int, fmt_off: int, value: int, fmt: str = "<Q") -> bytes:
        b = bytearray(base)
        struct.pack_into(fmt, b, ph + 56 * index + fmt_off, value)
        return bytes(b)

    b = bytearray(base)
    struct.pack_into("<H", b, 56, 0xFFFF)  # e_phnum 65535
    yield "phnum", bytes(b)
    b = bytearray(base)
    struct.pack_into("<Q", b, 32, len(base))  # e_phoff at the end
    yield "phoff-end", bytes(b)
    struct.pack_into("<Q", b, 32, 2**64 - 8)
    yield "phoff-wrap", bytes(b)
    yield "dyn-off-huge", with_phdr(1, 8, 2**63)
    yield "dyn-size-huge", with_phdr(1, 32, 2**64 - 1)
    # PT_DYNAMIC turned into a huge PT_GNU_PROPERTY / PT_NOTE with zero content
    for ptype in (0x6474E553, 4):
        b = bytearray(with_phdr(1, 32, 2**64 - 16))
        struct.pack_into("<I", b, ph + 56, ptype)
        struct.pack_into("<Q", b, ph + 56 + 48, 8)
        yield f"notes-{ptype:x}", bytes(b) + bytes(1 << 20)
    # a dynamic array without DT_NULL, 4 MiB long
    b = bytearray(base)
    dyn = struct.pack("<qQ", 1, 1) * (1 << 18)
    struct.pack_into("<Q", b, ph + 56 + 8, len(b))
    yield "dyn-no-null", bytes(b) + dyn
    # a soname without a terminating NUL for 1 MiB
    b = bytearray(base)
    dyn_off = struct.unpack_from("<Q", b, ph + 56 + 8)[0]
    entries = [struct.unpack_from("<qQ", b, dyn_off + 16 * i) for i in range(4)]
    strtab = dict(entries)[5] - 0x10000
    i = [t for t, _ in entries].index(14)
    struct.pack_into("<qQ", b, dyn_off + 16 * i, 14, len(b) - strtab)
    yield "long-soname", bytes(b) + b"x" * (1 << 20)
    # DT_STRTAB far outside the file (no PT_LOAD covers it either)
    b = bytearray(base)
    i = b.index(struct.pack("<q", 5))
    struct.pack_into("<Q", b, i + 8, 2**40)
    yield "strtab-out", bytes(b)
    # note with namesz near 2^32 (32-bit wrap on 32-bit hosts)
    b = bytearray(build_elf(32, "<", 3, isa_needed=1))
    i = b.index(struct.pack("<III", 4, 12, 5))
    struct.pack_into("<I", b, i, 0xFFFFFFF4)
    yield "note-wrap", bytes(b)


@pytest.mark.parametrize("arch", ["x86_64", "i386", "mips", "riscv64"])
def test_hostile_inputs_are_bounded(tmp_path: Path, arch: str) -> None:
    for label, data in hostile_files():
        p = tmp_path / "libt.so.1"
        p.write_bytes(data)
        for version in ("2.31", "2.36", "2.42"):
            started = time.monotonic()
            res = probe(p, ARCHES[arch], behaviour(version))
            assert isinstance(res, (Library, Reject)), label
            try:
                read_path(p, needed=True, osversion=True)
            except ELFError:
                pass
            assert time.monotonic() - started < 1.0, label


def test_bounded_divergences_are_rejects(tmp_path: Path) -> None:
    """Where glibc would read without limit, ldcache stops and says "truncated"."""
    got = {label: probe_bytes(data, tmp_path) for label, data in hostile_files()}
    assert got["dyn-no-null"] == Reject(f"file {tmp_path}/libt.so.1 is truncated\n")
    assert got["long-soname"] == Reject(f"file {tmp_path}/libt.so.1 is truncated\n")
    assert got["phnum"] == Reject(f"file {tmp_path}/libt.so.1 is truncated\n")
    assert got["dyn-size-huge"] == Library(0x303, b"libt.so.1")


# --- cost: a 500 MB library costs what its 120 kB original costs ------------------------------

class CountingPread:
    def __init__(self) -> None:
        self.calls = 0
        self.bytes = 0

    def __call__(self, fd: int, n: int, off: int) -> bytes:
        data = os.pread(fd, n, off)
        self.calls += 1
        self.bytes += len(data)
        return data


def cost(path: Path, monkeypatch: pytest.MonkeyPatch, b: Behaviour = B236) -> tuple[int, int]:
    counter = CountingPread()
    monkeypatch.setattr(elf, "_pread", counter)
    res = probe(path, X86_64, b)
    assert isinstance(res, Library)
    fd = os.open(path, os.O_RDONLY)
    try:
        read_elf(fd, os.fstat(fd).st_size, needed=True)
    finally:
        os.close(fd)
    monkeypatch.setattr(elf, "_pread", os.pread)
    return counter.calls, counter.bytes


def test_sparse_500mb_library_costs_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    orig = tmp_path / "libz.so.1"
    shutil.copyfile(LIBDIR / "libz.so.1", orig)
    big = tmp_path / "libbig.so.1"
    shutil.copyfile(orig, big)
    os.truncate(big, 500 << 20)
    assert os.stat(big).st_blocks * 512 < 4 << 20  # really sparse
    small_cost = cost(orig, monkeypatch)
    big_cost = cost(big, monkeypatch)
    assert big_cost == small_cost
    assert small_cost[1] < 32 << 10
    # A library whose dynamic array and strings sit 400 MB into a sparse file.
    data = bytearray(build_elf(64, "<", 62, needed=LIBC6, strtab_vaddr_shift=0))
    far = 400 << 20
    # move everything after the program headers to `far` by shifting offsets
    head_len = 64 + 56 * 2
    tail = bytes(data[head_len:])
    struct.pack_into("<QQQQQ", data, 64 + 8, 0, 0, 0, far + len(tail), far + len(tail))
    dyn_off, dyn_vaddr = struct.unpack_from("<QQ", data, 64 + 56 + 8)
    struct.pack_into("<QQQ", data, 64 + 56 + 8, dyn_off + far - 0, dyn_vaddr + far, dyn_vaddr + far)
    # rewrite DT_STRTAB (an address == file offset here) in the moved dynamic array
    tail_b = bytearray(tail)
    dpos = dyn_off - head_len
    for i in range(0, len(tail_b) - dpos, 16):
        tag, val = struct.unpack_from("<qQ", tail_b, dpos + i)
        if tag == 5:
            struct.pack_into("<qQ", tail_b, dpos + i, 5, val + far)
    # and keep the head's copy of the tail harmless
    p = tmp_path / "libfar.so.1"
    with open(p, "wb") as f:
        f.write(bytes(data[:head_len]))
        f.seek(far + head_len)
        f.write(bytes(tail_b))
    res = probe(p)
    assert res == Library(0x303, b"libt.so.1"), res
    calls, nbytes = cost(p, monkeypatch)
    assert nbytes < 16 << 10 and calls <= 10


def test_typical_library_costs_few_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = CountingPread()
    monkeypatch.setattr(elf, "_pread", counter)
    libs = sorted(p for p in LIBDIR.glob("lib*.so*") if p.is_file() and not p.is_symlink())
    for p in libs:
        probe(p)
    assert counter.calls <= 3.5 * len(libs)


def test_speed_report() -> None:
    """Not a benchmark gate (machines vary); prints µs/library for the report."""
    libs = [p for p in sorted(LIBDIR.glob("lib*.so*")) if p.is_file() and not p.is_symlink()]
    fds = [(os.open(p, os.O_RDONLY), p) for p in libs]
    try:
        for version in ("2.36", "2.42"):
            b = behaviour(version, debian=True)
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                for fd, p in fds:
                    process_file(fd, os.fstat(fd).st_size, os.fsencode(p), X86_64, b)
                best = min(best, time.perf_counter() - t)
            print(f"\n{version}: {best / len(fds) * 1e6:.1f} µs per library "
                  f"(fstat included) over {len(fds)} libraries")
    finally:
        for fd, _ in fds:
            os.close(fd)


def test_multilib_available_or_reported(tmp_path: Path) -> None:
    try:
        gcc(tmp_path, "m32.so", ["-m32", "-shared", "-fPIC"])
    except pytest.skip.Exception:
        pytest.skip("gcc -m32 unavailable: install gcc-multilib for the i386 cases")
    assert read_path(tmp_path / "m32.so").ei_class == 1


def test_arch_word_of_our_flags_matches_ldconfig_print(tmp_path: Path, ldconfig: str,
                                                       oracle: Oracle) -> None:
    """``ldconfig -p`` shows our computed flags the way arch_word renders them."""
    lib32 = gcc(tmp_path, "l32", ["-m32", "-shared", "-fPIC", "-nostdlib"])
    x32 = gcc(tmp_path, "lx32", ["-mx32", "-shared", "-fPIC"])
    files = [("libt.so.1", lib32.read_bytes()), ("libt.so.1", x32.read_bytes()),
             ("libt.so.1", (LIBDIR / "libz.so.1").read_bytes())]
    oracle.run(files)
    out = subprocess.run([ldconfig, "-p", "-C", str(oracle.root / "c")], capture_output=True,
                         check=True).stdout.decode()
    for k, (name, _data) in enumerate(files):
        res = probe(oracle.root / f"d{k}/glibc-hwcaps/t/{name}")
        assert isinstance(res, Library)
        word = B236.type_names[res.flags & 0xFF] + arch_word(res.flags, B236)
        assert f"({word}, hwcap: \"t\") => /d{k}/glibc-hwcaps/t/{name}" in out


# --- real objects from cross compilers (skipped where the compiler is not installed) --------

CROSS = [
    # (compiler triplet, flags, port whose ldconfig reads it, port arch_for_elf names,
    #  {glibc version: flags or None for a silent reject})
    ("aarch64-linux-gnu", [], "aarch64", "aarch64", {"2.31": 0xA03, "2.42": 0xA03}),
    ("aarch64-linux-gnu", ["-mbig-endian"], "aarch64_be", "aarch64_be", {"2.42": 0xA03}),
    ("aarch64-linux-gnu", [], "armhf", "aarch64", {"2.36": 0xA03}),  # e_machine unchecked
    ("arm-linux-gnueabihf", [], "armhf", "armhf", {"2.36": 0x903, "2.42": 0x903}),
    ("arm-linux-gnueabihf", ["-mfloat-abi=soft"], "armhf", "armel", {"2.36": 0xB03}),
    ("arm-linux-gnueabi", [], "armel", "armel", {"2.36": 0xB03, "2.42": 0xB03}),
    ("powerpc64le-linux-gnu", [], "ppc64le", "ppc64le", {"2.36": 0x503, "2.42": 0x503}),
    ("powerpc64le-linux-gnu", ["-mbig-endian"], "ppc64", "ppc64", {"2.36": 0x503}),
    ("powerpc-linux-gnu", [], "powerpc", "powerpc", {"2.36": 1, "2.42": 3}),
    ("powerpc-linux-gnu", ["-m64"], "powerpc", "ppc64", {"2.36": 0x503}),
    ("s390x-linux-gnu", [], "s390x", "s390x", {"2.36": 0x403, "2.42": 0x403}),
    ("s390x-linux-gnu", ["-m31"], "s390x", "s390", {"2.36": 1, "2.42": 3}),
    ("mips64el-linux-gnuabi64", [], "mips64el", "mips64el", {"2.31": 0x703, "2.42": 0x703}),
    ("mips64el-linux-gnuabi64", ["-mabi=n32"], "mips64el", "mipsn32el", {"2.36": 0x603}),
    ("mips64el-linux-gnuabi64", ["-mabi=32"], "mipsel", "mipsel", {"2.36": 1, "2.42": 3}),
    ("mips64el-linux-gnuabi64", ["-EB"], "mips64", "mips64", {"2.36": 0x703}),
    ("mips64el-linux-gnuabi64", ["-EB", "-mabi=n32"], "mips64", "mipsn32", {"2.36": 0x603}),
    ("mips64el-linux-gnuabi64", ["-mnan=2008"], "mips64el_nan2008", "mips64el_nan2008",
     {"2.36": 0xE03}),
    ("mips64el-linux-gnuabi64", ["-mabi=n32", "-mnan=2008"], "mips64el", "mipsn32el_nan2008",
     {"2.36": 0xD03}),
    ("mipsisa32r6el-linux-gnu", [], "mipsel_nan2008", "mipsel_nan2008", {"2.36": 0xC03}),
    ("mipsisa32r6el-linux-gnu", ["-mabi=64"], "mipsel_nan2008", "mips64el_nan2008",
     {"2.36": 0xE03}),
    ("riscv64-linux-gnu", [], "riscv64", "riscv64", {"2.36": 0x1001, "2.42": 0x1003}),
    ("riscv64-linux-gnu", ["-march=rv64imac", "-mabi=lp64"], "riscv64", "riscv64_soft",
     {"2.36": 0xF01, "2.42": 0xF03}),
    ("riscv64-linux-gnu", ["-march=rv64imafc", "-mabi=lp64f"], "riscv64", None,
     {"2.36": None, "2.42": None}),
    ("riscv64-linux-gnu", ["-march=rv32imafdc", "-mabi=ilp32d"], "riscv64", "riscv32",
     {"2.42": 0x1003}),
    ("riscv64-linux-gnu", ["-march=rv32imac", "-mabi=ilp32"], "riscv32_soft", "riscv32_soft",
     {"2.42": 0xF03}),
    ("alpha-linux-gnu", [], "alpha", "alpha", {"2.36": 1, "2.42": 3}),
    ("arc-linux-gnu", [], "arc", "arc", {"2.36": 1, "2.42": 3}),
    ("hppa-linux-gnu", [], "hppa", "hppa", {"2.36": 1, "2.42": 3}),
    ("m68k-linux-gnu", [], "m68k", "m68k", {"2.36": 1, "2.42": 3}),
    ("sh4-linux-gnu", [], "sh4", "sh4", {"2.36": 1, "2.42": 3}),
    ("sparc64-linux-gnu", [], "sparc64", "sparc64", {"2.36": 0x103, "2.42": 0x103}),
    ("sparc64-linux-gnu", ["-m32"], "sparc64", "sparc", {"2.36": 1, "2.42": 3}),
    ("sparc64-linux-gnu", ["-m32"], "sparc", "sparc", {"2.42": 3}),
]


def cross_gcc(triplet: str) -> str | None:
    for name in (f"{triplet}-gcc", f"{triplet}-gcc-12", f"{triplet}-gcc-13", f"{triplet}-gcc-14"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.parametrize("triplet,flags,port,ident,want", CROSS,
                         ids=[f"{c[0]}{''.join(c[1])}@{c[2]}" for c in CROSS])
def test_cross_built_libraries(tmp_path: Path, triplet: str, flags: list[str], port: str,
                               ident: str | None, want: dict[str, int | None]) -> None:
    cc = cross_gcc(triplet)
    if cc is None:
        pytest.skip(f"no {triplet}-gcc (Debian: gcc-{triplet})")
    src = tmp_path / "x.c"
    src.write_text("int f(void) { return 42; }\n")
    out = tmp_path / "libx.so.1.0"
    subprocess.run([cc, *flags, "-shared", "-fPIC", "-nostdlib", "-Wl,-soname,libx.so.1",
                    "-o", str(out), str(src)], check=True, capture_output=True)
    info = read_path(out, needed=True)
    found = arch_for_elf(info.ei_class, info.ei_data, info.e_machine, info.e_flags)
    assert (found.name if found else None) == ident
    view = pyelftools_view(out)
    assert {k: getattr(info, k) for k in view} == view
    for version, flags_wanted in want.items():
        res = probe(out, ARCHES[port], behaviour(version))
        if flags_wanted is None:
            assert res == Reject(None), version
        else:
            assert res == Library(flags_wanted, b"libx.so.1"), version


# --- read_note against pyelftools ------------------------------------------------------------

def _pyelftools_notes(path: Path, *, segments: bool = False) -> list[tuple[str, int, bytes, str]]:
    """Every note pyelftools finds, in file order: (owner, raw n_type, descriptor, where) —
    in the SHT_NOTE sections, or in the PT_NOTE segments."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import NoteSection
    from elftools.elf.segments import NoteSegment

    out = []
    with open(path, "rb") as f:
        ef = ELFFile(f)
        order = "<" if ef.little_endian else ">"
        holders = ([(s, "") for s in ef.iter_segments() if isinstance(s, NoteSegment)]
                   if segments else
                   [(s, s.name) for s in ef.iter_sections() if isinstance(s, NoteSection)])
        for holder, name in holders:
            for note in holder.iter_notes():
                f.seek(note["n_offset"] + 8)
                raw_type = struct.unpack(order + "I", f.read(4))[0]
                out.append((note["n_name"], raw_type, bytes(note["n_descdata"]), name))
    return out


def _read_note(path: Path, owner: bytes, note_type: int | None = None, **kw: bytes | None
               ) -> bytes | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        return elf.read_note(fd, os.fstat(fd).st_size, owner, note_type, **kw)
    finally:
        os.close(fd)


def _noted_library(tmp_path: Path, name: str = "libnoted.so.1", flags: Sequence[str] = ()
                   ) -> Path:
    from support.hookroots import note_asm

    code = ("int f(void) { return 42; }\n"
            + note_asm(".note.test", b"Test Owner\0", b"first\0", note_type=7)
            + note_asm(".note.test", b"Test Owner\0", b"second desc\0", note_type=9)
            + note_asm(".note.test", b"Other\0", b"\x01\x02\x03", note_type=7)
            + note_asm(".note.other", b"Test Owner\0", b"in another section 8.24\0", note_type=11,
                       align=8)
            + note_asm(".note.cuda.fwd_compatibility", b"NVIDIA Corporation\0",
                       b'{"CUDA Version": "12.9"}\0'))
    return gcc(tmp_path, name, ["-shared", "-fPIC", "-Wl,--build-id", *flags], code)


def _expected(notes: list[tuple[str, int, bytes, str]], owner: str, note_type: int | None,
              section: str | None = None) -> bytes | None:
    for n_owner, n_type, desc, where in notes:
        if section is not None and where != section:
            continue
        if n_owner == owner and (note_type is None or n_type == note_type):
            return desc
    return None


@pytest.mark.parametrize("flags", [[], ["-m32"]], ids=["64", "32"])
def test_read_note_matches_pyelftools(tmp_path: Path, flags: list[str]) -> None:
    lib = _noted_library(tmp_path, flags=flags)
    notes = _pyelftools_notes(lib)
    assert {n[0] for n in notes} >= {"GNU", "Test Owner", "Other", "NVIDIA Corporation"}
    queries = {(owner, t) for owner, t, _d, _w in notes} | {(owner, None) for owner, *_ in notes}
    queries |= {("Test Owner", 8), ("Nobody", None), ("GNU", 12345)}
    for owner, t in sorted(queries, key=repr):
        assert _read_note(lib, owner.encode(), t) == _expected(notes, owner, t), (owner, t)
    for section in (".note.test", ".note.other", ".note.cuda.fwd_compatibility",
                    ".note.gnu.build-id", ".text", ".nothing"):
        for owner, t in sorted(queries, key=repr):
            want = _expected(notes, owner, t, section)
            assert _read_note(lib, owner.encode(), t, section=section.encode()) == want, \
                (section, owner, t)
    assert _read_note(lib, b"Test Owner", 9) == b"second desc\0"
    assert _read_note(lib, b"Test Owner", 11) == b"in another section 8.24\0"
    assert _read_note(lib, b"NVIDIA Corporation",
                      section=b".note.cuda.fwd_compatibility") == b'{"CUDA Version": "12.9"}\0'


def test_read_note_in_segments_without_section_headers(tmp_path: Path) -> None:
    lib = _noted_library(tmp_path)
    data = bytearray(lib.read_bytes())
    data[0x28:0x30] = bytes(8)  # e_shoff
    data[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    bare = tmp_path / "bare.so"
    bare.write_bytes(bytes(data))
    notes = _pyelftools_notes(bare, segments=True)
    assert notes and {n[0] for n in notes} >= {"GNU", "Test Owner"}
    for owner, t in {(o, t) for o, t, *_ in notes} | {(o, None) for o, *_ in notes} | {
            ("Nobody", None)}:
        assert _read_note(bare, owner.encode(), t) == _expected(notes, owner, t), (owner, t)
    # A named section cannot be found without section headers.
    assert _read_note(bare, b"Test Owner", section=b".note.test") is None


def test_read_note_on_system_libraries_matches_pyelftools() -> None:
    checked = 0
    for path in sorted(LIBDIR.glob("lib*.so*"))[:200]:
        if path.is_symlink() or not path.is_file():
            continue
        try:
            notes = _pyelftools_notes(path)
        except Exception:  # noqa: BLE001 - pyelftools raises many things on odd files
            continue
        for owner, t in {(o, t) for o, t, *_ in notes}:
            assert _read_note(path, owner.encode(), t) == _expected(notes, owner, t), path
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("mangle,error", [
    (lambda d: d[:10], "too small"),
    (lambda d: b"\x7fELX" + d[4:], "not an ELF file"),
    (lambda d: d[:0x28] + (len(d) * 3).to_bytes(8, "little") + d[0x30:], "truncated"),
    (lambda d: d[:0x3A] + (1).to_bytes(2, "little") + d[0x3C:], "section header size"),
])
def test_read_note_errors(tmp_path: Path, mangle, error: str) -> None:
    lib = _noted_library(tmp_path)
    bad = tmp_path / "bad.so"
    bad.write_bytes(mangle(lib.read_bytes()))
    with pytest.raises(ELFError, match=error):
        _read_note(bad, b"Test Owner")


def test_read_note_truncated_note_and_bounded_reads(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lib = _noted_library(tmp_path)
    data = bytearray(lib.read_bytes())
    at = data.find(b"Test Owner\0") - 12
    data[at + 4:at + 8] = (1 << 31).to_bytes(4, "little")  # descsz far past the section
    bad = tmp_path / "bad.so"
    bad.write_bytes(bytes(data))
    with pytest.raises(ELFError, match="truncated note"):
        _read_note(bad, b"Test Owner")
    sizes: list[int] = []
    real = os.pread

    def counting(fd: int, n: int, off: int) -> bytes:
        sizes.append(n)
        return real(fd, n, off)

    monkeypatch.setattr(elf, "_pread", counting)
    assert _read_note(lib, b"Test Owner", 9, section=b".note.test") == b"second desc\0"
    assert len(sizes) <= 6 and max(sizes) < 4096


@pytest.mark.parametrize("path", ["/usr/lib/x86_64-linux-gnu/libc.so.6",
                                  "/usr/lib/x86_64-linux-gnu/libz.so.1",
                                  "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"])
def test_section_span_against_pyelftools(path):
    """section_span finds each section where pyelftools does (first of each name), and
    None for a name the file lacks."""
    from elftools.elf.elffile import ELFFile

    if not os.path.exists(path):
        pytest.skip(f"no {path} on this machine")
    with open(path, "rb") as f:
        want = {}
        for sec in ELFFile(f).iter_sections():
            want.setdefault(sec.name.encode(), (sec["sh_offset"], sec["sh_size"]))
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        for name in (b".rodata", b".dynstr", b".text", b".note.gnu.build-id"):
            assert elf.section_span(fd, size, name) == want.get(name), name
        assert elf.section_span(fd, size, b".no-such-section") is None
    finally:
        os.close(fd)
