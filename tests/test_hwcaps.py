"""Legacy hwcap/platform subdirectory names per port (glibc ≤ 2.36): ldcache.hwcaps against
the glibc sources of every release 2.31–2.36 (values extracted into tests/data/glibc/facts.json,
see README.md there), and against real ldconfigs on Debian roots of
four ports (bookworm 2.36: arm64, armhf, ppc64el, s390x under qemu-user; bullseye 2.31:
arm64, armhf in every layout; trixie 2.41, which ignores such directories)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import pytest
from support import debroots
from support.synthroots import tree

from ldcache.arch import ARCHES
from ldcache.format import parse
from ldcache.hwcaps import FAMILIES, TLS_MASK, legacy_hwcaps

RELEASES = [(2, minor) for minor in range(31, 37)]
PROJECT = Path(__file__).resolve().parent.parent
#: Values parsed from the glibc sources of every release, with provenance (README.md there).
GLIBC_DATA = Path(__file__).resolve().parent / "data" / "glibc"
FACTS_JSON = GLIBC_DATA / "facts.json"
#: A glibc git repository, only for re-extracting facts.json (test_facts_are_reproducible).
GLIBC_GIT = Path(os.environ.get("LDCACHE_GLIBC_GIT", "/work/.mirror/bminor+glibc/repo"))

#: family → (file with the hwcap name array, its C name, file with the platform array,
#: its C name) as ldconfig of that port compiles them.
SOURCES: Dict[str, tuple] = {
    "x86": ("sysdeps/x86/dl-procinfo.c", "_dl_x86_hwcap_flags",
            "sysdeps/x86/dl-procinfo.c", "_dl_x86_platforms"),
    "aarch64": ("sysdeps/unix/sysv/linux/aarch64/dl-procinfo.c", "_dl_aarch64_cap_flags",
                None, None),
    "arm": ("sysdeps/unix/sysv/linux/arm/dl-procinfo.c", "_dl_arm_cap_flags", None, None),
    "powerpc": ("sysdeps/powerpc/dl-procinfo.c", "_dl_powerpc_cap_flags", None, None),
    "s390": ("sysdeps/s390/dl-procinfo.c", "_dl_s390_cap_flags",
             "sysdeps/s390/dl-procinfo.c", "_dl_s390_platforms"),
    "sparc": ("sysdeps/sparc/dl-procinfo.c", "_dl_sparc_cap_flags", None, None),
    "mips": (None, None, "sysdeps/mips/dl-procinfo.c", "_dl_mips_platforms"),
    "alpha": (None, None, "sysdeps/alpha/dl-procinfo.c", "_dl_alpha_platforms"),
    "csky": (None, None, "sysdeps/csky/dl-procinfo.c", "_dl_csky_platforms"),
}

PPC_HEADER = "sysdeps/powerpc/dl-procinfo.h"
SPARC_V9_TEXT = "__WORDSIZE == 64 ? 0 : HWCAP_SPARC_V9"
FactKey = Tuple[str, str, str, str, Optional[str]]


def tag_of(release: Tuple[int, int]) -> str:
    return f"glibc-{release[0]}.{release[1]}"


@functools.lru_cache(maxsize=None)
def glibc_facts() -> Tuple[Dict[str, str], Dict[FactKey, dict]]:
    """facts.json as (tag → commit, (tag, path, symbol, kind, text) → fact)."""
    doc = json.loads(FACTS_JSON.read_text(encoding="ascii"))
    tags, index = doc["tags"], {}
    for fact in doc["facts"]:
        key = (fact["tag"], fact["path"], fact["symbol"], fact["kind"], fact.get("text"))
        assert key not in index, f"duplicate fact {key}"
        assert re.fullmatch(r"[0-9a-f]{40}", fact["commit"]) and re.fullmatch(
            r"[0-9a-f]{40}", fact["blob"]), fact
        assert fact["commit"] == tags[fact["tag"]], fact   # one commit per tag
        index[key] = fact
    return tags, index


def fact(tag: str, path: str, symbol: str, kind: str, text: Optional[str] = None):
    """The value of one extracted fact; a missing fact fails (never skips) the test."""
    key = (tag, path, symbol, kind, text)
    found = glibc_facts()[1].get(key)
    assert found is not None, f"{FACTS_JSON} has no fact {key}: re-run extract.py"
    return found["value"]


def test_facts_cover_every_release_and_family():
    """facts.json has every parametrised release, with facts for every family in each."""
    tags, index = glibc_facts()
    assert sorted(tags) == sorted(tag_of(r) for r in RELEASES)
    families = {(f["tag"], f["family"]) for f in index.values()}
    assert {(tag_of(r), family) for r in RELEASES for family in SOURCES} <= families
    for release in RELEASES:
        for family, (names_file, names_var, plat_file, plat_var) in SOURCES.items():
            for path, var in ((names_file, names_var), (plat_file, plat_var)):
                if path:
                    assert fact(tag_of(release), path, var, "string_array"), (family, var)


def test_facts_are_reproducible(tmp_path):
    """Re-extracting facts.json from a glibc git repository reproduces it byte for byte."""
    if not (GLIBC_GIT / "HEAD").exists():
        pytest.skip(f"no glibc git repository at {GLIBC_GIT} (set LDCACHE_GLIBC_GIT) to "
                    "re-extract tests/data/glibc/facts.json from")
    out = tmp_path / "facts.json"
    got = subprocess.run([sys.executable, str(GLIBC_DATA / "extract.py"), str(GLIBC_GIT),
                          "-o", str(out)], capture_output=True)
    assert got.returncode == 0, got.stderr.decode()
    assert out.read_bytes() == FACTS_JSON.read_bytes()


@pytest.mark.parametrize("release", RELEASES, ids=[f"{a}.{b}" for a, b in RELEASES])
@pytest.mark.parametrize("family", sorted(SOURCES))
def test_tables_match_the_glibc_sources(family, release):
    tag = tag_of(release)
    table = legacy_hwcaps(family, version=release)
    names_file, names_var, plat_file, plat_var = SOURCES[family]
    names = fact(tag, names_file, names_var, "string_array") if names_file else []
    assert list(table.hwcap_names) == names
    if family == "powerpc":
        count = fact(tag, PPC_HEADER, "_DL_PLATFORMS_COUNT", "define")
        platforms = fact(tag, PPC_HEADER, "PPC_PLATFORM_*", "ppc_platforms")
        defines = fact(tag, PPC_HEADER, "PPC_PLATFORM_*", "defines")
        assert sorted(defines.values()) == list(range(len(platforms)))
        assert list(table.platforms) == platforms[:count]
        # Every platform string is accepted by the hand-written parser of that release.
        if "power10" not in table.platforms:
            assert fact(tag, PPC_HEADER, "PPC_PLATFORM_POWER10", "contains",
                        "PPC_PLATFORM_POWER10") is False
            assert "PPC_PLATFORM_POWER10" not in defines
    elif plat_file:
        assert list(table.platforms) == fact(tag, plat_file, plat_var, "string_array")
    else:
        assert table.platforms == ()


@pytest.mark.parametrize("release", RELEASES, ids=[f"{a}.{b}" for a, b in RELEASES])
def test_first_platform_and_first_extra(release):
    """``_DL_FIRST_PLATFORM`` and ``_DL_FIRST_EXTRA`` (2.31's ``hwcap N NAME`` base) per port."""
    tag = tag_of(release)
    headers = {"x86": "sysdeps/x86/dl-procinfo.h", "powerpc": PPC_HEADER,
               "s390": "sysdeps/s390/dl-procinfo.h"}
    for family, header in headers.items():
        first = fact(tag, header, "_DL_FIRST_PLATFORM", "define")
        table = legacy_hwcaps(family, version=release)
        assert table.first_platform == first
        assert table.first_extra == first + len(table.platforms)
    for family in ("mips", "alpha", "csky"):
        # _dl_string_platform returns the index
        assert fact(tag, f"sysdeps/{family}/dl-procinfo.h", "_DL_FIRST_PLATFORM", "contains",
                    "_DL_FIRST_PLATFORM") is False
        assert legacy_hwcaps(family).first_platform == 0
        assert legacy_hwcaps(family).first_extra == 0  # _DL_HWCAP_COUNT 0
    for family in ("aarch64", "arm", "sparc"):
        assert legacy_hwcaps(family).first_extra == len(legacy_hwcaps(family).hwcap_names)


def test_important_bits_name_the_source_constants():
    """HWCAP_IMPORTANT per port, by name (the bit values are checked on real roots below)."""
    def names(family: str, elf_class: int = 64) -> set:
        t = legacy_hwcaps(family, elf_class=elf_class)
        return {n for i, n in enumerate(t.hwcap_names) if i < 32 and t.important >> i & 1}
    assert names("x86") == {"sse2", "x86_64", "avx512_1"}
    assert names("aarch64") == {"atomics"}
    assert names("arm") == {"vfp", "neon"}
    assert names("powerpc") == {"altivec", "dfp"}
    assert names("s390") == {"zarch", "ldisp", "eimm", "dfp", "vx", "vxe", "vxe2"}
    # HWCAP_SPARC_BLKINIT and _N2 are named "v9v" and "v9v2"; V9 only in the 32-bit build.
    assert names("sparc") == {"ultra3", "v9v", "v9v2"}
    assert names("sparc", 32) == {"v9", "ultra3", "v9v", "v9v2"}
    assert fact("glibc-2.36", "sysdeps/sparc/dl-procinfo.h", "HWCAP_IMPORTANT_V9", "contains",
                SPARC_V9_TEXT) is True
    for family in ("mips", "alpha", "csky", "riscv", "loongarch", "m68k", "hppa", "sh", "ia64"):
        assert legacy_hwcaps(family).important == 0


def test_generic_ports_know_only_tls():
    generic = {a.family for a in ARCHES.values()} - set(FAMILIES)
    assert {"riscv", "loongarch", "m68k", "hppa", "sh"} <= generic
    for family in generic:
        t = legacy_hwcaps(family)
        assert t.hwcap_names == () and t.platforms == ()
        assert t.is_hwcap_platform(b"tls") and not t.is_hwcap_platform(b"haswell")
        assert t.path_hwcap(b"/usr/lib/tls") == TLS_MASK == 1 << 63


def test_path_hwcap_order_and_quirks():
    arm = legacy_hwcaps("arm")
    assert arm.path_hwcap(b"/opt/hw/tls") == 1 << 15          # "tls" is arm hwcap 15
    assert arm.path_hwcap(b"/opt/hw/tls/neon") == (1 << 15) | (1 << 12)
    assert not arm.is_hwcap_platform(b"vfpv3") and arm.is_hwcap_platform(b"neon")
    assert not arm.is_hwcap_platform(b"v7l")                  # arm has no platform names
    ppc = legacy_hwcaps("powerpc")
    assert ppc.path_hwcap(b"/x/power5") == 1 << 18             # hwcap table wins
    assert ppc.is_hwcap_platform(b"power5")                    # ... but it is a platform
    assert ppc.path_hwcap(b"/x/power9") == 1 << (32 + 14)
    assert not ppc.is_hwcap_platform(b"ebb")                   # index 60: int shift
    assert not legacy_hwcaps("powerpc", version=(2, 31)).is_hwcap_platform(b"power10")
    assert legacy_hwcaps("powerpc", version=(2, 32)).is_hwcap_platform(b"power10")
    s390 = legacy_hwcaps(ARCHES["s390x"], version=(2, 35))
    assert not s390.is_hwcap_platform(b"z16") and s390.hwcap_bit(b"sie") == 22
    assert legacy_hwcaps(ARCHES["s390x"], version=(2, 36)).platform_bit(b"z16") == 42
    assert legacy_hwcaps(ARCHES["s390x"], version=(2, 33)).hwcap_bit(b"nnpa") is None
    mips = legacy_hwcaps("mips")
    assert mips.path_hwcap(b"/usr/lib/octeon2") == 1 << 3
    assert legacy_hwcaps("x86").path_hwcap(b"/x/tls/tls") == 0   # 2 * 2**63 wraps
    assert legacy_hwcaps(ARCHES["sparc"]).important != legacy_hwcaps(ARCHES["sparc64"]).important


# --- against real ldconfigs ----------------------------------------------------------------

#: Subdirectories tried per root: scanned names (tls, platforms, important hwcaps, nestings)
#: and names ldconfig must ignore (unimportant hwcaps, other ports' names).
SUBDIRS = {
    "arm64": ["tls", "atomics", "asimd", "fp", "sve", "tls/atomics", "atomics/tls", "v8",
              "haswell"],
    "armhf": ["tls", "vfp", "neon", "vfpv3", "thumb", "v7l", "crc32", "neon/vfp", "tls/neon"],
    "s390x": ["tls", "z13", "z14", "z15", "z16", "g5", "zEC12", "zarch", "vx", "vxe2", "dfp",
              "esan3", "msa", "sie", "nnpa", "z13/vx", "tls/z14"],
    "ppc64el": ["tls", "power8", "power9", "power10", "power5", "power5+", "power6x",
                "ppc970", "ppc-cell-be", "ppca2", "altivec", "dfp", "vsx", "ppc32", "ebb",
                "mma", "arch_3_1", "htm", "power9/altivec", "tls/power9"],
}

ROOTS = [("bookworm", "arm64"), ("bookworm", "armhf"), ("bookworm", "s390x"),
         ("bookworm", "ppc64el"), ("bullseye", "arm64"), ("bullseye", "armhf"),
         ("trixie", "arm64")]


def hw_root(suite: str, arch: str, dest: Path, subdirs: Sequence[str]) -> Path:
    """A working copy of the Debian root with /opt/hw (added by a new ld.so.conf.d file)
    holding the root's own libz in the base directory and in each subdirectory."""
    root = debroots.working_copy(suite, arch, dest, hardlink=True)
    libz = Path(os.path.realpath(root / "lib" / debroots.TRIPLET[arch] / "libz.so.1"))
    assert libz.is_file() and str(libz).startswith(str(root))
    # A 2.31 ``hwcap N NAME`` line names a directory at _DL_FIRST_EXTRA + N (ignored later).
    (root / "etc/ld.so.conf.d/zz-hw.conf").write_text("hwcap 1 myhw\n/opt/hw\n")
    for sub in ["", *subdirs]:
        d = root / "opt/hw" / sub
        d.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(libz, d / "libz.so.1")
    return root


def hw_entries(data: bytes) -> Dict[str, int]:
    return {e.path.decode(): e.hwcap for e in parse(data).entries
            if e.path.startswith(b"/opt/hw/")}


@pytest.mark.slow
@pytest.mark.parametrize("suite,arch", ROOTS, ids=[f"{s}-{a}" for s, a in ROOTS])
def test_legacy_subdirectories_match_the_roots_ldconfig(tmp_path, suite, arch):
    debroots.require_root(suite, arch)
    debroots.require_root_ldconfig(arch)
    subdirs = SUBDIRS[arch] + ["myhw", "tls/myhw"]
    theirs = hw_root(suite, arch, tmp_path / "glibc", subdirs)
    ours = hw_root(suite, arch, tmp_path / "ldcache", subdirs)
    generator = debroots.root_generator(debroots.debian_root(suite, arch), arch)
    gen_args = ["--generator", generator.decode()] if generator is not None else []
    version = tuple(int(x) for x in debroots.SUITES[suite].split("."))
    # glibc 2.33-2.36 cannot write compat/old caches with legacy hwcap entries (spec 1.4.3).
    layouts = ["default"] + (["new", "compat", "old"] if version <= (2, 32) else
                             ["compat"] if version >= (2, 37) else [])
    for layout in layouts:
        args = [] if layout == "default" else ["-X", "-c", layout, "-C", f"/etc/c.{layout}"]
        debroots.run_root_ldconfig(theirs, arch, args)
        got = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(ours), *args,
                              *gen_args], capture_output=True, cwd=str(PROJECT))
        assert got.returncode == 0, got.stderr.decode()
        name = "etc/ld.so.cache" if layout == "default" else f"etc/c.{layout}"
        expected, actual = (theirs / name).read_bytes(), (ours / name).read_bytes()
        if layout == "default":
            assert hw_entries(actual) == hw_entries(expected)
            scanned = {p.rsplit("/", 1)[0][len("/opt/hw/"):] for p in hw_entries(expected)
                       if p.count("/") > 3}
            if version <= (2, 36):
                assert "tls" in scanned and len(scanned) >= 4, scanned  # the test tests
                assert scanned < set(subdirs)                           # and some are ignored
            else:
                assert not scanned
            assert ("myhw" in scanned) == (version <= (2, 31))
        assert actual == expected, layout
    assert tree(ours) == tree(theirs)


# --- the version reaches the scanner ---------------------------------------------------------

def test_scanner_uses_the_tables_of_the_requested_release(tmp_path):
    """``--glibc`` selects the release's tables: s390x ``z16`` is a platform from 2.36 only,
    ``nnpa`` a hwcap name from 2.34; on powerpc ``power10`` from 2.32."""
    def build(arch: str, version: str, subdirs: Sequence[str], lib: Path) -> Dict[str, int]:
        root = tmp_path / f"{arch}-{version}"
        (root / "etc").mkdir(parents=True)
        (root / "etc/ld.so.conf").write_text("/opt/hw\n")
        for sub in ["", *subdirs]:
            (root / "opt/hw" / sub).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lib, root / "opt/hw" / sub / "libz.so.1")
        got = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(root),
                              "--arch", arch, "--glibc", version, "-X"],
                             capture_output=True, cwd=str(PROJECT))
        assert got.returncode == 0, got.stderr.decode()
        return hw_entries((root / "etc/ld.so.cache").read_bytes())

    def root_libz(suite: str, arch: str) -> Path:
        try:
            root = debroots.debian_root(suite, arch)
        except debroots.RootUnavailable as exc:
            pytest.skip(f"{suite}/{arch} root unavailable: {exc.reason}")
        return Path(os.path.realpath(root / "lib" / debroots.TRIPLET[arch] / "libz.so.1"))

    libz = root_libz("bookworm", "s390x")
    old = build("s390x", "2.33", ["z16", "z15", "nnpa"], libz)
    new = build("s390x", "2.36", ["z16", "z15", "nnpa"], libz)
    assert "/opt/hw/z16/libz.so.1" not in old and new["/opt/hw/z16/libz.so.1"] == 1 << 42
    assert old["/opt/hw/z15/libz.so.1"] == new["/opt/hw/z15/libz.so.1"] == 1 << 41
    assert "/opt/hw/nnpa/libz.so.1" not in old and "/opt/hw/nnpa/libz.so.1" not in new
    libz = root_libz("bookworm", "ppc64el")
    assert "/opt/hw/power10/libz.so.1" not in build("ppc64le", "2.31", ["power10"], libz)
    assert build("ppc64le", "2.32", ["power10"], libz)["/opt/hw/power10/libz.so.1"] == 1 << 47
