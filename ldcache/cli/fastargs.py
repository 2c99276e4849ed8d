"""The command lines argparse would accept without a doubt, read without importing it.

``argparse`` (with ``re`` and ``gettext``, which it imports) costs a ``print`` of a small
cache more start-up time than the whole job.  The commands still *declare* their
options with argparse's own calls (``add_parser``, ``add_argument``, ``set_defaults``):
here those calls are recorded (:class:`Recorder`) instead, and :func:`parse` reads the
command line against the record — but only the plain forms whose meaning is beyond
doubt.  Anything else (``--help``, an unknown or abbreviated option, bundled short flags,
``--``, a value that looks like an option, a bad choice, a missing argument, an option
after a positional…) makes :func:`parse` return None, and the caller runs the real
argparse parser, which gives its own result, help or error.  So the result is always
argparse's: ``tests/test_cli_fastargs.py`` checks the two agree on generated command lines.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

__all__ = ["Namespace", "Recorder", "parse"]

#: add_argument keywords understood here; any other makes the argument "unusable" (a
#: command line that uses it goes to argparse).
_KNOWN = frozenset(("dest", "metavar", "help", "default", "action", "choices", "nargs",
                    "type", "required"))
_ACTIONS = (None, "store", "store_true", "store_false", "append")


class Namespace:
    """argparse.Namespace's behaviour: attributes, equality by attributes, ``in``."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Namespace({inner})"


class _Arg:
    __slots__ = ("names", "kw", "dest", "action", "usable", "takes_value")

    def __init__(self, names: Tuple[str, ...], kw: Dict[str, Any]) -> None:
        self.names = names
        self.kw = kw
        self.action = kw.get("action")
        positional = not names[0].startswith("-")
        if self.action in ("help", "version"):
            self.dest = "==SUPPRESS=="
        elif "dest" in kw:
            self.dest = kw["dest"]
        elif positional:
            self.dest = names[0]
        else:
            long = [n for n in names if n.startswith("--")]
            self.dest = (long[0] if long else names[0]).lstrip("-").replace("-", "_")
        self.usable = (set(kw) <= _KNOWN and self.action in _ACTIONS
                       and kw.get("nargs") in ((None, "*", "?") if positional else (None,))
                       and not (positional and self.action is not None)
                       and not (positional and "choices" in kw and kw.get("nargs") == "*"))
        self.takes_value = self.action in (None, "store", "append")

    @property
    def positional(self) -> bool:
        return not self.names[0].startswith("-")

    def default(self) -> Any:
        if self.action == "store_true":
            return self.kw.get("default", False)
        if self.action == "store_false":
            return self.kw.get("default", True)
        if self.positional and self.kw.get("nargs") == "*" and self.kw.get("default") is None:
            return []
        value = self.kw.get("default")
        if isinstance(value, str) and "type" in self.kw:
            value = self.kw["type"](value)  # argparse converts string defaults too
        return value


class _Group:
    """add_argument_group / add_mutually_exclusive_group: members are recorded on the
    parser; a command line using two members of an exclusive group goes to argparse."""

    def __init__(self, parser: "Recorder", exclusive: bool) -> None:
        self._parser = parser
        self._id = len(parser.groups) if exclusive else None
        if exclusive:
            parser.groups.append([])

    def add_argument(self, *names: str, **kw: Any) -> None:
        self._parser.add_argument(*names, **kw)
        if self._id is not None:
            self._parser.groups[self._id].append(self._parser.args[-1])

    def add_argument_group(self, *a: Any, **kw: Any) -> "_Group":
        return _Group(self._parser, False)

    def add_mutually_exclusive_group(self, **kw: Any) -> "_Group":
        return _Group(self._parser, True)


class Recorder:
    """Takes argparse's declaring calls for one parser (and, as ``add_parsers``' argument,
    for its subcommands: :meth:`add_parser`)."""

    def __init__(self, only: Optional[str] = None) -> None:
        self.args: List[_Arg] = []
        self.defaults: Dict[str, Any] = {}
        self.groups: List[List[_Arg]] = []
        self.commands: Dict[str, Recorder] = {}
        self._only = only

    # the subparsers side
    def add_parser(self, name: str, **kw: Any) -> "Recorder":
        rec = Recorder()
        if self._only is None or name == self._only:
            self.commands[name] = rec
        return rec

    # the parser side
    def add_argument(self, *names: str, **kw: Any) -> None:
        self.args.append(_Arg(names, kw))

    def set_defaults(self, **kw: Any) -> None:
        self.defaults.update(kw)

    def add_argument_group(self, *a: Any, **kw: Any) -> _Group:
        return _Group(self, False)

    def add_mutually_exclusive_group(self, **kw: Any) -> _Group:
        return _Group(self, True)


def _plain(value: str) -> bool:
    """A string argparse can only take as an argument (never as an option)."""
    return not value.startswith("-") or value == "-"


def parse(rec: Recorder, argv: Sequence[str], into: Optional[Dict[str, Any]] = None
          ) -> Optional[Namespace]:
    """``argv`` read against ``rec`` as argparse reads it, or None (ask argparse)."""
    if any(arg.dest in rec.defaults for arg in rec.args):
        return None  # set_defaults changing an argument's default: argparse's business
    options: Dict[str, _Arg] = {}
    positionals: List[_Arg] = []
    for arg in rec.args:
        if arg.positional:
            positionals.append(arg)
        else:
            for option_name in arg.names:
                options[option_name] = arg
    values: Dict[str, Any] = dict(into or {})
    seen: List[_Arg] = []
    given: List[str] = []
    i, n = 0, len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if _plain(a):
            given.append(a)
            continue
        if given or a == "--":
            return None  # an option after a positional, or the end-of-options marker
        if a.startswith("--"):
            name, eq, explicit = a.partition("=")
        else:
            if "=" in a or " " in a:
                return None
            name, eq, explicit = a[:2], "", a[2:]
        opt = options.get(name)
        if opt is None or not opt.usable:
            return None
        if opt.takes_value:
            if eq or explicit:
                value = explicit
            else:
                if i >= n or not _plain(argv[i]):
                    return None
                value = argv[i]
                i += 1
            converted = _convert(opt, value)
            if converted is _BAD:
                return None
            if opt.action == "append":
                current = values.get(opt.dest, opt.kw.get("default"))
                values[opt.dest] = (list(current) if current is not None else []) + [converted]
            else:
                values[opt.dest] = converted
        else:
            if eq or explicit:
                return None  # "-Xi" (bundled) or "--json=x"
            values[opt.dest] = opt.action == "store_true"
        seen.append(opt)
    for group in rec.groups:
        if sum(1 for a in group if a in seen) > 1:
            return None
    if not _positionals(positionals, given, values):
        return None
    out = Namespace()
    for arg in rec.args:
        if arg.dest == "==SUPPRESS==":
            continue
        if arg.dest in values:
            setattr(out, arg.dest, values.pop(arg.dest))
        elif arg.kw.get("required"):
            return None
        elif not hasattr(out, arg.dest):
            setattr(out, arg.dest, arg.default())
    for key, value in rec.defaults.items():
        if not hasattr(out, key):
            setattr(out, key, value)
    for key, value in values.items():
        setattr(out, key, value)
    return out


_BAD = object()


def _convert(arg: _Arg, value: str) -> Any:
    convert: Optional[Callable[[str], Any]] = arg.kw.get("type")
    if convert is not None:
        try:
            value = convert(value)
        except Exception:  # noqa: BLE001 - argparse reports it
            return _BAD
    choices = arg.kw.get("choices")
    if choices is not None and value not in choices:
        return _BAD
    return value


def _positionals(specs: List[_Arg], given: List[str], values: Dict[str, Any]) -> bool:
    """Assign the positional strings: one for each plain positional, then what is left to a
    trailing ``?`` (at most one) or ``*``; anything less plain is argparse's to match."""
    if any(not s.usable for s in specs):
        return False
    fixed = [s for s in specs if s.kw.get("nargs") is None]
    rest = specs[len(fixed):]
    if specs[:len(fixed)] != fixed or len(rest) > 1 or len(given) < len(fixed):
        return False
    for spec, value in zip(fixed, given):
        converted = _convert(spec, value)
        if converted is _BAD:
            return False
        values[spec.dest] = converted
    extra = given[len(fixed):]
    if not rest:
        return not extra
    spec = rest[0]
    if spec.kw.get("nargs") == "?":
        if len(extra) > 1:
            return False
        if extra:
            converted = _convert(spec, extra[0])
            if converted is _BAD:
                return False
            values[spec.dest] = converted
        return True
    if not extra:
        return True  # the default ([] unless one is given)
    converted_all = []
    for value in extra:
        converted = _convert(spec, value)
        if converted is _BAD:
            return False
        converted_all.append(converted)
    values[spec.dest] = converted_all
    return True
