"""``ldcache._record.Record`` behaves as the ``typing.NamedTuple`` it reads like.

Every way of calling a class is tried on a Record class and on a ``namedtuple`` (what
``typing.NamedTuple`` makes) with the same fields and defaults: the values, or the
exception's type and message, must be the same — on a fresh class (keyword calls bound one
by one) and after the class compiled its full ``__new__`` (past ``_BIND_CALLS`` such calls).
"""

from __future__ import annotations

import itertools
import pickle
from collections import namedtuple

import pytest

from ldcache import _record
from ldcache._record import Record

FIELDS = ("a", "b", "c", "d")


def _pair():
    """A fresh Record class and its namedtuple twin (two trailing defaults)."""

    class R(Record):
        a: int
        b: str
        c: int = 3
        d: tuple = ()

        @property
        def twice(self) -> int:
            return self.a * 2

    # The same class through collections.namedtuple, which typing.NamedTuple is built on.
    class N(namedtuple("N", FIELDS, defaults=(3, ()))):
        __slots__ = ()
        twice = property(lambda self: self.a * 2)

    return R, N


def _calls():
    """(args, kwargs) over 0-5 positional values and every subset of keywords, including
    unknown and duplicate ones."""
    names = FIELDS + ("e",)
    for npos in range(6):
        args = tuple(range(10, 10 + npos))
        for k in range(len(names) + 1):
            for kws in itertools.combinations(names, k):
                yield args, {n: f"v{n}" for n in kws}


def _outcome(cls, args, kwargs):
    try:
        value = cls(*args, **kwargs)
    except TypeError as exc:
        # The class name differs (R/N); the rest of the message must not.
        return ("TypeError", str(exc).replace(cls.__name__ + ".", "", 1))
    return ("value", tuple(value), value._asdict(), value.twice if value.a != "x" else None)


CALLS = list(_calls())


@pytest.mark.parametrize("compiled", [False, True], ids=["bound", "compiled"])
def test_calls_match_namedtuple(compiled: bool) -> None:
    R, N = _pair()
    if compiled:
        for _ in range(_record._BIND_CALLS + 1):
            R(1, b="x")
        assert "_tuple_new" in R.__new__.__code__.co_names, "the full __new__ was not compiled"
    else:
        assert len(CALLS) > _record._BIND_CALLS  # so the fresh class binds, then compiles
    errors = 0
    for args, kwargs in CALLS:
        ours, theirs = _outcome(R, args, kwargs), _outcome(N, args, kwargs)
        assert ours == theirs, (args, kwargs)
        errors += ours[0] == "TypeError"
    assert 0 < errors < len(CALLS)


def test_fresh_class_binds_without_compiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyword and default calls up to the threshold compile nothing (start-up cost)."""
    compiled = []
    real = _record._make_new
    monkeypatch.setattr(_record, "_make_new",
                        lambda *a: compiled.append(a[0]) or real(*a))
    R, _ = _pair()
    assert _record._BIND_CALLS % 2 == 0
    for i in range(_record._BIND_CALLS // 2):
        assert R(i, "s") == (i, "s", 3, ())
        assert R(a=i, b="s", d=(1,)) == (i, "s", 3, (1,))
    assert compiled == []
    for i in range(100):  # every field positional: never counts, never compiles
        assert R(i, "s", 1, 2) == (i, "s", 1, 2)
    assert compiled == []
    R(b="t", a=1)
    assert compiled == ["R"]
    assert R(1, "t", d=5) == (1, "t", 3, 5)


def test_a_bad_call_raises_before_the_threshold_as_after() -> None:
    R, N = _pair()
    for args, kwargs in [((), {}), ((1, 2, 3, 4, 5), {}), ((1,), {"a": 2, "b": 1}),
                         ((1, 2), {"e": 0})]:
        with pytest.raises(TypeError) as ours:
            R(*args, **kwargs)
        with pytest.raises(TypeError) as theirs:
            N(*args, **kwargs)
        assert str(ours.value).replace("R.", "") == str(theirs.value).replace("N.", "")


def test_the_rest_of_the_namedtuple_api() -> None:
    R, N = _pair()
    r, n = R(1, "x"), N(1, "x")
    assert R._fields == N._fields == FIELDS
    assert R._field_defaults == N._field_defaults == {"c": 3, "d": ()}
    assert R.__match_args__ == N.__match_args__
    assert r == n and hash(r) == hash(n) and r == (1, "x", 3, ())
    assert (r.a, r.b, r.c, r.d, r.twice) == (n.a, n.b, n.c, n.d, n.twice)
    assert r._replace(c=9) == n._replace(c=9) and type(r._replace(c=9)) is R
    with pytest.raises(TypeError):
        r._replace(e=1)
    with pytest.raises(ValueError):
        n._replace(e=1)  # (typing's message differs; both refuse)
    assert R._make([1, 2, 3, 4]) == N._make([1, 2, 3, 4])
    with pytest.raises(TypeError):
        R._make([1])
    assert repr(r).replace("R(", "N(", 1) == repr(n)
    assert pickle.loads(pickle.dumps(Entry(b"s", b"p", 1))) == Entry(b"s", b"p", 1)
    with pytest.raises(AttributeError):
        r.a = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        r.other = 1  # type: ignore[attr-defined]


class Entry(Record):  # module level, for pickle
    soname: bytes
    path: bytes
    flags: int
    osversion: int = 0


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(ValueError):
        type("Bad", (Record,), {"__annotations__": {"_x": int}})
    with pytest.raises(TypeError):
        type("Bad", (Record,), {"__annotations__": {"x": int, "y": int}, "x": 1})
