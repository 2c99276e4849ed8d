"""The temporary names ldcache and cdi-hook make in a root: ``.NAME.ldcache-XXXXXX`` (six
unpredictable ASCII letters or digits), next to the NAME they will replace, recognisable
afterwards (for clean-up after a killed run)."""

from __future__ import annotations

import errno

from .. import _os as os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Tuple, TypeVar

    _T = TypeVar("_T")

_TEMP_MARK = b".ldcache-"
_TEMP_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_NAME_MAX = 255
_TEMP_NAME_ROOM = _NAME_MAX - 1 - len(_TEMP_MARK) - 6  # '.' + NAME + mark + 6 random


def _random_suffix(n: int = 6) -> bytes:
    """``n`` unpredictable characters of :data:`_TEMP_ALPHABET` (os.urandom; ``secrets`` costs
    milliseconds to import)."""
    return bytes(_TEMP_ALPHABET[b % len(_TEMP_ALPHABET)] for b in os.urandom(n))


def _temp_prefix(name: bytes) -> bytes:
    return b"." + name[:_TEMP_NAME_ROOM] + _TEMP_MARK


def temp_name(name: bytes) -> bytes:
    """A fresh temporary name for ``name`` (one component): ``.NAME.ldcache-XXXXXX``, NAME cut
    to fit NAME_MAX.  Every temporary ldcache and cdi-hook make in a root is named so."""
    return _temp_prefix(name) + _random_suffix()


def _create_temp(name: bytes, make: Callable[[bytes], _T]) -> Tuple[bytes, _T]:
    """``make(tmp)`` for fresh temporary names of ``name`` (:func:`temp_name`) until one
    did not exist (``make`` raises FileExistsError for those); (the name, what ``make``
    returned)."""
    for _ in range(100):
        tmp = temp_name(name)
        try:
            return tmp, make(tmp)
        except FileExistsError:
            continue
    raise OSError(errno.EEXIST, "No unique temporary name")


def is_temp_name(name: bytes) -> bool:
    """Whether ``name`` has the form of every name :func:`temp_name` makes,
    ``.NAME.ldcache-XXXXXX`` with NAME not empty and X an ASCII letter or digit (for clean-up
    after a killed run)."""
    return (len(name) >= len(_TEMP_MARK) + 8 and name[:1] == b"."
            and name.endswith(_TEMP_MARK, 0, len(name) - 6) and _is_suffix(name[-6:]))


def _is_suffix(s: bytes) -> bool:
    """``s`` is made of ASCII letters and digits only (and is not empty)."""
    return bool(s) and not s.translate(None, _TEMP_ALPHABET)


def _is_temp_of(prefix: bytes, name: bytes) -> bool:
    """``name`` is ``prefix`` (a :func:`_temp_prefix`) and six ASCII letters or digits."""
    return (len(name) == len(prefix) + 6 and name.startswith(prefix)
            and _is_suffix(name[-6:]))
