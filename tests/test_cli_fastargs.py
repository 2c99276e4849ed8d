"""The fast command-line reader (ldcache.cli.fastargs) against argparse itself.

Wherever the fast reader gives a result, argparse must accept the same command line and
give the same namespace; where it gives none, argparse decides.  Command lines are
generated from each command's own option strings, with the odd forms mixed in (bundled
flags, abbreviations, ``--``, values that look like options, bad choices, ``=``)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldcache.cli import COMMANDS, _command_modules, build_parser
from ldcache.cli.build import _ldconfig_arguments, ldconfig_parser
from ldcache.cli.fastargs import Namespace, Recorder, parse


def _recorded(command: str) -> Recorder:
    rec = Recorder(only=command)
    for module in _command_modules(command):
        module.add_parsers(rec)
    return rec.commands[command]


def _ldconfig_recorded() -> Recorder:
    rec = Recorder()
    _ldconfig_arguments(rec)
    return rec


def _argparse(parser_args: list, ldconfig: bool):
    """argparse's namespace, or None where it stops (error, help, version)."""
    parser = ldconfig_parser() if ldconfig else build_parser(parser_args[0])
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return parser.parse_args(parser_args)
    except SystemExit:
        return None


_ODD = ["-", "--", "-h", "--help", "-Xi", "-iX", "--gen", "--json=1", "--json=", "-r=x",
        "-1", "x y", "-x y", "", "=", "a=b", "--format=new", "-c", "-C", "-r"]
_PLAIN = ["new", "compat", "old", "little", "big", "3", "7", "/tmp/r", "libc.so.6", "x86-64-v3",
          "a,b", "2.36"]


def _tokens(rec: Recorder):
    """One option with its value as the command declares it, a positional, or an odd word."""
    pieces = []
    for arg in rec.args:
        if arg.positional:
            continue
        for name in arg.names:
            if arg.takes_value:
                values = [str(c) for c in arg.kw.get("choices") or ()] + _PLAIN
                pieces.append(st.tuples(st.just(name), st.sampled_from(values)).map(list))
                if name.startswith("--"):
                    pieces.append(st.sampled_from(values).map(lambda v, n=name: [f"{n}={v}"]))
                else:
                    pieces.append(st.sampled_from(values).map(lambda v, n=name: [n + v]))
            else:
                pieces.append(st.just([name]))
    pieces.append(st.sampled_from(_PLAIN).map(lambda v: [v]))
    options = st.one_of(pieces)
    odd = st.sampled_from(_ODD).map(lambda v: [v]) | st.text(max_size=5).map(lambda v: [v])
    return st.lists(st.one_of(options, options, options, odd), max_size=6).map(
        lambda parts: [w for part in parts for w in part])


def _argv(rec: Recorder):
    return _tokens(rec)


def _check(rec: Recorder, argv: list, command: str | None) -> bool:
    into = {"command": command} if command else None
    fast = parse(rec, argv, into)
    if fast is None:
        return False
    real = _argparse(([command] if command else []) + argv, ldconfig=command is None)
    assert real is not None, f"argparse refuses {argv!r}, the fast reader gave {fast!r}"
    assert vars(fast) == vars(real), argv
    return True


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=250, deadline=None)
@given(data=st.data())
def test_agrees_with_argparse(command, data):
    rec = _recorded(command)
    _check(rec, data.draw(_argv(rec)), command)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_ldconfig_personality_agrees_with_argparse(data):
    rec = _ldconfig_recorded()
    _check(rec, data.draw(_argv(rec)), None)


@pytest.mark.parametrize("argv", [
    ["build", "-r", "/tmp/r", "-X", "-i"],
    ["build", "-r/tmp/r", "-C", "/etc/x.cache", "--generator", "g", "-v", "/opt/a", "/opt/b"],
    ["build", "--format=compat", "-n", "/opt/lib"],
    ["print"], ["print", "-C", "/tmp/c"], ["print", "-r", "/tmp/r", "--json"],
    ["print", "--glibc", "2.36"], ["info", "-C", "c"], ["convert", "-c", "old", "a", "b"],
    ["dump", "-C", "c", "--json"], ["diff", "a", "b"], ["lookup", "libc.so.6", ],
    ["lookup", "--hwcaps", "x86-64-v3", "--hwcaps", "x86-64-v2", "--isa-level", "3", "libm.so.6"],
    ["verify", "-r", "/tmp/r"], ["explain", "libc.so.6"],
])
def test_the_plain_forms_are_read_without_argparse(argv):
    """The command lines scripts and hooks write are read by the fast reader (else the
    start-up saving is not had), with argparse's result."""
    assert _check(_recorded(argv[0]), argv[1:], argv[0])


@pytest.mark.parametrize("argv", [["-p"], ["-r", "/tmp/r"], ["-r", "/tmp/r", "-X", "-i", "-C", "c"],
                                  ["-c", "bogus"], ["-v", "-n", "/opt/x"]])
def test_ldconfig_plain_forms(argv):
    assert _check(_ldconfig_recorded(), argv, None)


@pytest.mark.parametrize("argv", [["build", "-h"], ["build", "-Xi"], ["build", "--gen", "x"],
                                  ["build", "/opt", "-X"], ["print", "--json=yes"],
                                  ["convert", "a"], ["convert", "-c", "bogus", "a", "b"],
                                  ["lookup", "--isa-level", "7", "x"], ["build", "--", "-x"]])
def test_doubtful_forms_go_to_argparse(argv):
    assert parse(_recorded(argv[0]), argv[1:], {"command": argv[0]}) is None


def test_namespace_behaves_like_argparse_s():
    import argparse

    a, b = Namespace(x=1, y=[2]), argparse.Namespace(x=1, y=[2])
    assert a == b and "x" in a and "z" not in a and repr(a) == "Namespace(x=1, y=[2])"
