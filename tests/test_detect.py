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
        info = describe_root(r, prog="t")
    assert info.glibc is None
    assert info.behaviour.version == NEWEST == (2, 43)
    assert info.arch.name == "x86_64"
    assert not any("architecture" in n for n in info.notices)
    assert "no glibc found" in capsys.readouterr().err


def test_empty_root_gets_notices(tmp_path: Path, capsys) -> None:
    with Root(tmp_path) as r:
        info = describe_root(r, prog="t")
    assert info.behaviour.version == NEWEST == (2, 43)
    err = capsys.readouterr().err
    assert "no glibc found" in err and "architecture" in err


@pytest.mark.parametrize("text,debian,default", [("2.31", False, "compat"),
                                                 ("2.31-13+deb11u11", True, "new")])
def test_glibc_override_names_the_build(tmp_path: Path, text: str, debian: bool,
                                        default: str) -> None:
    """--glibc with a Debian package version means Debian's build (new layout by default,
    the endianness flag byte), a bare version the upstream one."""
    with Root(tmp_path) as r:
        info = describe_root(r, glibc=text, arch="x86_64", prog="t")
    assert info.behaviour.version == (2, 31)
    assert info.behaviour.endian_flag is debian
    assert info.behaviour.default_format == default
