"""The man page cdi-hook(8): the hook's argument parser and its extra sections (EXIT STATUS,
EXAMPLES, SEE ALSO), written with ldcache(8)'s roff helpers (:mod:`ldcache.cli.manpages`).

It lives with the hook, not in ldcache, because ldcache never imports the hook.  Like
ldcache/cli/manpages.py, argparse-manpage loads this file by path while the package is
being built (``pyfile=hook/manpage.py`` in ``[tool.build_manpages]`` of pyproject.toml),
when neither ``ldcache`` nor ``ldcache_hook`` is importable: it puts the source tree first
on ``sys.path`` and binds ``ldcache_hook`` to ``hook/`` (as ``ldcache_hook.main``'s
``import_lines`` does).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import List, Tuple

_FOLDER = os.path.dirname(os.path.abspath(__file__))
_TREE = os.path.dirname(_FOLDER)
#: The name the hook frontend is installed under; its folder in the source tree is hook/.
_PACKAGE = "ldcache_hook"


def _importable() -> None:
    if _TREE not in sys.path:
        sys.path.insert(0, _TREE)
    if _PACKAGE in sys.modules or not os.path.isfile(os.path.join(_TREE, "pyproject.toml")):
        return
    init = os.path.join(_FOLDER, "__init__.py")
    import importlib.util

    spec = importlib.util.spec_from_file_location(_PACKAGE, init,
                                                  submodule_search_locations=[_FOLDER])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[_PACKAGE]
        raise


def cdi_hook_parser() -> argparse.ArgumentParser:
    _importable()
    from ldcache_hook.main import build_parser

    from ldcache.cli.manpages import _attach

    parser = build_parser()
    parser.prog = "cdi-hook"
    _attach(parser, cdi_hook_sections())
    return parser


#: cdi-hook's exit statuses (ldcache_hook.main.run).
HOOK_EXIT_OK, HOOK_EXIT_FAILURE = 0, 1


def cdi_hook_sections() -> List[Tuple[str, str]]:
    from ldcache.cli.manpages import _b, _examples, _items, _see_also

    exit_status = _items([
        (_b(str(HOOK_EXIT_OK)),
         f"The hook did its work; also {_b('--help')}, {_b('--version')} and the "
         f"{_b('noop')} hook. No hook, an unknown hook, or an unknown flag before the hook "
         "name is a warning and exit status 0 too: a CDI spec written for a newer toolkit "
         "must not stop a container from starting."),
        (_b(str(HOOK_EXIT_FAILURE)),
         "The hook failed (one line on standard error says why), or a usage error: an "
         "unknown flag for a known hook, a missing flag value, a bad boolean."),
    ])

    examples = _examples([
        ("Install the isolated launcher (with the Python ldcache is installed for), and put "
         "it where CDI specs expect NVIDIA's program (CDI specs should name the launcher, not "
         "the console script pip installs):",
         ["python3 -I -m ldcache_hook.launcher /usr/local/bin/cdi-hook",
          "ln -sf /usr/local/bin/cdi-hook /usr/bin/nvidia-cdi-hook"]),
        ("The hooks as a CDI spec has the runtime run them (the runtime writes the "
         "container's OCI state on standard input): add a folder to the container's "
         "library search path and rebuild its ld.so.cache; create a symlink; set a mode:",
         ["cdi-hook update-ldcache --folder /usr/lib/x86_64-linux-gnu",
          "cdi-hook create-symlinks --link libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so",
          "cdi-hook chmod --mode 755 --path /dev/dri"]),
        ("By hand, with the state (its bundle, or its root, names the container) in a file "
         "(an absolute path: the hook leaves the working directory first):",
         ["cdi-hook update-ldcache --folder /usr/lib/x86_64-linux-gnu "
          "--container-spec /run/c1/state.json"]),
        ("A hook in a CDI spec, with an explicit env (which replaces the environment the "
         "runtime would otherwise pass on, possibly the image's):",
         ["hooks:",
          "- hookName: createContainer",
          "  path: /usr/local/bin/cdi-hook",
          "  args: [nvidia-cdi-hook, update-ldcache, --folder, /usr/lib/x86_64-linux-gnu]",
          "  env: [NVIDIA_CTK_DEBUG=false]"]),
    ])

    return [
        ("EXIT STATUS", exit_status),
        ("EXAMPLES", examples),
        ("SEE ALSO", _see_also([("ld.so", "8"), ("ldcache", "8"), ("ldconfig", "8")])),
    ]
