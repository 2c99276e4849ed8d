"""The construct declaration of the whole file (ldcache/fileformat.py) and `ldcache dump`.

The declaration is checked against the fast reader (ldcache.format, on the generated struct
codec) and against the facts recorded when the vectors were made by real ldconfigs
(vectors/index.json); `dump`'s offsets against offsets worked out by hand from the format
(shared/ldconfig-spec.md §1)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from support.common import PROJECT, VECTORS

from ldcache import cli
from ldcache import fileformat as ff
from ldcache import format as fmt
from ldcache.errors import CacheFormatError

INDEX = {r["file"]: r for r in json.loads((VECTORS / "index.json").read_text())["files"]
         if r["kind"] == "cache"}
FILES = sorted(VECTORS.glob("*.cache"))
COMPAT = VECTORS / "bookworm-amd64-compat.cache"


def _generator(new):
    if new is None or new.extension is None:
        return None
    found = None
    for sec in new.extension.sections:
        if sec.kind == "generator":
            found = sec.content
    return found


def _hwcaps(new):
    names = ()
    if new is not None and new.extension is not None:
        for sec in new.extension.sections:
            if sec.kind == "glibc-hwcaps":
                names = tuple(item.name for item in sec.content)
    return names


@pytest.fixture(scope="module")
def declared():
    """Every vector read with the declaration while the fast codec cannot be used."""
    mp = pytest.MonkeyPatch()

    def no_codec(*args, **kwargs):
        raise AssertionError("the declaration used the fast codec")

    mp.setattr(fmt._Structure, "parse", no_codec)
    mp.setattr(fmt._Structure, "build", no_codec)
    mp.setattr(fmt, "_LAYOUT", None)
    mp.setattr(fmt, "decode", no_codec)
    mp.setattr(fmt, "parse", no_codec)
    try:
        out = {p.name: ff.parse(p.read_bytes()) for p in FILES}
    finally:
        mp.undo()
    return out


def test_every_vector_is_indexed():
    assert len(FILES) > 100
    assert {p.name for p in FILES} == set(INDEX)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_declaration_reads_vector_as_format_parse(declared, path):
    data = path.read_bytes()
    f = declared[path.name]
    cache = fmt.parse(data)
    raw = fmt.decode(data)
    rec = INDEX[path.name]
    body = f.body
    assert f.file_size == len(data) == rec["size"]
    assert f.layout == cache.layout == rec["layout"]
    assert f.byte_order == cache.byte_order == rec["byte_order"]
    assert _generator(body.new) == cache.generator
    # (the declaration counts the names from the new header, as ldconfig meant them)
    assert _hwcaps(body.new) == _meant_hwcaps(cache)
    gen = rec["generator"]
    assert _generator(body.new) == (gen.encode() if gen and body.new.extension else None)
    if body.new is not None:
        new = body.new
        h = new.header
        assert new.file_offset == raw.new_offset
        assert h.nlibs == len(cache.entries) == rec["entries"]
        assert (h.len_strings, h.flags, h.extension_offset) == (
            raw.new_header.len_strings, raw.new_header.flags, raw.new_header.extension_offset)
        assert (h.len_strings, h.flags, h.extension_offset) == (
            rec["len_strings"], rec["flags_byte"], rec["extension_offset"])
        assert (h.flags != 0) == cache.endian_flag
        assert (new.strings_offset, new.strings_end) == (raw.strings_start, raw.strings_end)
        got = [(e.flags, e.key_string, e.value_string, e.osversion, e.hwcap)
               for e in new.entries]
        assert got == [(e.flags, e.soname, e.path, e.osversion, e.hwcap)
                       for e in cache.entries]
    if body.old is not None:
        old = body.old
        assert old.file_offset == 0
        assert old.header.nlibs == raw.old_nlibs == rec["old_entries"]
        assert old.strings_offset == 16 + 12 * old.header.nlibs
        got = [(e.flags, e.key, e.value) for e in old.entries]
        assert got == [tuple(row) for row in raw.old_entries]
    if f.layout == "old":
        # ≤2.32 wrote every offset 4 too large for an odd count (spec §1.4.3); glibc, the
        # declaration and format.parse read the strings where the offsets point, and
        # format.parse keeps the entries meant (written_entries) where it can tell (not
        # when the table has strings of entries left out of it: bullseye-amd64-legacy-old).
        bias = cache.old_offset_bias
        shift = rec["old_string_offset_shift"]
        assert bias in (0, shift)
        table = body.old_strings.data
        assert body.old_strings.file_offset == body.old.strings_offset
        assert len(table) == len(data) - body.old.strings_offset

        def at(off, bias=0):
            return table[off - bias:table.index(b"\0", off - bias)]

        got = [(e.flags, at(e.key), at(e.value)) for e in body.old.entries]
        assert got == [(e.flags, e.soname, e.path) for e in cache.entries]
        if bias:
            meant = [(e.flags, at(e.key, bias), at(e.value, bias)) for e in body.old.entries]
            assert meant == [(e.flags, e.soname, e.path) for e in cache.written_entries]
        # With the shift the index records, every offset is the start of a string (of the
        # ≤2.32 table, which merges no tails).
        for e in body.old.entries if shift else ():
            for off in (e.key - shift, e.value - shift):
                assert off == 0 or table[off - 1] == 0
        if bias == 0:
            assert [(e.key_string, e.value_string) for e in body.old.entries] == \
                [(e.soname, e.path) for e in cache.entries]
    if f.layout == "compat":
        hidden = body.hidden
        assert hidden.gap_offset == body.old.strings_offset
        assert hidden.gap == b""  # the old count is even: no padding (spec §1.4.1)
        if rec["old_table_consistent"]:
            # The old table: the entries without a legacy hwcap, the last one twice when
            # their number is odd; same key/value numbers as the new table (spec §1.4.2).
            rows = [(e.flags, e.key, e.value, e.key_string, e.value_string)
                    for e in body.new.entries if not (e.hwcap and e.hwcap >> 62 != 1)]
            rows += rows[-1:] * (len(rows) & 1)
            assert [(e.flags, e.key, e.value, e.key_string, e.value_string)
                    for e in body.old.entries] == rows


def _meant_hwcaps(cache):
    """The glibc-hwcaps names the writer meant (glibc reads a compat file's elsewhere)."""
    return cache.hwcaps if cache.written_hwcaps is None else cache.written_hwcaps


def _agree(data):
    """The declaration reads ``data`` as format.parse does (entries, header, extension)."""
    f = ff.parse(data)
    cache = fmt.parse(data)
    assert (f.layout, f.byte_order) == (cache.layout, cache.byte_order)
    assert _generator(f.body.new) == cache.generator
    assert _hwcaps(f.body.new) == _meant_hwcaps(cache)
    if f.body.new is not None:
        assert (f.body.new.header.flags != 0) == cache.endian_flag
        assert [(e.flags, e.key_string, e.value_string, e.osversion, e.hwcap)
                for e in f.body.new.entries] == [
            (e.flags, e.soname, e.path, e.osversion, e.hwcap) for e in cache.entries]
    else:
        # Both read each string where its offset points, as glibc does.
        assert [(e.flags, e.key_string, e.value_string) for e in f.body.old.entries] == [
            (e.flags, e.soname, e.path) for e in cache.entries]
    return f


@pytest.mark.parametrize("layout", fmt.LAYOUTS)
@pytest.mark.parametrize("order", fmt.BYTE_ORDERS)
def test_declaration_reads_every_layout_and_byte_order(layout, order):
    """The vectors re-encoded by format.build in each layout and byte order, and empty
    caches."""
    for name in ("host-hwcaps-new", "bullseye-amd64-osversion-new", "trixie-riscv64-compat",
                 "bullseye-amd64-new", "bookworm-s390x-old"):
        cache = fmt.parse((VECTORS / f"{name}.cache").read_bytes())
        if layout == "old":
            cache = cache.replace(hwcaps=(), entries=tuple(
                e._replace(hwcap=0, osversion=0, hwcaps_name=None) for e in cache.entries))
        f = _agree(fmt.build(cache.replace(layout=layout, byte_order=order)))
        assert (f.layout, f.byte_order) == (layout, order)
    for generator in (None, b"ldcache test"):
        empty = fmt.Cache(layout=layout, byte_order=order, generator=generator,
                          endian_flag=generator is not None)
        f = _agree(fmt.build(empty))
        assert f.layout == layout


# --- dump -----------------------------------------------------------------------------------


def _run(capsys, *args):
    status = cli.main(["dump", *map(str, args)])
    out = capsys.readouterr()
    return status, out.out, out.err


def _json(capsys, path):
    status, out, err = _run(capsys, "--json", "-C", path)
    assert status == 0 and err == ""
    return json.loads(out)


def _find(nodes, *names):
    """The node reached by following ``names`` down from the top-level ``nodes``."""
    node = None
    for name in names:
        matches = [n for n in nodes if n["name"] == name]
        assert len(matches) == 1, (name, [n["name"] for n in nodes])
        node = matches[0]
        nodes = node["fields"]
    return node


def _at(node):
    return node["offset"], node["size"], node["value"]


def test_dump_offsets_of_a_compat_file(capsys):
    doc = _json(capsys, COMPAT)
    assert (doc["file_size"], doc["layout"], doc["byte_order"]) == (5403, "compat", "little")
    top = doc["fields"]
    n = 72
    new = 16 + 12 * n                   # old header, 72 old entries; no padding (spec §1.4.1)
    assert new == 0x370
    assert _at(_find(top, "old header", "magic")) == (0, 11, "ld.so-1.7.0")
    assert _at(_find(top, "old header", "nlibs")) == (12, 4, n)
    assert _find(top, "old entries")["offset"] == 16
    assert _find(top, "old entries", "old entry 71")["offset"] == 16 + 12 * 71
    assert _at(_find(top, "new header", "magic")) == (new, 17, "glibc-ld.so.cache")
    assert _at(_find(top, "new header", "nlibs")) == (new + 20, 4, n)
    assert _at(_find(top, "new header", "len_strings")) == (new + 24, 4, 2654)
    assert _at(_find(top, "new header", "flags")) == (new + 28, 1, 2)
    assert _at(_find(top, "new header", "extension_offset")) == (new + 32, 4, 5312)
    entries = new + 48
    assert _find(top, "new entries")["offset"] == entries == 0x3A0
    e5 = _find(top, "new entries", "new entry 5")
    assert e5["offset"] == entries + 24 * 5
    assert [(f["name"], f["offset"] - e5["offset"], f["size"]) for f in e5["fields"]] == [
        ("flags", 0, 4), ("key", 4, 4), ("value", 8, 4), ("osversion", 12, 4), ("hwcap", 16, 8)]
    strings = entries + 24 * n
    table = _find(top, "string table")
    assert (table["offset"], table["size"]) == (strings, 2654)
    ext = (strings + 2654 + 3) & ~3     # the string table's end rounded up to 4 (spec §1.5)
    assert ext == 5312
    pad = _find(top, "(padding)")
    assert (pad["offset"], pad["size"], pad["value"]) == (strings + 2654, ext - strings - 2654,
                                                           "0000")
    assert _at(_find(top, "extension directory", "magic")) == (ext, 4, 0xEAA42174)
    assert _at(_find(top, "extension directory", "count")) == (ext + 4, 4, 1)
    assert _at(_find(top, "extension directory", "section 0", "offset")) == (ext + 16, 4,
                                                                            ext + 24)
    gen = _find(top, "generator")
    assert (gen["offset"], gen["size"]) == (ext + 24, 67)
    assert gen["offset"] + gen["size"] == doc["file_size"]
    # key and value: the old and the new table hold the same numbers, which count from the
    # new header (spec §1.4.2).
    old0 = _find(top, "old entries", "old entry 0", "key")
    new0 = _find(top, "new entries", "new entry 0", "key")
    assert old0["value"] == new0["value"]
    assert old0["string_offset"] == new0["string_offset"] == new + new0["value"]
    assert new0["string"] == "libzstd.so.1"
    flags = _find(top, "new entries", "new entry 0", "flags")
    assert (flags["value"], flags["type"], flags["arch"]) == (0x303, "libc6", "x86-64")
    assert flags["text"] == "0x0303 (libc6,x86-64)"


def test_dump_offsets_of_the_hwcaps_example(capsys):
    """The 539-byte file of spec §1.8.5."""
    doc = _json(capsys, VECTORS / "host-hwcaps-new.cache")
    top = doc["fields"]
    e0 = _find(top, "new entries", "new entry 0", "hwcap")
    assert _at(e0) == (48 + 16, 8, 0x4000000100000000)
    assert (e0["hwcaps_index"], e0["hwcaps_name"], e0["isa_level"]) == (0, "x86-64-v2", 1)
    assert _at(_find(top, "new header", "extension_offset")) == (32, 4, 0x1A4)
    names = _find(top, "glibc-hwcaps")
    assert (names["offset"], names["size"]) == (0x1A4 + 40, 12)
    assert [(n["offset"], n["value"], n["string"]) for n in names["fields"]] == [
        (0x1CC, 0xF4, "x86-64-v2"), (0x1D0, 0xBC, "x86-64-v3"), (0x1D4, 0xB2, "x86-64-v4")]
    assert _find(top, "generator")["offset"] == 0x1D8
    sec1 = _find(top, "extension directory", "section 1")
    assert sec1["offset"] == 0x1A4 + 8 + 16 and sec1["text"] == "glibc-hwcaps"


def test_dump_offsets_of_an_old_file(capsys):
    path = VECTORS / "bullseye-i386-old.cache"
    doc = _json(capsys, path)
    n = INDEX[path.name]["old_entries"]
    table = _find(doc["fields"], "string table")
    assert (table["offset"], table["size"]) == (16 + 12 * n, doc["file_size"] - 16 - 12 * n)
    assert doc["fields"][-1] is table
    key = _find(doc["fields"], "old entries", f"old entry {n - 1}", "key")
    assert key["offset"] == 16 + 12 * (n - 1) + 4
    assert key["string_offset"] == 16 + 12 * n + key["value"]


_LINE = re.compile(r"^(0x[0-9a-f]{8})  ( {0,7}\d+)  ( *)(\S.*?)(?:  +(\S.*))?$")


def test_dump_text(capsys):
    status, out, err = _run(capsys, "-C", COMPAT)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[:6] == [
        f"cache:       {COMPAT}",
        "file size:   5403 (0x151b)",
        "layout:      compat",
        "byte order:  little",
        "",
        "OFFSET          SIZE  FIELD                           VALUE",
    ]
    rows = []
    for line in lines[6:]:
        m = _LINE.match(line)
        assert m, line
        rows.append((int(m[1], 16), int(m[2]), len(m[3]) // 2, m[4].rstrip(), m[5] or ""))
    assert (0x384, 4, 1, "nlibs", "72") in rows
    assert (0x390, 4, 1, "extension_offset", "0x000014c0") in rows
    assert (0x3A4, 4, 2, "key", '0x00000d68 -> 0x000010d8 "libzstd.so.1"') in rows
    assert (0x14BE, 2, 0, "(padding)", "00 00") in rows
    assert rows[-1][:4] == (0x14D8, 67, 0, "generator")
    # Top-level items cover the file in order; each structure's fields cover it.
    top = [r for r in rows if r[2] == 0]
    for a, b in zip(top, top[1:]):
        assert a[0] + a[1] == b[0], (a, b)
    assert top[0][0] == 0 and top[-1][0] + top[-1][1] == 5403


def _check_cover(nodes, start, end):
    pos = start
    for n in nodes:
        assert n["offset"] == pos, n["name"]
        pos += n["size"]
    assert pos == end


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dump_covers_every_byte_of_every_vector(capsys, path):
    doc = _json(capsys, path)
    _check_cover(doc["fields"], 0, doc["file_size"])
    for node in doc["fields"]:
        if node["name"].endswith("header") or node["name"].endswith("entries"):
            _check_cover(node["fields"], node["offset"], node["offset"] + node["size"])
            for sub in node["fields"]:
                if sub["fields"]:
                    _check_cover(sub["fields"], sub["offset"], sub["offset"] + sub["size"])


def test_compat_new_header_at_the_8_byte_boundary(capsys, tmp_path):
    """An odd old table (not written by ldconfig, which makes it even): the new header is at
    ALIGN_CACHE of the old table's end, 4 bytes of padding further."""
    new = fmt.build(fmt.Cache(entries=(fmt.Entry(b"liba.so.1", b"/l/liba.so.1", 0x303),)))
    key, value = (int.from_bytes(new[48 + 4 * i:52 + 4 * i], "little") for i in (1, 2))
    data = (b"ld.so-1.7.0\0" + (1).to_bytes(4, "little")
            + b"".join(v.to_bytes(4, "little") for v in (0x303, key + 4, value + 4))
            + bytes(4) + new)
    assert fmt.decode(data).new_offset == 32
    f = ff.parse(data)
    assert (f.layout, f.body.hidden.gap_offset, f.body.hidden.alignment) == ("compat", 28, 8)
    assert f.body.new.file_offset == 32
    assert [(e.key_string, e.value_string) for e in f.body.old.entries + f.body.new.entries] \
        == [(b"liba.so.1", b"/l/liba.so.1")] * 2
    path = tmp_path / "odd.cache"
    path.write_bytes(data)
    doc = _json(capsys, path)
    pad = _find(doc["fields"], "(alignment padding)")
    assert (pad["offset"], pad["size"], pad["text"]) == (
        28, 4, "00 00 00 00 (to the 8-byte boundary)")
    assert _find(doc["fields"], "new header")["offset"] == 32
    _check_cover(doc["fields"], 0, len(data))


def test_dump_with_root(capsys, tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "ld.so.cache").write_bytes(COMPAT.read_bytes())
    status, out, err = _run(capsys, "-r", tmp_path)
    assert status == 0 and err == ""
    assert out.startswith("cache:       /etc/ld.so.cache\n")


# --- malformed files -------------------------------------------------------------------------

NEW = (VECTORS / "bookworm-amd64-new.cache").read_bytes()
OUT_OF_RANGE = (len(NEW) + 100) & ~3


def _u32(data, offset, value):
    out = bytearray(data)
    out[offset:offset + 4] = value.to_bytes(4, "little")
    return bytes(out)


def _malformed():
    nlibs = int.from_bytes(NEW[20:24], "little")
    len_strings = int.from_bytes(NEW[24:28], "little")
    strings = 48 + 24 * nlibs
    ext = int.from_bytes(NEW[32:36], "little")
    compat = COMPAT.read_bytes()
    return {
        "empty": (b"", 0),
        "short": (NEW[:10], 10),
        "bad-magic": (b"X" + NEW[1:], 0),
        "bad-version": (NEW[:17] + b"9.9" + NEW[20:], 17),
        "truncated-header": (NEW[:30], 29),
        "truncated-entries": (NEW[:48 + 24 * 3 + 5], 20),
        "truncated-strings": (NEW[:strings + 100], strings),
        "truncated-before-extension": (NEW[:strings + len_strings], 32),
        "truncated-generator": (NEW[:-5], ext + 8),
        "extension-out-of-range": (_u32(NEW, 32, OUT_OF_RANGE), 32),
        "extension-misaligned": (_u32(NEW, 32, ext + 1), 32),
        "extension-bad-magic": (_u32(NEW, ext, 0), ext),
        "key-outside-strings": (_u32(NEW, 48 + 4, len(NEW)), 48 + 4),
        "invalid-flags": (NEW[:28] + b"\x01" + NEW[29:], 28),
        "old-count-too-large": (_u32(compat, 12, 10**6), 12),
        "compat-truncated-old": (compat[:16 + 12 * 10], 12),
    }


MALFORMED = _malformed()


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_file_is_one_line_and_exit_1(capsys, tmp_path, name):
    data, offset = MALFORMED[name]
    path = tmp_path / f"{name}.cache"
    path.write_bytes(data)
    status, out, err = _run(capsys, "-C", path)
    assert status == 1 and out == ""
    m = re.fullmatch(rf"ldcache: {re.escape(str(path))}: (.+) at offset (0x[0-9a-f]+)\n", err)
    assert m, err
    assert int(m[2], 16) == offset, err
    # the fast reader rejects it too
    with pytest.raises(CacheFormatError):
        fmt.parse(data)


def test_malformed_file_has_no_traceback(tmp_path):
    path = tmp_path / "bad.cache"
    path.write_bytes(MALFORMED["extension-out-of-range"][0])
    p = subprocess.run([sys.executable, "-m", "ldcache", "dump", "-C", str(path)],
                       capture_output=True, text=True, cwd=PROJECT)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr == (f"ldcache: {path}: extension directory offset {OUT_OF_RANGE:#x} "
                        "outside the file at offset 0x20\n")


def test_declaration_accepts_what_format_parse_accepts():
    """Damaged vectors: whatever format.parse reads the declaration reads (and nothing that
    format.decode rejects), and the declaration fails only with CacheFormatError."""
    import random

    rng = random.Random(7)
    originals = [p.read_bytes() for p in FILES]
    for _ in range(600):
        data = bytearray(rng.choice(originals))
        if rng.random() < 0.3:
            del data[rng.randrange(len(data)):]
        else:
            for _ in range(rng.randrange(1, 4)):
                where = rng.randrange(min(len(data), 64) if rng.random() < 0.6 else len(data))
                data[where] = rng.randrange(256)
        data = bytes(data)
        try:
            fmt.parse(data)
            parsed = True
        except CacheFormatError:
            parsed = False
        try:
            fmt.decode(data)
            decoded = True
        except CacheFormatError:
            decoded = False
        try:
            ff.parse(data)
            declared = True
        except CacheFormatError as exc:
            declared = False
            assert exc.offset is not None
        assert not parsed or declared
        assert not declared or decoded


# --- the command line ------------------------------------------------------------------------


def test_dump_is_a_command():
    import argparse

    assert "dump" in cli.COMMANDS
    parser = cli.build_parser()
    sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    assert "dump" in sub.choices
    args = parser.parse_args(["dump", "-C", "x", "--json"])
    assert (args.cache, args.root, args.json) == ("x", None, True)


def _imports(*args):
    p = subprocess.run([sys.executable, "-X", "importtime", "-m", "ldcache", *args],
                       capture_output=True, text=True, cwd=PROJECT)
    assert p.returncode == 0, p.stderr
    return {line.rsplit("|", 1)[-1].strip() for line in p.stderr.splitlines()
            if line.startswith("import time:")}


def test_only_dump_imports_construct():
    vector = str(COMPAT.relative_to(PROJECT))
    for command in (["print", "-C", vector], ["info", "-C", vector],
                    ["print", "--json", "-C", vector]):
        modules = _imports(*command)
        assert "ldcache.format" in modules, command
        assert "construct" not in modules and "ldcache.fileformat" not in modules, command
    modules = _imports("dump", "-C", vector)
    assert {"construct", "ldcache.fileformat"} <= modules
