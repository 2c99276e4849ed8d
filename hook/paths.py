"""In-root path spelling shared by the hooks."""

from __future__ import annotations

from ldcache import _os as os

__all__ = ["in_root", "split"]


def in_root(path: str | bytes) -> bytes:
    """``path`` as an absolute in-root path, ``.`` and ``..`` folded lexically (``..`` never
    climbs above ``/``), as ``filepath.Join(root, path)`` spells it in NVIDIA's hook."""
    p = path if isinstance(path, bytes) else os.fsencode(path)
    return os.normpath_linux(b"/" + p)


def split(path: bytes) -> tuple[bytes, bytes]:
    """(parent, name) of a normalised in-root path other than ``/``."""
    parent, _, name = path.rpartition(b"/")
    return (parent or b"/"), name
