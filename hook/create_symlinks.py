"""``create-symlinks --link TARGET::LINK …``: symlinks inside the container root.

LINK is always a path inside the root: ``.`` and ``..`` are folded lexically (as NVIDIA's
hook does with ``filepath.Join``), and its parent directory is then resolved inside the root
(:class:`ldcache.inroot.Root`), so no symlink the image planted can send the link outside.
Missing parent directories are created inside the root. A link that is already a symlink to
exactly TARGET is left alone; anything else at LINK (another symlink, a file) is replaced
atomically: the new link is made under a unique temporary name in the very directory it
belongs in (one directory fd for both steps) and renamed over it. TARGET is stored verbatim
(it is only text, resolved later by the container). Repeated specifications are processed
once; a malformed one (no ``::``, or an empty side) is an error and nothing is changed.
"""

from __future__ import annotations

from ldcache import _os as os
from ldcache.errors import RootError
from ldcache.inroot import Root

from .context import Context, HookError, why
from .paths import in_root, split

__all__ = ["run", "parse_links", "create_link"]


def parse_links(specs: list[str]) -> list[tuple[bytes, bytes]]:
    """(target, link) pairs, each specification once, in order; HookError if malformed."""
    out: list[tuple[bytes, bytes]] = []
    seen: set[str] = set()
    for spec in specs:
        if spec in seen:
            continue
        seen.add(spec)
        parts = spec.split("::")
        if len(parts) != 2:
            raise HookError(f"invalid symlink specification {spec!r}: expected TARGET::LINK")
        target, link = parts
        if not target or not link:
            raise HookError(f"invalid symlink specification {spec!r}: empty "
                            f"{'target' if not target else 'link'}")
        if "\0" in spec:
            raise HookError(f"invalid symlink specification {spec!r}: NUL byte")
        if in_root(link) == b"/":
            raise HookError(f"invalid link path {link!r}: the root itself")
        out.append((os.fsencode(target), os.fsencode(link)))
    return out


def create_link(root: Root, target: bytes, link: bytes, ctx: Context) -> bool:
    """Make in-root ``link`` a symlink to ``target``; False if it already was one."""
    path = in_root(link)
    shown = os.fsdecode(path)
    parent, name = split(path)
    try:
        root.makedirs(parent)
        d = root.opendir(parent)
    except RootError as e:
        raise HookError(f"failed to create parent directory of link {shown}: {why(e)}") from None
    with d:
        try:
            if d.readlink(name) == target:
                ctx.log.debug(f"Link {shown} already exists")
                return False
        except RootError:
            pass  # missing or not a link
        try:
            d.replace_symlink(target, name)
        except RootError as e:
            raise HookError(f"failed to create link {shown}: {why(e)}") from None
    ctx.log.debug(f"Symlinking {shown} to {os.fsdecode(target)}")
    return True


def run(ctx: Context) -> None:
    links = parse_links(ctx.strings("link"))
    ctx.container_root()  # the OCI state is read (and checked) first
    if not links:
        ctx.log.debug("No links specified")
        return
    with ctx.open_root() as root:
        for target, link in links:
            create_link(root, target, link, ctx)
