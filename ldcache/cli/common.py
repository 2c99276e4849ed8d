"""What every ``ldcache`` command shares: the exit statuses and the one-line error report.

Imported by the dispatcher (:mod:`ldcache.cli`) and by the command modules; it imports no
other part of the CLI.
"""

from __future__ import annotations

import sys

from .. import _os as os
from ..errors import LdcacheError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "run", "error_line", "describe_os_error"]

#: Exit codes, documented in the README.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def error_line(prog: str, message: str) -> None:
    """Print one error line, never a traceback."""
    sys.stderr.write(f"{prog}: {message}\n")


def describe_os_error(exc: OSError) -> str:
    name = exc.filename
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    reason = exc.strerror or str(exc)
    return f"{name}: {reason}" if name is not None else reason


def run(func: Callable[[Any], int], args: Any, prog: str,
        failure: int = EXIT_FAILURE) -> int:
    """``func(args)``; an error is one line on stderr and exit status ``failure``."""
    try:
        return func(args)
    except OSError as exc:  # RootError too: "PATH: reason"
        error_line(prog, describe_os_error(exc))
    except LdcacheError as exc:
        error_line(prog, str(exc))
    except KeyboardInterrupt:
        error_line(prog, "interrupted")
    return failure
