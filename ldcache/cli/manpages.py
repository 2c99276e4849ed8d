"""The argument parsers the man pages ldcache(8) and cdi-hook(8) are generated from.

argparse-manpage loads this file by path while the package is being built (the source
tree is not importable then), so it puts the source tree first on ``sys.path`` and hands
over the real parsers: the pages always list exactly the options the programs take.
"""

from __future__ import annotations

import argparse
import os
import sys

_TREE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _importable() -> None:
    if _TREE not in sys.path:
        sys.path.insert(0, _TREE)


def ldcache_parser() -> argparse.ArgumentParser:
    _importable()
    from ldcache.cli import build_parser

    return build_parser()


def cdi_hook_parser() -> argparse.ArgumentParser:
    _importable()
    from ldcache_hook.main import build_parser

    parser = build_parser()
    parser.prog = "cdi-hook"
    return parser
