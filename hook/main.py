"""``cdi-hook``: entry point, isolation, dispatch.

Isolation (CVE-2025-23266)
--------------------------
An OCI runtime may start a hook with the *container image's* environment and with the
container root as working directory.  Whatever the image sets must not change what the
hook does.  The defences, in order:

1. **The launcher** (recommended; see :mod:`ldcache_hook.launcher`): a script whose first line is
   ``#!/path/to/python3 -ISXutf8``.  ``-I`` makes the interpreter ignore every ``PYTHON*``
   variable (``PYTHONPATH``, ``PYTHONHOME``, ``PYTHONSTARTUP``, ``PYTHONINSPECT``,
   ``PYTHONPYCACHEPREFIX``…), the user site-packages and the working directory; ``-S`` skips
   ``site`` (no ``.pth`` processing, no ``sitecustomize``); ``-X utf8`` makes path encoding
   independent of the locale variables.  The launcher then puts this
   package's directory and the interpreter's site-packages directories (fixed when the
   launcher was written) on ``sys.path``, imports from the start-up bundle written with it
   (:mod:`ldcache_hook.bundle`: the same modules, compiled) and calls :func:`main`.  Nothing
   the image controls is consulted before our code runs.

2. **Re-execution** (any other way of starting us, e.g. the console script pip generates):
   the first thing :func:`main` does is ``chdir("/")``, ``umask(022)`` and, unless the
   interpreter is already isolated (``sys.flags.isolated``), ``execve`` of
   ``sys.executable -I -S -X utf8 -c BOOT`` with the same explicit ``sys.path`` and an environment
   holding only the ``NVIDIA_CTK_*``/``NVIDIA_CDI_*`` debug/quiet variables.  Everything the
   hook then imports (``ldcache``, ``construct``, ``json``…) and does comes from the
   isolated interpreter.  Before that point this module imports nothing but ``posix`` and
   ``sys`` (built in, found before any ``PYTHONPATH`` entry is consulted; hence also no
   ``from __future__`` import here), and, to re-execute, ``os`` and ``site`` (loaded at
   start-up of such an interpreter).  (``os`` itself costs an isolated start ~1 ms: the
   launcher's path never imports it, see :mod:`ldcache._os`.)

   What re-execution *cannot* undo is what ran before :func:`main` got control: a pip
   console script starts a non-isolated interpreter, which processes ``PYTHONPATH`` (a
   hostile ``sitecustomize.py``, or a ``hook`` package shadowing this one) during
   start-up.  Hence the launcher for CDI specs.

3. **The runtime's side**: ``LD_PRELOAD``/``LD_LIBRARY_PATH`` act on the interpreter binary
   itself, before any Python runs.  Only the CDI spec can prevent that: give each hook an
   explicit ``env`` (e.g. ``["NVIDIA_CTK_DEBUG=false"]``), which replaces the inherited one.

Nothing in the container image is ever executed: the hooks only read and write files
through :class:`ldcache.inroot.Root`.
"""

import posix
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - (no typing import at run time, see above)
    import argparse
    from typing import BinaryIO, Mapping, NoReturn

__all__ = ["main", "run", "build_parser", "isolated_sys_path", "boot_code", "import_lines",
           "bundle_path", "bundle_lines", "KEEP_ENV", "PACKAGE"]

#: Environment variables passed to the re-executed interpreter (everything else is dropped).
KEEP_ENV = ("NVIDIA_CTK_DEBUG", "NVIDIA_CDI_DEBUG", "NVIDIA_CTK_QUIET", "NVIDIA_CDI_QUIET",
            "NVIDIA_CTK_CONFIG")
#: Set in the re-executed interpreter's environment (a guard against exec loops).
_MARK = "CDI_HOOK_REEXEC"
#: The working directory at import: ``__file__`` may be relative to it, and the hook
#: leaves it first thing (:func:`_package_dir` resolves against it).
_START_CWD = posix.getcwd() if not __file__.startswith("/") else "/"


def _package_dir() -> str:
    """This package's own directory, whatever it is called (absolute)."""
    import os

    return os.path.dirname(os.path.normpath(os.path.join(_START_CWD, __file__)))


def isolated_sys_path() -> "list[str]":
    """What the isolated interpreter appends to its (standard-library-only) ``sys.path``:
    the directory holding this package, then the interpreter's site-packages directories."""
    import os
    import site  # already loaded at start-up (or harmless: standard library, -I -S)

    out = [os.path.dirname(_package_dir())]
    try:
        dirs = site.getsitepackages()
    except AttributeError:  # pragma: no cover - virtualenv's old site.py
        dirs = []
    for d in dirs:
        if d not in out and os.path.isdir(d):
            out.append(d)
    return out


#: The name this package is installed under (its folder in the source tree is ``hook/``).
PACKAGE = "ldcache_hook"

def import_lines(paths: "list[str]") -> str:
    """Python lines that, in an interpreter started with ``-I -S``, extend ``sys.path`` with
    ``paths`` and make :data:`PACKAGE` importable.

    Installed from a wheel, the package sits in site-packages under its own name.  In the
    source tree (``pip install -e .``) its folder is ``hook/``, mapped to the name by an
    import hook that ``-S`` never loads: then the package is bound to its name from its
    directory, found now."""
    import os

    lines = "import sys\n" f"sys.path[len(sys.path):] = {paths!r}\n"
    package_dir = _package_dir()
    if os.path.basename(package_dir) != PACKAGE:
        init = os.path.join(package_dir, "__init__.py")
        # importlib's own frozen halves, loaded at start-up (importlib.util imports
        # contextlib and more: milliseconds of a hook's budget).
        lines += ("from _frozen_importlib_external import spec_from_file_location as _sf\n"
                  "from _frozen_importlib import module_from_spec as _mf\n"
                  f"_s = _sf({PACKAGE!r}, {init!r}, "
                  f"submodule_search_locations=[{package_dir!r}])\n"
                  "_m = _mf(_s)\n"
                  f"sys.modules[{PACKAGE!r}] = _m\n"
                  "_s.loader.exec_module(_m)\n")
    return lines


def bundle_path() -> str:
    """Where ``python3 -m ldcache_hook.launcher`` writes the start-up bundle
    (:mod:`ldcache_hook.bundle`): this package's ``__pycache__``, named by the interpreter's
    cache tag as its ``.pyc`` files are."""
    import os

    return os.path.join(_package_dir(), "__pycache__",
                        f"bundle.{sys.implementation.cache_tag}.bin")


def bundle_lines(path: str) -> str:
    """Python lines, after :func:`import_lines`, that import the modules from the bundle at
    ``path`` while it is current (and from their files where it is not, or is missing)."""
    return f"from {PACKAGE}.bundle import install\ninstall({path!r})\n"


def boot_code(paths: "list[str]") -> str:
    """The program the isolated interpreter runs (``-c``): set sys.path, call main."""
    return ("import gc\n"
            "gc.disable()\n"
            + import_lines(paths) + bundle_lines(bundle_path()) +
            "del sys.argv[0]\n"
            f"from {PACKAGE}.main import main\n"
            "raise SystemExit(main())\n")


def _isolate(argv: "list[str]") -> None:
    """Leave the inherited directory and umask; become an isolated interpreter (may exec)."""
    try:
        posix.chdir("/")
    except OSError:
        pass
    posix.umask(0o022)
    if sys.flags.isolated:
        return
    import os  # (loaded at such an interpreter's start-up, by site)

    if os.environ.get(_MARK) == "1":
        # Re-executed once already and still not isolated: never loop.
        return
    exe = sys.executable
    if not exe or not os.path.isabs(exe):
        return
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env[_MARK] = "1"
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    os.execve(exe, [exe, "-I", "-S", "-X", "utf8", "-c", boot_code(isolated_sys_path()),
                    *argv], env)


def main(argv: "list[str] | None" = None) -> int:
    """Console entry point.  With ``argv`` None: the process's own command line, isolated
    first (see the module docstring), and the process ends here.  With a list (argv[0]
    first): run in this process and return the exit status."""
    if argv is None:
        import gc  # built in: found before any path entry

        # A hook's objects live until it exits (its work included, as an ldcache run's):
        # the cyclic collector would cost it more time than it frees (~0.5 ms, update-ldcache).
        gc.disable()
        argv = list(sys.argv) or ["cdi-hook"]
        _isolate(argv)
        _exit(run(argv[0], argv[1:]))
    return run(argv[0], argv[1:])


def _exit(code: int) -> "NoReturn":
    """End the process without the interpreter's teardown.

    Tearing down the modules the library imports (and collecting them) costs a hook more
    time than its work does.  Everything the hook wrote is written, fsynced and closed by
    now (files are handled as raw fds through ldcache.inroot); only the standard streams
    have buffers left, and they are flushed here.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    posix._exit(code)


def build_parser() -> "argparse.ArgumentParser":
    """The command line as an argparse parser, for man pages (see ldcache_hook.helptext)."""
    from .helptext import build_parser as build

    return build()


def _prog(argv0: str) -> str:
    from ldcache._os import basename  # (called after isolation, as parser.shape_of)

    base = basename(argv0 or "")
    if base.startswith(("nvidia-cdi-hook", "nvidia-ctk", "cdi-hook")):
        return base
    return "cdi-hook"


def run(argv0: str, args: "list[str]", *, stdin: "BinaryIO | None" = None,
        env: "Mapping[str, str] | None" = None) -> int:
    """Parse ``args`` (as invoked under ``argv0``) and run the hook; the exit status."""
    from ldcache import __version__, _os
    from ldcache.errors import LdcacheError

    from .context import Context, why
    from .log import DEBUG, ERROR, INFO, Log
    from .parser import env_bool, parse, shape_of
    from .table import DEBUG_ENV, QUIET_ENV

    environ = _os.environ if env is None else env
    prog = _prog(argv0)
    inv = parse(args, shape_of(argv0))
    log = Log(prog)

    problems = []
    debug = inv.globals.get("debug")
    if not isinstance(debug, bool):
        debug, problem = env_bool(environ, DEBUG_ENV)
        problems.append(problem)
    quiet = inv.globals.get("quiet")
    if not isinstance(quiet, bool):
        quiet, problem = env_bool(environ, QUIET_ENV)
        problems.append(problem)
    log.level = ERROR if quiet else DEBUG if debug else INFO
    for problem in problems:
        if problem:
            log.warning(problem)

    if inv.action == "help":
        from .helptext import help_text  # (argparse: only for --help)

        shown = prog if inv.shape == "cdi-hook" else f"{prog} hook"
        sys.stdout.write(help_text(shown, inv.help_for))
        return 0
    if inv.action == "version":
        sys.stdout.write(f"{prog} version {__version__} (ldcache)\n")
        return 0
    if inv.action == "unsupported":
        log.warning(inv.message)
        return 0
    if inv.action == "usage" or inv.hook is None:
        log.error(inv.message or "nothing to do")
        return 1

    spec = inv.hook
    for text in inv.deprecations:
        log.warning(f"{spec.name}: {text}")
    if inv.extra:
        log.debug(f"{spec.name}: ignoring extra arguments {inv.extra!r}")
    if spec.name == "noop":
        return 0
    stream = stdin if stdin is not None else sys.stdin.buffer
    ctx = Context(inv.options, log, stream, hook=spec.name)
    try:
        # (__import__ rather than importlib.import_module: importlib imports warnings.)
        hook_run = __import__(spec.module, fromlist=["run"]).run
        if quiet:
            # The library reports ldconfig's own warnings on stderr; --quiet hides them.
            import contextlib
            import io

            sink = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="replace")
            log._stream = sys.stderr  # keep errors on the real stderr
            with contextlib.redirect_stderr(sink):
                hook_run(ctx)
        else:
            hook_run(ctx)
    except (LdcacheError, OSError) as e:
        log.error(f"{spec.name}: {why(e)}")
        return 1
    except Exception as e:  # noqa: BLE001 - a bug must still be one line and exit 1
        if log.debugging:
            import traceback

            traceback.print_exc()
        log.error(f"{spec.name}: internal error: {type(e).__name__}: {e}")
        return 1
    return 0
