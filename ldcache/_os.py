"""``os`` for the commands' start-up path, without importing ``os``.

``import os`` costs a process ~1.1 ms here (most of it ``_collections_abc``, which ``os``
needs for ``os.environ``): a quarter of what a small hook or ``print`` may spend above the
bare interpreter (bench/).  The modules a command loads at start-up therefore write
``from . import _os as os`` (``from ldcache import _os as os`` in the hook), and this module
gives them:

* every public function and constant of the ``posix`` built-in module — the very objects
  ``os`` re-exports (``_os.open is os.open``), ``environ`` excepted: ``posix``'s holds
  bytes, and is ``environb`` here;
* ``environ``: ``os.environ`` itself once ``os`` is loaded (changes made through it are
  seen), until then the environment the process started with, decoded as ``os.environ``
  decodes it (nothing can have changed it through ``os``), for reading;
* ``fsencode``/``fsdecode`` and the few ``os.path`` functions the start-up path needs
  (:func:`normpath`, :func:`basename`, :func:`join`, :func:`isabs`), written here for
  POSIX paths with ``posixpath``'s results (tests/test_os_shim.py compares them);
* :func:`normpath_linux`: ``normpath`` with a leading ``//`` as one slash, the path Linux
  resolves (posixpath keeps exactly two, which POSIX leaves to the system);
* anything else (``os.path``, ``os.makedirs``, …) from the real ``os``, imported on first
  use (module ``__getattr__``): a rarely taken path pays for ``os`` then, never breaks.
"""

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - the checker sees os itself
    from os import *  # noqa: F401,F403
    from os import PathLike, _exit, environ, environb, fdopen, path  # noqa: F401
    from posixpath import basename, isabs, join, normpath  # noqa: F401
    from typing import AnyStr

    def _seps(p: "AnyStr") -> "tuple[AnyStr, AnyStr, AnyStr]": ...
else:
    from posix import *  # noqa: F401,F403
    from posix import _exit  # noqa: F401
    from posix import environ as environb  # noqa: F401  (bytes keys and values, as os's)

    del environ  # noqa: F821  (bytes: the str one is __getattr__'s, below)

    _ENCODING = sys.getfilesystemencoding()
    _ERRORS = sys.getfilesystemencodeerrors()
    _start_environ = None

    def fsencode(filename):
        """``os.fsencode``: a str path as the file system's bytes; bytes unchanged."""
        filename = fspath(filename)  # noqa: F405  (posix.fspath: the type check)
        if isinstance(filename, str):
            return filename.encode(_ENCODING, _ERRORS)
        return filename

    def fsdecode(filename):
        """``os.fsdecode``: a bytes path as str (undecodable bytes as surrogates)."""
        filename = fspath(filename)  # noqa: F405
        if isinstance(filename, bytes):
            return filename.decode(_ENCODING, _ERRORS)
        return filename

    def _seps(p):
        return (b"/", b".", b"..") if isinstance(p, bytes) else ("/", ".", "..")

    def normpath(path):
        """``os.path.normpath`` on POSIX: lexical, no file system access."""
        path = fspath(path)  # noqa: F405
        sep, dot, dotdot = _seps(path)
        if not path:
            return dot
        # POSIX leaves the meaning of exactly two leading slashes to the implementation:
        # posixpath keeps them; one, or three and more, become one.
        lead = 0
        if path.startswith(sep):
            lead = 2 if path.startswith(sep * 2) and not path.startswith(sep * 3) else 1
        parts = []
        for part in path.split(sep):
            if not part or part == dot:
                continue
            if part == dotdot:
                if parts and parts[-1] != dotdot:
                    parts.pop()
                    continue
                if lead:  # '..' of the root is the root
                    continue
            parts.append(part)
        return (sep * lead + sep.join(parts)) or dot

    def basename(p):
        """``os.path.basename``: what follows the last slash."""
        p = fspath(p)  # noqa: F405
        return p[p.rfind(_seps(p)[0]) + 1:]

    def isabs(s):
        """``os.path.isabs``: starts with a slash."""
        s = fspath(s)  # noqa: F405
        return s.startswith(_seps(s)[0])

    def join(a, *p):
        """``os.path.join``: an absolute part restarts the path."""
        path = fspath(a)  # noqa: F405
        sep = _seps(path)[0]
        for b in map(fspath, p):  # noqa: F405
            if isinstance(b, str) != isinstance(path, str):
                raise TypeError("Can't mix strings and bytes in path components")
            if b.startswith(sep):
                path = b
            elif not path or path.endswith(sep):
                path += b
            else:
                path += sep + b
        return path

    def __getattr__(name):
        global _start_environ
        if name.startswith("__"):
            # The import system's probes (``from ldcache._os import x`` asks for
            # ``__path__``): os's answer would be no, after ~1 ms of importing it.
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        if name == "environ":
            loaded = sys.modules.get("os")
            if loaded is not None:
                return loaded.environ
            if _start_environ is None:
                _start_environ = {k.decode(_ENCODING, _ERRORS): v.decode(_ENCODING, _ERRORS)
                                  for k, v in environb.items()}
            return _start_environ
        import os

        return getattr(os, name)


def normpath_linux(path: "AnyStr") -> "AnyStr":
    """:func:`normpath`, then a leading ``//`` as ``/``: one spelling per path Linux resolves
    (for comparing and showing paths; lexical, no file system access)."""
    norm = normpath(path)
    return norm[1:] if norm.startswith(_seps(norm)[0] * 2) else norm
