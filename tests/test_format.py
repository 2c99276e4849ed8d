"""The cache format: parse → build identity, layout conversions, and robustness,
checked against caches written by real glibc ldconfigs."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from support.common import VECTORS, requires_root
from support.gcclib import install_library
from support.synthroots import install_hwcaps_levels

from ldcache.errors import CacheFormatError
from ldcache.format import Cache, Entry, build, decode, merged_string_table, parse
from ldcache.glibc import behaviour
from ldcache.printer import listing

LAYOUTS = ("new", "compat", "old")


def _vectors() -> list[dict]:
    """Every cache in vectors/ with the name of its `ldconfig -p` text."""
    index = VECTORS / "index.json"
    if not index.exists():
        return []
    files = json.loads(index.read_text())["files"]
    texts = {f["cache_file"]: f["file"] for f in files if f["kind"] == "ldconfig-p"}
    return [dict(f, text=texts.get(f["file"])) for f in files if f["kind"] == "cache"]


#: Files whose bytes parse → build cannot reproduce, and why (also in the README).
LOSSY = {
    "bullseye-amd64-legacy-old.cache":
        "glibc <= 2.32 old layout with legacy hwcap dirs: the string table keeps the strings "
        "of entries the table leaves out (their flags and hwcap are not stored)",
    "host-legacy-compat.cache":
        "glibc 2.33-2.36 compat layout with legacy hwcap dirs: the writer fills the old table "
        "from the wrong index and uninitialised memory (spec 1.4.3)",
}


def _vector_ids() -> list[str]:
    return [Path(v["file"]).name for v in _vectors()]


def make_root(tmp: Path, hwcaps: bool = False) -> Path:
    """A root with libraries of several shapes, configured in /etc/ld.so.conf."""
    root = tmp / "root"
    install_library(root / "opt/a/liba.so.1.0", "liba.so.1")
    install_library(root / "opt/a/libbb.so.2.3.4", "libbb.so.2")
    install_library(root / "opt/a/libnosoname.so", None)
    install_library(root / "opt/b/libz9.so.10", "libz9.so.10")
    install_library(root / "opt/b/liba.so.1.5", "liba.so.1")
    (root / "opt/b/libdev.so").symlink_to("libz9.so.10")
    if hwcaps:
        h = root / "opt/h"
        install_hwcaps_levels(h, "libisa.so.1", "libonlyv2.so.1.0")
        (h / "glibc-hwcaps/empty").mkdir()
        (h / "glibc-hwcaps/zzz").mkdir()
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/ld.so.conf").write_text("/opt/a\n/opt/b\n" + ("/opt/h\n" if hwcaps else ""))
    return root


def ldconfig_caches(ldconfig: str, root: Path) -> dict[str, bytes]:
    out = {}
    for layout in LAYOUTS:
        subprocess.run([ldconfig, "-r", str(root), "-X", "-c", layout, "-C",
                        f"/etc/ld.so.cache.{layout}"], check=True, capture_output=True)
        out[layout] = (root / f"etc/ld.so.cache.{layout}").read_bytes()
    return out


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "hwcaps"])
def host_caches(request, tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    import shutil
    ldconfig = shutil.which("ldconfig")
    if ldconfig is None:
        pytest.skip("no ldconfig")
    requires_root()
    root = make_root(tmp_path_factory.mktemp("fmt"), hwcaps=request.param)
    return root, ldconfig_caches(ldconfig, root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_roundtrip_host_ldconfig(host_caches, layout):
    _, caches = host_caches
    data = caches[layout]
    cache = parse(data)
    assert cache.layout == layout
    assert cache.entries, "the root has libraries"
    assert build(cache) == data


@pytest.mark.parametrize("src,dst", [("compat", "new"), ("new", "compat"), ("new", "old"),
                                     ("compat", "old")])
def test_convert_matches_ldconfig(host_caches, src, dst):
    _, caches = host_caches
    cache = parse(caches[src])
    out = build(cache.replace(layout=dst))
    if cache.written_hwcaps is not None and dst == "new":
        # glibc reads a compat file's glibc-hwcaps names from the file start, not where
        # ldconfig meant them (spec 1.4.3): converted, the file keeps what glibc read.
        assert parse(out).hwcaps == cache.hwcaps != parse(caches[dst]).hwcaps
        assert parse(out).entries == cache.entries
        return
    assert out == caches[dst]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_print_matches_ldconfig_p(host_caches, ldconfig, layout):
    root, caches = host_caches
    path = f"/etc/ld.so.cache.{layout}"
    expected = subprocess.run([ldconfig, "-r", str(root), "-p", "-C", path], check=True,
                              capture_output=True).stdout
    assert listing(caches[layout], path.encode(), behaviour("2.36", debian=True)) == expected


@pytest.mark.parametrize("host_caches", [True], indirect=True, ids=["hwcaps"])
def test_hwcaps_names_and_unused_strings(host_caches):
    _, caches = host_caches
    cache = parse(caches["new"])
    assert cache.hwcaps == (b"x86-64-v2", b"x86-64-v3", b"x86-64-v4")
    assert set(cache.extra_strings) == {b"empty", b"zzz"}
    levels = {e.path.rsplit(b"/", 2)[-2]: e.isa_level for e in cache.entries if e.is_hwcaps}
    assert levels == {b"x86-64-v2": 1, b"x86-64-v3": 2, b"x86-64-v4": 3}
    for e in cache.entries:
        if e.is_hwcaps:
            assert e.hwcaps_name is not None and e.hwcaps_name in e.path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_byte_order_roundtrip_is_identity(host_caches, layout):
    _, caches = host_caches
    cache = parse(caches[layout])
    big = build(cache.replace(byte_order="big"))
    assert big != caches[layout]
    assert parse(big).byte_order == "big"
    # (glibc reads a compat file's glibc-hwcaps names from the file start: other bytes in
    # the other byte order, spec 1.4.3)
    assert [e._replace(hwcaps_name=None) for e in parse(big).entries] == \
        [e._replace(hwcaps_name=None) for e in cache.entries]
    assert build(parse(big).replace(byte_order="little")) == caches[layout]


def test_machine_cache_roundtrip_and_print(ldconfig):
    path = Path("/etc/ld.so.cache")
    if not path.exists():
        pytest.skip("this machine has no /etc/ld.so.cache")
    data = path.read_bytes()
    assert build(parse(data)) == data
    expected = subprocess.run([ldconfig, "-p"], check=True, capture_output=True).stdout
    assert listing(data, b"/etc/ld.so.cache", behaviour("2.36", debian=True)) == expected


# --- vectors written by real ldconfigs of several glibc versions and architectures ---------

@pytest.mark.parametrize("vector", _vectors(), ids=_vector_ids())
def test_vector_roundtrip(vector):
    data = (VECTORS / vector["file"]).read_bytes()
    if not vector["reproducible"]:
        pytest.skip("glibc wrote uninitialised memory into this file (see vectors/README.md)")
    if vector["file"] in LOSSY:
        pytest.xfail(LOSSY[vector["file"]])
    cache = parse(data)
    assert cache.layout == vector["layout"]
    assert cache.byte_order == vector["byte_order"]
    assert len(cache.entries) == vector["entries"]
    assert build(cache) == data


@pytest.mark.parametrize("vector", _vectors(), ids=_vector_ids())
def test_vector_print(vector):
    data = (VECTORS / vector["file"]).read_bytes()
    assert vector["text"], "every cache vector has its ldconfig -p text"
    text_file = VECTORS / vector["text"]
    expected = text_file.read_bytes()
    path = expected.split(b"`", 1)[1].split(b"'\n", 1)[0] if b"`" in expected else b""
    b = behaviour(vector["glibc"], debian=True)
    assert listing(data, path, b) == expected


def test_vectors_present():
    """The vectors/ directory is part of the repository: its absence is a failure."""
    vectors = _vectors()
    assert vectors, "vectors/index.json is missing or empty"
    glibcs = {v["glibc"] for v in vectors}
    assert {"2.31", "2.36", "2.41"} <= glibcs
    assert {"little", "big"} <= {v["byte_order"] for v in vectors}
    assert set(LAYOUTS) <= {v["layout"] for v in vectors}


# --- string table ------------------------------------------------------------------------

def test_merged_string_table_tail_merges():
    table, offsets = merged_string_table([b"/opt/a/liba.so.1", b"liba.so.1", b"a.so.1", b"x"])
    assert table == b"x\0/opt/a/liba.so.1\0"
    assert offsets[b"liba.so.1"] == 2 + len(b"/opt/a/")
    assert offsets[b"a.so.1"] == offsets[b"liba.so.1"] + 3


def test_empty_cache_sizes():
    gen = b"ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36"
    assert len(build(Cache(generator=gen))) == 139  # spec §1.8.4, measured with glibc 2.36
    assert len(build(Cache(layout="old"))) == 16
    assert parse(build(Cache(layout="compat", generator=gen))).entries == ()


# --- robustness: every truncation and random corruption ends in CacheFormatError or a parse -

def _sample_caches() -> list[bytes]:
    entries = tuple(Entry(b"lib%d.so.1" % i, b"/usr/lib/lib%d.so.1" % i, 0x303)
                    for i in range(5, 0, -1))
    hw = (Entry(b"libh.so.1", b"/l/glibc-hwcaps/x86-64-v3/libh.so.1", 0x303,
                hwcap=(1 << 62) | (2 << 32)),)
    out = []
    for layout in LAYOUTS:
        for order in ("little", "big"):
            c = Cache(entries=hw + entries if layout == "new" else entries, layout=layout,
                      byte_order=order, generator=b"gen" if layout != "old" else None,
                      hwcaps=(b"x86-64-v3",) if layout == "new" else ())
            out.append(build(c))
    return out


def _robust(data: bytes) -> None:
    try:
        cache = parse(data)
    except CacheFormatError as exc:
        assert str(exc)
        return
    build(cache)  # a parsed value must be buildable
    listing(data, b"x", behaviour())


def test_every_truncation():
    n = 0
    for data in _sample_caches():
        for cut in range(len(data)):
            _robust(data[:cut])
            n += 1
    assert n > 1000


def test_random_byte_flips():
    rng = random.Random(1234)
    samples = _sample_caches()
    for _i in range(3000):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        _robust(bytes(data))


def test_error_names_offset():
    data = bytearray(build(Cache(entries=(Entry(b"a.so", b"/a.so", 0x303),), generator=b"g")))
    data[48 + 4] = 0xFF  # key offset of entry 0 far outside the table
    with pytest.raises(CacheFormatError, match=r"outside the string table at offset 0x30"):
        parse(bytes(data))
    with pytest.raises(CacheFormatError, match="bad magic"):
        parse(b"x" * 100)
    with pytest.raises(CacheFormatError, match="empty"):
        parse(b"")
    assert decode(bytes(build(Cache()))).layout == "new"
