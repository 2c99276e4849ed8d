"""The help text (``--help``) and the ``argparse`` view of the command line (man pages).

Both are written from the command table (:mod:`ldcache_hook.table`); the hooks themselves
are run by :func:`ldcache_hook.parser.parse`, which reads the same table with NVIDIA's
rules.  A normal run never imports this module (nor ``argparse``): only ``--help`` and the
man page build do.
"""

from __future__ import annotations

from .table import GLOBAL_FLAGS, HOOKS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Optional, Sequence

    from .table import Flag, HookSpec

__all__ = ["build_parser", "help_text"]


def _add_flags(p: "argparse.ArgumentParser", flags: Sequence[Flag]) -> None:
    import argparse

    for f in flags:
        shown = [n for n in f.names if n not in ("containerSpec", "folders", "csv-filenames")]
        opts = [("-" if len(n) == 1 else "--") + n for n in shown]
        text = argparse.SUPPRESS if f.hidden else f.help
        if f.default is not None and not f.hidden:
            text += f" (default {f.default})"
        if f.kind == "bool":
            p.add_argument(*opts, dest=f.name, action="store_true", help=text)
        elif f.kind == "list":
            p.add_argument(*opts, dest=f.name, action="append", metavar=f.metavar, help=text)
        else:
            p.add_argument(*opts, dest=f.name, metavar=f.metavar, default=f.default, help=text)


def _hook_parser(spec: HookSpec, prog: str) -> "argparse.ArgumentParser":
    import argparse

    p = argparse.ArgumentParser(prog=f"{prog} {spec.name}", description=spec.help + (
        ". " + spec.description if spec.description else ""), add_help=True)
    _add_flags(p, spec.flags)
    return p


def build_parser(prog: str = "cdi-hook") -> "argparse.ArgumentParser":
    """The command line as an ``argparse`` parser (for help text and man pages).

    The hooks are run by :func:`ldcache_hook.parser.parse`, which reads the same table with
    NVIDIA's rules.
    """
    import argparse

    p = argparse.ArgumentParser(
        prog=prog,
        description="OCI hooks for CDI specs: a drop-in for NVIDIA's nvidia-cdi-hook. "
                    "The container's OCI state is read from standard input.  Nothing in the "
                    "container image is ever executed.",
        epilog="Also answers as 'nvidia-cdi-hook HOOK ...' and 'nvidia-ctk hook HOOK ...' "
               "when invoked under those names.  An unknown hook is a warning (exit 0).")
    _add_flags(p, GLOBAL_FLAGS)
    p.add_argument("--version", "-v", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="hook", metavar="HOOK")
    for spec in HOOKS:
        if spec.hidden:
            continue
        sp = sub.add_parser(spec.name, help=spec.help, description=spec.help + (
            ". " + spec.description if spec.description else ""))
        _add_flags(sp, spec.flags)
    return p


def help_text(prog: str, spec: Optional[HookSpec] = None) -> str:
    """``--help``'s text: the whole command line's, or one hook's (``spec``)."""
    if spec is None:
        return build_parser(prog).format_help()
    return _hook_parser(spec, prog).format_help()
