"""`ldcache build -r ROOT` on real Debian roots of several glibc versions and architectures,
against each root's own ldconfig (run under qemu-user where foreign): same bytes, same links.

Detection is under test: no --glibc, no --arch.  Roots are debootstrap'd once and cached
(tests/support/debroots.py); each test works on two hard-linked copies (both tools only ever
replace files, never write into one).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import debroots
from support.synthroots import tree

from ldcache.format import parse

ROOTS = [("bookworm", "arm64"), ("bookworm", "armhf"), ("bookworm", "i386"),
         ("bookworm", "ppc64el"), ("bookworm", "s390x"), ("trixie", "riscv64"),
         ("bullseye", "amd64"), ("bookworm", "amd64"), ("trixie", "amd64"),
         ("sid", "amd64")]


def ldcache(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ldcache", *args], capture_output=True)


@pytest.mark.slow
@pytest.mark.parametrize("suite,arch", ROOTS, ids=[f"{s}-{a}" for s, a in ROOTS])
def test_root_matches_its_own_ldconfig(tmp_path: Path, suite: str, arch: str) -> None:
    debroots.require_root(suite, arch)
    debroots.require_root_ldconfig(arch)
    theirs = debroots.working_copy(suite, arch, tmp_path / "glibc", hardlink=True)
    ours = debroots.working_copy(suite, arch, tmp_path / "ldcache", hardlink=True)
    generator = debroots.root_generator(debroots.debian_root(suite, arch), arch)
    gen_args = ["--generator", generator.decode()] if generator is not None else []
    # The default run: links and the default layout.
    debroots.run_root_ldconfig(theirs, arch, [])
    got = ldcache("build", "-r", str(ours), *gen_args)
    assert got.returncode == 0, got.stderr.decode()
    expected = (theirs / "etc/ld.so.cache").read_bytes()
    actual = (ours / "etc/ld.so.cache").read_bytes()
    assert parse(actual).entries == parse(expected).entries
    assert actual == expected
    assert tree(ours) == tree(theirs)
    assert len(parse(actual).entries) > 20
    for layout in ("new", "compat", "old"):
        path = f"/etc/ld.so.cache.{layout}"
        debroots.run_root_ldconfig(theirs, arch, ["-X", "-c", layout, "-C", path])
        got = ldcache("build", "-r", str(ours), "-X", "-c", layout, "-C", path, *gen_args)
        assert got.returncode == 0, got.stderr.decode()
        assert (ours / path[1:]).read_bytes() == (theirs / path[1:]).read_bytes(), layout
