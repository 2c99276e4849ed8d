"""``ldcache diff``, ``verify`` and ``explain`` (``lookup``: test_lookup.py), and their JSON."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support.common import VECTORS, requires_root
from support.gcclib import install_library
from support.synthroots import image_root

from ldcache.cli import main
from ldcache.diff import diff_caches
from ldcache.explain import explain
from ldcache.format import Cache, Entry, build, read_cache
from ldcache.verify import verify_root


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# --- diff ------------------------------------------------------------------------------------

def _cache(*entries: Entry, **kw: object) -> Cache:
    return Cache(entries=tuple(entries), **kw)  # type: ignore[arg-type]


A = Entry(b"liba.so.1", b"/lib/liba.so.1", 0x303)
B = Entry(b"libb.so.2", b"/lib/libb.so.2", 0x303)
B_MOVED = Entry(b"libb.so.2", b"/usr/lib/libb.so.2", 0x303)
C = Entry(b"libc.so.6", b"/lib/libc.so.6", 0x303)


def test_diff_entries():
    d = diff_caches(_cache(C, B, A), _cache(C, B_MOVED))
    assert [k[0] for k in d.removed] == [b"liba.so.1"]
    assert not d.added
    assert len(d.changed) == 1 and d.changed[0].fields == ["path"]
    assert not d.equal
    d = diff_caches(_cache(C, A), _cache(C, A, B))
    assert [k[0] for k in d.added] == [b"libb.so.2"] and not d.removed
    assert diff_caches(_cache(C, A), _cache(C, A)).equal


def test_diff_flags_hwcaps_order_header():
    hw1 = Entry(b"libx.so.1", b"/l/glibc-hwcaps/x86-64-v3/libx.so.1", 0x303,
                hwcap=(1 << 62) | (2 << 32) | 1)
    hw0 = Entry(b"libx.so.1", b"/l/glibc-hwcaps/x86-64-v3/libx.so.1", 0x303,
                hwcap=(1 << 62) | (2 << 32) | 0)
    # Same meaning, different index: equal entries, different name lists.
    a = _cache(hw1, hwcaps=(b"x86-64-v2", b"x86-64-v3"))
    b = _cache(hw0, hwcaps=(b"x86-64-v3",))
    d = diff_caches(a, b)
    assert not (d.added or d.removed or d.changed)
    assert set(d.header) == {"hwcaps"}
    d = diff_caches(_cache(A), _cache(Entry(A.soname, A.path, 0x3)))
    assert d.changed[0].fields == ["flags"]
    d = diff_caches(_cache(C, A), _cache(A, C))
    assert d.order_changed and not d.changed
    d = diff_caches(_cache(A, generator=b"x"), _cache(A, generator=b"y", layout="compat"))
    assert set(d.header) == {"generator", "layout"}
    assert set(diff_caches(_cache(A, generator=b"x"), _cache(A, generator=b"y"),
                           ignore_generator=True).header) == set()


def test_diff_cli(tmp_path, capsys):
    new = VECTORS / "bookworm-s390x-new.cache"
    compat = VECTORS / "bookworm-s390x-compat.cache"
    status, out, _ = _run(capsys, "diff", str(new), str(new))
    assert (status, out) == (0, "")
    status, out, _ = _run(capsys, "diff", str(new), str(compat))
    assert status == 1
    assert out.splitlines()[2] == "layout: new -> compat"
    status, out, _ = _run(capsys, "diff", "--json", str(new), str(compat))
    doc = json.loads(out)
    assert status == 1 and doc["equal"] is False
    assert doc["header"] == {"layout": {"a": "new", "b": "compat"}}
    little = tmp_path / "little.cache"
    little.write_bytes(build(read_cache(new).replace(byte_order="little")))
    status, out, _ = _run(capsys, "diff", "--json", str(new), str(little))
    assert json.loads(out)["header"] == {"byte_order": {"a": "big", "b": "little"}}
    trimmed = tmp_path / "trimmed.cache"
    cache = read_cache(new)
    trimmed.write_bytes(build(cache.replace(entries=cache.entries[1:])))
    status, out, _ = _run(capsys, "diff", str(new), str(trimmed))
    assert status == 1
    assert out.splitlines()[2] == "- libzstd.so.1 (flags 0x0403) => /lib/s390x-linux-gnu/" \
                                  "libzstd.so.1"
    status, out, err = _run(capsys, "diff", str(new), str(tmp_path / "missing"))
    assert status == 2 and out == ""
    assert err == f"ldcache: {tmp_path / 'missing'}: No such file or directory\n"


# --- verify ----------------------------------------------------------------------------------

def test_verify_debootstrap_root_written_by_its_ldconfig(tmp_path, capsys):
    """A cache written by the root's own glibc ldconfig verifies clean, also --strict."""
    requires_root()
    from support.debroots import require_root, run_root_ldconfig

    require_root("bookworm", "amd64")
    from support.debroots import working_copy

    root = working_copy("bookworm", "amd64", tmp_path / "r", hardlink=True)
    run_root_ldconfig(root, "amd64", [])
    v = verify_root(str(root), strict=True)
    assert not v.stale, v
    assert v.bytes_equal is True
    status, out, _ = _run(capsys, "verify", "-r", str(root))
    assert (status, out) == (0, f"/etc/ld.so.cache in {root}: current "
                                f"({len(v.expected.entries)} entries)\n")
    status, out, _ = _run(capsys, "verify", "-r", str(root), "--generator", "ldcache 0")
    assert status == 1 and "generator" in out


def test_verify_machine_root(tmp_path, ldconfig):
    """The machine's own root, against a cache its ldconfig writes now (-X: no links)."""
    requires_root()
    cache = tmp_path / "ld.so.cache"
    subprocess.run([ldconfig, "-X", "-C", str(cache)], check=True, capture_output=True)
    v = verify_root("/", str(cache))
    assert not v.diff.added and not v.diff.removed and not v.diff.changed, v.diff
    assert not v.diff.header and not v.diff.order_changed
    assert v.actual is not None and len(v.actual.entries) > 10


@pytest.fixture
def built_image(tmp_path, ldconfig) -> Path:
    requires_root()
    root = image_root(tmp_path / "root")
    subprocess.run([ldconfig, "-r", str(root)], check=True, capture_output=True)
    return root


def test_verify_stale_root(built_image, capsys):
    root = built_image
    assert not verify_root(str(root)).stale
    os.unlink(root / "opt/nested/libnested.so.7")                  # file gone
    os.unlink(root / "opt/upper/libupper.so.1")                    # soname changed
    install_library(root / "opt/upper/libupper.so.1", "libupper.so.2")
    install_library(root / "opt/lib2/libnew.so.4", "libnew.so.4")  # new library
    os.symlink("gone.so.1", root / "opt/lib2/libgone.so.1")        # dangling link
    v = verify_root(str(root))
    assert v.stale
    removed = {k[1] for k in v.diff.removed}
    assert removed == {b"/opt/nested/libnested.so.7", b"/opt/upper/libupper.so.1"}
    assert [k[1] for k in v.missing] == [b"/opt/nested/libnested.so.7"]
    assert [(k[1], now) for k, now in v.soname_changed] == [
        (b"/opt/upper/libupper.so.1", b"libupper.so.2")]
    assert {k[1] for k in v.diff.added} == {b"/opt/lib2/libnew.so.4",
                                            b"/opt/upper/libupper.so.2"}
    assert v.dangling == [b"/opt/lib2/libgone.so.1"]
    assert (b"/opt/lib2/libnew.so.4", b"libnew.so.4") not in v.links  # named by its soname
    assert (b"/opt/upper/libupper.so.2", b"libupper.so.1") in v.links
    status, out, _ = _run(capsys, "verify", "-r", str(root))
    assert status == 1
    assert "  - libnested.so.7 (flags 0x0303) => /opt/nested/libnested.so.7  [file missing]" \
        in out.splitlines()
    assert "[file now has SONAME libupper.so.2]" in out
    status, out, _ = _run(capsys, "verify", "--json", "-r", str(root))
    doc = json.loads(out)
    assert status == 1 and doc["stale"] is True
    assert doc["dangling_links"] == ["/opt/lib2/libgone.so.1"]
    assert doc["soname_changed"][0]["soname"] == "libupper.so.2"
    os.unlink(root / "etc/ld.so.cache")
    status, out, _ = _run(capsys, "verify", "-r", str(root))
    assert status == 1 and "no cache file" in out


# --- explain ---------------------------------------------------------------------------------

EXPLAIN = [
    ("/opt/lib1/libver.so.1.9.0", "shadowed-in-directory", "shadowed by libverdev.so"),
    ("/opt/lib2/libver.so.1.0.0", "shadowed-by-earlier", "picks /opt/lib1/libver.so.1"),
    ("/opt/lib1/libfoo.so", "development-link", "development link"),
    ("/opt/lib1/libfoo.so.1.0", "in-cache", "SONAME link /opt/lib1/libfoo.so.1"),
    ("/opt/lib1/libjunk.so.1", "not-a-library", "wrong magic bytes"),
    ("/opt/lib1/libempty.so.1", "not-a-library", "is empty, not checked"),
    ("/opt/lib1/libscript.so", "not-a-library", "linker script"),
    ("/opt/lib1/notalib.so.1", "skipped-name", "not a DSO name"),
    ("/opt/lib1/libpre.so.1.#prelink#.Ab12Cd", "skipped-name", "temporary"),
    ("/opt/lib1/libnosoname.so", "in-cache", "no DT_SONAME"),
    ("/opt/lib1/libdir.so.1", "not-a-library", "a directory"),
    ("/opt/hw/glibc-hwcaps/x86-64-v2/libonlyv2.so.1", "in-cache", "glibc-hwcaps subdirectory"),
    ("/opt/notconf/libx.so.1", "not-in-directory", "not a directory ldconfig scans"),
    ("/opt/lib1/libnothere.so.1", "missing", "does not exist"),
    ("/opt/lib1/libdangle.so.3", "not-a-library", "ldconfig deletes it"),
    ("libver.so.1", "in-cache", "picks /opt/lib1/libver.so.1"),
    ("libnothing.so.3", "no-soname", "no library with SONAME"),
]


@pytest.mark.parametrize("query,verdict,words", EXPLAIN, ids=[q for q, _, _ in EXPLAIN])
def test_explain(built_image, query, verdict, words):
    install_library(built_image / "opt/notconf/libx.so.1", "libx.so.1")
    os.symlink("nowhere.so.3", built_image / "opt/lib1/libdangle.so.3")
    e = explain(str(built_image), query)
    assert e.verdict == verdict, e.reasons
    assert any(words in r for r in e.reasons), e.reasons
    assert e.in_cache == (verdict == "in-cache")


def test_explain_32bit_and_cli(built_image, capsys):
    if not (built_image / "opt/lib1/lib32c.so.1").exists():
        pytest.skip("no gcc -m32")
    e = explain(str(built_image), "/opt/lib1/lib32c.so.1")
    assert e.verdict == "rejected-by-loader"
    assert "not accepted by the x86_64 loader" in e.reasons[-1]
    status, out, _ = _run(capsys, "explain", "-r", str(built_image), "/opt/lib1/lib32c.so.1")
    assert status == 1
    assert out.startswith("/opt/lib1/lib32c.so.1: rejected-by-loader\n")
    status, out, _ = _run(capsys, "explain", "--json", "-r", str(built_image), "libfoo.so.1")
    doc = json.loads(out)
    assert status == 0 and doc["verdict"] == "in-cache"
    assert doc["lookup"]["path"] == "/opt/lib1/libfoo.so.1"
    assert doc["current_cache_agrees"] is True


def test_explain_stale_cache(built_image):
    install_library(built_image / "opt/lib2/libnew.so.4", "libnew.so.4")
    e = explain(str(built_image), "libnew.so.4")
    assert e.verdict == "in-cache" and e.current is False
    assert "stale" in e.reasons[-1]


def test_json_documents_are_json(built_image, capsys):
    """Every inspecting command has --json and prints one JSON document."""
    root = str(built_image)
    for argv in (["print", "-r", root], ["info", "-r", root], ["lookup", "-r", root, "libc.so.6"],
                 ["verify", "-r", root], ["explain", "-r", root, "libc.so.6"],
                 ["diff", str(built_image / "etc/ld.so.cache"),
                  str(built_image / "etc/ld.so.cache")]):
        status, out, err = _run(capsys, *argv, "--json")
        assert status == 0, (argv, err)
        assert isinstance(json.loads(out), dict)
