"""The exceptions ldcache raises.  Every error the CLIs report is one of these."""

from __future__ import annotations

__all__ = ["LdcacheError", "CacheFormatError", "ELFError", "ConfError", "RootError"]


class LdcacheError(Exception):
    """Base of every error ldcache reports as a one-line message."""


class CacheFormatError(LdcacheError, ValueError):
    """A cache file is malformed: ``message`` says what, ``offset`` where (or None)."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.message = message
        self.offset = offset
        super().__init__(message if offset is None else f"{message} at offset {offset:#x}")


class ELFError(LdcacheError, ValueError):
    """An ELF file is malformed or truncated."""


class ConfError(LdcacheError):
    """A configuration file cannot be used (fatal in ldconfig too)."""


class RootError(LdcacheError, OSError):
    """A path under a root could not be reached without leaving the root."""
