"""The command table: every hook, every flag it accepts, and how a command line is read.

One table (:data:`HOOKS`, :data:`GLOBAL_FLAGS`) drives three things: the parser that runs
the hooks (:func:`parse`), the help text, and :func:`build_parser` (an ``argparse`` view of
the same surface, for man pages).

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

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

__all__ = [
    "Flag", "HookSpec", "HOOKS", "GLOBAL_FLAGS", "CTK_FLAGS", "Invocation", "UsageError",
    "parse", "shape_of", "build_parser", "parse_bool", "env_bool",
    "DEBUG_ENV", "QUIET_ENV",
]

if TYPE_CHECKING:  # pragma: no cover
    Value = Union[bool, str, List[str]]

#: Environment variables that turn on --debug / --quiet; the first one set wins.
DEBUG_ENV = ("NVIDIA_CTK_DEBUG", "NVIDIA_CDI_DEBUG")
QUIET_ENV = ("NVIDIA_CTK_QUIET", "NVIDIA_CDI_QUIET")


# (Plain classes rather than dataclasses: the hook's start-up time is budgeted.)


class Flag:
    """One command-line flag.

    ``kind``: "bool", "string" or "list" (repeatable; values also split at commas);
    ``hidden``: not shown in help (still accepted); ``env``: environment variables that set
    it when it is not given; ``deprecated``: accepted for old CDI specs, and what is said
    when it is used.
    """

    __slots__ = ("name", "kind", "help", "aliases", "default", "metavar", "hidden", "env",
                 "deprecated")

    def __init__(self, name: str, kind: str, help: str, aliases: Tuple[str, ...] = (),
                 default: Optional[str] = None, metavar: Optional[str] = None,
                 hidden: bool = False, env: Tuple[str, ...] = (),
                 deprecated: Optional[str] = None) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.aliases = aliases
        self.default = default
        self.metavar = metavar
        self.hidden = hidden
        self.env = env
        self.deprecated = deprecated

    def __repr__(self) -> str:
        return f"Flag({self.name!r}, {self.kind!r})"

    @property
    def names(self) -> Tuple[str, ...]:
        return (self.name,) + self.aliases


class HookSpec:
    """One hook: its name, flags and the module whose ``run(ctx)`` carries it out."""

    __slots__ = ("name", "help", "flags", "module", "hidden", "description")

    def __init__(self, name: str, help: str, flags: Tuple[Flag, ...], module: str,
                 hidden: bool = False, description: str = "") -> None:
        self.name = name
        self.help = help
        self.flags = flags
        self.module = module
        self.hidden = hidden
        self.description = description

    def __repr__(self) -> str:
        return f"HookSpec({self.name!r})"


_CONTAINER_SPEC = Flag(
    "container-spec", "string", "path of the OCI container state; empty or '-': read it "
    "from standard input (the default)", metavar="PATH", aliases=("containerSpec",))

GLOBAL_FLAGS: Tuple[Flag, ...] = (
    Flag("debug", "bool", "enable debug-level logging (env NVIDIA_CTK_DEBUG, NVIDIA_CDI_DEBUG)",
         aliases=("d",), env=DEBUG_ENV),
    Flag("quiet", "bool", "suppress all output except errors; overrides --debug "
         "(env NVIDIA_CTK_QUIET, NVIDIA_CDI_QUIET)", env=QUIET_ENV),
)
_HELP = Flag("help", "bool", "show help", aliases=("h",))
_VERSION = Flag("version", "bool", "print the version", aliases=("v",))
#: nvidia-ctk's own global flag (accepted, unused: the hooks read no configuration file).
CTK_FLAGS: Tuple[Flag, ...] = (
    Flag("config", "string", "path to nvidia-ctk's config file (accepted, unused)",
         metavar="PATH", env=("NVIDIA_CTK_CONFIG",)),
)

HOOKS: Tuple[HookSpec, ...] = (
    HookSpec(
        "update-ldcache",
        "add folders to the container's library search path and rebuild its ld.so.cache",
        (
            Flag("folder", "list", "a folder to add to the search path (repeatable)",
                 metavar="DIR", aliases=("folders",)),
            Flag("ldconfig-path", "string", "path of an ldconfig program: accepted for "
                 "compatibility and never executed", metavar="PATH",
                 default="/sbin/ldconfig"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.update_ldcache",
        description="Writes /etc/ld.so.conf.d/00-nvcr-*.conf listing the folders the image "
                    "does not already configure (creating /etc/ld.so.conf when the image has "
                    "none), makes the SONAME links and writes /etc/ld.so.cache exactly as the "
                    "image's own glibc ldconfig would, without running anything in the image. "
                    "For musl images, makes the SONAME links in the folders and extends "
                    "/etc/ld-musl-ARCH.path instead.",
    ),
    HookSpec(
        "create-symlinks",
        "create symlinks inside the container",
        (
            Flag("link", "list", "a link to create, as TARGET::LINK (repeatable)",
                 metavar="TARGET::LINK"),
            _CONTAINER_SPEC,
            Flag("host-root", "string", "removed from NVIDIA's hook (accepted, ignored)",
                 metavar="DIR", hidden=True,
                 deprecated="--host-root is no longer supported and is ignored"),
            Flag("csv-filename", "list", "removed from NVIDIA's hook (accepted, ignored)",
                 metavar="FILE", hidden=True, aliases=("csv-filenames", "f"),
                 deprecated="--csv-filename is no longer supported and is ignored"),
        ),
        "ldcache_hook.create_symlinks",
        description="LINK is always a path inside the container root; missing parent "
                    "directories are created; an existing symlink to exactly TARGET is kept, "
                    "anything else at LINK is replaced atomically.",
    ),
    HookSpec(
        "chmod",
        "set the mode of paths inside the container",
        (
            Flag("path", "list", "a path to change (repeatable)", metavar="PATH"),
            Flag("mode", "string", "the mode, in octal", metavar="OCTAL"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.chmod",
        description="Paths are inside the container root; a path with a symlink in any "
                    "component is skipped with a warning; paths that already have the mode are "
                    "left alone; permission errors are ignored.",
    ),
    HookSpec(
        "enable-cuda-compat",
        "put the image's CUDA forward-compatibility libraries on the search path if needed",
        (
            Flag("host-driver-version", "string", "the host's driver version; without it "
                 "(and without --host-cuda-version) the hook does nothing", metavar="VERSION"),
            Flag("host-cuda-version", "string", "the CUDA version the host driver supports",
                 metavar="VERSION"),
            Flag("cuda-compat-container-root", "string", "the folder holding the CUDA "
                 "compat libraries in the container", metavar="DIR",
                 default="/usr/local/cuda/compat"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.cuda_compat",
        description="When the single libcuda.so.*.* in the compat folder should be used "
                    "(its .note.cuda.fwd_compatibility ELF note decides where present, else "
                    "the driver major versions), writes /etc/ld.so.conf.d/00-compat-*.conf "
                    "naming that folder; a later update-ldcache puts it first.",
    ),
    HookSpec(
        "disable-device-node-modification",
        "keep the NVIDIA driver from creating or changing device nodes in the container",
        (_CONTAINER_SPEC,),
        "ldcache_hook.device_nodes",
        description="When the host's /proc/driver/nvidia/params says ModifyDeviceFiles: 1, "
                    "mounts a read-only copy saying ModifyDeviceFiles: 0, held on a private "
                    "tmpfs, over /proc/driver/nvidia/params in the container; otherwise does "
                    "nothing (and reads no container state).",
    ),
    HookSpec(
        "update-application-profile",
        "restrict the GPUs EGL and Vulkan see in the container (a driver application "
        "profile)",
        (_CONTAINER_SPEC,),
        "ldcache_hook.application_profile",
        description="Writes /etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf "
                    "setting EGLVisibleDGPUDevices to the mask of the minor numbers (0-63) "
                    "of the container's /dev/nvidiaN character devices; with none, writes "
                    "nothing.",
    ),
    HookSpec("noop", "do nothing (for testing)", (), "ldcache_hook.main", hidden=True),
)

_BY_NAME: Dict[str, HookSpec] = {h.name: h for h in HOOKS}


# --------------------------------------------------------------------------------------------
# values

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


# --------------------------------------------------------------------------------------------
# parsing


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
    base = os.path.basename(argv0 or "")
    return "nvidia-ctk" if base.startswith("nvidia-ctk") else "cdi-hook"


def parse(args: Sequence[str], shape: str = "cdi-hook") -> Invocation:
    """Read a command line (without argv[0]) of the given shape."""
    g: Dict[str, Value] = {}
    if shape == "nvidia-ctk":
        top = GLOBAL_FLAGS + CTK_FLAGS + (_HELP, _VERSION)
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
        inv = _parse_hooks(args, GLOBAL_FLAGS + (_VERSION,), g)
    inv.shape = shape
    return inv


#: Every flag any level or hook knows (to find positionals past flags not yet defined).
_ALL_FLAGS: Dict[str, Flag] = {}


def _all_flags() -> Dict[str, Flag]:
    if not _ALL_FLAGS:
        every = GLOBAL_FLAGS + CTK_FLAGS + (_HELP, _VERSION)
        for h in HOOKS:
            every += h.flags
        _ALL_FLAGS.update(_index(every))
    return _ALL_FLAGS


def _names_ctk_hook(args: Sequence[str]) -> bool:
    """``args`` read as ``[FLAGS] hook HOOK …``, nvidia-ctk's form."""
    return "hook" not in _BY_NAME and _first_positional(args, _all_flags()) == "hook"


def _parse_hooks(args: Sequence[str], top: Tuple[Flag, ...], g: Dict[str, Value]
                 ) -> Invocation:
    """The level where hooks are named (nvidia-cdi-hook's root, nvidia-ctk's ``hook``)."""
    flags = _index(top + (_HELP,))
    names = frozenset(_BY_NAME) | {"help", "h"}
    try:
        pos = _parse_level(args, flags, names, g)
    except UsageError as e:
        if not e.undefined:
            return Invocation("usage", globals=g, message=str(e))
        first = _first_positional(args, _all_flags())
        if first is not None and first in _BY_NAME:
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
                          help_for=_BY_NAME.get(pos[1]) if len(pos) > 1 else None)
    spec = _BY_NAME.get(name)
    if spec is None:
        return _unsupported(name, g)
    # The hook's own flags, plus the persistent global ones.
    values: Dict[str, Value] = {}
    hook_flags = _index(spec.flags)
    persistent = _index(tuple(f for f in top if f.name != "version") + (_HELP,))
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


# --------------------------------------------------------------------------------------------
# argparse view (help text and man pages)


def _add_flags(p: "argparse.ArgumentParser", flags: Sequence[Flag]) -> None:
    import argparse

    for f in flags:
        shown = [n for n in f.names if n not in ("containerSpec", "folders", "csv-filenames")]
        opts = [("-" if len(n) == 1 else "--") + n for n in shown]
        text = argparse.SUPPRESS if f.hidden else f.help
        if f.default is not None and not f.hidden:
            text += f" (default {f.default})"
        if f.kind == "bool":
            p.add_argument(*opts, dest=f.name, action="store_true", help=text)
        elif f.kind == "list":
            p.add_argument(*opts, dest=f.name, action="append", metavar=f.metavar, help=text)
        else:
            p.add_argument(*opts, dest=f.name, metavar=f.metavar, default=f.default, help=text)


def _hook_parser(spec: HookSpec, prog: str) -> "argparse.ArgumentParser":
    import argparse

    p = argparse.ArgumentParser(prog=f"{prog} {spec.name}", description=spec.help + (
        ". " + spec.description if spec.description else ""), add_help=True)
    _add_flags(p, spec.flags)
    return p


def build_parser(prog: str = "cdi-hook") -> "argparse.ArgumentParser":
    """The command line as an ``argparse`` parser (for help text and man pages).

    The hooks are run by :func:`parse`, which reads the same table with NVIDIA's rules.
    """
    import argparse

    p = argparse.ArgumentParser(
        prog=prog,
        description="OCI hooks for CDI specs: a drop-in for NVIDIA's nvidia-cdi-hook. "
                    "The container's OCI state is read from standard input.  Nothing in the "
                    "container image is ever executed.",
        epilog="Also answers as 'nvidia-cdi-hook HOOK ...' and 'nvidia-ctk hook HOOK ...' "
               "when invoked under those names.  An unknown hook is a warning (exit 0).")
    _add_flags(p, GLOBAL_FLAGS)
    p.add_argument("--version", "-v", action="store_true", help="print the version")
    sub = p.add_subparsers(dest="hook", metavar="HOOK")
    for spec in HOOKS:
        if spec.hidden:
            continue
        sp = sub.add_parser(spec.name, help=spec.help, description=spec.help + (
            ". " + spec.description if spec.description else ""))
        _add_flags(sp, spec.flags)
    return p


def help_text(prog: str, spec: Optional[HookSpec] = None) -> str:
    if spec is None:
        return build_parser(prog).format_help()
    return _hook_parser(spec, prog).format_help()
