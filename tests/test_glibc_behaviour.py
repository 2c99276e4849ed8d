"""The loader's version switches are :class:`ldcache.glibc.Behaviour` fields, read by
ldcache/lookup.py, which compares no version numbers itself; the port table fills in
every a.out size."""

from __future__ import annotations

import ast
from pathlib import Path

import ldcache
from ldcache.arch import ARCHES
from ldcache.glibc import NEWEST, OLDEST, behaviour
from ldcache.lookup import builtin_hwcaps_subdirs

LOOKUP = Path(ldcache.__file__).with_name("lookup.py")


def _is_version(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, int) for e in node.elts)


def test_lookup_compares_no_versions():
    """No ``version >= (2, 33)`` in lookup.py: such switches belong to Behaviour."""
    found = [ast.unparse(n) for n in ast.walk(ast.parse(LOOKUP.read_text()))
             if isinstance(n, ast.Compare) and any(map(_is_version, [n.left, *n.comparators]))]
    assert found == []


def test_loader_switches_by_version():
    for minor in range(OLDEST[1], NEWEST[1] + 1):
        v = (2, minor)
        b = behaviour(v)
        assert b.loader_checks_endian is (minor >= 33)
        assert b.loader_replaces_fallback is (minor >= 34)
        assert b.loader_legacy_hwcaps is (minor <= 39)
        assert b.loader_osversion_check is (minor <= 35)
        assert builtin_hwcaps_subdirs(ARCHES["x86_64"], v) == \
            builtin_hwcaps_subdirs(ARCHES["x32"], v) == b.x86_64_hwcaps_subdirs
        assert builtin_hwcaps_subdirs(ARCHES["aarch64"], v) == ()
    assert behaviour("2.32").s390x_hwcaps_subdirs == behaviour("2.32").ppc64le_hwcaps_subdirs \
        == behaviour("2.32").x86_64_hwcaps_subdirs == ()
    assert behaviour("2.33").ppc64le_hwcaps_subdirs == ("power9",)
    assert behaviour("2.34").ppc64le_hwcaps_subdirs == ("power10", "power9")
    assert behaviour("2.35").s390x_hwcaps_subdirs == ("z15", "z14", "z13")
    assert behaviour("2.41").s390x_hwcaps_subdirs[0] == "z16"
    assert behaviour("2.42").s390x_hwcaps_subdirs[0] == "z17"


def test_every_port_has_its_struct_exec():
    for a in ARCHES.values():
        assert a.aout_info_size and a.aout_exec_size, a.name
        if a.family not in ("sparc", "alpha"):
            assert (a.aout_info_offset, a.aout_info_size, a.aout_exec_size) == \
                (0, a.elf_class // 8, 40 if a.elf_class == 64 else 32), a.name
