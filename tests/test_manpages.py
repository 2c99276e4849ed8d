"""Man pages ldcache(8) and cdi-hook(8): generated from the real parsers, built and installed
with the package, listing every subcommand and option."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from common import PROJECT

build_manpages = pytest.importorskip("build_manpages.build_manpages",
                                     reason="argparse-manpage is not installed (test extra)")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11
    tomllib = pytest.importorskip("tomli", reason="no TOML reader on this Python")


def _specs() -> dict[str, dict[str, str]]:
    """The man page specifications the package build uses (pyproject.toml)."""
    conf = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    spec = "\n".join(conf["tool"]["build_manpages"]["manpages"])
    return build_manpages.parse_manpages_spec(spec)


def _render(page: str, data: dict[str, str]) -> str:
    from argparse_manpage.manpage import Manpage
    from argparse_manpage.tooling import get_parser

    cwd = os.getcwd()
    os.chdir(PROJECT)  # pyfile= paths are relative to the source tree
    try:
        parser = get_parser(data["import_type"], data["import_from"], data["objname"],
                            data["objtype"], data.get("prog"))
    finally:
        os.chdir(cwd)
    return str(Manpage(parser, format=data.get("format", "pretty"), _data=data))


def _walk(parser: argparse.ArgumentParser, prefix: str = ""):
    """(subcommand path, option strings) of every parser and subparser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", []
                yield from _walk(sub, f"{prefix}{name} ")
        elif action.option_strings and not isinstance(action, argparse._HelpAction) \
                and action.help != argparse.SUPPRESS:
            # (-h/--help, which every command has, and hidden options are left out)
            yield prefix.strip(), list(action.option_strings)


def _plain(roff: str) -> str:
    return roff.replace("\\-", "-").replace("\\fB", "").replace("\\fR", "").replace(
        "\\fI", "")


@pytest.mark.parametrize("page,parser_of", [
    ("man/ldcache.8", "ldcache"),
    ("man/cdi-hook.8", "cdi-hook"),
])
def test_manpage_lists_every_subcommand_and_option(page, parser_of):
    specs = _specs()
    assert page in specs, sorted(specs)
    data = specs[page]
    assert data["manual_section"] == "8"
    text = _plain(_render(page, data))
    assert text.startswith(".TH") and ' "8" ' in text.splitlines()[0]
    if parser_of == "ldcache":
        from ldcache.cli import build_parser

        parser = build_parser()
    else:
        from ldcache_hook.main import build_parser as hook_parser

        parser = hook_parser()
    seen_commands = 0
    for command, options in _walk(parser):
        if not options:
            seen_commands += 1
            assert f"{parser_of} {command}" in text, command
        for option in options:
            assert option in text, (command, option)
    assert seen_commands >= (8 if parser_of == "ldcache" else 4)
    for command in ("diff", "lookup", "verify", "explain") if parser_of == "ldcache" else ():
        assert f"ldcache {command}" in text


def test_package_build_installs_manpages(tmp_path):
    """``pip wheel`` of the package, as ``pip install .`` builds it (isolated build
    environment from the configured index), carries both pages under share/man/man8."""
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(PROJECT / name, tree / name)
    for package in ("ldcache", "hook"):
        shutil.copytree(PROJECT / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--disable-pip-version-check", "-w", str(wheels), str(tree)],
                          capture_output=True, text=True, check=False, timeout=300)
    if proc.returncode != 0 and ("No module named pip" in proc.stderr
                                 or "No matching distribution" in proc.stderr):
        pytest.skip("pip cannot get the build requirements here (offline?): "
                    + proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    (wheel,) = wheels.glob("ldcache-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for page in ("ldcache.8", "cdi-hook.8"):
        assert any(n.endswith(f".data/data/share/man/man8/{page}") for n in names), names
    assert "ldcache/cli/tools.py" in names and "ldcache/py.typed" in names
    # The hook frontend is installed as ldcache_hook: no top-level "hook" to collide with.
    assert "ldcache_hook/main.py" in names
    assert not [n for n in names if n.startswith("hook/")], names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA")))
    assert b"License-Expression: Apache-2.0" in meta
    requires = [line for line in meta.decode().splitlines() if line.startswith("Requires-Dist")]
    assert [r for r in requires if "extra ==" not in r] == ["Requires-Dist: construct>=2.10"]
    page = next(n for n in names if n.endswith("man8/ldcache.8"))
    text = _plain(zipfile.ZipFile(wheel).read(page).decode())
    assert "--isa-level" in text and "ldcache explain" in text
