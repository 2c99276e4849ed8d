"""The hand-written matchers that replaced regular expressions on the start-up paths.

``re`` (with enum, functools and the sre compiler it pulls in) costs a command milliseconds
to import, so the modules a hook or a ``print`` imports match text with plain ``bytes`` and
``str`` operations.  Each test below keeps the regular expression the code used before as
the oracle and checks the new code gives the same answer on generated inputs and on
hand-picked odd ones: non-ASCII digits (``²``, Arabic-Indic ``٣``, which ``str.isdigit``
accepts and ``[0-9]`` does not), every ASCII white-space byte, newlines where ``.`` or ``$``
could treat them specially, runs at their length limits.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from typing import Callable, Optional, Tuple

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ldcache_hook import application_profile, chmod, cuda_compat, update_ldcache
from ldcache_hook.context import HookError

from ldcache import detect, glibc, inroot, libcmp
from ldcache.inroot import glob as inroot_glob
from ldcache.inroot import tempnames

#: Characters that look like digits or blanks to someone (str.isdigit, str.strip, \s, \d).
ODD_CHARS = "²³¹٣۴০९０𝟘\u00a0\u2003\u3000\x1c\x1d\x1e\x1f\x85"
ODD_BYTES = bytes(range(0x80, 0x100)) + b"\x00\x1c\x1d\x1e\x1f"
ASCII_WS = b" \t\n\r\x0b\x0c"


def _chars(alphabet: str, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet + ODD_CHARS, max_size=max_size)


def _bytes_of(alphabet: bytes, max_size: int = 40) -> st.SearchStrategy[bytes]:
    pool = sorted(set(alphabet + ODD_BYTES[::7] + ASCII_WS))
    return st.lists(st.sampled_from(pool), max_size=max_size).map(bytes)


def _pieces(parts: list[bytes], max_size: int = 12) -> st.SearchStrategy[bytes]:
    """Byte strings glued from ``parts`` and random bytes (grammar-ish fuzzing)."""
    piece = st.one_of(st.sampled_from(parts), st.binary(max_size=4))
    return st.lists(piece, max_size=max_size).map(b"".join)


def _outcome(f: Callable[[], object]) -> Tuple[str, object]:
    """What ``f()`` returns, or the type and message of what it raises."""
    try:
        return "ok", f()
    except Exception as e:  # noqa: BLE001 - compared, not hidden
        return type(e).__name__, str(e)


# --------------------------------------------------------------------------------------------
# ldcache.libcmp.libcmp_key: [0-9]+ runs


_OLD_DIGITS = re.compile(rb"[0-9]+")


def old_libcmp_key(name: bytes, signed: bool = True) -> bytes:
    table = libcmp._TABLES[signed]
    parts = []
    pos = 0
    for m in _OLD_DIGITS.finditer(name):
        start, end = m.span()
        parts.append(name[pos:start].translate(table))
        value = int(name[max(start, end - 32):end]) & 0xFFFFFFFF
        parts.append(libcmp._DIGIT_MARK + (value ^ 0x80000000).to_bytes(4, "big"))
        pos = end
    parts.append(name[pos:].translate(table))
    parts.append(table[0:1])
    return b"".join(parts)


LIBCMP_CASES = [b"", b"0", b"libc.so.6", b"libfoo.so.0010", b"a1b22c333", b"12345",
                b"x" + b"9" * 40, b"9" * 33 + b"x" + b"0" * 32, b"\xb2\xb3\xb9",
                "lib٣.so.²".encode(), b"lib\xff1\x80", b"1\n2\t3 4", b"\x2f\x3a\x30"]


@pytest.mark.parametrize("name", LIBCMP_CASES)
@pytest.mark.parametrize("signed", [True, False])
def test_libcmp_key_cases(name: bytes, signed: bool) -> None:
    assert libcmp.libcmp_key(name, signed) == old_libcmp_key(name, signed)
    assert type(libcmp.libcmp_key(name, signed)) is bytes


@settings(max_examples=1000)
@given(st.one_of(st.binary(max_size=60), _bytes_of(b"0123456789./:lib", 80)), st.booleans())
def test_libcmp_key(name: bytes, signed: bool) -> None:
    assert libcmp.libcmp_key(name, signed) == old_libcmp_key(name, signed)


# --------------------------------------------------------------------------------------------
# ldcache.glibc.parse_version: ^(\d+)\.(\d+) after strip()


_OLD_VERSION_RE = re.compile(rb"^(\d+)\.(\d+)")


def old_parse_version(text: str | bytes) -> tuple[int, int]:
    raw = text.encode() if isinstance(text, str) else text
    m = _OLD_VERSION_RE.match(raw.strip())
    if not m:
        shown = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise ValueError(f"not a glibc version: {shown!r}")
    return int(m.group(1)), int(m.group(2))


VERSION_CASES: list[str | bytes] = [
    "2.36", "2.36-9+deb12u14", " 2.31\n", "\t\x0b\x0c\r 2.3x", "2.", ".3", "2", "", " ",
    "x2.3", "2..3", "02.007", "2.3.4", "2,3", "².3", "2.٣", "٢.٣", "2 .3", "2. 3", "\u00a02.3",
    "\x1c2.3", "2.3\n\n", "\n2.3", "2.3$", "-2.3", "+2.3", "2.36" * 40, "\ud800",
    b"2.36", b"\xb2.3", b"2.\xb3", b"\x852.3", b"\xa02.3", b"2.36\xff", b"1" * 5000 + b".1",
    b"1." + b"2" * 5000]


@pytest.mark.parametrize("text", VERSION_CASES)
def test_parse_version_cases(text: str | bytes) -> None:
    assert _outcome(lambda: glibc.parse_version(text)) == \
        _outcome(lambda: old_parse_version(text))


@settings(max_examples=1000)
@given(st.one_of(_chars("0123456789.- \t\n\r\x0b\x0cx"), st.text(max_size=12),
                 _bytes_of(b"0123456789.-x"), st.binary(max_size=12)))
def test_parse_version(text: str | bytes) -> None:
    assert _outcome(lambda: glibc.parse_version(text)) == \
        _outcome(lambda: old_parse_version(text))
    old = _outcome(lambda: old_parse_version(text))
    if old[0] == "ok" and old[1] >= (2, 0):  # type: ignore[operator]
        assert glibc.behaviour(text) == glibc.behaviour(old[1])  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# ldcache.detect: the version banner search


_OLD_BANNER = re.compile(rb"GNU C Library (\([^)\n]{0,200}\) )?([a-z]{1,20}) release version "
                         rb"(\d+\.\d+(?:\.\d+)?)")


def old_banner(data: bytes) -> Optional[Tuple[bytes, bytes, bytes, int]]:
    m = _OLD_BANNER.search(data)
    if m is None:
        return None
    return m.group(1) or b"", m.group(2), m.group(3), m.end()


BANNER_CASES = [
    b"GNU C Library (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36.\n",
    b"GNU C Library (GNU libc) release release version 2.39.9000.",
    b"xxGNU C Library stable release version 2.31",
    b"GNU C Library stable release version 2.",
    b"GNU C Library stable release version 2.3.",
    b"GNU C Library stable release version 2.3.4.5",
    b"GNU C Library stable release version .3",
    b"GNU C Library Stable release version 2.3",
    b"GNU C Library  stable release version 2.3",
    b"GNU C Library () stable release version 2.3",
    b"GNU C Library ((x)) stable release version 2.3",
    b"GNU C Library (a\nb) stable release version 2.3 GNU C Library x release version 1.2",
    b"GNU C Library (" + b"p" * 200 + b") stable release version 2.3",
    b"GNU C Library (" + b"p" * 201 + b") stable release version 2.3",
    b"GNU C Library (x)stable release version 2.3",
    b"GNU C Library " + b"a" * 20 + b" release version 2.3",
    b"GNU C Library " + b"a" * 21 + b" release version 2.3",
    b"GNU C Library a release version \xb2.3",
    "GNU C Library a release version 2.٣".encode(),
    b"GNU C Library a release version 2.3\n",
    b"GNU C Library GNU C Library a release version 2.3",
    b"GNU C Library (GNU C Library a release version 2.3",
    b"GNU C Library (x) GNU C Library a release version 2.3",
    b"GNU C Library a release version " + b"1" * 70000 + b"." + b"2" * 70000 + b".3",
    b"GNU C Library a release version 1." + b"2" * 100 + b"." + b"3" * 17,
    b"GNU C Library a release version 00.00.00x",
    b"GNU C Library a release version 2.3" + b"GNU C Library b release version 4.5",
    b"GNU C Librar", b"", b"GNU C Library ", b"GNU C Library (",
]


@pytest.mark.parametrize("data", BANNER_CASES)
def test_banner_cases(data: bytes) -> None:
    assert detect._banner_search(data) == old_banner(data)


_BANNER_PARTS = [b"GNU C Library ", b"GNU C Library (", b"(", b")", b") ", b" ", b"\n",
                 b"stable", b"release", b"a" * 19, b"a", b"Z", b" release version ",
                 b"release version ", b"2", b"36", b"0" * 20, b".", b"\xb2", b"-", b"x" * 60]


@settings(max_examples=2000)
@given(_pieces(_BANNER_PARTS, 14))
def test_banner(data: bytes) -> None:
    assert detect._banner_search(data) == old_banner(data)


def test_banner_in_file(tmp_path) -> None:
    """Through the chunked reader: a banner across the chunk boundary is found whole."""
    root = inroot.Root(tmp_path)
    try:
        banner = b"GNU C Library (Ubuntu GLIBC 2.39-0ubuntu8) stable release version 2.39.1."
        for at in (0, detect._CHUNK - 30, detect._CHUNK - 3, detect._CHUNK + 5):
            data = b"\0" * at + banner + b"\0" * 100
            (tmp_path / "libc.so.6").write_bytes(data)
            found = detect._banner_in(root, b"/libc.so.6")
            want = old_banner(data)  # (its end is in the file, _banner_in's in the window)
            assert want is not None and found is not None and found[:3] == want[:3]
            info = detect.detect_glibc(root, b"/libc.so.6")
            assert info is not None
            assert (info.version, info.pkgversion, info.release, info.version_text) == (
                (2, 39), b"(Ubuntu GLIBC 2.39-0ubuntu8)", b"stable", b"2.39.1")
    finally:
        root.close()


# --------------------------------------------------------------------------------------------
# ldcache.inroot: temporary names


_OLD_TEMP_NAME_RE = re.compile(rb"\.(.+)" + re.escape(tempnames._TEMP_MARK) + rb"[A-Za-z0-9]{6}",
                               re.DOTALL)


def old_is_temp_of(prefix: bytes, name: bytes) -> bool:
    return re.compile(re.escape(prefix) + b"[A-Za-z0-9]{6}").fullmatch(name) is not None


_MARK = tempnames._TEMP_MARK
TEMP_CASES = [b"", b".", b".x.ldcache-abcdef", b"..ldcache-abcdef", b".x.ldcache-abcde",
              b".x.ldcache-abcdefg", b".x.ldcache-abcd\xb2f", b".x.ldcache-abc\nef",
              b".\n.ldcache-ABC123", b"x.x.ldcache-abcdef", b".x.ldcache-.ldcache-abcdef",
              b".x.ldcache-abcdef\n", b".ld.so.cache.ldcache-Zz09aA", b".x.ldcache_abcdef",
              b".x.ldcache-abc-ef", b".x.ldcache-\xc3\xa9bcde", b".x.ldcache-abcde ",
              b". .ldcache-000000"]


@pytest.mark.parametrize("name", TEMP_CASES)
def test_is_temp_name_cases(name: bytes) -> None:
    assert inroot.is_temp_name(name) == (_OLD_TEMP_NAME_RE.fullmatch(name) is not None)


@settings(max_examples=1000)
@given(st.one_of(_pieces([b".", _MARK, b"a", b"Z", b"0", b"abcdef", b"\n", b"\xb2"], 8),
                 st.binary(min_size=1, max_size=8).map(inroot.temp_name)))
def test_is_temp_name(name: bytes) -> None:
    assert inroot.is_temp_name(name) == (_OLD_TEMP_NAME_RE.fullmatch(name) is not None)


def test_temp_names_are_temp_names() -> None:
    for name in (b"x", b"ld.so.cache", b"\n", b"a" * 300, b"*", b"\xff"):
        t = inroot.temp_name(name)
        assert inroot.is_temp_name(t) and tempnames._is_temp_of(tempnames._temp_prefix(name), t)


@settings(max_examples=1000)
@given(st.binary(min_size=1, max_size=10),
       _pieces([b"a", b"Z", b"9", b"abcdef", b"\n", b"\xb2", b".", b"-"], 8))
def test_is_temp_of(name: bytes, tail: bytes) -> None:
    prefix = tempnames._temp_prefix(name)
    for candidate in (prefix + tail, tail, prefix[:-1] + tail, prefix + tail[:6]):
        assert tempnames._is_temp_of(prefix, candidate) == old_is_temp_of(prefix, candidate)


def test_remove_stale_temps(tmp_path) -> None:
    names = [b".conf.ldcache-abcdef", b".conf.ldcache-ABC123", b".conf.ldcache-abcde",
             b".conf.ldcache-abcdefg", b".conf.ldcache-abc\xb2ef", b".conf.ldcache-abc ef",
             b".conf.ldcache-ab\ndef", b".conf.ldcache-", b"conf.ldcache-abcdef",
             b".conf.ldcache-abcdef.x", b".other.ldcache-abcdef"]
    prefix = tempnames._temp_prefix(b"conf")
    for n in names:
        (tmp_path / n.decode("utf-8", "surrogateescape")).write_bytes(b"")
    with inroot.Root(tmp_path) as root:
        removed = root.remove_stale_temps(b"/conf")
    left = {p.name.encode("utf-8", "surrogateescape") for p in tmp_path.iterdir()}
    assert left == {n for n in names if not old_is_temp_of(prefix, n)}
    assert removed == len(names) - len(left) == 2


# --------------------------------------------------------------------------------------------
# ldcache.inroot: fnmatch for glob (the regex translation it had, kept as the oracle)


_NEVER = b"(?!)"


def old_bracket(pat: bytes, i: int) -> Optional[Tuple[bytes, int]]:
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
                    cls = inroot_glob._ctype_set(word)
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
    if never:
        return _NEVER, i
    body = b"".join(b"\\x%02x" % m for m in sorted(members))
    if negate:
        return (b"[^" + body + b"]" if body else b"[\\x00-\\xff]"), i
    return (b"[" + body + b"]" if body else _NEVER), i


@functools.lru_cache(maxsize=256)
def old_compile_fnmatch(pat: bytes) -> Callable[[bytes], bool]:
    parts: list[bytes] = []
    i, n = 0, len(pat)
    while i < n:
        c = pat[i]
        i += 1
        if c == 0x2A:  # *
            if not parts or parts[-1] != b".*":
                parts.append(b".*")
        elif c == 0x3F:  # ?
            parts.append(b".")
        elif c == 0x5C:  # backslash
            if i >= n:  # "trailing \ loses"
                return lambda name: False
            parts.append(re.escape(pat[i:i + 1]))
            i += 1
        elif c == 0x5B:  # [
            br = old_bracket(pat, i)
            if br is None:
                parts.append(b"\\[")
            else:
                parts.append(br[0])
                i = br[1]
        else:
            parts.append(re.escape(bytes([c])))
    literal_dot = pat.startswith(b".") or pat.startswith(b"\\.")
    regex = re.compile((b"" if literal_dot else b"(?!\\.)") + b"".join(parts), re.DOTALL)
    match = regex.fullmatch
    return lambda name: match(name) is not None


FNMATCH_PATTERNS = [
    b"*", b"?", b".*", b"\\.*", b"*.conf", b"lib*.so.*", b"*-linux-gnu*", b"ld-musl-*.so.1",
    b"a*b*c", b"*a*", b"**", b"a**b", b"ab*ba", b"[abc]", b"[!abc]*", b"[^a]", b"[]]", b"[!]]",
    b"[]-a]", b"[a-]", b"[z-a]", b"[[:alpha:]]*", b"[[:digit:][:space:]]", b"[[:nope:]]",
    b"[![:nope:]]", b"[[=a=]]", b"[[.a.]]", b"[[.ab.]]", b"[[:alpha:]", b"[", b"[a", b"a[",
    b"[\\]]", b"[\\", b"\\", b"a\\", b"\\*", b"\\?", b"\\[", b"[a\\-z]", b"[a-\\z]", b"[.]*",
    b"?*", b"*?", b"*\n*", b"?\n", b"[\n]", b"[\x80-\xff]*", b"\xff*", b"[!\x00-\xfe]", b"*[",
    b"[*]", b"[?]", b"*[0-9]", b"[[:punct:]]", b"[[:cntrl:][:xdigit:]]*", b".", b"..",
    b"*.*.*", b"?.?", b"[-]", b"[!-]", b"[]a-]", b"[^]]*", b"a*a*a*a*b",
]
FNMATCH_NAMES = [b"", b".", b"..", b"a", b"b", b"abc", b".hidden", b"x.conf", b".x.conf",
                 b"libc.so.6", b"x86_64-linux-gnu", b"ld-musl-x86_64.so.1", b"ld-musl-.so.1",
                 b"aba", b"abba", b"abXba", b"]", b"-", b"\\", b"*", b"?", b"[", b"a\nb",
                 b"\n", b"\xff", b"\x80x", b"\x00", b"9", b"1a", b"aaaab", b"aaaa", b"z",
                 b"[a", b"a[", b"A", b" ", b"\t", b"!", b"^", b".*", b"ab.c.d"]


@pytest.mark.parametrize("pat", FNMATCH_PATTERNS)
def test_fnmatch_cases(pat: bytes) -> None:
    new, old = inroot_glob._compile_fnmatch(pat), old_compile_fnmatch(pat)
    for name in FNMATCH_NAMES:
        assert new(name) == old(name), (pat, name)


_PAT_PARTS = [b"*", b"?", b"[", b"]", b"!", b"^", b"-", b"\\", b".", b"a", b"b", b"\n",
              b"\xff", b"[:alpha:]", b"[:digit:]", b"[:bogus:]", b"[=a=]", b"[.b.]", b"[.ab.]",
              b"a-c", b"0"]
_NAME_PARTS = [b"a", b"b", b"c", b".", b"-", b"]", b"[", b"!", b"\n", b"\xff", b"0", b"\\",
               b"*", b"?", b"ab", b"aab"]


@settings(max_examples=2000)
@given(_pieces(_PAT_PARTS, 8), st.lists(_pieces(_NAME_PARTS, 8), min_size=1, max_size=8))
def test_fnmatch(pat: bytes, names: list[bytes]) -> None:
    new, old = inroot_glob._make_fnmatch(pat), old_compile_fnmatch(pat)
    for name in names + FNMATCH_NAMES[:12]:
        assert new(name) == old(name), (pat, name)


def test_fnmatch_cache_bounded() -> None:
    for k in range(600):
        inroot_glob._compile_fnmatch(b"*%d" % k)
        assert len(inroot_glob._fnmatch_cache) <= 256
    assert inroot_glob._compile_fnmatch(b"*7")(b"x7") and \
        not inroot_glob._compile_fnmatch(b"*7")(b"7x")


# --------------------------------------------------------------------------------------------
# hook.update_ldcache: musl ARCH names, .path file entries


_OLD_MUSL_ARCH = re.compile(rb"[A-Za-z0-9_+-]+")


@settings(max_examples=1000)
@given(st.one_of(_bytes_of(b"azAZ09_+-.\n/", 12), st.binary(max_size=8)))
@example(b"")
@example(b"x86_64")
@example(b"x86_64\n")
@example(b"arm\xb2")
@example("arm٣".encode())
def test_musl_arch(arch: bytes) -> None:
    assert update_ldcache._is_musl_arch(arch) == (_OLD_MUSL_ARCH.fullmatch(arch) is not None)


@settings(max_examples=1000)
@given(_bytes_of(b":\n/lib\r", 30))
@example(b"")
@example(b":")
@example(b"\n")
@example(b"/lib:/usr/lib\n/x\r\n::")
def test_path_entries(data: bytes) -> None:
    assert update_ldcache._path_entries(data) == re.split(rb"[:\n]", data)


# --------------------------------------------------------------------------------------------
# hook.chmod.parse_mode: [0-7]+


_OLD_OCTAL = re.compile(r"[0-7]+")


def old_parse_mode(text: str) -> int:
    if not text.strip():
        raise HookError("a non-empty mode must be specified")
    if not _OLD_OCTAL.fullmatch(text):
        raise HookError(f"failed to parse mode {text!r} as octal")
    mode = int(text, 8)
    if mode > 0o7777:
        raise HookError(f"mode {text!r} is out of range (at most 7777)")
    return mode


MODE_CASES = ["", " ", "755", "0755", "07777", "10000", "7778", "8", "٣", "7٣", "²", "75 ",
              " 75", "75\n", "\t", "0", "00000000000000755", "-7", "+7", "0o7", "7_5", "０",
              "\u00a0", "7\u00a0"]


@pytest.mark.parametrize("text", MODE_CASES)
def test_parse_mode_cases(text: str) -> None:
    assert _outcome(lambda: chmod.parse_mode(text)) == _outcome(lambda: old_parse_mode(text))


@settings(max_examples=1000)
@given(st.one_of(_chars("012345678 \t\n_", 8), st.text(max_size=6)))
def test_parse_mode(text: str) -> None:
    assert _outcome(lambda: chmod.parse_mode(text)) == _outcome(lambda: old_parse_mode(text))


# --------------------------------------------------------------------------------------------
# hook.application_profile: nvidia[0-9]+


_OLD_GPU_NAME = re.compile(r"nvidia[0-9]+")


@settings(max_examples=1000)
@given(st.one_of(_chars("nvidia0123456789ctl-", 12).map(lambda s: "nvidia" + s),
                 _chars("nvidia0123456789", 10), st.text(max_size=10)))
@example("nvidia")
@example("nvidia0")
@example("nvidia12")
@example("nvidia٣")
@example("nvidia²")
@example("nvidia0\n")
@example("nvidiactl")
@example("nvidia-uvm")
@example("Nvidia0")
@example("nvidia\udcff")
def test_gpu_name(name: str) -> None:
    want = _OLD_GPU_NAME.fullmatch(name) is not None
    assert application_profile._is_gpu_name(name) == want
    node = application_profile.DeviceNode(name, True, 3)
    assert application_profile.select_gpu_minors([node]) == ([3] if want else [])


# --------------------------------------------------------------------------------------------
# hook.cuda_compat: libcuda.so.*.*, the semantic versions, the uuid, the records


_OLD_LIB = re.compile(rb"libcuda\.so\..*\..*", re.S)


@settings(max_examples=1000)
@given(_pieces([b"libcuda.so.", b"libcuda.so", b".", b"1", b"\n", b"x", b"libcuda"], 6))
@example(b"libcuda.so.575.57.08")
@example(b"libcuda.so.1")
@example(b"libcuda.so..")
@example(b"libcuda.so.\n.\n")
@example(b"libcuda.so.1.")
@example(b"libcudaXso.1.2")
def test_compat_lib_name(name: bytes) -> None:
    assert cuda_compat._is_compat_lib(name) == (_OLD_LIB.fullmatch(name) is not None)


_OLD_LOOSE = re.compile(r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
                        r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                        r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")


@dataclasses.dataclass(frozen=True)
class OldSemVer:
    major: int
    minor: int
    patch: int
    pre: str = ""


def old_parse_semver(text: str) -> Optional[OldSemVer]:
    if not text or len(text) > 256:
        return None
    m = _OLD_LOOSE.fullmatch(text)
    if m is None:
        return None
    nums = [int(m.group(1)), int((m.group(2) or ".0")[1:]), int((m.group(3) or ".0")[1:])]
    if any(n > cuda_compat._U64 for n in nums):
        return None
    pre = m.group(5) or ""
    for part in pre.split(".") if pre else ():
        if part.isdigit() and len(part) > 1 and part[0] == "0":
            return None
    return OldSemVer(nums[0], nums[1], nums[2], pre)


def _same_semver(new: Optional[cuda_compat.SemVer], old: Optional[OldSemVer]) -> bool:
    if new is None or old is None:
        return new is None and old is None
    return (new.major, new.minor, new.patch, new.pre) == dataclasses.astuple(old)


SEMVER_CASES = ["", "v", "1", "v1", "V1", "1.2", "1.2.3", "1.2.3.4", "01.002.0003", "1.",
                "1..2", ".1", "1.2.", "1-", "1-a", "1-a.", "1-.a", "1-a..b", "1-a-b.c-d",
                "1.2.3-alpha.1+build.5", "1+b", "1+", "1+b+c", "1-a+b-c.d", "1-+b", "1--",
                "1-01", "1-0", "1-a.01", "1-٣", "1.٣", "٣", "1.²", "1²", "1-a_b", "1 ",
                " 1", "1\n", "1-a\n", "v1.2.3-rc.1", "18446744073709551615",
                "18446744073709551616", "1.18446744073709551616", "1" * 256, "1" * 257,
                "575.57.08", "535.104.05", "12.9", "vv1", "1-a+b.", "1-a+.b"]


@pytest.mark.parametrize("text", SEMVER_CASES)
def test_parse_semver_cases(text: str) -> None:
    assert _same_semver(cuda_compat.parse_semver(text), old_parse_semver(text)), text


_SEMVER_PARTS = ["v", "1", "0", "12", "007", ".", "-", "+", "a", "Z", "rc", "٣", "²", "_",
                 " ", "\n", "-a.1", "+b"]


@settings(max_examples=3000)
@given(st.one_of(st.lists(st.sampled_from(_SEMVER_PARTS), max_size=10).map("".join),
                 st.text(max_size=12)))
def test_parse_semver(text: str) -> None:
    assert _same_semver(cuda_compat.parse_semver(text), old_parse_semver(text)), text


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=16))
@example(b"\0" * 16)
@example(b"\xff" * 16)
def test_uuid4_text(raw: bytes) -> None:
    assert cuda_compat._uuid4_text(raw) == str(uuid.UUID(bytes=raw, version=4))


def test_uuid4_text_random() -> None:
    import os

    for _ in range(50):
        text = cuda_compat._uuid4_text(os.urandom(16))
        u = uuid.UUID(text)
        assert str(u) == text and u.version == 4 and u.variant == uuid.RFC_4122


@dataclasses.dataclass(frozen=True)
class OldCompatNote:
    cuda_version: str
    driver: Tuple[int, ...]
    device: Tuple[int, ...]
    format: int = 0


@pytest.mark.parametrize("new,old", [
    (lambda: cuda_compat.SemVer(1, 2, 3), lambda: OldSemVer(1, 2, 3)),
    (lambda: cuda_compat.SemVer(1, 2, 3, "rc.1"), lambda: OldSemVer(1, 2, 3, "rc.1")),
    (lambda: cuda_compat.SemVer(major=1, minor=2, patch=3, pre="a"),
     lambda: OldSemVer(major=1, minor=2, patch=3, pre="a")),
    (lambda: cuda_compat.CompatNote("12.9", (535, 550), ()),
     lambda: OldCompatNote("12.9", (535, 550), ())),
    (lambda: cuda_compat.CompatNote("", (), (1,), format=1),
     lambda: OldCompatNote("", (), (1,), format=1)),
])
def test_records_behave_as_the_dataclasses(new: Callable[[], object],
                                           old: Callable[[], object]) -> None:
    a, b, o = new(), new(), old()
    assert a == b and not a != b and hash(a) == hash(b)
    assert hash(a) == hash(dataclasses.astuple(o))  # type: ignore[call-overload]
    # The repr is the dataclass's, but for the class name.
    assert repr(a).split("(", 1)[1] == repr(o).split("(", 1)[1]
    assert repr(a).startswith(type(a).__qualname__ + "(")
    assert a != o and a != dataclasses.astuple(o)  # type: ignore[call-overload]
    field = type(a).__slots__[0]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        setattr(a, field, 0)
    with pytest.raises(AttributeError):
        delattr(a, field)
    with pytest.raises(AttributeError):
        a.other = 1  # type: ignore[attr-defined]
    assert getattr(a, field) == getattr(o, field)


def test_semver_compare_unchanged() -> None:
    vs = [cuda_compat.parse_semver(t) for t in ("1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta",
                                                "1.0.0-beta.2", "1.0.0-rc.1", "1.0.0", "1.2")]
    assert all(v is not None for v in vs)
    for i, a in enumerate(vs):
        for j, b in enumerate(vs):
            assert a.compare(b) == (i > j) - (i < j)
