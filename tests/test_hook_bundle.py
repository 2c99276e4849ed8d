"""The start-up bundle (ldcache_hook.bundle): the launcher imports the hook's modules from it,
as they are in their files — and from their files wherever the bundle is not current.

Each test writes its own copy of both packages and a launcher for it, so that editing or
breaking the copy's files cannot touch the checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent

#: Run in the launcher's interpreter in place of its last two lines: every module of both
#: packages is imported, and each one's loader and public face reported.
_PROBE = r"""
import json
names = sorted(__import__("marshal").loads(open(BUNDLE, "rb").read()[8:]) if BUNDLE else [])
for n in [n for n in names or MODULES if not n.endswith(".__main__")]:
    __import__(n)
out = {}
for n, m in sorted(sys.modules.items()):
    if n == "ldcache" or n.startswith(("ldcache.", "ldcache_hook")):
        out[n] = [type(m.__spec__.loader).__name__, m.__file__, getattr(m, "__path__", None),
                  m.__package__, sorted(k for k in vars(m) if not k.startswith("__"))]
print(json.dumps(out))
"""


def _copy_packages(dest: Path) -> Path:
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PROJECT / "ldcache", dest / "ldcache", ignore=skip)
    shutil.copytree(PROJECT / "hook", dest / "hook", ignore=skip)
    return dest


def _write_launcher(tree: Path, dest: Path) -> Path:
    """The copy's own launcher, written by the copy's ldcache_hook.launcher."""
    code = ("import sys\n"
            f"sys.path.insert(0, {str(tree)!r})\n"
            "from importlib.util import spec_from_file_location, module_from_spec\n"
            f"s = spec_from_file_location('ldcache_hook', {str(tree / 'hook/__init__.py')!r},"
            f" submodule_search_locations=[{str(tree / 'hook')!r}])\n"
            "m = module_from_spec(s); sys.modules['ldcache_hook'] = m; s.loader.exec_module(m)\n"
            "from ldcache_hook.launcher import write_launcher\n"
            f"write_launcher({str(dest)!r})\n")
    subprocess.run([sys.executable, "-I", "-S", "-c", code], check=True, cwd="/")
    return dest


def _bundle_of(launcher: Path) -> str:
    line = next(x for x in launcher.read_text().splitlines() if x.startswith("install("))
    return line[len("install('"):-2]


def _probe(launcher: Path, bundle: str | None, modules: list[str] = ()) -> dict:
    lines = launcher.read_text().splitlines()
    assert lines[-2:] == ["from ldcache_hook.main import main", "raise SystemExit(main())"]
    code = "\n".join(lines[1:-2]) + f"\nBUNDLE = {bundle!r}\nMODULES = {list(modules)!r}\n" \
        + _PROBE
    p = subprocess.run([sys.executable, "-ISXutf8", "-c", code], capture_output=True,
                       text=True, cwd="/", env={})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return _copy_packages(tmp_path / "tree")


def test_the_launcher_imports_every_module_from_the_bundle_as_from_its_file(
        tree: Path, tmp_path: Path) -> None:
    launcher = _write_launcher(tree, tmp_path / "cdi-hook")
    bundle = _bundle_of(launcher)
    assert bundle == str(tree / f"hook/__pycache__/bundle.{sys.implementation.cache_tag}.bin")
    served = _probe(launcher, bundle)
    assert len(served) > 60
    # The package and this module are loaded before the bundle is installed.
    loaders = {n: v[0] for n, v in served.items()}
    assert loaders.pop("ldcache_hook") == loaders.pop("ldcache_hook.bundle") == \
        "SourceFileLoader"
    assert set(loaders.values()) == {"Finder"}, loaders
    # The same modules without the bundle: the same files, packages, paths and names.
    os.unlink(bundle)
    plain = _probe(launcher, None, sorted(served))
    assert {n: v[0] for n, v in plain.items()} == {n: "SourceFileLoader" for n in served}
    assert {n: v[1:] for n, v in served.items()} == {n: v[1:] for n, v in plain.items()}


def test_a_module_edited_since_is_imported_from_its_file(tree: Path, tmp_path: Path) -> None:
    launcher = _write_launcher(tree, tmp_path / "cdi-hook")
    with open(tree / "ldcache/errors.py", "a") as f:
        f.write("\nEDITED_SINCE = True\n")
    out = _probe(launcher, _bundle_of(launcher))
    assert out["ldcache.errors"][0] == "SourceFileLoader"
    assert "EDITED_SINCE" in out["ldcache.errors"][4]
    assert out["ldcache.scan"][0] == "Finder"


@pytest.mark.parametrize("damage", ["missing", "empty", "magic", "index", "truncated"])
def test_a_bad_bundle_leaves_the_standard_import_in_charge(tree: Path, tmp_path: Path,
                                                           damage: str) -> None:
    """Nothing breaks: no traceback, every module from its file (or, truncated, those
    whose code is cut off), and the hook runs."""
    launcher = _write_launcher(tree, tmp_path / "cdi-hook")
    bundle = Path(_bundle_of(launcher))
    data = bundle.read_bytes()
    if damage == "missing":
        bundle.unlink()
    elif damage == "empty":
        bundle.write_bytes(b"")
    elif damage == "magic":
        bundle.write_bytes(b"\0\0\0\0" + data[4:])
    elif damage == "index":
        bundle.write_bytes(data[:8] + b"\xff" * 64 + data[72:])
    else:
        bundle.write_bytes(data[:len(data) // 2])
    modules = ["ldcache.scan", "ldcache.build", "ldcache_hook.update_ldcache"]
    out = _probe(launcher, None, modules)
    loaders = {v[0] for n, v in out.items() if n not in ("ldcache_hook", "ldcache_hook.bundle")}
    if damage == "truncated":
        assert "SourceFileLoader" in loaders
    else:
        assert loaders == {"SourceFileLoader"}
    p = subprocess.run([str(launcher), "noop"], capture_output=True, cwd="/", env={})
    assert (p.returncode, p.stderr) == (0, b"")


def test_a_launcher_for_another_interpreter_has_no_bundle(tmp_path: Path) -> None:
    """The bundle holds this interpreter's code objects: another one's launcher imports
    from the files (and its own .pyc files)."""
    from ldcache_hook.launcher import launcher_text, write_launcher

    other = "/usr/bin/python3" if sys.executable != "/usr/bin/python3" else "/usr/bin/python"
    text = Path(write_launcher(str(tmp_path / "cdi-hook"), other)).read_text()
    assert text.startswith(f"#!{other} ") and "install(" not in text
    text = launcher_text(sys.executable, bundle="/x/b.bin")
    assert "from ldcache_hook.bundle import install\ninstall('/x/b.bin')\n" in text
