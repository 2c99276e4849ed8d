"""What ldcache finds out about a root from its files alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ldcache.detect import describe_root
from ldcache.glibc import NEWEST
from ldcache.inroot import Root

HOST_LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")


def test_musl_root_arch_from_its_loader(tmp_path: Path, capsys) -> None:
    """A musl image has no glibc: newest behaviour, a notice, and the architecture of its
    loader /lib/ld-musl-ARCH.so.1 (here any x86-64 ELF stands in for it)."""
    if not HOST_LIBC.exists():
        pytest.skip("no x86-64 libc on this machine to stand in for a musl loader")
    (tmp_path / "lib").mkdir()
    shutil.copy(HOST_LIBC.resolve(), tmp_path / "lib/ld-musl-x86_64.so.1")
    with Root(tmp_path) as r:
        info = describe_root(r)
    assert info.glibc is None
    assert info.behaviour.version == NEWEST == (2, 43)
    assert info.arch.name == "x86_64"
    assert not any("architecture" in n for n in info.notices)
    assert any("no glibc found" in n for n in info.notices)
    assert capsys.readouterr().err == ""  # the library says nothing: the frontend does


def test_empty_root_gets_notices(tmp_path: Path, capsys) -> None:
    with Root(tmp_path) as r:
        info = describe_root(r)
    assert info.behaviour.version == NEWEST == (2, 43)
    notes = " ".join(info.notices)
    assert "no glibc found" in notes and "architecture" in notes
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("text,debian,default", [("2.31", False, "compat"),
                                                 ("2.31-13+deb11u11", True, "new")])
def test_glibc_override_names_the_build(tmp_path: Path, text: str, debian: bool,
                                        default: str) -> None:
    """--glibc with a Debian package version means Debian's build (new layout by default,
    the endianness flag byte), a bare version the upstream one."""
    with Root(tmp_path) as r:
        info = describe_root(r, glibc=text, arch="x86_64")
    assert info.behaviour.version == (2, 31)
    assert info.behaviour.endian_flag is debian
    assert info.behaviour.default_format == default


def _libcs() -> list:
    """Every real libc on this machine: its own, and those of the cached Debian roots."""
    import glob

    from support.debroots import ROOTS_DIR

    found = {"/usr/lib/x86_64-linux-gnu/libc.so.6"}
    for pattern in ("*/lib/*-linux-gnu*/libc.so.6", "*/usr/lib/*-linux-gnu*/libc.so.6"):
        found.update(glob.glob(str(ROOTS_DIR / pattern)))
    return sorted(p for p in found if Path(p).is_file() and not Path(p).is_symlink())


@pytest.mark.parametrize("libc", _libcs())
def test_banner_from_rodata_is_the_whole_file_s(libc: str, monkeypatch) -> None:
    """The banner is looked for in .rodata first: the same result as the search of the
    whole file, on every real libc there is here (other ports and glibc versions
    included), and .rodata is found in each."""
    import os

    from ldcache import detect

    with Root(os.path.dirname(libc)) as r:
        name = b"/libc.so.6"
        fd = r.open(name)
        try:
            assert detect._rodata_span(fd, os.fstat(fd).st_size) is not None
        finally:
            os.close(fd)
        fast = detect._banner_in(r, name)
        monkeypatch.setattr(detect, "_rodata_span", lambda fd, size: None)
        whole = detect._banner_in(r, name)
    assert fast is not None and fast[:3] == whole[:3]


def test_banner_outside_rodata_is_still_found(tmp_path: Path) -> None:
    """A file whose .rodata does not hold the banner (or that has no sections): the whole
    file is searched, as before."""
    import os

    from support.gcclib import build_library

    from ldcache import detect

    lib = build_library("libfake.so.6").read_bytes()
    banner = b"GNU C Library (Fake 9.9) stable release version 2.36.\0"
    (tmp_path / "libc.so.6").write_bytes(lib + banner)
    (tmp_path / "junk.so").write_bytes(b"\x7fELF" + bytes(60) + banner)
    with Root(tmp_path) as r:
        for name in (b"/libc.so.6", b"/junk.so"):
            found = detect._banner_in(r, name)
            assert found is not None and found[0] == b"(Fake 9.9) " and found[2] == b"2.36"
        fd = r.open(b"/junk.so")
        try:
            assert detect._rodata_span(fd, os.fstat(fd).st_size) is None
        finally:
            os.close(fd)
