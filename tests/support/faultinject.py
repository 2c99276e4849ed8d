"""Test-only fault injection: run a CLI in a child process that SIGKILLs itself at the
Nth call of a chosen set of ``os`` functions.

The child is ``python -c CHILD`` (no shell): it replaces ``write``, ``rename``,
``fsync``, ``symlink`` and ``unlink`` (or the subset asked for) of ``ldcache._os`` and of
``os`` by counting wrappers, then runs ``ldcache.cli.main(args)`` or the hook's
``hook.main.run(argv0, args)`` in the same process.  ldcache does all its writing through
these names of ``ldcache._os`` (``ldcache.inroot``, the hook's drop-in writer; the very
functions of ``os``, see that module) or of ``os``, so counting them counts the steps at
which the file system changes.

* ``count(...)`` runs without a fault and returns the sequence of calls made (names);
* ``kill_at(..., n, when="before"|"after")`` SIGKILLs the process just before (or just
  after) call number ``n`` (1-based) — the process dies as abruptly as in an OOM kill or
  a power cut seen from the file system (no ``finally``, no atexit, no flush).

Python's own I/O (``sys.stdout``…) does not go through ``os.write``, so messages are not
counted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, NamedTuple, Optional, Sequence

PROJECT = Path(__file__).resolve().parent.parent.parent

#: The functions patched by default.
OPS = ("write", "rename", "fsync", "symlink", "unlink")

CHILD = r"""
import json, os, signal, sys
mode, n, trace_file, names, prog = (sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4],
                                    sys.argv[5])
args = sys.argv[6:]
trace = []
_kill, _getpid = os.kill, os.getpid

def wrap(name, real):
    def patched(*a, **k):
        trace.append(name)
        i = len(trace)
        if mode == "before" and i == n:
            _kill(_getpid(), signal.SIGKILL)
        result = real(*a, **k)
        if mode == "after" and i == n:
            _kill(_getpid(), signal.SIGKILL)
        return result
    patched.__name__ = name
    return patched

import ldcache._os
for module in (os, ldcache._os):
    for name in names.split(","):
        setattr(module, name, wrap(name, getattr(module, name)))

def done(code):
    if trace_file:
        with open(trace_file, "w") as f:
            json.dump(trace, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

try:
    if prog == "ldcache":
        from ldcache.cli import main
        code = main(args)
    elif prog == "cdi-hook":
        from ldcache_hook.main import run
        code = run("nvidia-cdi-hook", args)
    else:
        raise SystemExit("faultinject: unknown program " + prog)
except SystemExit as e:
    code = e.code if isinstance(e.code, int) else 1
done(code)
"""


class Result(NamedTuple):
    returncode: int
    stdout: bytes
    stderr: bytes
    #: The calls made (only complete when the process was not killed).
    trace: List[str]

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def _run(mode: str, n: int, prog: str, args: Sequence[str], *, ops: Sequence[str] = OPS,
         stdin: bytes = b"", timeout: float = 120, env: Optional[dict] = None) -> Result:
    fd, trace_file = tempfile.mkstemp(prefix="faultinject-", suffix=".json")
    os.close(fd)
    try:
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(PROJECT),
             "PYTHONDONTWRITEBYTECODE": "1"}
        if env:
            e.update(env)
        p = subprocess.run([sys.executable, "-c", CHILD, mode, str(n), trace_file,
                            ",".join(ops), prog, *args], input=stdin, capture_output=True,
                           cwd="/", env=e, timeout=timeout)
        try:
            with open(trace_file) as f:
                text = f.read()
            trace = json.loads(text) if text else []
        except (OSError, ValueError):
            trace = []
        return Result(p.returncode, p.stdout, p.stderr, trace)
    finally:
        os.unlink(trace_file)


def count(prog: str, args: Sequence[str], **kw: object) -> Result:
    """Run without a fault; ``trace`` lists every patched call in order."""
    return _run("count", 0, prog, args, **kw)  # type: ignore[arg-type]


def kill_at(prog: str, args: Sequence[str], n: int, when: str = "before",
            **kw: object) -> Result:
    """Run and SIGKILL the process just ``when`` ("before"/"after") the ``n``-th call."""
    assert when in ("before", "after")
    return _run(when, n, prog, args, **kw)  # type: ignore[arg-type]


__all__ = ["OPS", "Result", "count", "kill_at"]
