"""glob(3) with flags 0 in the C locale, as pure functions on bytes: the pattern
classifier (glibc's ``__glob_pattern_type``, which :mod:`ldcache.conf` uses too) and the
fnmatch(3) compiler :meth:`Root.glob <ldcache.inroot.root.Root.glob>` matches directory
entries with.  Nothing here touches a file system; imported by the first glob.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable, Optional, Tuple, Union

#: ``glob_pattern_type`` results (bits), as glibc's ``__glob_pattern_type``.
GLOB_NONE, GLOB_BACKSLASH, GLOB_BRACKET, GLOB_SPECIAL = 0, 2, 4, 1


def glob_pattern_type(pat: bytes) -> int:
    """glibc ``__glob_pattern_type`` with quoting on."""
    ret = GLOB_NONE
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        if c in (0x3F, 0x2A):  # ? *
            return GLOB_SPECIAL
        if c == 0x5C:  # backslash
            if i + 1 < n:
                i += 1
            ret |= GLOB_BACKSLASH
        elif c == 0x5B:  # [
            ret |= GLOB_BRACKET
        elif c == 0x5D and ret & GLOB_BRACKET:  # ]
            return GLOB_SPECIAL
        i += 1
    return ret


def _unescape(pat: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(pat)
    while i < n:
        if pat[i] == 0x5C and i + 1 < n:
            i += 1
        out.append(pat[i])
        i += 1
    return bytes(out)


def _ctype_set(name: bytes) -> Optional[frozenset[int]]:
    """Members of a POSIX character class in the C locale (None: unknown class)."""
    r = range(256)
    table: dict[bytes, Callable[[int], bool]] = {
        b"alpha": lambda c: bytes([c]).isalpha() and c < 128,
        b"digit": lambda c: 0x30 <= c <= 0x39,
        b"alnum": lambda c: bytes([c]).isalnum() and c < 128,
        b"upper": lambda c: 0x41 <= c <= 0x5A,
        b"lower": lambda c: 0x61 <= c <= 0x7A,
        b"space": lambda c: c in b" \t\n\v\f\r",
        b"blank": lambda c: c in b" \t",
        b"punct": lambda c: 0x21 <= c <= 0x7E and not bytes([c]).isalnum(),
        b"print": lambda c: 0x20 <= c <= 0x7E,
        b"graph": lambda c: 0x21 <= c <= 0x7E,
        b"cntrl": lambda c: c < 0x20 or c == 0x7F,
        b"xdigit": lambda c: c in b"0123456789abcdefABCDEF",
    }
    pred = table.get(name)
    if pred is None:
        return None
    return frozenset(c for c in r if pred(c))


_ALL_BYTES = frozenset(range(256))
_NO_BYTE: frozenset[int] = frozenset()


def _bracket(pat: bytes, i: int) -> Optional[Tuple[frozenset[int], int]]:
    """The bytes the bracket expression starting after '[' at ``i`` matches, and where it
    ends; None if unterminated."""
    n = len(pat)
    negate = False
    if i < n and pat[i] in (0x21, 0x5E):  # ! ^
        negate = True
        i += 1
    members: set[int] = set()
    never = False
    first = True
    while True:
        if i >= n:
            return None
        c = pat[i]
        i += 1
        if c == 0x5D and not first:  # ]
            break
        first = False
        if c == 0x5C:  # backslash quotes the next byte
            if i >= n:
                return None
            c = pat[i]
            i += 1
        elif c == 0x5B and i < n and pat[i] in (0x3A, 0x3D, 0x2E):  # [: [= [.
            delim = pat[i]
            end = pat.find(bytes([delim, 0x5D]), i + 1)
            if end >= 0:
                word = pat[i + 1:end]
                i = end + 2
                if delim == 0x3A:
                    cls = _ctype_set(word)
                    if cls is None:
                        never = True
                    else:
                        members |= cls
                    continue
                if len(word) == 1:  # [=x=] and [.x.] of a single byte in the C locale
                    c = word[0]
                else:
                    never = True
                    continue
        # a range?
        if i + 1 < n and pat[i] == 0x2D and pat[i + 1] != 0x5D:  # '-' not followed by ']'
            hi = pat[i + 1]
            i += 2
            if hi == 0x5C and i < n:
                hi = pat[i]
                i += 1
            if c <= hi:
                members.update(range(c, hi + 1))
            continue
        members.add(c)
    if never:  # an unknown class or collating element: the expression matches nothing
        return _NO_BYTE, i
    if negate:
        return _ALL_BYTES - members, i
    return frozenset(members), i


if TYPE_CHECKING:  # pragma: no cover
    #: One piece of a pattern between two ``*``: its bytes when every position is a literal
    #: byte, else each position's set of matching bytes.
    Segment = Union[bytes, Tuple[frozenset[int], ...]]


def _segment(tokens: list[Union[int, frozenset[int]]]) -> Segment:
    if all(isinstance(t, int) for t in tokens):
        return bytes(tokens)  # type: ignore[arg-type]
    return tuple(frozenset((t,)) if isinstance(t, int) else t for t in tokens)


def _segment_at(seg: Segment, name: bytes, at: int) -> bool:
    """``seg`` matches ``name[at:at + len(seg)]`` (which the caller knows is in ``name``)."""
    if isinstance(seg, bytes):
        return name.startswith(seg, at)
    for k, allowed in enumerate(seg):
        if name[at + k] not in allowed:
            return False
    return True


def _segment_find(seg: Segment, name: bytes, start: int, end: int) -> int:
    """The first place ``seg`` matches wholly within ``name[start:end]``, or -1."""
    if isinstance(seg, bytes):
        return name.find(seg, start, end)
    for at in range(start, end - len(seg) + 1):
        if _segment_at(seg, name, at):
            return at
    return -1


def _never(name: bytes) -> bool:
    return False


def _make_fnmatch(pat: bytes) -> Callable[[bytes], bool]:
    """fnmatch(pat, name, FNM_PERIOD) for one path component, C locale, quoting on.

    Every token but ``*`` matches exactly one byte, so the pattern is the pieces between its
    ``*``: a name matches when it starts with the first, ends with the last, and holds the
    others in order in between (each taken where it first fits: the earliest end leaves the
    most room for the rest)."""
    pieces: list[list[Union[int, frozenset[int]]]] = [[]]
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        i += 1
        if c == 0x2A:  # * (of several in a row, the empty pieces between match anywhere)
            pieces.append([])
        elif c == 0x3F:  # ?
            pieces[-1].append(_ALL_BYTES)
        elif c == 0x5C:  # backslash
            if i >= n:  # "trailing \ loses"
                return _never
            pieces[-1].append(pat[i])
            i += 1
        elif c == 0x5B:  # [
            br = _bracket(pat, i)
            if br is None:
                pieces[-1].append(c)  # a literal '['
            else:
                pieces[-1].append(br[0])
                i = br[1]
        else:
            pieces[-1].append(c)
    literal_dot = pat.startswith(b".") or pat.startswith(b"\\.")
    segs = [_segment(p) for p in pieces]
    first = segs[0]
    if len(segs) == 1:  # no *: the name is the one piece
        def match(name: bytes) -> bool:
            return len(name) == len(first) and (literal_dot or name[:1] != b".") and \
                _segment_at(first, name, 0)
        return match
    last, middle = segs[-1], segs[1:-1]
    fixed = sum(len(s) for s in segs)
    literals = [s for s in segs if isinstance(s, bytes)]
    if len(literals) == len(segs) and len(segs) <= 3:
        # Literal bytes between at most two stars, the common case (``*.conf``, ``lib*.so.*``,
        # ``*-linux-gnu*``): bytes methods do the work.
        head, tail, inner = literals[0], literals[-1], literals[1:-1]
        if not inner:
            def match_ends(name: bytes) -> bool:
                return len(name) >= fixed and (literal_dot or not name.startswith(b".")) and \
                    name.startswith(head) and name.endswith(tail)
            return match_ends
        mid = inner[0]

        def match_one(name: bytes) -> bool:
            return len(name) >= fixed and (literal_dot or not name.startswith(b".")) and \
                name.startswith(head) and name.endswith(tail) and \
                name.find(mid, len(head), len(name) - len(tail)) >= 0
        return match_one

    def match_star(name: bytes) -> bool:
        if len(name) < fixed or (not literal_dot and name[:1] == b"."):
            return False
        end = len(name) - len(last)
        if not _segment_at(first, name, 0) or not _segment_at(last, name, end):
            return False
        at = len(first)
        for seg in middle:
            at = _segment_find(seg, name, at, end)
            if at < 0:
                return False
            at += len(seg)
        return True
    return match_star


_fnmatch_cache: dict[bytes, Callable[[bytes], bool]] = {}


def _compile_fnmatch(pat: bytes) -> Callable[[bytes], bool]:
    """:func:`_make_fnmatch`, remembered (up to 256 patterns; then forgotten all at once)."""
    match = _fnmatch_cache.get(pat)
    if match is None:
        if len(_fnmatch_cache) >= 256:
            _fnmatch_cache.clear()
        match = _fnmatch_cache[pat] = _make_fnmatch(pat)
    return match


def _glob_join(directory: Optional[bytes], name: bytes) -> bytes:
    if directory is None:
        return name
    if directory == b"/":
        return b"/" + name
    return directory + b"/" + name
