"""The construct declarations (ldcache/layouts.py) define the format; the struct codec that
reading and writing run on (ldcache/_codec.py) is generated from them.  These tests keep the
two the same thing."""

from __future__ import annotations

from pathlib import Path

import construct as c
import pytest
from support.common import VECTORS

from ldcache import format as fmt
from ldcache.layouts import STRUCTURES, Layout, codec_source


def test_codec_is_generated_from_the_declarations():
    current = (Path(fmt.__file__).parent / "_codec.py").read_text()
    assert current == codec_source(), (
        "regenerate: python -m ldcache.layouts > /tmp/c.py && mv /tmp/c.py ldcache/_codec.py")


@pytest.mark.parametrize("order", ["little", "big"])
@pytest.mark.parametrize("name", STRUCTURES)
def test_sizes_and_round_trip_agree(order, name):
    decl = getattr(Layout(order), name)
    compiled = getattr(fmt._LAYOUT[order], name)
    assert compiled.sizeof() == decl.sizeof()
    values = {f: (7 if f != "flags" else 3) for f in compiled.fields}
    values.update(compiled.consts)
    data = compiled.build(values)
    assert data == decl.build(values)
    parsed = decl.parse(data)
    assert {f: parsed[f] for f in compiled.fields} == vars(compiled.parse(data))


def _headers(data: bytes):
    """(structure name, offset) of every header in a real cache."""
    raw = fmt.decode(data)
    out = []
    if raw.old_nlibs is not None:
        out.append(("old_header", 0))
        out += [("old_entry", 16 + 12 * i) for i in range(raw.old_nlibs)]
    if raw.new_offset is not None:
        out.append(("new_header", raw.new_offset))
        out += [("new_entry", raw.new_offset + 48 + 24 * i) for i in range(len(raw.new_entries))]
        ext = raw.new_header.extension_offset
        if ext:
            out.append(("extension_header", ext))
            count = fmt._LAYOUT[raw.byte_order].extension_header.parse(data, ext).count
            out += [("extension_section", ext + 8 + 16 * i) for i in range(count)]
    return raw.byte_order, out


def test_every_vector_decodes_the_same_both_ways():
    files = sorted(VECTORS.glob("*.cache"))
    assert len(files) > 50
    checked = 0
    for path in files:
        data = path.read_bytes()
        order, places = _headers(data)
        decl, compiled = Layout(order), fmt._LAYOUT[order]
        for name, offset in places:
            d, s = getattr(decl, name), getattr(compiled, name)
            chunk = data[offset:offset + d.sizeof()]
            parsed = d.parse(chunk)
            assert {f: parsed[f] for f in s.fields} == vars(s.parse(data, offset)), (path, name)
            checked += 1
    assert checked > 5000


def test_bad_constant_is_an_error_both_ways():
    data = bytearray(fmt._LAYOUT["little"].new_header.build({"nlibs": 0, "len_strings": 0,
                                                             "flags": 2, "extension_offset": 0}))
    data[3] ^= 1
    with pytest.raises(c.ConstructError):
        Layout("little").new_header.parse(bytes(data))
    with pytest.raises(fmt.StructureError):
        fmt._LAYOUT["little"].new_header.parse(bytes(data))
