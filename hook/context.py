"""What a hook is handed: its options, the logger, standard input; and the error it raises."""

from __future__ import annotations

from ldcache import _os as os
from ldcache.errors import LdcacheError

from .log import Log

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import BinaryIO, List, Mapping, Optional, Union

    from ldcache.inroot import Root

__all__ = ["Context", "HookError", "why"]


class HookError(LdcacheError):
    """A hook cannot do its job; the message is the one line printed."""


def why(e: BaseException) -> str:
    """An error as text for a one-line message: ``strerror (host path)`` for OS errors."""
    if isinstance(e, OSError) and e.strerror:
        return f"{e.strerror} ({e.filename})" if e.filename else e.strerror
    return str(e)


class Context:
    """A hook's options, logger and standard input (where the OCI state is)."""

    def __init__(self, options: Mapping[str, Union[bool, str, List[str]]], log: Log,
                 stdin: BinaryIO, hook: str = "") -> None:
        self.options = options
        self.log = log
        self.stdin = stdin
        self.hook = hook
        self._root: Optional[str] = None

    def string(self, name: str) -> str:
        value = self.options.get(name, "")
        return value if isinstance(value, str) else ""

    def strings(self, name: str) -> List[str]:
        value = self.options.get(name)
        return list(value) if isinstance(value, list) else []

    def container_root(self) -> str:
        """The container root on the host, from the OCI state (read once)."""
        if self._root is None:
            from .oci import container_root, load_state

            state = load_state(self.string("container-spec"), self.stdin)
            self._root = container_root(state)
            self.log.debug(f"container {state.id or '?'}: root {self._root}")
        return self._root

    def open_root(self) -> "Root":
        """The container root, opened (:class:`ldcache.inroot.Root`) — never the host's
        ``/``: every hook refuses a root that is ``/`` by name, or that the opened directory
        shows to be ``/`` (checked on the very directory the hook then works in)."""
        from ldcache.errors import RootError
        from ldcache.inroot import Root

        path = self.container_root()
        if not path or os.normpath(path) in ("/", "//"):
            raise HookError(f"refusing to use root {path!r}: not a container root")
        try:
            root = Root(path)
        except RootError as e:
            raise HookError(f"cannot use container root {path}: {e.strerror}") from None
        try:
            a, b = root.stat(b"/"), os.stat("/")
        except OSError as e:
            root.close()
            raise HookError(f"cannot use container root {path}: {e.strerror}") from None
        if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino):
            root.close()
            raise HookError(f"refusing to use root {path}: it is the host's /")
        return root
