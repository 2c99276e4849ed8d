"""The hook's logger: one line per message on stderr, levels as NVIDIA's hook has them."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import TextIO

__all__ = ["Log", "DEBUG", "INFO", "WARNING", "ERROR", "oneline"]

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40


def oneline(text: object) -> str:
    """``text`` with control characters escaped, so a hostile path cannot break a line."""
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for ch in s:
        if ch.isprintable():
            out.append(ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        else:
            code = ord(ch)
            if 0xDC80 <= code <= 0xDCFF:  # a surrogate-escaped undecodable byte
                out.append(f"\\x{code - 0xDC00:02x}")
            elif code < 0x100:
                out.append(f"\\x{code:02x}")
            else:
                out.append(f"\\u{code:04x}")
    return "".join(out)


class Log:
    """Messages at or above ``level`` go to ``stream`` as ``PROG: LEVEL: TEXT``."""

    def __init__(self, prog: str = "cdi-hook", level: int = INFO,
                 stream: TextIO | None = None) -> None:
        self.prog = prog
        self.level = level
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _emit(self, level: int, name: str, text: str) -> None:
        if level < self.level:
            return
        stream = self.stream
        try:
            stream.write(f"{self.prog}: {name}{oneline(text)}\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed: nothing more can be said

    def debug(self, text: str) -> None:
        self._emit(DEBUG, "debug: ", text)

    def info(self, text: str) -> None:
        self._emit(INFO, "", text)

    def warning(self, text: str) -> None:
        self._emit(WARNING, "warning: ", text)

    def error(self, text: str) -> None:
        self._emit(ERROR, "error: ", text)

    @property
    def debugging(self) -> bool:
        return self.level <= DEBUG
