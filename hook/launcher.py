"""Write an isolated launcher for ``cdi-hook`` (the way to install it for CDI specs).

    python3 -I -m ldcache_hook.launcher /usr/local/bin/cdi-hook
    ln -s cdi-hook /usr/local/bin/nvidia-cdi-hook      # where specs name NVIDIA's binary

The launcher is a short Python script whose first line is ``#!<this interpreter>
-ISXutf8``: the kernel starts the interpreter isolated (no ``PYTHON*`` variables, no user
site-packages, no working directory on ``sys.path``, no ``site`` processing, UTF-8 mode
whatever the locale variables say), so nothing in the environment a runtime passes on —
which may be the container image's — is consulted before the hook's own code runs.
``sys.path`` is then extended with the directory holding this package and this
interpreter's site-packages directories, fixed now (see :mod:`ldcache_hook.main` for the whole
argument).  The console script pip installs as ``cdi-hook`` cannot do this (its first line
has no flags), so it re-executes itself isolated instead, which protects everything after
start-up but not start-up itself.

Writing the launcher also writes the start-up bundle (:mod:`ldcache_hook.bundle`), from which
the launcher imports the hook's modules.  Write it again after upgrading ldcache: a module
edited since is imported from its file, correctly but slower.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Callable, Optional, Sequence

__all__ = ["launcher_text", "write_launcher", "main", "SHEBANG_FLAGS"]

#: Linux reads at most this much of a "#!" line (BINPRM_BUF_SIZE since 5.1).
_SHEBANG_MAX = 255
#: The interpreter's flags (one "#!" argument): -I isolated, -S no site, -X utf8 (paths
#: are encoded the same whatever locale the environment names).
SHEBANG_FLAGS = "-ISXutf8"


def launcher_text(python: Optional[str] = None, paths: Optional[Sequence[str]] = None,
                  bundle: Optional[str] = None) -> str:
    """The launcher script for interpreter ``python`` (default: this one), importing the
    modules from the start-up bundle at ``bundle`` where one is given
    (:mod:`ldcache_hook.bundle`)."""
    from .main import PACKAGE, bundle_lines, import_lines, isolated_sys_path

    exe = python or sys.executable
    if not exe or not os.path.isabs(exe):
        raise ValueError(f"the interpreter must be an absolute path, not {exe!r}")
    if any(c.isspace() for c in exe):
        raise ValueError(f"the interpreter path {exe!r} has white space, which a '#!' line "
                         "cannot carry")
    shebang = f"#!{exe} {SHEBANG_FLAGS}"
    if len(shebang) > _SHEBANG_MAX:
        raise ValueError(f"the interpreter path is too long for a '#!' line: {exe!r}")
    dirs = list(paths) if paths is not None else isolated_sys_path()
    return (f"{shebang}\n"
            f"# cdi-hook launcher (written by python3 -m {PACKAGE}.launcher): an isolated\n"
            "# interpreter with an explicit sys.path; the environment and working directory\n"
            "# are ignored.\n"
            "import gc\n"
            "gc.disable()  # a hook's objects live until it exits\n"
            + import_lines(dirs) + (bundle_lines(bundle) if bundle else "") +
            f"from {PACKAGE}.main import main\n"
            "raise SystemExit(main())\n")


def write_launcher(dest: str, python: Optional[str] = None,
                   paths: Optional[Sequence[str]] = None,
                   warn: Optional[Callable[[str], object]] = None) -> str:
    """Write the launcher to ``dest`` (mode 0755, replaced atomically); returns ``dest``.

    For this interpreter (``python`` None or :data:`sys.executable`) the start-up bundle is
    written first (:func:`ldcache_hook.bundle.encode`) and the launcher imports from it; where
    it cannot be written (a read-only package directory), the launcher is written without
    it (``warn`` is told why), and starts a hook ~1-2 ms slower."""
    from . import bundle
    from .main import bundle_path

    bundle_file = None
    if python in (None, sys.executable):
        try:
            bundle_file = bundle_path()
            os.makedirs(os.path.dirname(bundle_file), exist_ok=True)
            _replace_file(bundle_file, bundle.encode(), 0o644)
        except OSError as e:
            bundle_file = None
            if warn is not None:
                warn(f"no start-up bundle (the hook starts slower): {e}")
    _replace_file(os.path.abspath(dest), launcher_text(python, paths, bundle_file).encode(),
                  0o755)
    return dest


def _replace_file(dest: str, data: bytes, mode: int) -> None:
    """Write ``data`` to ``dest`` with ``mode``, replacing it atomically (a temporary in its
    directory, renamed over it)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}-",
                               dir=os.path.dirname(dest))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m ldcache_hook.launcher",
                                description="Write an isolated cdi-hook launcher script.")
    p.add_argument("dest", help="where to write it, e.g. /usr/local/bin/cdi-hook")
    p.add_argument("--python", help="interpreter to use (default: this one, "
                   f"{sys.executable})")
    p.add_argument("--print", action="store_true", help="print the script instead")
    args = p.parse_args(argv)
    try:
        if args.print:
            sys.stdout.write(launcher_text(args.python))
        else:
            write_launcher(args.dest, args.python, warn=lambda m: sys.stderr.write(
                f"ldcache_hook.launcher: {m}\n"))
    except (OSError, ValueError) as e:
        sys.stderr.write(f"ldcache_hook.launcher: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
