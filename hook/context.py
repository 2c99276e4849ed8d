"""What a hook is handed: its options, the logger, standard input; and the error it raises."""

from __future__ import annotations

from typing import BinaryIO, List, Mapping, Optional, Union

from ldcache.errors import LdcacheError

from .log import Log

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
