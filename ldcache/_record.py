"""``Record``: ``typing.NamedTuple``'s class syntax, without importing ``typing``.

The commands' start-up time is budgeted (bench/), and ``typing`` with what it pulls in
(``collections``, ``functools``, ``re``…) costs a ``print`` or a hook more than its work.
A class written as

    class Entry(Record):
        flags: int
        key: bytes
        osversion: int = 0

becomes a tuple subclass with the same behaviour as the ``NamedTuple`` it reads like:
positional and keyword construction with trailing defaults, fields by name and index,
``_fields``, ``_field_defaults``, ``_make``, ``_replace``, ``_asdict``, ``repr``, equality and
hashing as tuples, pickling.  Methods, properties and class attributes written in the body
are kept.  Type checkers see ``typing.NamedTuple`` itself (``TYPE_CHECKING`` below), so the
classes are checked exactly as before.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import NamedTuple as Record
else:
    try:  # the accessor namedtuple uses (C); a property over a lambda where it is missing
        from _collections import _tuplegetter
    except ImportError:  # pragma: no cover - other interpreters
        def _tuplegetter(index, doc):
            return property(lambda self: self[index], doc=doc)

    _SPECIAL = frozenset(("__module__", "__qualname__", "__annotations__", "__doc__",
                          "__slots__", "__dict__", "__weakref__"))

    def _make_new(name, fields, defaults):
        # Compiled once per class, like namedtuple's: construction then costs what a
        # tuple's does.  The field names are identifiers checked below.
        params = ", ".join(fields)
        code = f"lambda _cls, {params}: _tuple_new(_cls, ({params}{',' if fields else ''}))"
        new = eval(code, {"_tuple_new": tuple.__new__, "__builtins__": {}})
        new.__defaults__ = defaults or None
        new.__name__ = "__new__"
        new.__qualname__ = f"{name}.__new__"
        return new

    #: Calls with keywords or defaults a class answers by binding them one by one before it
    #: compiles its full ``__new__``: compiling costs ~0.1 ms a class, most record classes
    #: are built so only a few times in a run (options, results, table rows), and the few
    #: built so in a loop get the compiled one soon enough.
    _BIND_CALLS = 64

    def _bind(name, fields, field_defaults, args, kwargs):
        """The field values of ``name(*args, **kwargs)``, as the compiled ``__new__`` (and
        so ``namedtuple``'s) would take them, raising its TypeErrors."""
        values = list(args)
        used = 0
        for f in fields[len(args):]:
            if f in kwargs:
                values.append(kwargs[f])
                used += 1
            elif f in field_defaults:
                values.append(field_defaults[f])
            else:
                break
        else:
            if used == len(kwargs) and len(args) <= len(fields):
                return values
        # A bad call: raise what the compiled __new__ would.
        return _make_new(name, fields, tuple(field_defaults.values()))(tuple, *args, **kwargs)

    def _lazy_new(name, fields, defaults, owner):
        """``__new__``: a call with every field positional costs a tuple's; others are bound
        by :func:`_bind` until the class has had :data:`_BIND_CALLS` of them, then the full
        one (keywords, defaults: as namedtuple's) is compiled into the class."""
        n = len(fields)
        tuple_new = tuple.__new__
        field_defaults = dict(zip(fields[n - len(defaults):], defaults))
        calls = [0]

        def __new__(_cls, *args, **kwargs):
            if not kwargs and len(args) == n:
                return tuple_new(_cls, args)
            calls[0] += 1
            if calls[0] <= _BIND_CALLS:
                return tuple_new(_cls, _bind(name, fields, field_defaults, args, kwargs))
            full = _make_new(name, fields, defaults)
            owner[0].__new__ = staticmethod(full)
            return full(_cls, *args, **kwargs)

        __new__.__qualname__ = f"{name}.__new__"
        return __new__

    class _RecordMeta(type):
        def __new__(mcls, name, bases, ns):
            if ns.get("_root_", False):
                return super().__new__(mcls, name, bases, ns)
            fields = tuple(ns.get("__annotations__", {}))
            for f in fields:
                if not f.isidentifier() or f.startswith("_"):
                    raise ValueError(f"{name}: bad field name {f!r}")
            defaults = []
            for f in fields:
                if f in ns:
                    defaults.append(ns[f])
                elif defaults:
                    raise TypeError(f"{name}: field {f!r} without a default follows one "
                                    "with a default")
            body = {k: v for k, v in ns.items() if k not in _SPECIAL and k not in fields}
            body.update(
                __slots__=(),
                __module__=ns.get("__module__"),
                __qualname__=ns.get("__qualname__", name),
                __doc__=ns.get("__doc__") or f"{name}({', '.join(fields)})",
                _fields=fields,
                _field_defaults=dict(zip(fields[len(fields) - len(defaults):], defaults)),
                __match_args__=fields,
            )
            owner = []
            body["__new__"] = _lazy_new(name, fields, tuple(defaults), owner)
            for i, f in enumerate(fields):
                body[f] = _tuplegetter(i, f"Alias for field number {i}")
            cls = type.__new__(type, name, (_RecordBase,), body)
            owner.append(cls)
            return cls

    class _RecordBase(tuple):
        __slots__ = ()
        _fields: tuple = ()

        @classmethod
        def _make(cls, iterable):
            values = tuple(iterable)
            if len(values) != len(cls._fields):
                raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(values)}")
            return tuple.__new__(cls, values)

        def _replace(self, **changes):
            values = [changes.pop(f, v) for f, v in zip(self._fields, self)]
            if changes:
                raise TypeError(f"Got unexpected field names: {list(changes)!r}")
            return tuple.__new__(type(self), values)

        def _asdict(self):
            return dict(zip(self._fields, self))

        def __repr__(self):
            inner = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
            return f"{type(self).__name__}({inner})"

        def __getnewargs__(self):
            return tuple(self)

    class Record(metaclass=_RecordMeta):
        """Base of the record classes: see the module docstring."""

        _root_ = True

__all__ = ["Record"]
