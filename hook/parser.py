"""Reading a command line: :func:`parse` turns argv into an :class:`Invocation`, from the
command table (:mod:`ldcache_hook.table`).

The parser reads command lines the way NVIDIA's ``nvidia-cdi-hook`` (urfave/cli v3) does,
so that every CDI spec written for it works unchanged:

* ``--flag value``, ``--flag=value``, and the single-dash spellings ``-flag value`` /
  ``-flag=value``; boolean flags take ``--debug`` or ``--debug=false`` (Go's ParseBool);
* list flags (``--folder``, ``--link``, ``--path``) repeat, and each value is also split at
  commas (``--folder /a,/b`` is two folders), as urfave's slice flags do;
* a string flag given twice keeps the last value;
* flags may follow positional arguments; ``--`` ends the flags; a lone ``-`` ends
  parsing; an argument starting with ``-`` and a non-letter ends the flags;
* the global flags (``--debug``/``-d``, ``--quiet``) are accepted after the hook name too;
* the first positional argument names the hook.  No hook, an unknown hook, or an unknown
  flag when the first positional argument is not a known hook: a warning, exit 0 (a CDI
  spec written for a newer toolkit must not stop a container from starting).  An unknown
  flag when the first positional argument *is* a known hook, a missing flag value, or a bad
  boolean: a usage error, exit 1.

Three argv shapes are answered (decided by :func:`shape_of` from argv[0]):
``cdi-hook [GLOBAL] HOOK [FLAGS]``, ``nvidia-cdi-hook [GLOBAL] HOOK [FLAGS]`` (the same), and
``nvidia-ctk [GLOBAL] hook [GLOBAL] HOOK [FLAGS]`` (nvidia-ctk also has ``--config``).
"""

from __future__ import annotations

from ldcache import _os as os

from .table import BY_NAME, CTK_FLAGS, GLOBAL_FLAGS, HELP_FLAG, HOOKS, VERSION_FLAG

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

    from .table import Flag, HookSpec

    Value = Union[bool, str, List[str]]

__all__ = ["Invocation", "UsageError", "parse", "shape_of", "parse_bool", "env_bool"]

_TRUE = frozenset(("1", "t", "T", "TRUE", "true", "True"))
_FALSE = frozenset(("0", "f", "F", "FALSE", "false", "False"))


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``; ValueError otherwise."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"invalid boolean {text!r}")


def env_bool(env: Mapping[str, str], names: Sequence[str]) -> Tuple[Optional[bool], str]:
    """The first of ``names`` set to a non-empty value in ``env``: (its value, a problem).

    (None, "") when none is set; (None, message) when the value is not a boolean.
    """
    for name in names:
        raw = env.get(name, "")
        if raw:
            try:
                return parse_bool(raw), ""
            except ValueError:
                return None, f"ignoring {name}={raw!r}: not a boolean"
    return None, ""


class UsageError(Exception):
    """A command line that cannot be read.  ``undefined``: an unknown flag."""

    def __init__(self, message: str, undefined: bool = False) -> None:
        super().__init__(message)
        self.undefined = undefined


class Invocation:
    """What a command line asks for.

    ``action``: "run", "help", "version", "unsupported" (warn, exit 0) or "usage" (error,
    exit 1); ``options``: the hook's flag values (canonical names, defaults filled in);
    ``globals``: global flags given on the command line (debug, quiet, config); ``extra``:
    positional arguments after the hook name (ignored, as NVIDIA's hook ignores them);
    ``message``: the warning or error text; ``help_for``: the hook whose help is wanted;
    ``deprecations``: messages for deprecated flags used; ``shape``: "cdi-hook" or
    "nvidia-ctk".
    """

    def __init__(self, action: str, hook: Optional[HookSpec] = None,
                 options: Optional[Dict[str, Value]] = None,
                 globals: Optional[Dict[str, Value]] = None,
                 extra: Optional[List[str]] = None, message: str = "",
                 help_for: Optional[HookSpec] = None,
                 deprecations: Optional[List[str]] = None, shape: str = "cdi-hook") -> None:
        self.action = action
        self.hook = hook
        self.options: Dict[str, Value] = options if options is not None else {}
        self.globals: Dict[str, Value] = globals if globals is not None else {}
        self.extra: List[str] = extra if extra is not None else []
        self.message = message
        self.help_for = help_for
        self.deprecations: List[str] = deprecations if deprecations is not None else []
        self.shape = shape

    def __repr__(self) -> str:
        return f"Invocation({self.action!r}, hook={self.hook!r}, message={self.message!r})"


def _index(flags: Sequence[Flag]) -> Dict[str, Flag]:
    out: Dict[str, Flag] = {}
    for f in flags:
        for n in f.names:
            out[n] = f
    return out


def _set(values: Dict[str, Value], flag: Flag, raw: Optional[str]) -> None:
    if flag.kind == "bool":
        try:
            values[flag.name] = parse_bool("true" if raw is None or raw == "" else raw)
        except ValueError:
            raise UsageError(f'invalid value "{raw}" for flag -{flag.name}: parse error'
                             ) from None
        return
    assert raw is not None
    if flag.kind == "list":
        current = values.get(flag.name)
        items = current if isinstance(current, list) else []
        items.extend(raw.split(","))
        values[flag.name] = items
    else:
        values[flag.name] = raw


def _parse_level(args: Sequence[str], flags: Mapping[str, Flag], commands: frozenset[str],
                 values: Dict[str, Value]) -> List[str]:
    """Read flags into ``values``; return the positional arguments.

    When a positional argument names one of ``commands``, it and everything after it are
    returned unparsed after the positionals met so far (the caller then looks at the first
    positional, as urfave/cli does).
    """
    pos: List[str] = []
    i = 0
    n = len(args)
    while i < n:
        arg = args[i]
        first = arg.strip()
        if not first:
            pos.append(arg)
            i += 1
            continue
        if first == "--":
            pos.extend(args[i + 1:])
            return pos
        if first[0] != "-":
            if first in commands:
                pos.append(first)
                pos.extend(args[i + 1:])
                return pos
            pos.append(first)
            i += 1
            continue
        if len(first) == 1:  # a lone "-": kept, and parsing stops
            pos.append(first)
            return pos
        if first[1] == "-":
            name = first[2:]
        elif not first[1].isalpha():  # "-1", "-/x": not a flag; the rest is positional
            pos.extend(args[i:])
            return pos
        else:
            name = first[1:]
        raw: Optional[str] = None
        eq = name.find("=")
        if eq >= 0:
            name, raw = name[:eq], name[eq + 1:]
        flag = flags.get(name)
        if flag is None:
            raise UsageError(f"flag provided but not defined: -{name}", undefined=True)
        if flag.kind != "bool" and raw is None:
            if i + 1 >= n:
                raise UsageError(f"flag needs an argument: {first}")
            raw = args[i + 1]
            i += 1
        _set(values, flag, raw)
        i += 1
    return pos


def _first_positional(args: Sequence[str], flags: Mapping[str, Flag]) -> Optional[str]:
    """The first argument that is not a flag or a known flag's value (for the unknown-flag
    rule): scanning the whole command line, not only what was parsed before the error."""
    i = 0
    while i < len(args):
        a = args[i].strip()
        if a == "--":
            return args[i + 1].strip() if i + 1 < len(args) else None
        if a.startswith("-") and len(a) > 1:
            name = a.lstrip("-")
            f = flags.get(name)
            if f is not None and f.kind != "bool" and "=" not in name:
                i += 2
                continue
            i += 1
            continue
        if a:
            return a
        i += 1
    return None


def shape_of(argv0: str) -> str:
    """"nvidia-ctk" when invoked under that name (``nvidia-ctk hook HOOK …``), else
    "cdi-hook" (``cdi-hook HOOK …`` / ``nvidia-cdi-hook HOOK …``)."""
    base = os.basename(argv0 or "")
    return "nvidia-ctk" if base.startswith("nvidia-ctk") else "cdi-hook"


def parse(args: Sequence[str], shape: str = "cdi-hook") -> Invocation:
    """Read a command line (without argv[0]) of the given shape."""
    g: Dict[str, Value] = {}
    if shape == "nvidia-ctk":
        top = GLOBAL_FLAGS + CTK_FLAGS + (HELP_FLAG, VERSION_FLAG)
        try:
            pos = _parse_level(args, _index(top), frozenset(("hook", "help", "h")), g)
        except UsageError as e:
            return Invocation("usage", globals=g, message=str(e), shape=shape)
        if g.get("help") or (pos and pos[0] in ("help", "h") and len(pos) == 1):
            return Invocation("help", globals=g, shape=shape)
        if g.get("version"):
            return Invocation("version", globals=g, shape=shape)
        if not pos:
            return Invocation("help", globals=g, shape=shape)
        if pos[0] != "hook":
            return Invocation("usage", globals=g, shape=shape, message=(
                f"unsupported command {pos[0]!r}: only 'nvidia-ctk hook HOOK' is provided"))
        inv = _parse_hooks(pos[1:], GLOBAL_FLAGS + CTK_FLAGS, g)
    else:
        if _names_ctk_hook(args):
            # ``nvidia-ctk hook HOOK …`` whose argv[0] was lost: a CDI spec with ``path:
            # …/cdi-hook`` and ``args: [nvidia-ctk, hook, …]`` reaches a launcher script as
            # ``hook HOOK …`` (the kernel's "#!" handling drops argv[0]).
            return parse(args, "nvidia-ctk")
        inv = _parse_hooks(args, GLOBAL_FLAGS + (VERSION_FLAG,), g)
    inv.shape = shape
    return inv


#: Every flag any level or hook knows (to find positionals past flags not yet defined).
_ALL_FLAGS: Dict[str, Flag] = {}


def _all_flags() -> Dict[str, Flag]:
    if not _ALL_FLAGS:
        every = GLOBAL_FLAGS + CTK_FLAGS + (HELP_FLAG, VERSION_FLAG)
        for h in HOOKS:
            every += h.flags
        _ALL_FLAGS.update(_index(every))
    return _ALL_FLAGS


def _names_ctk_hook(args: Sequence[str]) -> bool:
    """``args`` read as ``[FLAGS] hook HOOK …``, nvidia-ctk's form."""
    return "hook" not in BY_NAME and _first_positional(args, _all_flags()) == "hook"


def _parse_hooks(args: Sequence[str], top: Tuple[Flag, ...], g: Dict[str, Value]
                 ) -> Invocation:
    """The level where hooks are named (nvidia-cdi-hook's root, nvidia-ctk's ``hook``)."""
    flags = _index(top + (HELP_FLAG,))
    names = frozenset(BY_NAME) | {"help", "h"}
    try:
        pos = _parse_level(args, flags, names, g)
    except UsageError as e:
        if not e.undefined:
            return Invocation("usage", globals=g, message=str(e))
        first = _first_positional(args, _all_flags())
        if first is not None and first in BY_NAME:
            at = list(args).index(first)
            if at > 0:
                # A hook's own flag before the hook's name (``--container-spec X
                # update-ldcache``): read it as that hook's flag.
                g.clear()
                return _parse_hooks([first, *args[:at], *args[at + 1:]], top, g)
            return Invocation("usage", globals=g, message=f"{first}: {e}")
        return _unsupported(_first_positional(args, flags), g)
    if g.get("help"):
        return Invocation("help", globals=g)
    if g.get("version"):
        return Invocation("version", globals=g)
    if not pos:
        return _unsupported(None, g)
    name = pos[0]
    if name in ("help", "h"):
        return Invocation("help", globals=g,
                          help_for=BY_NAME.get(pos[1]) if len(pos) > 1 else None)
    spec = BY_NAME.get(name)
    if spec is None:
        return _unsupported(name, g)
    # The hook's own flags, plus the persistent global ones.
    values: Dict[str, Value] = {}
    hook_flags = _index(spec.flags)
    persistent = _index(tuple(f for f in top if f.name != "version") + (HELP_FLAG,))
    merged = dict(persistent)
    merged.update(hook_flags)
    local: Dict[str, Value] = {}
    try:
        extra = _parse_level(pos[1:], merged, frozenset(), local)
    except UsageError as e:
        return Invocation("usage", hook=spec, globals=g, message=f"{spec.name}: {e}")
    deprecations: List[str] = []
    for key, val in local.items():
        if key in hook_flags and hook_flags[key].name == key:
            values[key] = val
            dep = hook_flags[key].deprecated
            if dep:
                deprecations.append(dep)
        else:
            g[key] = val
    if g.get("help"):
        return Invocation("help", globals=g, help_for=spec)
    for f in spec.flags:
        if f.name not in values:
            if f.kind == "list":
                values[f.name] = []
            elif f.kind == "bool":
                values[f.name] = False
            else:
                values[f.name] = f.default if f.default is not None else ""
    return Invocation("run", hook=spec, options=values, globals=g, extra=list(extra),
                      deprecations=deprecations)


def _unsupported(name: Optional[str], g: Dict[str, Value]) -> Invocation:
    msg = "No CDI hook specified" if name is None else f"Unsupported CDI hook: {name}"
    return Invocation("unsupported", globals=g, message=msg)
