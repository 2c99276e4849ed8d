"""``ldcache lookup`` against the real loader.

A root is assembled from the machine's libc and dynamic loaders and gcc-built libraries
(glibc-hwcaps subdirectories with x86-64-v2/v3/v4 objects, a custom subdirectory,
competing directories, 32-bit libraries); the machine's ldconfig writes its cache; then
the machine's ``ld.so --list`` is run *inside* the root (``chroot``: the only way to point
the loader at a given cache), with ``--glibc-hwcaps-prepend``/``--glibc-hwcaps-mask``
varying the active subdirectories, and every answer is compared with the simulation.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Sequence

import pytest
from support.gcclib import build_library, have_gcc, install_library
from support.synthroots import copy_host_runtime, install_hwcaps_levels, write

from ldcache.arch import ARCHES
from ldcache.format import Cache, Entry, read_cache
from ldcache.lookup import (
    Loader,
    active_hwcaps,
    cpu_x86_64_level,
    default_loader,
    lookup,
    parse_kernel_version,
)

LD64 = "/lib64/ld-linux-x86-64.so.2"
LD32 = "/lib32/ld-linux.so.2"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
X86_64 = ARCHES["x86_64"]
SONAMES64 = ["libisa.so.1", "libonlyv2.so.1", "libcomp.so.1", "libmixed.so.1",
             "libcustom.so.1", "libc.so.6"]
SONAMES32 = ["libmixed.so.1", "lib32only.so.1", "libc.so.6"]

pytestmark = pytest.mark.skipif(not os.path.exists(LD64) or shutil.which("gcc") is None,
                                reason="needs the x86-64 loader and gcc")


def _ldso_help() -> str:
    return subprocess.run([LD64, "--help"], capture_output=True, text=True).stdout


def _supported_levels() -> list[str]:
    return re.findall(r"^\s+(x86-64-v\d) \(supported, searched\)", _ldso_help(), re.M)


def test_cpu_level_matches_the_loader():
    """/proc/cpuinfo gives the same x86-64 levels as ld.so's own CPU check."""
    supported = _supported_levels()
    level = cpu_x86_64_level()
    assert level is not None
    assert active_hwcaps(X86_64, (2, 36), isa_level=level) == tuple(
        sorted(supported, reverse=True))


def test_cpu_level_from_text():
    base = "flags : fpu cmov cx8 mmx sse sse2 syscall fxsr\n"
    v2 = base.rstrip("\n") + " cx16 lahf_lm popcnt pni sse4_1 sse4_2 ssse3\n"
    v3 = v2.rstrip("\n") + " avx avx2 bmi1 bmi2 f16c fma abm movbe\n"
    assert cpu_x86_64_level(base) == 1
    assert cpu_x86_64_level(v2) == 2
    assert cpu_x86_64_level(v3) == 3
    assert cpu_x86_64_level(v3.replace(" fma", "")) == 2
    assert cpu_x86_64_level("processor : 0\n") is None


def test_kernel_version():
    assert parse_kernel_version("6.1.0-18-amd64") == 0x060100
    assert parse_kernel_version("5.15.153.1-microsoft") == 0x050F99
    assert parse_kernel_version("4") == 0x040000


# --- the root ------------------------------------------------------------------------------

def _program(path: Path, libs: list[Path], flags: Sequence[str] = ()) -> None:
    src = path.with_suffix(".c")
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", *flags, "-Wl,--no-as-needed", "-o", str(path), str(src),
                    *map(str, libs)], check=True, capture_output=True)
    src.unlink()


@pytest.fixture(scope="module")
def hwroot(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, ldconfig -r)")
    if shutil.which("ldconfig") is None and not os.path.exists("/sbin/ldconfig"):
        pytest.skip("no ldconfig")
    root = tmp_path_factory.mktemp("hwroot")
    copy_host_runtime(root)
    hw = root / "opt/hw"
    install_hwcaps_levels(hw, "libisa.so.1.0", "libonlyv2.so.1")
    install_library(hw / "glibc-hwcaps/custom/libisa.so.1.0", "libisa.so.1", symbol="c")
    install_library(hw / "glibc-hwcaps/custom/libcustom.so.1", "libcustom.so.1")
    install_library(hw / "libcustom.so.1", "libcustom.so.1", symbol="base")
    install_library(root / "opt/first/libcomp.so.1", "libcomp.so.1", symbol="first")
    install_library(root / "opt/second/libcomp.so.1", "libcomp.so.1", symbol="second")
    install_library(root / "opt/second/libmixed.so.1", "libmixed.so.1")
    with32 = have_gcc("-m32") and os.path.exists(LD32)
    if with32:
        install_library(root / "opt/first/libmixed.so.1", "libmixed.so.1", flags=["-m32"])
        install_library(root / "opt/first/lib32only.so.1", "lib32only.so.1", flags=["-m32"])
        lib32 = root / "opt/lib32sys"
        lib32.mkdir(parents=True)
        shutil.copy2(os.path.realpath("/lib32/libc.so.6"), lib32 / "libc.so.6")
        shutil.copy2(os.path.realpath(LD32), root / "lib/ld-linux.so.2")
    write(root / "etc/ld.so.conf", "/opt/hw\n/opt/first\n/opt/second\n/opt/lib32sys\n")
    # One program per SONAME: ld.so --list stops at the first library it cannot find.
    for soname in SONAMES64:
        _program(root / f"prog-{soname}", [_lib_for(soname, [])])
    if with32:
        for soname in SONAMES32:
            _program(root / f"prog32-{soname}", [_lib_for(soname, ["-m32"])], ["-m32"])
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    subprocess.run([ldconfig, "-r", str(root)], check=True, capture_output=True)
    return root


def _lib_for(soname: str, flags: list[str]) -> Path:
    if soname == "libc.so.6":
        return Path("/lib32/libc.so.6" if flags else "/lib/x86_64-linux-gnu/libc.so.6")
    if soname == "libonlyv2.so.1":
        flags = [*flags, "-Wl,-z,x86-64-v2"]
    return build_library(soname, flags=flags)


def _real(root: Path, loader: str, prog: str, args: list[str],
          sonames: list[str]) -> dict[str, str | None]:
    """What the real loader opens for each SONAME (None: it finds none)."""
    found: dict[str, str | None] = {}
    for soname in sonames:
        out = subprocess.run([CHROOT, str(root), loader, *args, "--list", f"{prog}-{soname}"],
                             capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        for line in out.stdout.splitlines():
            m = re.match(r"\s*(\S+) => (\S+) \(0x", line)
            if m and m.group(1) == soname:
                found[soname] = m.group(2)
        if soname not in found:
            assert f"{soname}: cannot open shared object file" in out.stderr, out.stderr
            found[soname] = None
    return found


CASES = [
    ([], None),
    ([], ["x86-64-v2"]),
    ([], ["x86-64-v3", "x86-64-v2"]),
    ([], ["x86-64-v4"]),
    ([], []),
    (["custom"], None),
    (["custom"], []),
    (["x86-64-v2"], ["x86-64-v4"]),
    (["nosuch", "x86-64-v3"], ["x86-64-v2"]),
]


@pytest.mark.parametrize("prepend,mask", CASES,
                         ids=[f"prepend={':'.join(p) or '-'},mask="
                              f"{'none' if m is None else ':'.join(m) or 'empty'}"
                              for p, m in CASES])
def test_lookup_matches_ld_so(hwroot, prepend, mask):
    args = []
    if prepend:
        args += ["--glibc-hwcaps-prepend", ":".join(prepend)]
    if mask is not None:
        args += ["--glibc-hwcaps-mask", ":".join(mask)]
    real = _real(hwroot, "/lib64/ld-linux-x86-64.so.2", "/prog", args, SONAMES64)
    cache = read_cache(hwroot / "etc/ld.so.cache")
    loader = default_loader(X86_64, (2, 36), prepend=prepend, mask=mask)
    for soname in SONAMES64:
        mine = lookup(cache, soname.encode(), loader).path
        # Not in the cache (or nothing acceptable): the loader goes on to its default
        # directories, where these test libraries are not.
        assert (os.fsdecode(mine) if mine else None) == real[soname], soname


def test_lookup_finds_hwcaps_and_explains(hwroot):
    cache = read_cache(hwroot / "etc/ld.so.cache")
    loader = default_loader(X86_64, (2, 36), isa_level=3)
    result = lookup(cache, b"libisa.so.1", loader)
    assert result.path == b"/opt/hw/glibc-hwcaps/x86-64-v3/libisa.so.1.0"
    verdicts = {os.fsdecode(c.entry.path): (c.verdict, c.reason) for c in result.candidates}
    assert verdicts["/opt/hw/glibc-hwcaps/x86-64-v4/libisa.so.1.0"][0] == "rejected"
    assert "x86-64-v4" in verdicts["/opt/hw/glibc-hwcaps/x86-64-v4/libisa.so.1.0"][1]
    assert verdicts["/opt/hw/glibc-hwcaps/x86-64-v2/libisa.so.1.0"][0] == "lost"
    assert "not active" in verdicts["/opt/hw/glibc-hwcaps/custom/libisa.so.1.0"][1]
    assert verdicts["/opt/hw/libisa.so.1"][0] == "not-reached"


def test_lookup_32bit_loader(hwroot):
    if not (hwroot / "prog32-libc.so.6").exists():
        pytest.skip("no gcc -m32 or 32-bit loader")
    real = _real(hwroot, "/lib/ld-linux.so.2", "/prog32", [], SONAMES32)
    cache = read_cache(hwroot / "etc/ld.so.cache")
    loader = default_loader(ARCHES["i386"], (2, 36))
    for soname in SONAMES32:
        mine = lookup(cache, soname.encode(), loader)
        assert (os.fsdecode(mine.path) if mine.path else None) == real[soname], soname
    mixed = lookup(cache, b"libmixed.so.1", loader)
    assert [c.verdict for c in mixed.candidates] == ["rejected", "chosen"]
    assert "0x0303" in mixed.candidates[0].reason
    # The 64-bit loader takes the other one.
    assert lookup(cache, b"libmixed.so.1", default_loader(X86_64, (2, 36))).path == \
        b"/opt/second/libmixed.so.1"


def test_lookup_cli(hwroot, capsys):
    from ldcache.cli import main

    assert main(["lookup", "-r", str(hwroot), "--isa-level", "2", "libisa.so.1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("libisa.so.1 => /opt/hw/glibc-hwcaps/x86-64-v2/libisa.so.1.0\n")
    assert main(["lookup", "-r", str(hwroot), "--glibc-hwcaps-mask", "", "libonlyv2.so.1"]) == 1
    assert "not found" in capsys.readouterr().out


# --- cache-level rules, on made-up caches ----------------------------------------------------

def _loader(**kw: object) -> Loader:
    base = dict(arch=X86_64, version=(2, 36), hwcaps=(), isa_level=4, legacy_hwcap=2,
                kernel=0x060000)
    base.update(kw)
    return Loader(**base)  # type: ignore[arg-type]


def test_unsorted_table_hides_entries():
    # Ascending instead of descending: the binary search walks the wrong way.
    entries = tuple(Entry(f"lib{c}.so.1".encode(), f"/l/lib{c}.so.1".encode(), 0x303)
                    for c in "abcdefg")
    good = Cache(entries=tuple(reversed(entries)))
    bad = Cache(entries=entries)
    assert lookup(good, b"libb.so.1", _loader()).path == b"/l/libb.so.1"
    result = lookup(bad, b"libb.so.1", _loader())
    assert result.path is None
    assert result.candidates[0].verdict == "not-reached"
    assert "not sorted" in result.candidates[0].reason


def test_char_signedness_decides_order():
    # b"\xe9" sorts below b"a" with signed char (x86) and above b"z" with unsigned (arm).
    hi = Entry(b"lib\xe9.so", b"/l/hi", 0x3)
    a = Entry(b"liba.so", b"/l/a", 0x3)
    z = Entry(b"libz.so", b"/l/z", 0x3)
    signed_order = Cache(entries=(z, a, hi))  # descending with signed char
    unsigned_order = Cache(entries=(hi, z, a))
    i386 = _loader(arch=ARCHES["i386"])
    armhf = _loader(arch=ARCHES["armhf"], isa_level=None)
    assert lookup(signed_order, b"lib\xe9.so", i386).path == b"/l/hi"
    assert lookup(unsigned_order, b"lib\xe9.so", armhf).path == b"/l/hi"
    assert lookup(unsigned_order, b"lib\xe9.so", i386).path is None
    assert lookup(signed_order, b"lib\xe9.so", armhf).path is None


def test_fallback_flags_and_old_loader_rule():
    # i386: FLAG_ELF (1) is accepted but is not the default id; a later default one...
    e1 = Entry(b"libx.so.1", b"/a/libx.so.1", 0x1)
    e3 = Entry(b"libx.so.1", b"/b/libx.so.1", 0x3)
    c = Cache(entries=(e1, e3))
    i386 = ARCHES["i386"]
    # ≥ 2.34, new table: the first acceptable entry ends the search at the next one.
    r = lookup(c, b"libx.so.1", _loader(arch=i386))
    assert r.path == b"/a/libx.so.1"
    assert r.candidates[1].verdict == "not-reached"
    # old table: later acceptable entries replace the fallback.
    r = lookup(c.replace(layout="old"), b"libx.so.1", _loader(arch=i386))
    assert r.path == b"/b/libx.so.1"
    assert r.candidates[0].verdict == "lost"


def test_byte_order_mismatch_ignores_cache():
    c = Cache(entries=(Entry(b"libx.so.1", b"/x", 0x303),), byte_order="big")
    r = lookup(c, b"libx.so.1", _loader())
    assert r.path is None and r.table is None
    assert "byte order" in r.candidates[0].reason


def test_legacy_hwcap_rules():
    tls = Entry(b"libx.so.1", b"/tls/libx.so.1", 0x303, hwcap=1 << 63)
    haswell = Entry(b"libx.so.1", b"/haswell/libx.so.1", 0x303, hwcap=1 << 50)
    plain = Entry(b"libx.so.1", b"/libx.so.1", 0x303)
    c = Cache(entries=(haswell, tls, plain))
    r = lookup(c, b"libx.so.1", _loader())
    assert r.path == b"/tls/libx.so.1"
    assert r.candidates[0].verdict == "rejected"
    # glibc 2.40 loaders skip every legacy entry.
    assert lookup(c, b"libx.so.1", _loader(version=(2, 40))).path == b"/libx.so.1"
