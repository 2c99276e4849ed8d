"""The ``ldcache`` command line: one small module per subcommand over the library."""

from __future__ import annotations

import sys

from .. import __version__
from .. import _os as os
from .common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, run

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, Callable, Sequence

__all__ = ["main", "build_parser", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE"]

class _Skipped:
    """Stands in for the parser of a command that is not being run: accepts and ignores
    every call (building all of them costs more start-up time than a whole `print`)."""

    def __getattr__(self, name: str) -> Callable[..., "_Skipped"]:
        return lambda *args, **kwargs: self


class _OnlyCommand:
    """Subparsers that build only the parser of ``command``."""

    def __init__(self, sub: Any, command: str) -> None:
        self._sub = sub
        self._command = command

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self._command:
            return self._sub.add_parser(name, **kwargs)
        return _Skipped()


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``ldcache`` argument parser; with ``command``, only that command's subparser is
    built (the command line names it)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="ldcache",
        description="Read, inspect, convert and build glibc's ld.so.cache without running "
                    "ldconfig.",
    )
    parser.add_argument("--version", action="version", version=f"ldcache {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    target: Any = sub if command is None else _OnlyCommand(sub, command)
    for module in _command_modules(command):
        module.add_parsers(target)
    return parser


#: Every subcommand and the module declaring it (tests check this against the full parser).
COMMAND_MODULES = {
    "print": "inspect", "info": "inspect", "convert": "inspect", "dump": "dump",
    "build": "build", "diff": "tools", "lookup": "tools", "verify": "tools", "explain": "tools",
}
COMMANDS = tuple(COMMAND_MODULES)


def _command_modules(command: str | None = None) -> list:
    """The modules declaring ``command`` (None: every command), in help order; only those
    are imported."""
    names = ("inspect", "dump", "build", "tools") if command is None else \
        (COMMAND_MODULES[command],)
    return [__import__(f"{__name__}.{n}", fromlist=["add_parsers"]) for n in names]


def is_ldconfig_name(argv0: str) -> bool:
    """Invoked as ``ldconfig`` (a symlink to ldcache): ldconfig's own command line."""
    return os.basename(argv0).startswith("ldconfig")


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point.  With ``argv`` None the process's own command line is run and
    the process ends here, without the interpreter's teardown; with a list, the status is
    returned."""
    if argv is not None:
        return _main(list(argv), "ldcache")
    import gc

    # A run only makes objects that live until it ends: the cyclic collector and the
    # interpreter's teardown would cost more time than they free.
    gc.disable()
    name = "ldconfig" if is_ldconfig_name(sys.argv[0]) else "ldcache"
    if _reads_only(sys.argv[1:], name):
        _die_on_sigpipe()
    status = _main(sys.argv[1:], name)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)


#: Commands that only read and print: a reader that leaves early (``| head``) ends them
#: silently by SIGPIPE, as it ends ``ldconfig -p``.
READING = frozenset(("print", "info", "dump", "diff", "lookup", "verify", "explain"))


def _die_on_sigpipe() -> None:
    import _signal  # type: ignore[import-not-found]  # built in; signal imports enum (ms)

    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)


def _reads_only(argv: list[str], name: str) -> bool:
    if name == "ldconfig":
        return "-p" in argv or "--print-cache" in argv
    return bool(argv) and argv[0] in READING


def _main(argv: list[str], name: str) -> int:
    if name == "ldconfig":
        from .build import ldconfig_main

        return _finish(ldconfig_main(argv))
    # (--help, --version and usage errors leave through SystemExit, as argparse does.)
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args: Any = None
    if command is not None:
        # The plain command lines without argparse (see .fastargs); argparse for the rest.
        from .fastargs import Recorder, parse

        rec = Recorder(only=command)
        for module in _command_modules(command):
            module.add_parsers(rec)
        args = parse(rec.commands[command], argv[1:], {"command": command})
    if args is None:
        args = build_parser(command).parse_args(argv)
    return _finish(run(args.func, args, "ldcache",
                       getattr(args, "failure_status", EXIT_FAILURE)))


def _finish(status: int) -> int:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # `ldcache print | head`: not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status
