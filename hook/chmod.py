"""``chmod --mode OCTAL --path P …``: set modes inside the container root.

Each path is folded lexically (``.``/``..``, as NVIDIA's ``filepath.Join``) and then
resolved inside the root *without following any symlink at any component* (openat2
``RESOLVE_NO_SYMLINKS``, or a no-follow component walk) to an ``O_PATH`` handle: a path with
a symlink anywhere in it is skipped with a warning (NVIDIA's hook would follow it), and the
mode is read and changed through that handle, so a tree swapped while the hook runs cannot
redirect the change.  Missing paths and
paths that already have the mode are skipped; permission errors (EPERM, EACCES) are ignored,
as NVIDIA's hook ignores them (a whole read-only ``/dev`` mounted in, issue #143); any other
failure is an error after every path has been tried.  The mode is octal, at most ``7777``.
"""

from __future__ import annotations

import errno
import stat

from ldcache import _os as os
from ldcache.errors import RootError
from ldcache.inroot import FileHandle, Root

from .context import Context, HookError, why
from .paths import in_root

__all__ = ["run", "parse_mode"]

_OCTAL_DIGITS = "01234567"


def parse_mode(text: str) -> int:
    if not text.strip():
        raise HookError("a non-empty mode must be specified")
    if text.strip(_OCTAL_DIGITS):  # not made of 0-7 only
        raise HookError(f"failed to parse mode {text!r} as octal")
    mode = int(text, 8)
    if mode > 0o7777:
        raise HookError(f"mode {text!r} is out of range (at most 7777)")
    return mode


def _symlink_in(root: Root, path: bytes) -> bytes | None:
    """The first component of ``path`` that is a symlink now (for the message only)."""
    prefix = b""
    for comp in path.split(b"/")[1:]:
        prefix += b"/" + comp
        try:
            if stat.S_ISLNK(root.stat(prefix, follow=False).st_mode):
                return prefix
        except RootError:
            return None
    return None


def _handle(root: Root, path: bytes, ctx: Context) -> FileHandle | None:
    """A handle on the object ``path`` names, reached without following any symlink, or None
    (after saying why) when it is missing or a symlink is in the way.  Checking and changing
    the mode both go through this handle, so a tree swapped meanwhile changes nothing."""
    shown = os.fsdecode(path)
    try:
        h = root.handle(path, follow=False, no_symlinks=True)
    except RootError as e:
        if e.errno == errno.ELOOP:
            link = _symlink_in(root, path)
            where = os.fsdecode(link) if link is not None else "a component"
            ctx.log.warning(f"Skipping path {shown}: {where} is a symlink")
        else:
            ctx.log.debug(f"Skipping path {shown}: {e.strerror}")
        return None
    if stat.S_ISLNK(h.st.st_mode):
        h.close()
        ctx.log.warning(f"Skipping path {shown}: {shown} is a symlink")
        return None
    return h


def run(ctx: Context) -> None:
    mode = parse_mode(ctx.string("mode"))
    paths = ctx.strings("path")
    for p in paths:
        if not p.strip():
            raise HookError("paths must not be empty")
        if "\0" in p:
            raise HookError(f"invalid path {p!r}: NUL byte")
    ctx.container_root()  # the OCI state is read (and checked) first
    if not paths:
        ctx.log.debug("No paths specified; exiting")
        return
    failures: list[str] = []
    with ctx.open_root() as root:
        for path in dict.fromkeys(in_root(p) for p in paths):
            shown = os.fsdecode(path)
            h = _handle(root, path, ctx)
            if h is None:
                continue
            with h:
                if stat.S_IMODE(h.st.st_mode) == mode:
                    ctx.log.debug(f"Skipping path {shown}: already desired mode")
                    continue
                try:
                    h.chmod(mode)
                except RootError as e:
                    if e.errno in (errno.EPERM, errno.EACCES):
                        ctx.log.debug(f"Ignoring permission error with chmod: {why(e)}")
                        continue
                    ctx.log.warning(f"chmod {oct(mode)[2:]} {shown}: {e.strerror}")
                    failures.append(f"{shown}: {e.strerror}")
    if failures:
        raise HookError(f"failed to change the mode of {len(failures)} path(s): "
                        + "; ".join(failures))
