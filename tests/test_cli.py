"""The ldcache command line's own plumbing."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from ldcache import cli


def _choices(parser: argparse.ArgumentParser) -> dict:
    sub = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)][0]
    return sub.choices


def test_commands_list_every_subcommand() -> None:
    assert set(_choices(cli.build_parser())) == set(cli.COMMANDS)


@pytest.mark.parametrize("command", cli.COMMANDS)
def test_single_command_parser_equals_full(command: str) -> None:
    """Only the command being run gets a parser built; it is the same parser."""
    full = _choices(cli.build_parser())[command]
    alone = _choices(cli.build_parser(command))
    assert list(alone) == [command]
    assert alone[command].format_help() == full.format_help()


def test_process_exit_status_and_output() -> None:
    """Run as a program, the exit status and the printed text survive the fast exit."""
    ok = subprocess.run([sys.executable, "-m", "ldcache", "--version"], capture_output=True)
    assert ok.returncode == 0 and ok.stdout.startswith(b"ldcache ")
    bad = subprocess.run([sys.executable, "-m", "ldcache", "info", "-C", "/nonexistent"],
                         capture_output=True)
    assert bad.returncode == 1
    assert bad.stderr == b"ldcache: /nonexistent: No such file or directory\n"
