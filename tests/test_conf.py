"""ldcache.conf against the machine's own ldconfig (Debian glibc 2.36).

Each oracle test builds a root whose configuration names real directories (each holding
one gcc-built library), runs ``ldconfig -r ROOT -v -X -C /etc/c`` and compares the
directory headers it prints (``DIR: (from FILE:LINE)``) with :func:`parse_conf` +
:func:`system_dirs` after an inode deduplication done here, and its stderr messages
with ours.  Version-specific behaviour the machine cannot run (2.31 ``hwcap`` lines,
≥ 2.37 ``dir=TYPE``) is checked against facts read from glibc's sources.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import pytest
from support.gcclib import build_library

from ldcache.cacheflags import FLAG_ELF_LIBC5, FLAG_ELF_LIBC6, FLAG_LIBC4
from ldcache.conf import (
    ConfDir,
    ConfLimits,
    ConfResult,
    detect_layout,
    parse_conf,
    system_dirs,
    trim_dir,
)
from ldcache.errors import ConfError
from ldcache.glibc import behaviour
from ldcache.inroot import Root

B236 = behaviour("2.36", debian=True)
B231 = behaviour("2.31")
B242 = behaviour("2.42")
TRIPLET = b"x86_64-linux-gnu"
TRIPLET_S = TRIPLET.decode()
DEBIAN_SYSTEM = system_dirs("x86_64", b"/lib/" + TRIPLET, b"/usr/lib/" + TRIPLET, B236,
                            debian_multiarch=TRIPLET)

Content = Union[str, bytes]


def requires_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (ldconfig -r only chroots as root)")


_HEADER = re.compile(rb"^(.*): \(from (.*):(\d+)\)$")


# ------------------------------------------------------------------------------ helpers

def make_root(base: Path, files: Mapping[str, Content], dirs: Iterable[str] = (),
              symlinks: Mapping[str, str] | None = None) -> Path:
    """A root under ``base``: ``files`` (in-root path → content), ``dirs`` (each gets
    one library), ``symlinks`` (in-root path → target text)."""
    root = base / "root"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    lib = build_library("libX.so.1").read_bytes()
    for d in dirs:
        p = root / d.lstrip("/")
        p.mkdir(parents=True, exist_ok=True)
        (p / "libX.so.1").write_bytes(lib)
    for name, content in files.items():
        p = root / name.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    for name, target in (symlinks or {}).items():
        p = root / name.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, p)
    return root


class Oracle:
    """What ``ldconfig -r ROOT -v -X -C /etc/c`` printed."""

    def __init__(self, headers: list[tuple[bytes, bytes, int]], messages: list[str],
                 stderr: list[str]) -> None:
        self.headers = headers
        #: stderr lines that come from reading the configuration.
        self.messages = messages
        #: All stderr lines, in order, without the program-name prefix.
        self.stderr = stderr


def run_ldconfig(ldconfig: str, root: Path, *, nofile: int | None = None,
                 conf: str | None = None, as_nobody: bool = False) -> Oracle:
    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        if as_nobody:  # chroot() then fails: ldconfig maps paths with chroot_canon
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)

    args = [ldconfig, "-r", str(root), "-v", "-X", "-C", "/etc/c"]
    if conf is not None:
        args += ["-f", conf]
    proc = subprocess.run(args, capture_output=True, preexec_fn=limit, close_fds=True,
                          timeout=120, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    headers = []
    for line in proc.stdout.split(b"\n"):
        if not line or line.startswith(b"\t"):
            continue
        m = _HEADER.match(line)
        assert m, line
        headers.append((m.group(1), m.group(2), int(m.group(3))))
    prefix = ldconfig + ": "
    messages, everything = [], []
    for err in os.fsdecode(proc.stderr).split("\n"):
        if not err:
            continue
        assert err.startswith(prefix) or err.startswith("(from "), err
        text = err[len(prefix):] if err.startswith(prefix) else err
        everything.append(text)
        # Registration messages are the scanner's, not the configuration reader's.
        if not text.startswith(("Can't stat ", "Path `", "(from ")):
            messages.append(text)
    return Oracle(headers, messages, everything)


def dedup(root: Root, dirs: Iterable[tuple[bytes, bytes, int]]) -> list[tuple[bytes, bytes, int]]:
    """ldconfig's add_single_dir: stat (following links), first spelling per inode wins."""
    seen: set[tuple[int, int]] = set()
    out = []
    for path, origin, line in dirs:
        try:
            st = root.stat(path if path.startswith(b"/") else b"/" + path)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) and not stat.S_ISREG(st.st_mode):
            continue
        key = (st.st_dev, st.st_ino)
        if key not in seen:
            seen.add(key)
            out.append((path, origin, line))
    return out


def ours(root_path: Path, *, limits: ConfLimits | None = None, conf: str = "/etc/ld.so.conf",
         b=B236) -> tuple[ConfResult, list[tuple[bytes, bytes, int]]]:
    root = Root(str(root_path))
    res = parse_conf(root, conf.encode(), b, limits=limits or ConfLimits())
    listed = [(d.path, d.origin, d.line) for d in res.dirs]
    listed += [(d, b"<builtin>", 0) for d in DEBIAN_SYSTEM]
    return res, dedup(root, listed)


def check(ldconfig: str, root: Path, *, nofile: int | None = None,
          conf: str | None = None) -> tuple[ConfResult, Oracle]:
    """Run both and require the same directories, spellings, origins, lines, messages."""
    requires_root()
    oracle = run_ldconfig(ldconfig, root, nofile=nofile, conf=conf)
    limits = ConfLimits(max_depth=nofile - 3) if nofile else None
    res, got = ours(root, limits=limits, conf=conf or "/etc/ld.so.conf")
    assert got == oracle.headers
    assert [m.text for m in res.messages] == oracle.messages
    return res, oracle


# --------------------------------------------------------------------------- oracle tests

def test_syntax_tree(ldconfig: str, tmp_path: Path) -> None:
    """Comments, blanks, tabs, CRLF, include forms, relative and nested includes,
    C-locale glob order."""
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": (
            "# a comment\n"
            "\n"
            "   \t\n"
            "/d01 # comment after a path\n"
            "\t  /d02\t \n"
            "/d03\r\n"
            "include\t/etc/inc/one.conf    /etc/inc/two.conf\t\t/etc/inc/none*.conf\n"
            "include sub/*.conf\n"
            "includeX\n"
            "include\n"
            "  include /etc/inc/three.conf # trailing comment\n"
            "include /etc/inc/crlf.conf\r\n"
            "include /etc/inc/missing.conf\n"
            "/d99"
        ),
        "/etc/inc/one.conf": "/d04\n",
        "/etc/inc/two.conf": "/d05\ninclude ../deeper/*.conf\n/d06\n",
        "/etc/inc/three.conf": "/d07\n",
        "/etc/inc/crlf.conf": "/d08\n",
        "/etc/inc/crlf.conf\r": "/d09\n",
        "/etc/deeper/x.conf": "/d10\n",
        "/etc/sub/b.conf": "/d11\n",
        "/etc/sub/a.conf": "/d12\n",
        "/etc/sub/A.conf": "/d13\n",
        "/etc/sub/_.conf": "/d14\n",
        "/etc/sub/.hidden.conf": "/d15\n",
        "/etc/sub/Z.conf": "/d16\n",
    }, dirs=[f"/d{i:02}" for i in range(1, 17)] + ["/d99", "/includeX", "/include"])
    res, oracle = check(ldconfig, root)
    paths = [h[0] for h in oracle.headers]
    # Sanity of the oracle itself: what the spec says happened.
    assert paths[:3] == [b"/d01", b"/d02", b"/d03"]
    assert paths.index(b"/d13") < paths.index(b"/d16") < paths.index(b"/d14") \
        < paths.index(b"/d12") < paths.index(b"/d11")
    assert b"/d15" not in paths and b"/d08" not in paths and b"/d09" in paths
    assert b"includeX" in paths and b"include" in paths
    assert (b"/d10", b"/etc/inc/../deeper/x.conf", 1) in oracle.headers


def test_directory_spellings(ldconfig: str, tmp_path: Path) -> None:
    """Spaces, colons, commas, trailing slashes and blanks, //, /./, /../, relative."""
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": (
            "/with space\n"
            "/a:b\n"
            "/a,b\n"
            "/c /\n"
            "/t1/ \t\n"
            "/t2////\n"
            "//s1\n"
            "/./s2/.\n"
            "/usr/../s3\n"
            "rel1\n"
            "./rel2/\n"
            "/t1\n"
            "/link\n"
            "/nonexistent\n"
            "/d1 /d2\n"
            "///\n"
        ),
    }, dirs=["/with space", "/a:b", "/a,b", "/c ", "/t1", "/t2", "/s1", "/s2", "/s3",
             "/rel1", "/rel2", "/usr", "/real", "/d1"], symlinks={"/link": "real"})
    res, oracle = check(ldconfig, root)
    paths = [h[0] for h in oracle.headers]
    assert paths[:12] == [b"/with space", b"/a:b", b"/a,b", b"/c ", b"/t1", b"/t2", b"//s1",
                          b"/./s2/.", b"/usr/../s3", b"rel1", b"./rel2", b"/link"]


def test_dir_types_and_hwcap_messages(ldconfig: str, tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": (
            "/d1=libc6\n"
            "/d2 = libc5\n"
            "/d3=foo\n"
            "=bar\n"
            "/d4=libc4=x\n"
            "/d5=glibc2\n"
            "hwcap 1 x\n"
            "HWCAP\tnosegneg whatever\n"
            "hwcapx\n"
            "include /etc/more.conf\n"
        ),
        "/etc/more.conf": "\n\nhwcap 0 y\n/d6=\n",
    }, dirs=["/d1", "/d2", "/d3", "/d4", "/d5", "/d6", "/hwcapx"])
    res, oracle = check(ldconfig, root)
    assert oracle.messages == [
        " libc5 is not a known library type", "foo is not a known library type",
        "bar is not a known library type", "libc4=x is not a known library type",
        "/etc/ld.so.conf:7: hwcap directive ignored", "/etc/ld.so.conf:8: hwcap directive ignored",
        "/etc/more.conf:3: hwcap directive ignored", " is not a known library type"]
    assert all(not m.verbose for m in res.messages)
    types = {d.path: d.dir_type for d in res.dirs}
    assert types == {b"/d1": FLAG_ELF_LIBC6, b"/d2": None, b"/d3": None, b"/d4": None,
                     b"/d5": FLAG_ELF_LIBC6, b"/d6": None, b"hwcapx": None}
    # Messages come before the directory of their line.
    pos = {m.text: m.position for m in res.messages}
    assert pos["foo is not a known library type"] == 2
    assert pos["/etc/ld.so.conf:7: hwcap directive ignored"] == 5


def test_message_positions(ldconfig: str, tmp_path: Path) -> None:
    """Messages interleave with the registration of directories ("Can't stat" for the
    missing ones, on the same stream) exactly where ``position`` says."""
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": ("/m1\n/m2=foo\n=bar\nhwcap 1 x\n/m3\ninclude /etc/b.conf\n"
                            "/m4=libc6\n/m5=baz\n"),
        "/etc/b.conf": "hwcap 2 y\n/m6\n",
    })
    requires_root()
    oracle = run_ldconfig(ldconfig, root)
    res = parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236)
    expected = []
    slots: list[ConfDir | None] = [*res.dirs, None]
    for i, d in enumerate(slots):
        expected += [m.text for m in res.messages if m.position == i]
        if d is not None:
            expected.append(f"Can't stat {os.fsdecode(d.path)}: No such file or directory")
    assert oracle.stderr[:len(expected)] == expected
    assert len(expected) == 11


def test_nul_bytes_and_unopenable(ldconfig: str, tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": (
            b"/d1\0/ignored\n"
            b"\0/d2\n"
            b"/d3 #\0x\n"
            b"include /etc/loop.conf /etc/isdir.conf /etc/notdir.conf/x\n"
            b"include /etc/dangling.conf\n"
            b"/d4\n"
        ),
        "/etc/notdir.conf": "/d2\n",
        "/etc/isdir.conf/inner.conf": "/d2\n",
    }, dirs=["/d1", "/d2", "/d3", "/d4", "/ignored"],
        symlinks={"/etc/loop.conf": "loop.conf", "/etc/dangling.conf": "nowhere.conf"})
    res, oracle = check(ldconfig, root)
    assert oracle.messages == ["Warning: ignoring configuration file that cannot be opened: "
                               "/etc/loop.conf: Too many levels of symbolic links"]
    assert [h[0] for h in oracle.headers][:3] == [b"/d1", b"/d3", b"/d4"]


def test_top_level_conf_is_a_directory_or_missing(ldconfig: str, tmp_path: Path) -> None:
    root = make_root(tmp_path / "a", {"/etc/ld.so.conf/x.conf": "/d1\n"}, dirs=["/d1"])
    res, _ = check(ldconfig, root)
    assert res.dirs == [] and res.messages == []
    root = make_root(tmp_path / "b", {}, dirs=["/d1", "/lib/" + TRIPLET_S, "/usr/lib"])
    res, oracle = check(ldconfig, root)
    assert res.dirs == [] and res.messages == []
    assert oracle.headers == [(b"/lib/" + TRIPLET, b"<builtin>", 0), (b"/lib", b"<builtin>", 0),
                              (b"/usr/lib", b"<builtin>", 0)]


def test_conf_file_option_relative(ldconfig: str, tmp_path: Path) -> None:
    """``-f name`` without a slash: relative includes stay relative to the root's /."""
    root = make_root(tmp_path, {
        "/my.conf": "/d1\ninclude sub/*.conf\n",
        "/sub/a.conf": "/d2\ninclude b.conf\n",
        "/sub/b.conf": "/d3\n",
        "/b.conf": "/d4\n",
    }, dirs=["/d1", "/d2", "/d3", "/d4"])
    res, oracle = check(ldconfig, root, conf="my.conf")
    assert oracle.headers[:3] == [(b"/d1", b"my.conf", 1), (b"/d2", b"sub/a.conf", 1),
                                  (b"/d3", b"sub/b.conf", 1)]
    root2 = make_root(tmp_path / "2", {
        "/etc/my.conf": "/d1\ninclude sub/*.conf\n",
        "/etc/sub/a.conf": "/d2\n",
    }, dirs=["/d1", "/d2"])
    res, oracle = check(ldconfig, root2, conf="etc/./my.conf")
    assert oracle.headers[:2] == [(b"/d1", b"etc/./my.conf", 1), (b"/d2", b"etc/./sub/a.conf", 1)]


def test_system_dirs_debian_amd64(ldconfig: str, tmp_path: Path) -> None:
    """An empty configuration: only the built-in directories, with /lib64 etc. ignored."""
    dirs = ["/lib/" + TRIPLET_S, "/usr/lib/" + TRIPLET_S, "/lib", "/usr/lib", "/lib64",
            "/libx32", "/usr/lib64", "/lib32", "/usr/local/lib"]
    root = make_root(tmp_path, {"/etc/ld.so.conf": ""}, dirs=dirs)
    res, oracle = check(ldconfig, root)
    assert oracle.headers == [(d, b"<builtin>", 0) for d in DEBIAN_SYSTEM]
    assert DEBIAN_SYSTEM == [b"/lib/" + TRIPLET, b"/usr/lib/" + TRIPLET, b"/lib", b"/usr/lib"]


def test_merged_usr_system_dirs(ldconfig: str, tmp_path: Path) -> None:
    """/lib -> usr/lib: the first spelling wins, in the configuration or built in."""
    root = make_root(tmp_path, {"/etc/ld.so.conf": "/usr/lib/x86_64-linux-gnu\n"},
                     dirs=["/usr/lib/" + TRIPLET_S], symlinks={"/lib": "usr/lib"})
    check(ldconfig, root)


# ------------------------------------------------------------------ include loops, limits

def test_self_include_loop(ldconfig: str, tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": "/d1\ninclude /etc/ld.so.conf\n/d2\n",
    }, dirs=["/d1", "/d2"])
    res, oracle = check(ldconfig, root, nofile=40)
    assert oracle.messages == ["Warning: ignoring configuration file that cannot be opened: "
                               "/etc/ld.so.conf: Too many open files"]
    assert len(res.dirs) == 2 * 37


def test_self_include_loop_default_fd_limit(ldconfig: str, tmp_path: Path) -> None:
    """With ldconfig's usual 1024 fds the loop is 1021 files deep: the default limit."""
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
        "/etc/ld.so.conf.d/a.conf": "/d1\ninclude /etc/ld.so.conf\n/d2\n",
        "/etc/ld.so.conf.d/b.conf": "/d3\n",
    }, dirs=["/d1", "/d2", "/d3"])
    res, oracle = check(ldconfig, root, nofile=1024)
    assert ConfLimits().max_depth == 1021
    assert [p for p, _, _ in oracle.headers[:3]] == [b"/d1", b"/d2", b"/d3"]
    assert len(res.dirs) == 3 * 510


@pytest.mark.parametrize("nofile", [30, 31])
def test_mutual_include_loop_parity(ldconfig: str, tmp_path: Path, nofile: int) -> None:
    """Which of two mutually including files is deepest decides the order."""
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": "include /etc/a.conf\n",
        "/etc/a.conf": "include /etc/b.conf\n/da\n",
        "/etc/b.conf": "include /etc/a.conf\n/db\n",
    }, dirs=["/da", "/db"])
    res, oracle = check(ldconfig, root, nofile=nofile)
    first = [p for p, _, _ in oracle.headers[:2]]
    assert first == ([b"/db", b"/da"] if nofile == 30 else [b"/da", b"/db"])


@pytest.mark.parametrize("pattern", ["/etc/c{n}.conf", "/etc/c{n}.con[f]", "/etc/c{n}.co?f"])
def test_include_chain_depth(ldconfig: str, tmp_path: Path, pattern: str) -> None:
    """A literal include fails with a warning at the fd limit, a glob silently."""
    files = {"/etc/ld.so.conf": "include " + pattern.format(n=1) + "\n"}
    for i in range(1, 31):
        files[f"/etc/c{i}.conf"] = f"include {pattern.format(n=i + 1)}\n/d{i}\n"
    root = make_root(tmp_path, files, dirs=[f"/d{i}" for i in range(1, 31)])
    res, oracle = check(ldconfig, root, nofile=20)
    assert [p for p, _, _ in oracle.headers] == [f"/d{i}".encode() for i in range(16, 0, -1)]


def test_two_thousand_includes(ldconfig: str, tmp_path: Path) -> None:
    files = {"/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n/d0\n"}
    for i in range(2000):
        files[f"/etc/ld.so.conf.d/{i:04}.conf"] = f"# file {i}\n/d{i % 7}\n/nope{i}\n"
    root = make_root(tmp_path, files, dirs=[f"/d{i}" for i in range(7)])
    t0 = time.monotonic()
    res = parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236)
    elapsed = time.monotonic() - t0
    assert len(res.dirs) == 4001 and res.files_read == 2001
    assert elapsed < 5.0, elapsed
    check(ldconfig, root)


def test_limits_raise(tmp_path: Path) -> None:
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": "include /etc/ld.so.conf.d/*.conf\n",
        # Both files include both: exponential for ldconfig.
        "/etc/ld.so.conf.d/a.conf": "/d1\ninclude /etc/ld.so.conf.d/*.conf\n",
        "/etc/ld.so.conf.d/b.conf": "/d2\ninclude /etc/ld.so.conf.d/*.conf\n",
        "/etc/big.conf": "/x\n" * 5000,
    })
    t0 = time.monotonic()
    with pytest.raises(ConfError, match="include loop"):
        parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236)
    assert time.monotonic() - t0 < 60
    with pytest.raises(ConfError, match="configuration files opened"):
        parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236,
                   limits=ConfLimits(max_files=500))
    with pytest.raises(ConfError, match="larger than"):
        parse_conf(Root(str(root)), b"/etc/big.conf", B236,
                   limits=ConfLimits(max_file_bytes=10_000))
    with pytest.raises(ConfError, match="lines"):
        parse_conf(Root(str(root)), b"/etc/big.conf", B236, limits=ConfLimits(max_lines=4999))
    assert len(parse_conf(Root(str(root)), b"/etc/big.conf", B236,
                          limits=ConfLimits(max_lines=5000)).dirs) == 5000


# ------------------------------------------------------------------------- the root's edge

def test_includes_cannot_leave_the_root(ldconfig: str, tmp_path: Path) -> None:
    """Patterns and symlinks that climb out of the root resolve inside it.

    The root is ``tmp_path/root``; from its ``/etc``, ``../../conf.d`` would be
    ``tmp_path/conf.d`` on the host, where a tripwire configuration names ``/tripwire``
    (which exists in the root, so reading the tripwire would show).
    """
    for outside in (tmp_path / "conf.d", tmp_path / "etc"):
        outside.mkdir()
        (outside / "evil.conf").write_text("/tripwire\n")
    root = make_root(tmp_path, {
        "/etc/ld.so.conf": (
            "include ../../conf.d/*.conf\n"
            "include /etc/../../../../conf.d/*.conf /../etc/evil.conf ../../etc/evil.conf\n"
            "include /etc/rel-link.conf /etc/abs-link.conf /etc/dirlink/*.conf\n"
            "include /etc/dirlink/../../conf.d/evil.conf\n"
            "/d1\n"
        ),
        "/conf.d/inside.conf": "/d2\n",
    }, dirs=["/d1", "/d2", "/tripwire"], symlinks={
        "/etc/rel-link.conf": "../../conf.d/evil.conf",
        "/etc/abs-link.conf": str(tmp_path / "conf.d" / "evil.conf"),
        "/etc/dirlink": "../../conf.d",
    })
    res, oracle = check(ldconfig, root)
    assert b"/tripwire" not in [d.path for d in res.dirs]
    assert [(d.path, d.origin) for d in res.dirs] == [
        (b"/d2", b"/etc/../../conf.d/inside.conf"),
        (b"/d2", b"/etc/../../../../conf.d/inside.conf"),
        (b"/d2", b"/etc/dirlink/inside.conf"),
        (b"/d1", b"/etc/ld.so.conf")]
    assert (b"/d2", b"/etc/../../conf.d/inside.conf", 1) in oracle.headers


# --------------------------------------------------------- versions the machine cannot run

def _parse_text(tmp_path: Path, text: str, b, **files: str) -> ConfResult:
    root = make_root(tmp_path, {"/etc/ld.so.conf": text, **files})
    return parse_conf(Root(str(root)), b"/etc/ld.so.conf", b)


def test_dir_type_syntax_gone_in_237(tmp_path: Path) -> None:
    res = _parse_text(tmp_path, "/d1=libc5\n/d2 = x\n/d3/\n", B242)
    assert res.dirs == [ConfDir(b"/d1=libc5", b"/etc/ld.so.conf", 1, FLAG_ELF_LIBC6),
                        ConfDir(b"/d2 = x", b"/etc/ld.so.conf", 2, FLAG_ELF_LIBC6),
                        ConfDir(b"/d3", b"/etc/ld.so.conf", 3, FLAG_ELF_LIBC6)]
    assert res.messages == []
    res = _parse_text(tmp_path / "b", "/d1=libc4\n/d2=libc5\n/d3=glibc2\n", B236)
    assert [d.dir_type for d in res.dirs] == [FLAG_LIBC4, FLAG_ELF_LIBC5, FLAG_ELF_LIBC6]


def test_hwcap_lines_231(tmp_path: Path) -> None:
    res = _parse_text(tmp_path, "hwcap 0 nosegneg\nHwCaP\t0x3 foo\r\n/d1\n"
                      "hwcap 0 nosegneg\nhwcap\t 010  bar \n", B231)
    assert res.hwcap_names == {52: b"nosegneg", 55: b"foo\r", 60: b"bar"}
    assert [d.path for d in res.dirs] == [b"/d1"]
    assert [(m.text, m.verbose, m.position) for m in res.messages] == [
        ("/etc/ld.so.conf:4: duplicate hwcap 0 nosegneg", True, 1)]


def test_hwcap_no_index_means_zero_231(tmp_path: Path) -> None:
    """``hwcap  name`` (two blanks): strtoul converts nothing, the index is 0."""
    res = _parse_text(tmp_path, "hwcap  bar\n", B231)
    assert res.hwcap_names == {52: b"bar"}


@pytest.mark.parametrize("line,error", [
    ("hwcap foo", "/etc/ld.so.conf:1: bad syntax in hwcap line"),
    ("hwcap 1", "/etc/ld.so.conf:1: bad syntax in hwcap line"),
    ("hwcap 1 a b", "/etc/ld.so.conf:1: bad syntax in hwcap line"),
    ("hwcap 1x a", "/etc/ld.so.conf:1: bad syntax in hwcap line"),
    ("hwcap 12 a", "/etc/ld.so.conf:1: hwcap index 12 above maximum 11"),
    ("hwcap -1 a", "/etc/ld.so.conf:1: hwcap index 18446744073709551615 above maximum 11"),
    ("hwcap 11 a", "/etc/ld.so.conf:1: hwcap index 11 already defined as tls"),
    ("hwcap 3 tls", "/etc/ld.so.conf:1: hwcap index 11 already defined as tls"),
    ("hwcap 1 a\nhwcap 2 b\nhwcap 1 c", "/etc/ld.so.conf:3: hwcap index 1 already defined as a"),
])
def test_hwcap_fatal_231(tmp_path: Path, line: str, error: str) -> None:
    with pytest.raises(ConfError) as exc:
        _parse_text(tmp_path, line + "\n", B231)
    assert str(exc.value) == error


def test_hwcap_ignored_from_232(tmp_path: Path) -> None:
    res = _parse_text(tmp_path, "hwcap 1 x\n", behaviour("2.32"))
    assert res.hwcap_names == {}
    assert [(m.text, m.verbose) for m in res.messages] == [
        ("/etc/ld.so.conf:1: hwcap directive ignored", False)]


def test_non_chroot_mode(ldconfig: str) -> None:
    """Non-root ``-r`` (chroot fails): files included from the top level are named by
    their host paths, a top-level include that cannot be canonicalised is silent."""
    requires_root()
    base = Path(tempfile.mkdtemp(prefix="ldcache-conf-"))
    try:
        base.chmod(0o755)
        root = make_root(base, {
            "/etc/ld.so.conf": ("include /etc/ld.so.conf.d/*.conf\n/d0\nhwcap 1 x\n"
                                "include /etc/loop.conf /etc/dirlink/*.conf /nodir/x/*.conf\n"
                                "include /etc/../../../etc/ld.so.conf.d/b.conf\n"),
            "/etc/ld.so.conf.d/a.conf": "/d1\n",
            "/etc/ld.so.conf.d/b.conf": "/d2\n",
            "/conf.d/c.conf": "/d3\n",
        }, dirs=["/d0", "/d1", "/d2", "/d3"],
            symlinks={"/etc/loop.conf": "loop.conf", "/etc/dirlink": "../../conf.d"})
        for dirpath, _dirnames, _filenames in os.walk(base):
            os.chmod(dirpath, 0o777)
        oracle = run_ldconfig(ldconfig, root, as_nobody=True)
        r = Root(str(root))
        res = parse_conf(r, b"/etc/ld.so.conf", B236, chrooted=False)
        listed = [(d.path, d.origin, d.line) for d in res.dirs]
        listed += [(d, b"<builtin>", 0) for d in DEBIAN_SYSTEM]
        assert dedup(r, listed) == oracle.headers
        assert [m.text for m in res.messages] == oracle.messages
        host = os.fsencode(root)
        assert oracle.headers == [
            (b"/d1", host + b"/etc/ld.so.conf.d/a.conf", 1),
            (b"/d2", host + b"/etc/ld.so.conf.d/b.conf", 1),
            (b"/d0", b"/etc/ld.so.conf", 2),
            (b"/d3", host + b"/conf.d/c.conf", 1)]
    finally:
        shutil.rmtree(base)


def test_non_chroot_relative_include_is_fatal(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"/etc/ld.so.conf": "/d0\ninclude x/*.conf\n"})
    with pytest.raises(ConfError, match="need absolute file name for configuration file "
                                        "when using -r"):
        parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236, chrooted=False)
    # As root (chrooted) the same line is fine.
    assert len(parse_conf(Root(str(root)), b"/etc/ld.so.conf", B236).dirs) == 1


# -------------------------------------------------------------------- helpers and layouts

def test_trim_dir() -> None:
    assert trim_dir(b"/x/ ") == b"/x"
    assert trim_dir(b"/x /") == b"/x "
    assert trim_dir(b"/x\t\r\n\v\f") == b"/x"
    assert trim_dir(b"//d2//") == b"//d2"
    assert trim_dir(b"/./d3/.") == b"/./d3/."
    assert trim_dir(b"///") == b"" and trim_dir(b"  ") == b""
    assert trim_dir(b" /lead") == b" /lead"


@pytest.mark.parametrize("rule,slib,lib,version,expected", [
    ("plain", b"/lib", b"/usr/lib", "2.36", [b"/lib", b"/usr/lib"]),
    ("plain", b"/lib", b"/lib", "2.36", [b"/lib"]),
    ("x86_64", b"/lib64", b"/usr/lib64", "2.36",
     [b"/lib", b"/lib64", b"/libx32", b"/usr/lib", b"/usr/lib64", b"/usr/libx32"]),
    ("x86_64", b"/libx32", b"/usr/libx32", "2.42",
     [b"/lib", b"/lib64", b"/libx32", b"/usr/lib", b"/usr/lib64", b"/usr/libx32"]),
    ("aarch64", b"/lib64", b"/usr/lib64", "2.41",
     [b"/lib", b"/lib64", b"/libilp32", b"/usr/lib", b"/usr/lib64", b"/usr/libilp32"]),
    ("aarch64", b"/lib64", b"/usr/lib64", "2.42", [b"/lib", b"/lib64", b"/usr/lib", b"/usr/lib64"]),
    ("aarch64", b"/libilp32", b"/usr/libilp32", "2.36",
     [b"/lib", b"/lib64", b"/libilp32", b"/usr/lib", b"/usr/lib64", b"/usr/libilp32"]),
    ("sparc-like", b"/lib", b"/usr/lib", "2.36", [b"/lib", b"/lib64", b"/usr/lib", b"/usr/lib64"]),
    ("sparc-like", b"/lib64", b"/usr/lib64", "2.36",
     [b"/lib", b"/lib64", b"/usr/lib", b"/usr/lib64"]),
    ("mips", b"/lib32", b"/usr/lib32", "2.36",
     [b"/lib", b"/lib32", b"/lib64", b"/usr/lib", b"/usr/lib32", b"/usr/lib64"]),
    ("riscv", b"/lib64/lp64d", b"/usr/lib64/lp64d", "2.36",
     [b"/lib", b"/lib64/lp64d", b"/lib64/lp64", b"/lib32/ilp32d", b"/lib32/ilp32",
      b"/usr/lib", b"/usr/lib64/lp64d", b"/usr/lib64/lp64", b"/usr/lib32/ilp32d",
      b"/usr/lib32/ilp32"]),
    ("riscv", b"/lib64/lp64d", b"/usr/lib64/lp64d", "2.32",
     [b"/lib", b"/lib64/lp64d", b"/lib64/lp64", b"/usr/lib", b"/usr/lib64/lp64d",
      b"/usr/lib64/lp64"]),
    ("loongarch", b"/lib64", b"/usr/lib64", "2.38",
     [b"/lib", b"/lib64", b"/lib64/sf", b"/usr/lib", b"/usr/lib64", b"/usr/lib64/sf"]),
    ("loongarch", b"/lib64", b"/usr/lib64", "2.37", [b"/lib64", b"/usr/lib64"]),
    ("x86_64", b"/opt/foo", b"/opt/foo/lib", "2.36",
     [b"/opt/foo", b"/opt/foo/lib", b"/opt/foo/lib64", b"/opt/foo/libx32"]),
])
def test_system_dirs_upstream(rule: str, slib: bytes, lib: bytes, version: str,
                              expected: Sequence[bytes]) -> None:
    assert system_dirs(rule, slib, lib, behaviour(version)) == list(expected)


@pytest.mark.parametrize("rule", ["x86_64", "aarch64", "mips", "riscv", "sparc-like"])
def test_system_dirs_debian_never_expands(rule: str) -> None:
    t = b"aarch64-linux-gnu"
    want = [b"/lib/" + t, b"/usr/lib/" + t, b"/lib", b"/usr/lib"]
    assert system_dirs(rule, b"/lib/" + t, b"/usr/lib/" + t, B236, debian_multiarch=t) == want
    assert system_dirs(rule, b"", b"", B236, debian_multiarch=t) == want


def test_system_dirs_unknown_rule() -> None:
    with pytest.raises(ValueError):
        system_dirs("vax", b"/lib", b"/usr/lib", B236)


def test_detect_layout(tmp_path: Path) -> None:
    deb = make_root(tmp_path / "deb", {f"/usr/lib/{TRIPLET_S}/libc.so.6": "x"},
                    symlinks={"/lib": "usr/lib"})
    assert detect_layout(Root(str(deb)), TRIPLET) == "debian-multiarch"
    assert detect_layout(Root(str(deb)), b"aarch64-linux-gnu") == "upstream"
    assert detect_layout(Root(str(deb)), None) == "upstream"
    up = make_root(tmp_path / "up", {"/lib64/libc.so.6": "x", "/usr/lib64/libc.so.6": "x"})
    assert detect_layout(Root(str(up)), TRIPLET) == "upstream"
    # A symlink that leaves the root does not count.
    out = tmp_path / "outside" / "lib" / TRIPLET_S
    out.mkdir(parents=True)
    (out / "libc.so.6").write_text("x")
    esc = make_root(tmp_path / "esc", {}, symlinks={"/lib": str(tmp_path / "outside" / "lib")})
    assert detect_layout(Root(str(esc)), TRIPLET) == "upstream"
