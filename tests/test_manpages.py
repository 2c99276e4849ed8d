"""Man pages ldcache(8) and cdi-hook(8): generated from the real parsers, built and installed
with the package, listing every subcommand and option, with EXIT STATUS, FILES, EXAMPLES and
SEE ALSO sections true to the programs; `tox -e man` writes the very pages the wheel ships."""

from __future__ import annotations

import argparse
import configparser
import datetime
import io
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.common import PROJECT, VECTORS

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


def _section(roff: str, heading: str) -> str:
    """The roff of section ``heading`` (without its .SH line); "" when there is none."""
    match = re.search(rf"^\.SH {re.escape(heading)}\n(.*?)(?=^\.SH |\Z)", roff, re.M | re.S)
    return match.group(1) if match else ""


def _headings(roff: str) -> list[str]:
    return [line[4:] for line in roff.splitlines() if line.startswith(".SH ")]


def _items(roff: str) -> list[list[tuple[int, str]]]:
    """The .TP lists of a section, split at .PP: [(status, plain text)], one list each."""
    groups = []
    for part in re.split(r"^\.PP\n", roff, flags=re.M):
        items = re.findall(r"^\.TP\n\\fB(\d+)\\fR\n(.*?)(?=^\.TP|\Z)", part, re.M | re.S)
        if items:
            groups.append([(int(n), _plain(text).strip()) for n, text in items])
    return groups


def _page(which: str) -> str:
    return _render(which, _specs()[which])


@pytest.fixture(scope="module")
def ldcache_page() -> str:
    return _page("man/ldcache.8")


@pytest.fixture(scope="module")
def hook_page() -> str:
    return _page("man/cdi-hook.8")


def test_extra_sections_in_both_pages(ldcache_page, hook_page):
    for roff, sections, others in ((ldcache_page, ["EXIT STATUS", "FILES", "EXAMPLES",
                                                    "SEE ALSO"], "cdi-hook"),
                                   (hook_page, ["EXIT STATUS", "EXAMPLES", "SEE ALSO"],
                                    "ldcache")):
        headings = _headings(roff)
        for heading in sections:
            assert headings.count(heading) == 1, (heading, headings)
            assert _section(roff, heading).strip(), heading
        # After everything argparse-manpage writes from the parser, in man-pages(7) order.
        assert headings[-len(sections):] == sections, headings
        see_also = _plain(_section(roff, "SEE ALSO"))
        for page in ("ldconfig", "ld.so", others):
            assert f"{page} (8)" in see_also, (page, see_also)
        assert "\\\\-" not in roff  # a hyphen escaped once, never twice
    assert "FILES" not in _headings(hook_page)


def _failing_argv(tmp: Path) -> dict[str, list[str]]:
    """A command line of each ldcache command that fails (its job or its question)."""
    missing = str(tmp / "missing")
    cache = str(VECTORS / "bookworm-amd64-new.cache")
    return {
        "print": ["-C", missing], "info": ["-C", missing], "dump": ["-C", missing],
        "convert": [missing, str(tmp / "out")], "build": ["-r", missing],
        "diff": [missing, cache], "lookup": ["-C", missing, "libc.so.6"],
        "verify": ["-r", missing], "explain": ["-r", missing, "libc.so.6"],
    }


def test_ldcache_exit_status_is_the_cli_s(ldcache_page, tmp_path, capsys):
    """EXIT STATUS names the CLI's constants, puts each command in the group whose failure
    status it has, and the commands exit so."""
    from ldcache.cli import COMMANDS, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, build_parser, main
    from ldcache.cli.manpages import ANSWERS, failure_statuses
    from ldcache.cli.tools import EXIT_NO, EXIT_TROUBLE, EXIT_YES

    assert (EXIT_OK, EXIT_FAILURE, EXIT_USAGE) == (0, 1, 2)
    assert (EXIT_YES, EXIT_NO, EXIT_TROUBLE) == (0, 1, 2)
    roff = _section(ldcache_page, "EXIT STATUS")
    jobs_items, question_items = _items(roff)
    assert [n for n, _ in jobs_items] == [EXIT_OK, EXIT_FAILURE, EXIT_USAGE]
    assert [n for n, _ in question_items] == [EXIT_YES, EXIT_NO, EXIT_TROUBLE]
    jobs_intro, questions_intro = (_plain(p).split("\n.TP")[0].splitlines()[-1]
                                   for p in re.split(r"^\.PP\n", roff, flags=re.M)[1:])
    failures = failure_statuses(build_parser())
    assert set(failures) == set(COMMANDS)
    for command, status in failures.items():
        intro = jobs_intro if status == EXIT_FAILURE else questions_intro
        other = questions_intro if status == EXIT_FAILURE else jobs_intro
        assert re.search(rf"\b{command}\b", intro), (command, intro)
        assert not re.search(rf"\b{command}\b", other), (command, other)
    assert dict(jobs_items)[EXIT_FAILURE] == "the job failed"
    assert "usage" in dict(jobs_items)[EXIT_USAGE]
    assert "bad command line" in dict(question_items)[EXIT_TROUBLE]
    questions = [c for c, s in failures.items() if s == EXIT_TROUBLE]
    assert sorted(questions) == sorted(ANSWERS)
    for command in questions:
        yes, no = ANSWERS[command]
        assert f"{yes} ({command})" in dict(question_items)[EXIT_YES]
        assert f"{no} ({command})" in dict(question_items)[EXIT_NO]

    # The behaviour: every command's failure, a bad command line, a yes and a no.
    argv = _failing_argv(tmp_path)
    assert set(COMMANDS) <= set(argv), "add a failing command line for the new command"
    for command in COMMANDS:
        assert main([command, *argv[command]]) == failures[command], command
        with pytest.raises(SystemExit) as exc:
            main([command, "--no-such-option"])
        assert exc.value.code == EXIT_USAGE, command
    a, b = (str(VECTORS / f"{d}-amd64-new.cache") for d in ("bookworm", "trixie"))
    assert main(["diff", a, a]) == EXIT_YES
    assert main(["diff", a, b]) == EXIT_NO
    capsys.readouterr()


def test_ldcache_files_names_the_aux_cache(ldcache_page, tmp_path):
    """FILES: the cache, the configuration and the aux cache at ldcache.auxcache's path, with
    the modes a build really gives it."""
    from ldcache.auxcache import AUX_DIR, AUX_PATH

    files = _plain(_section(ldcache_page, "FILES"))
    entries = dict(re.findall(r"^\.TP\n\\fI(.*?)\\fR\n(.*?)(?=^\.TP|\Z)",
                              _section(ldcache_page, "FILES").replace("\\-", "-"), re.M | re.S))
    aux = os.fsdecode(AUX_PATH)
    assert list(entries) == ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d/", aux]
    text = _plain(entries[aux])
    assert "-i" in text and "whenever it writes a cache" in text and "identity" in text
    assert os.fsdecode(AUX_DIR) in files
    file_mode, dir_mode = (int(m, 8) for m in re.findall(r"mode (0[0-7]{3})", text))

    # What `ldcache build` writes into a root (the machine's libc and loader in it).
    from support.synthroots import copy_host_runtime, host_libc_dir

    if not (host_libc_dir() / "libc.so.6").exists():
        pytest.skip("no x86_64 Debian libc on this machine to make a root from")
    from ldcache.build import BuildOptions, run_build

    root = tmp_path / "root"
    copy_host_runtime(root)
    (root / "var/cache").mkdir(parents=True)
    run_build(BuildOptions(root=str(root)))
    written = root / aux.lstrip("/")
    assert stat.S_IMODE(written.stat().st_mode) == file_mode
    assert stat.S_IMODE(written.parent.stat().st_mode) == dir_mode


def _examples(roff: str) -> list[str]:
    """The command lines of the EXAMPLES section (its .nf blocks), as plain text."""
    blocks = re.findall(r"^\.nf\n(.*?)^\.fi$", _section(roff, "EXAMPLES"), re.M | re.S)
    return [_plain(line).replace("\\&", "") for b in blocks for line in b.splitlines()]


def test_ldcache_examples_are_real_command_lines(ldcache_page):
    from ldcache.cli import build_parser

    lines = _examples(ldcache_page)
    for wanted in ("ldcache build -r ", "ldcache print -C ", "ldcache verify -r ",
                   "ldcache lookup "):
        assert any(line.startswith(wanted) for line in lines), (wanted, lines)
    for line in lines:
        argv = shlex.split(line)
        assert argv[0] == "ldcache", line
        build_parser(argv[1]).parse_args(argv[1:])  # a usage error would exit


def test_cdi_hook_exit_status_and_examples(hook_page, capsys):
    from ldcache_hook.main import run
    from ldcache_hook.manpage import HOOK_EXIT_FAILURE, HOOK_EXIT_OK
    from ldcache_hook.parser import parse

    (items,) = _items(_section(hook_page, "EXIT STATUS"))
    assert [n for n, _ in items] == [HOOK_EXIT_OK, HOOK_EXIT_FAILURE] == [0, 1]
    ok, failed = dict(items)[HOOK_EXIT_OK], dict(items)[HOOK_EXIT_FAILURE]
    assert "unknown hook" in ok and "warning" in ok and "failed" in failed

    def status(*args: str) -> int:
        return run("cdi-hook", list(args), stdin=io.BytesIO(b"{}"), env={})

    assert status("no-such-hook") == status("noop") == status("--version") == HOOK_EXIT_OK
    assert status("chmod", "--no-such-flag") == HOOK_EXIT_FAILURE  # usage error
    assert status("chmod", "--path", "/x", "--mode", "755") == HOOK_EXIT_FAILURE  # no root
    capsys.readouterr()

    lines = _examples(hook_page)
    assert "python3 -I -m ldcache_hook.launcher /usr/local/bin/cdi-hook" in lines
    import importlib.util

    assert importlib.util.find_spec("ldcache_hook.launcher") is not None
    hooks = {}
    for line in lines:
        argv = shlex.split(line)
        if argv and argv[0] == "cdi-hook":
            inv = parse(argv[1:], "cdi-hook")
            assert inv.action == "run" and inv.hook is not None, (line, inv)
            hooks[inv.hook.name] = inv.options
    assert set(hooks) >= {"update-ldcache", "create-symlinks", "chmod"}
    assert hooks["update-ldcache"]["folder"] and hooks["create-symlinks"]["link"]


# --- the pages the wheel ships, and the pages `tox -e man` writes ------------------------------

#: SOURCE_DATE_EPOCH of both builds: argparse-manpage puts the build date in the .TH line.
EPOCH = 1700000000


def _source_tree(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "tox.ini"):
        shutil.copy(PROJECT / name, dest / name)
    for package in ("ldcache", "hook"):
        shutil.copytree(PROJECT / package, dest / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _pip(args: list[str], what: str) -> None:
    """``pip ARGS`` (the configured index); a skip when pip cannot get the packages here."""
    proc = subprocess.run([sys.executable, "-m", "pip", *args, "-q",
                           "--disable-pip-version-check"],
                          capture_output=True, text=True, check=False, timeout=300,
                          env=dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH)))
    if proc.returncode != 0 and ("No module named pip" in proc.stderr
                                 or "No matching distribution" in proc.stderr):
        pytest.skip(f"pip cannot get the {what} here (offline?): "
                    + proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel`` of the package, as ``pip install .`` builds it (isolated build
    environment from the configured index), with the build date pinned."""
    tmp = tmp_path_factory.mktemp("wheel")
    tree = _source_tree(tmp / "src")
    _pip(["wheel", "--no-deps", "-w", str(tmp / "wheels"), str(tree)], "build requirements")
    (found,) = (tmp / "wheels").glob("ldcache-*.whl")
    return found


def test_package_build_installs_manpages(wheel):
    """The wheel carries both pages under share/man/man8."""
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
    for heading in ("EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"):
        assert f"\n.SH {heading}\n" in text, heading
    page = next(n for n in names if n.endswith("man8/cdi-hook.8"))
    text = _plain(zipfile.ZipFile(wheel).read(page).decode())
    assert "update-ldcache" in text and "\n.SH EXIT STATUS\n" in text


def _tox_man() -> tuple[list[str], list[list[str]]]:
    """[testenv:man] of tox.ini: its deps, and its commands as argument lists."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(PROJECT / "tox.ini")
    env = ini["testenv:man"]
    assert env.getboolean("skip_install")
    deps = [d.strip() for d in env["deps"].splitlines()
            if d.strip() and not d.strip().startswith("#")]
    commands = [shlex.split(c.replace("{posargs}", ""))
                for c in env["commands"].replace("\\\n", " ").splitlines() if c.strip()]
    return deps, commands


def test_tox_man_writes_the_pages_the_wheel_ships(wheel, tmp_path):
    """`tox -e man`, done as tox does it (its deps alone, without the package, its commands
    in the source tree), writes byte for byte the pages in the wheel.  Both builds run with
    SOURCE_DATE_EPOCH set alike, so the .TH line's date is the same (and checked)."""
    deps, commands = _tox_man()
    conf = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    assert sorted(deps) == sorted(conf["build-system"]["requires"])
    target = tmp_path / "deps"
    _pip(["install", "--target", str(target), *deps], "tox -e man deps")
    tree = _source_tree(tmp_path / "src")
    path = os.pathsep.join([str(target)] + ([os.environ["PYTHONPATH"]]
                                             if os.environ.get("PYTHONPATH") else []))
    env = dict(os.environ, PYTHONPATH=path, SOURCE_DATE_EPOCH=str(EPOCH))
    for argv in commands:
        assert argv[0] == "python", argv
        proc = subprocess.run([sys.executable, *argv[1:]], cwd=tree, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
    shipped = zipfile.ZipFile(wheel)
    date = datetime.datetime.fromtimestamp(EPOCH, datetime.timezone.utc).strftime("%Y\\-%m\\-%d")
    for page in ("ldcache.8", "cdi-hook.8"):
        ours = (tree / "man" / page).read_bytes()
        theirs = shipped.read(next(n for n in shipped.namelist()
                                   if n.endswith(f"/share/man/man8/{page}")))
        assert ours == theirs, page
        header = ours.decode().splitlines()[0]
        assert f' "{date}" "ldcache ' in header, header
