"""Quick checks of tests/support/debroots.py and of the committed vectors.

The root tests build (once, cached) a Debian minbase root with debootstrap, or skip
with the reason when that cannot be done here.  The vector tests only read files.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any, Dict, List

import pytest
from support import debroots

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


def _index() -> Dict[str, Any]:
    index: Dict[str, Any] = json.loads((VECTORS / "index.json").read_text())
    return index


# ------------------------------------------------------------------ pure helpers


def test_glibc_version_parses_debian_versions() -> None:
    assert debroots.glibc_version("2.36-9+deb12u14") == "2.36"
    assert debroots.glibc_version("2.31-13+deb11u11") == "2.31"
    assert debroots.glibc_version("1:2.41-12") == "2.41"
    with pytest.raises(ValueError):
        debroots.glibc_version("unknown")


def test_deb_versions_from_archive_names(tmp_path: Path) -> None:
    archives = tmp_path / "var" / "cache" / "apt" / "archives"
    archives.mkdir(parents=True)
    (archives / "libc6_2.36-9+deb12u14_amd64.deb").write_bytes(b"")
    (archives / "libcrypt1_1%3a4.4.33-2_amd64.deb").write_bytes(b"")
    assert debroots.package_version(tmp_path, "libc6") == "2.36-9+deb12u14"
    assert debroots.package_version(tmp_path, "libcrypt1") == "1:4.4.33-2"
    assert debroots.package_version(tmp_path, "libc-bin") is None


def test_dpkg_status_wins_over_deb_names(tmp_path: Path) -> None:
    status = tmp_path / "var" / "lib" / "dpkg" / "status"
    status.parent.mkdir(parents=True)
    status.write_text(
        "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u99\n\n"
        "Package: libc-bin\nStatus: deinstall ok config-files\nVersion: 2.30-1\n"
    )
    archives = tmp_path / "var" / "cache" / "apt" / "archives"
    archives.mkdir(parents=True)
    (archives / "libc6_2.36-9+deb12u14_amd64.deb").write_bytes(b"")
    (archives / "libc-bin_2.36-9+deb12u14_amd64.deb").write_bytes(b"")
    assert debroots.package_version(tmp_path, "libc6") == "2.36-9+deb12u99"
    # not installed according to dpkg: fall back to the unpacked .deb
    assert debroots.package_version(tmp_path, "libc-bin") == "2.36-9+deb12u14"


def test_unknown_or_missing_ports() -> None:
    with pytest.raises(ValueError):
        debroots.debian_root("sid-or-typo", "amd64")
    with pytest.raises(debroots.RootUnavailable, match="riscv64"):
        debroots.debian_root("bookworm", "riscv64")
    with pytest.raises(debroots.RootUnavailable, match="LTS"):
        debroots.debian_root("bullseye", "s390x")


def test_find_ldconfig_refuses_symlink_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "r"
    (root / "sbin").mkdir(parents=True)
    (root / "sbin" / "ldconfig").symlink_to("/sbin/ldconfig")  # absolute: host's binary
    with pytest.raises(debroots.RootBuildError):
        debroots.find_ldconfig(root)


def test_cache_generator_reads_the_spec_example() -> None:
    # spec 1.8.4: an empty new-format cache of Debian 2.36
    gen = b"ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36"
    header = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", 0, 0, 2, 0x30)
    ext = struct.pack("<IIIIII", 0xEAA42174, 1, 0, 0, 0x48, len(gen))
    data = header + ext + gen
    assert len(data) == 139
    assert debroots.cache_generator(data, "little") == gen
    assert debroots.cache_generator(b"ld.so-1.7.0\0" + b"\0" * 4, "little") is None


# ------------------------------------------------------------------ real roots


@pytest.mark.slow
def test_bookworm_root_and_its_ldconfig(tmp_path: Path) -> None:
    debroots.require_root_ldconfig("amd64")
    root = debroots.require_root("bookworm", "amd64")
    assert debroots.find_ldconfig(root).is_file()
    info = debroots.root_info("bookworm", "amd64")
    assert info["glibc"] == "2.36"
    assert info["libc6"].startswith("2.36-")
    work = debroots.working_copy("bookworm", "amd64", tmp_path / "root", hardlink=True)
    debroots.run_root_ldconfig(work, "amd64", ["-C", "/etc/test.cache"])
    data = (work / "etc" / "test.cache").read_bytes()
    assert data.startswith(b"glibc-ld.so.cache1.1")  # 2.36 default layout: new
    assert data[28] == 2  # little-endian flag
    gen = debroots.root_generator(work, "amd64")
    assert gen == f"ldconfig (Debian GLIBC {info['libc-bin']}) stable release version 2.36".encode()
    assert debroots.cache_generator(data, "little") == gen
    # the pristine root was not touched by the run in the hard-linked copy
    assert not (root / "etc" / "test.cache").exists()


@pytest.mark.slow
def test_foreign_big_endian_root(tmp_path: Path) -> None:
    debroots.require_root_ldconfig("s390x")
    debroots.require_root("bookworm", "s390x")
    work = debroots.working_copy("bookworm", "s390x", tmp_path / "root")
    debroots.run_root_ldconfig(work, "s390x", ["-c", "compat", "-C", "/etc/c"])
    data = (work / "etc" / "c").read_bytes()
    assert data.startswith(b"ld.so-1.7.0\0")
    (n_old,) = struct.unpack_from(">I", data, 12)
    assert n_old % 2 == 0 and n_old > 0
    new_at = 16 + 12 * n_old
    assert data[new_at : new_at + 20] == b"glibc-ld.so.cache1.1"
    assert data[new_at + 28] == 3  # big-endian flag
    text = debroots.run_root_ldconfig(work, "s390x", ["-p", "-C", "/etc/c"]).stdout
    assert b"(libc6,64bit) => /lib/s390x-linux-gnu/libc.so.6" in text
    (nlibs,) = struct.unpack_from(">I", data, new_at + 20)
    assert text.startswith(b"%d libs found in cache `/etc/c'\n" % nlibs)


# ------------------------------------------------------------------ vectors


def test_index_matches_files() -> None:
    index = _index()
    files: List[Dict[str, Any]] = index["files"]
    assert len(files) >= 100
    on_disk = {p.name for p in VECTORS.iterdir() if p.suffix in (".cache", ".txt")}
    assert {r["file"] for r in files} == on_disk
    for rec in files:
        data = (VECTORS / rec["file"]).read_bytes()
        assert len(data) == rec["size"], rec["file"]
        assert hashlib.sha256(data).hexdigest() == rec["sha256"], rec["file"]


def test_vector_headers_agree_with_index() -> None:
    for rec in _index()["files"]:
        data = (VECTORS / rec["file"]).read_bytes()
        bo = "<" if rec["byte_order"] == "little" else ">"
        if rec["kind"] == "ldconfig-p":
            first = data.split(b"\n", 1)[0].decode()
            assert first == f"{rec['entries']} libs found in cache `{rec['cache_path']}'"
            continue
        if rec["layout"] == "new":
            assert data.startswith(b"glibc-ld.so.cache1.1")
            assert struct.unpack_from(bo + "I", data, 20)[0] == rec["entries"]
        else:
            assert data.startswith(b"ld.so-1.7.0\0")
            assert struct.unpack_from(bo + "I", data, 12)[0] == rec["old_entries"]


def test_default_layout_per_suite() -> None:
    """Measured: every Debian suite's ldconfig defaults to the new layout, bullseye's
    2.31 included (upstream 2.31 defaulted to compat)."""
    roots = _index()["roots"]
    debian = {k: v for k, v in roots.items() if k.count("-") == 1 and not k.startswith("host")}
    assert debian, "no Debian root vectors"
    for key, summary in debian.items():
        assert summary["default_layout"] == "new", key


@pytest.mark.slow
def test_synthetic_root_reproduces_its_vector(tmp_path: Path) -> None:
    """Rebuilding a synthetic root and running the host ldconfig on it gives the
    committed vector again (the vectors are reproducible from the JSON)."""
    if not os.path.exists("/sbin/ldconfig"):
        pytest.skip("no /sbin/ldconfig on this machine")
    debroots.require_root_ldconfig("amd64")
    recs = {r["file"]: r for r in debroots.vector_index()}
    rec = recs["host-elfclass-new.cache"]
    root = debroots.require_synthetic_root("elfclass", tmp_path / "root")
    debroots.run_ldconfig(Path("/sbin/ldconfig"), root, ["-c", "new", "-C", rec["cache_path"]])
    data = (root / rec["cache_path"].lstrip("/")).read_bytes()
    gen = debroots.cache_generator(data, "little")
    if gen is None or gen.decode() != rec["generator"]:
        pytest.skip(f"host ldconfig is not the one the vectors were made with ({gen!r})")
    assert hashlib.sha256(data).hexdigest() == rec["sha256"]
