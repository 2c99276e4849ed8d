"""``ldcache._os`` is ``os`` for the commands' start-up path: the same objects where it
re-exports ``posix``, the same results where it re-implements (``fsencode``/``fsdecode``,
the path functions), ``os`` itself for everything else — and importing it does not import
``os``."""

from __future__ import annotations

import itertools
import os
import posixpath
import subprocess
import sys
from pathlib import Path

import pytest

from ldcache import _os

PROJECT = Path(__file__).resolve().parent.parent


def test_posix_names_are_os_own_objects():
    names = [n for n in dir(_os) if not n.startswith("_") and hasattr(os, n)]
    assert len(names) > 200  # the posix module's functions and constants are all here
    own = {"fsencode", "fsdecode", "environ", "environb", "normpath", "basename", "join",
           "isabs", "sys", "TYPE_CHECKING"}
    for n in names:
        if n not in own:
            assert getattr(_os, n) is getattr(os, n), n
    assert _os._exit is os._exit
    assert _os.environb == dict(os.environb)


def test_everything_else_is_os():
    assert _os.path is os.path
    assert _os.makedirs is os.makedirs
    assert _os.fdopen is os.fdopen
    with pytest.raises(AttributeError):
        _os.no_such_function  # noqa: B018


def test_environ_follows_os_once_loaded(monkeypatch):
    assert _os.environ is os.environ  # os is loaded in this process
    monkeypatch.setenv("LDCACHE_SHIM_TEST", "é")
    assert _os.environ["LDCACHE_SHIM_TEST"] == "é"


def _run_isolated(code: str, env: dict | None = None) -> str:
    p = subprocess.run([sys.executable, "-I", "-S", "-c",
                        f"import sys\nsys.path.insert(0, {str(PROJECT)!r})\n" + code],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_import_does_not_load_os():
    out = _run_isolated("from ldcache import _os\nfrom ldcache._os import basename\n"
                        "_os.normpath('/a/../b')\n"
                        "_os.fsencode('x')\n_os.environ.get('HOME')\n"
                        "print('os' in sys.modules, 'posixpath' in sys.modules)\n")
    assert out.split() == ["False", "False"]


def test_environ_before_os_is_the_start_environment():
    env = {"PATH": "/usr/bin:/bin", "LDCACHE_SHIM": "a=b", "UNDECODABLE": "x\udcff"}
    raw = {k.encode("utf-8", "surrogateescape"): v.encode("utf-8", "surrogateescape")
           for k, v in env.items()}
    p = subprocess.run([sys.executable, "-I", "-S", "-X", "utf8", "-c",
                        f"import sys\nsys.path.insert(0, {str(PROJECT)!r})\n"
                        "from ldcache import _os\nshim = dict(_os.environ)\n"
                        "import os\nprint(shim == dict(os.environ), 'os' in sys.modules)\n"],
                       capture_output=True, text=True, env=raw)  # type: ignore[arg-type]
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]


_PARTS = ["", "/", "//", "///", ".", "..", "a", "b.", "...", "a/", "/a", "//a", "./", "../"]


def _paths():
    """Every string of up to four of these parts, str and bytes."""
    for n in range(5):
        for combo in itertools.product(_PARTS, repeat=n):
            p = "".join(combo)
            yield p
            yield p.encode()


@pytest.mark.parametrize("name", ["normpath", "basename", "isabs"])
def test_path_functions_match_posixpath(name):
    ours, theirs = getattr(_os, name), getattr(posixpath, name)
    count = 0
    for p in _paths():
        assert ours(p) == theirs(p), (name, p)
        count += 1
    assert count > 70_000
    assert ours(Path("/a/../b")) == theirs(Path("/a/../b"))


def test_normpath_linux_is_normpath_with_one_leading_slash():
    count = 0
    for p in _paths():
        n = posixpath.normpath(p)
        sep = b"/" if isinstance(p, bytes) else "/"
        want = sep + n.lstrip(sep) if n.startswith(sep * 2) else n
        assert _os.normpath_linux(p) == want, p
        assert not want.startswith(sep * 2)
        count += 1
    assert count > 70_000
    assert _os.normpath_linux("//a//b/../c/") == "/a/c"
    assert _os.normpath_linux(b"///") == b"/"
    assert _os.normpath_linux("") == "."


def test_join_matches_posixpath():
    parts = ["", "/", "a", "/b", "c/", "//d"]
    for a, b, c in itertools.product(parts, repeat=3):
        assert _os.join(a, b, c) == posixpath.join(a, b, c)
        assert _os.join(a.encode(), b.encode()) == posixpath.join(a.encode(), b.encode())
    assert _os.join("a") == "a"
    with pytest.raises(TypeError):
        _os.join("a", b"b")
    with pytest.raises(TypeError):
        posixpath.join("a", b"b")


@pytest.mark.parametrize("value", ["plain", "é", "x\udcff", b"bytes", b"\xff\xfe", Path("p")])
def test_fscodec_matches_os(value):
    assert _os.fsencode(value) == os.fsencode(value)
    assert _os.fsdecode(value) == os.fsdecode(value)


def test_fscodec_type_errors_match_os():
    for f in ("fsencode", "fsdecode"):
        with pytest.raises(TypeError):
            getattr(os, f)(3)
        with pytest.raises(TypeError):
            getattr(_os, f)(3)
