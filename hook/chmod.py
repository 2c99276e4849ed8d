"""``chmod --mode OCTAL --path P …``: set modes inside the container root.

Each path is folded lexically (``.``/``..``, as NVIDIA's ``filepath.Join``) and then walked
inside the root *without following any symlink at any component*: a path with a symlink
anywhere in it is skipped with a warning (NVIDIA's hook would follow it).  Missing paths and
paths that already have the mode are skipped; permission errors (EPERM, EACCES) are ignored,
as NVIDIA's hook ignores them (a whole read-only ``/dev`` mounted in, issue #143); any other
failure is an error after every path has been tried.  The mode is octal, at most ``7777``.
"""

from __future__ import annotations

import errno
import os
import re
import stat

from ldcache.errors import RootError
from ldcache.inroot import Root

from .context import Context, HookError, why
from .paths import in_root

__all__ = ["run", "parse_mode"]

_OCTAL = re.compile(r"[0-7]+")


def parse_mode(text: str) -> int:
    if not text.strip():
        raise HookError("a non-empty mode must be specified")
    if not _OCTAL.fullmatch(text):
        raise HookError(f"failed to parse mode {text!r} as octal")
    mode = int(text, 8)
    if mode > 0o7777:
        raise HookError(f"mode {text!r} is out of range (at most 7777)")
    return mode


def _lstat_no_links(root: Root, path: bytes, ctx: Context) -> os.stat_result | None:
    """lstat of ``path``, or None (after saying why) if it is missing or any component is a
    symlink."""
    shown = os.fsdecode(path)
    if path == b"/":
        return root.stat(b"/", follow=False)
    prefix = b""
    st = None
    for comp in path.split(b"/")[1:]:
        prefix += b"/" + comp
        try:
            st = root.stat(prefix, follow=False)
        except RootError as e:
            ctx.log.debug(f"Skipping path {shown}: {e.strerror}")
            return None
        if stat.S_ISLNK(st.st_mode):
            ctx.log.warning(f"Skipping path {shown}: {os.fsdecode(prefix)} is a symlink")
            return None
    return st


def run(ctx: Context) -> None:
    mode = parse_mode(ctx.string("mode"))
    paths = ctx.strings("path")
    for p in paths:
        if not p.strip():
            raise HookError("paths must not be empty")
        if "\0" in p:
            raise HookError(f"invalid path {p!r}: NUL byte")
    root_path = ctx.container_root()
    if not paths:
        ctx.log.debug("No paths specified; exiting")
        return
    failures: list[str] = []
    with Root(root_path) as root:
        for path in dict.fromkeys(in_root(p) for p in paths):
            shown = os.fsdecode(path)
            st = _lstat_no_links(root, path, ctx)
            if st is None:
                continue
            if stat.S_IMODE(st.st_mode) == mode:
                ctx.log.debug(f"Skipping path {shown}: already desired mode")
                continue
            try:
                root.chmod(path, mode, follow=False)
            except RootError as e:
                if e.errno in (errno.EPERM, errno.EACCES):
                    ctx.log.debug(f"Ignoring permission error with chmod: {why(e)}")
                    continue
                ctx.log.warning(f"chmod {oct(mode)[2:]} {shown}: {e.strerror}")
                failures.append(f"{shown}: {e.strerror}")
    if failures:
        raise HookError(f"failed to change the mode of {len(failures)} path(s): "
                        + "; ".join(failures))
