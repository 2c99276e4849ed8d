"""The start-up bundle: every module of ``ldcache`` and ``ldcache_hook`` (and the few of the
standard library's the hooks import, :data:`STDLIB`), compiled into one file that the
launcher's interpreter imports them from.

A hook's import of a module through the standard path finder costs ~55 µs here before the
module's own code runs (directory caches, four path candidates, the ``.pyc`` opened, checked
and read: six system calls), a tenth of what a small hook may spend above the bare
interpreter (bench/).  ``python3 -m ldcache_hook.launcher`` compiles every ``.py`` file of
both packages (:func:`encode`) into ``__pycache__/bundle.<cache tag>.bin`` in this package's
directory (:func:`ldcache_hook.main.bundle_path`); the launcher calls :func:`install`, which
puts :class:`Finder` first on ``sys.meta_path``.  A module then costs one ``stat`` of its
source and one ``pread``.

The bundle is a cache, never the authority: a module is taken from it only while its source
file has the size and modification time recorded when the bundle was written; any other
module, a bundle that is missing or unreadable, or one written by another interpreter version
(its magic number differs), leaves the standard import in charge.  Modules keep their
``__file__``, ``__path__`` and tracebacks (code objects name their source files).

The file: ``MAGIC`` (the interpreter's ``.pyc`` magic number), the index's length (4 bytes,
little-endian) and the index (``marshal``: module name → (source path, ``st_mtime_ns``,
``st_size``, is a package, offset, length)), then the marshalled code objects.

Loaded at start-up, before :mod:`ldcache_hook.main`: built-in modules only, and no
``from __future__`` import (which would load ``__future__`` through the standard path).
"""

import marshal
import posix
import sys
from _frozen_importlib import ModuleSpec
from _frozen_importlib_external import MAGIC_NUMBER

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType
    from typing import Dict, Iterator, Optional, Sequence, Tuple

    Index = Dict[str, Tuple[str, int, int, bool, int, int]]

__all__ = ["Finder", "install", "encode", "STDLIB"]

_HEAD = 16384  # bytes read at first: the whole index of ~70 modules is ~6 KB


class Finder:
    """A ``sys.meta_path`` finder and loader serving the bundle's modules (see above)."""

    def __init__(self, fd: int, index: "Index", base: int) -> None:
        self.fd = fd
        self.index = index
        self.base = base

    def find_spec(self, name: str, path: "object" = None, target: "object" = None
                  ) -> "Optional[ModuleSpec]":
        entry = self.index.get(name)
        if entry is None:
            return None
        source, mtime_ns, size, is_package, offset, length = entry
        try:
            st = posix.stat(source)
            if st.st_mtime_ns != mtime_ns or st.st_size != size:
                return None  # edited since: the standard import compiles the new source
            code = marshal.loads(posix.pread(self.fd, length, self.base + offset))
        except (OSError, ValueError, EOFError, TypeError):
            return None
        spec = ModuleSpec(name, self, origin=source, loader_state=code,  # type: ignore[arg-type]
                          is_package=is_package)
        spec.has_location = True  # __file__ = the source
        if is_package:
            spec.submodule_search_locations = [source.rpartition("/")[0]]
        return spec

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: "ModuleType") -> None:
        spec = module.__spec__
        assert spec is not None
        code, spec.loader_state = spec.loader_state, None
        exec(code, module.__dict__)


def install(path: str) -> "Optional[Finder]":
    """Put the bundle at ``path`` first on ``sys.meta_path``; None (and nothing changed)
    where it is missing, unreadable or not this interpreter's."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return None
    try:
        head = posix.pread(fd, _HEAD, 0)
        n = int.from_bytes(head[4:8], "little")
        if head[:4] != MAGIC_NUMBER or len(head) < 8:
            raise ValueError("not this interpreter's bundle")
        raw = head[8:8 + n] if 8 + n <= len(head) else posix.pread(fd, n, 8)
        index = marshal.loads(raw)
        if not isinstance(index, dict):
            raise ValueError("no index")
    except (OSError, ValueError, EOFError, TypeError):
        posix.close(fd)
        return None
    finder = Finder(fd, index, 8 + n)
    sys.meta_path.insert(0, finder)
    return finder


# --- writing (python3 -m ldcache_hook.launcher; never at a hook's start-up) -------------------


def _packages() -> "Sequence[Tuple[str, str]]":
    """(name, directory) of the packages bundled: ``ldcache`` and this one."""
    import os

    import ldcache

    from .main import PACKAGE, _package_dir

    return (("ldcache", os.path.dirname(os.path.abspath(ldcache.__file__))),
            (PACKAGE, _package_dir()))


#: The standard library's pure-Python modules the hooks import at start-up (every module's
#: ``from __future__ import annotations`` loads ``__future__``); tests/test_startup_imports.py
#: checks that no hook imports another from a file.
STDLIB = ("__future__", "struct")


def _sources() -> "Iterator[Tuple[str, str, bool]]":
    """(module name, source file, is a package) of every module bundled."""
    import os
    from importlib.util import find_spec

    for package, directory in _packages():
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for filename in sorted(filenames):
                if not filename.endswith(".py"):
                    continue
                source = os.path.join(dirpath, filename)
                parts = os.path.relpath(source, directory)[:-3].split(os.sep)
                is_package = parts[-1] == "__init__"
                if is_package:
                    parts.pop()
                if all(p.isidentifier() for p in parts):
                    yield ".".join([package, *parts]), source, is_package
    for name in STDLIB:
        spec = find_spec(name)
        if spec is not None and spec.has_location and str(spec.origin).endswith(".py"):
            yield name, str(spec.origin), False


def _index_and_code() -> "Tuple[Index, bytes]":
    import os

    index: "Index" = {}
    blobs = []
    offset = 0
    for name, source, is_package in _sources():
        with open(source, "rb") as f:
            st = os.fstat(f.fileno())
            text = f.read()
        blob = marshal.dumps(compile(text, source, "exec", dont_inherit=True, optimize=0))
        index[name] = (source, st.st_mtime_ns, st.st_size, is_package, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    return index, b"".join(blobs)


def encode() -> bytes:
    """The bundle of both packages as they are now (``python3 -m ldcache_hook.launcher``
    writes it to :func:`ldcache_hook.main.bundle_path`)."""
    index, code = _index_and_code()
    head = marshal.dumps(index)
    return MAGIC_NUMBER + len(head).to_bytes(4, "little") + head + code
