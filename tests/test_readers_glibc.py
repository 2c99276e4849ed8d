"""Every reader reads a cache file as glibc does: ``ldconfig -p`` (the machine's, glibc 2.36)
and the loader (``ld.so --list`` in a chroot) are the oracles for files whose writers'
bugs or other writers make "what the writer meant" and "what glibc reads" differ."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from support.gcclib import build_library, install_library
from support.synthroots import copy_host_runtime

from ldcache.format import HWCAP_EXTENSION, Cache, Entry, build, parse

LDSO = "/lib64/ld-linux-x86-64.so.2"
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"


def _ldconfig() -> str:
    found = shutil.which("ldconfig") or "/sbin/ldconfig"
    if not os.path.exists(found):
        pytest.skip("no ldconfig")
    return found


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["python3", "-m", "ldcache", *args], capture_output=True)


def _glibc_p(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_ldconfig(), "-p", "-C", str(path)], capture_output=True)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A chroot with the host's runtime, /opt/a/liba.so.1, and /prog needing it."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot)")
    r = tmp_path_factory.mktemp("readers")
    copy_host_runtime(r)
    install_library(r / "opt/a/liba.so.1", "liba.so.1")
    install_library(r / "opt/a/glibc-hwcaps/x86-64-v2/liba.so.1", "liba.so.1")
    src = r / "prog.c"
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", "-Wl,--no-as-needed", "-o", str(r / "prog"), str(src),
                    str(build_library("liba.so.1"))], check=True, capture_output=True)
    return r


def _loader_finds(root: Path, data: bytes) -> str | None:
    """The path the machine's loader opens for liba.so.1 with ``data`` as the cache."""
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/ld.so.cache").write_bytes(data)
    out = subprocess.run([CHROOT, str(root), LDSO, "--list", "/prog"], capture_output=True,
                         text=True, env={"PATH": "/usr/bin:/bin"})
    for line in out.stdout.splitlines():
        m = re.match(r"\s*liba\.so\.1 => (\S+) \(0x", line)
        if m:
            return m.group(1)
    assert "liba.so.1: cannot open shared object file" in out.stderr, out.stderr
    return None


def _lookup(path: Path) -> str | None:
    got = _run("lookup", "-C", str(path), "--glibc", "2.36", "--arch", "x86_64",
               "--hwcaps", "x86-64-v2", "--json", "liba.so.1")
    assert got.returncode in (0, 1), got.stderr.decode()
    return json.loads(got.stdout)["path"]


def _check(tmp_path: Path, root: Path, data: bytes) -> Path:
    """print = ldconfig -p, and lookup = the loader, for cache ``data``."""
    path = tmp_path / "ld.so.cache"
    path.write_bytes(data)
    ref = _glibc_p(path)
    mine = _run("print", "-C", str(path), "--glibc", "2.36-9+deb12u14")
    assert (mine.returncode == 0) == (ref.returncode == 0), (mine, ref)
    if ref.returncode == 0:
        assert mine.stdout == ref.stdout
        assert _lookup(path) == _loader_finds(root, data)
    return path


# --- 1: glibc <= 2.32 -c old with an odd count: every offset 4 too large --------------------

def test_old_pad_bug_read_as_glibc_reads_it(tmp_path, root):
    meant = Cache(entries=(Entry(b"liba.so.1", b"/opt/a/liba.so.1", 0x303),), layout="old",
                  string_table="concat", endian_flag=False, old_offset_bias=4)
    data = build(meant)
    path = _check(tmp_path, root, data)
    assert _loader_finds(root, data) is None
    cache = parse(data)
    assert [(e.soname, e.path) for e in cache.entries] == [(b".so.1", b"/a/liba.so.1")]
    assert cache.written_entries == meant.written_entries
    assert build(cache) == data  # the bytes are kept
    doc = json.loads(_run("print", "--json", "-C", str(path)).stdout)
    assert [(e["soname"], e["path"]) for e in doc["entries"]] == [(".so.1", "/a/liba.so.1")]
    out = tmp_path / "new.cache"
    assert _run("convert", "-c", "new", str(path), str(out)).returncode == 0
    assert _loader_finds(root, out.read_bytes()) is None
    assert [e.soname for e in parse(out.read_bytes()).entries] == [b".so.1"]


# --- 2: compat with glibc-hwcaps: names read from the file start ---------------------------

def test_compat_hwcaps_names_from_file_start(tmp_path, root):
    hw = Entry(b"liba.so.1", b"/opt/a/glibc-hwcaps/x86-64-v2/liba.so.1", 0x303,
               hwcap=HWCAP_EXTENSION)
    plain = Entry(b"liba.so.1", b"/opt/a/liba.so.1", 0x303)
    data = build(Cache(entries=(hw, plain), layout="compat", generator=b"g",
                       hwcaps=(b"x86-64-v2",)))
    path = _check(tmp_path, root, data)
    assert _loader_finds(root, data) == "/opt/a/liba.so.1"
    printed = re.search(rb'hwcap: "([^"]*)"', _glibc_p(path).stdout).group(1)
    info = json.loads(_run("info", "--json", "-C", str(path)).stdout)
    assert info["hwcaps"] == [printed.decode()] != ["x86-64-v2"]
    assert build(parse(data)) == data
    # The same entries in a new-only file: glibc reads the name written.
    new = build(Cache(entries=(hw, plain), generator=b"g", hwcaps=(b"x86-64-v2",)))
    _check(tmp_path, root, new)
    assert _loader_finds(root, new) == "/opt/a/glibc-hwcaps/x86-64-v2/liba.so.1"


# --- 3, 4: an old table of 0 or 1 entries before a complete new cache ----------------------

def _other_writer(n_old: int, generator: bytes | None) -> bytes:
    new = build(Cache(entries=(Entry(b"liba.so.1", b"/opt/a/liba.so.1", 0x303),),
                      generator=generator))
    head = b"ld.so-1.7.0\0" + struct.pack("<I", n_old)
    rows = struct.pack("<iII", 0x303, 0, 0) * n_old
    return head + rows + bytes(-len(head + rows) % 8) + new


@pytest.mark.parametrize("n_old", [0, 1])
def test_small_old_table_before_new_cache(tmp_path, root, n_old):
    data = _other_writer(n_old, None)
    path = _check(tmp_path, root, data)
    assert _loader_finds(root, data) == "/opt/a/liba.so.1"
    assert _run("info", "-C", str(path)).returncode == 0
    assert _lookup(path) == "/opt/a/liba.so.1"
    out = tmp_path / "out.cache"
    assert _run("convert", "-c", "new", str(path), str(out)).returncode == 0
    assert _loader_finds(root, out.read_bytes()) == "/opt/a/liba.so.1"


@pytest.mark.parametrize("n_old", [0, 1])
def test_small_old_table_with_misplaced_extension(tmp_path, root, n_old):
    data = _other_writer(n_old, b"other writer")
    path = tmp_path / "ld.so.cache"
    path.write_bytes(data)
    ref = _glibc_p(path)
    assert ref.returncode == 1 and b"Malformed extension data" in ref.stderr
    mine = _run("print", "-C", str(path))
    assert mine.returncode != 0 and b"extension" in mine.stderr


# --- 5: --glibc with a Debian package version on a root without a libc ---------------------

def test_build_debian_version_uses_multiarch_dirs(tmp_path):
    r = tmp_path / "root"
    install_library(r / "lib/x86_64-linux-gnu/libm1.so.1", "libm1.so.1")
    install_library(r / "usr/lib/x86_64-linux-gnu/libm2.so.1", "libm2.so.1")
    install_library(r / "usr/lib/libup.so.1", "libup.so.1")
    (r / "etc").mkdir()
    (r / "etc/ld.so.conf").write_text("")
    got = _run("build", "-r", str(r), "--arch", "x86_64", "--glibc", "2.36-9+deb12u14")
    assert got.returncode == 0, got.stderr.decode()
    paths = {e.path for e in parse((r / "etc/ld.so.cache").read_bytes()).entries}
    assert {b"/lib/x86_64-linux-gnu/libm1.so.1",
            b"/usr/lib/x86_64-linux-gnu/libm2.so.1"} <= paths
    got = _run("build", "-r", str(r), "--arch", "x86_64", "--glibc", "2.36")
    paths = {e.path for e in parse((r / "etc/ld.so.cache").read_bytes()).entries}
    assert not any(b"-linux-gnu" in p for p in paths)
