"""The OCI container state a runtime hands a hook, and the container root it names.

A runtime writes the state (``ociVersion``, ``id``, ``status``, ``pid``, ``bundle``,
``annotations``; crun also ``root``) as JSON on the hook's standard input.  The root is the
state's ``root`` where the runtime supplies one; otherwise ``root.path`` of
``BUNDLE/config.json``, relative to the bundle when relative.

Like Go's ``json.Decoder``, the first JSON value is used and anything after it is ignored.
Every read is bounded (:data:`MAX_STATE_BYTES`, :data:`MAX_CONFIG_BYTES`).  The bundle and
its ``config.json`` belong to the runtime (host paths), not to the image; ``config.json`` is
still only opened if it is a regular file, without blocking.
"""

from __future__ import annotations

import stat

from ldcache import _os as os
from ldcache._record import Record
from ldcache.errors import LdcacheError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, BinaryIO, Dict, Optional

__all__ = ["State", "StateError", "load_state", "read_state", "container_root",
           "MAX_STATE_BYTES", "MAX_CONFIG_BYTES"]

#: Largest state accepted (a state is a few hundred bytes plus annotations).
MAX_STATE_BYTES = 4 << 20
#: Largest config.json accepted.
MAX_CONFIG_BYTES = 64 << 20


class StateError(LdcacheError):
    """The container state, or the bundle's config.json, cannot be used."""


class State(Record):
    id: str
    bundle: str
    #: The state's non-standard ``root`` (crun), "" when absent.
    root: str
    raw: Dict[str, Any]


def _read_bounded(stream: BinaryIO, limit: int, what: str) -> bytes:
    chunks = []
    total = 0
    while True:
        chunk = stream.read(min(1 << 16, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise StateError(f"{what} is larger than {limit} bytes")
    return b"".join(chunks)


class _ScanContext:
    """What ``json.JSONDecoder()`` hands the C scanner: the same settings, so the same
    values."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__
    memo: Dict[str, Any] = {}


def _scan_first(text: str) -> Any:
    """The first JSON value of ``text`` with the C scanner that ``json`` itself uses,
    without importing ``json`` (which imports ``re``: more start-up time than a small hook's
    whole job).  Any failure raises, and the caller decodes again with ``json`` for its
    exact error message; where ``_json`` is missing, that is every time."""
    import _json

    ctx = _ScanContext()
    ctx.memo = {}
    value, _ = _json.make_scanner(ctx)(text, 0)  # type: ignore[arg-type]
    return value


def _decode_first(data: bytes, what: str) -> Any:
    """The first JSON value in ``data`` (what follows it is ignored, as Go's Decoder does)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise StateError(f"failed to decode {what}: not UTF-8 ({e.reason} at byte "
                         f"{e.start})") from None
    text = text.lstrip(" \t\r\n")
    if not text:
        raise StateError(f"failed to decode {what}: no JSON data (empty input)")
    try:
        return _scan_first(text)
    except Exception:  # noqa: BLE001 - decoded again below, for json's own message
        pass
    import json

    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as e:
        raise StateError(f"failed to decode {what}: {e.msg} at line {e.lineno} "
                         f"column {e.colno}") from None
    except RecursionError:
        raise StateError(f"failed to decode {what}: nested too deeply") from None
    return value


def _string_field(obj: Dict[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StateError(f"failed to decode {what}: field {key!r} is not a string")
    if "\0" in value:
        raise StateError(f"{what}: field {key!r} contains a NUL byte")
    return value


def read_state(stream: BinaryIO) -> State:
    """Parse a state from ``stream`` (bounded)."""
    data = _read_bounded(stream, MAX_STATE_BYTES, "container state")
    value = _decode_first(data, "container state")
    if not isinstance(value, dict):
        raise StateError("failed to decode container state: not a JSON object")
    return State(id=_string_field(value, "id", "container state"),
                 bundle=_string_field(value, "bundle", "container state"),
                 root=_string_field(value, "root", "container state"),
                 raw=value)


def load_state(spec: Optional[str], stdin: BinaryIO) -> State:
    """The state from ``spec`` (a host file), or from ``stdin`` when ``spec`` is empty or '-'.

    Errors are :class:`StateError` with one line saying what is wrong.
    """
    if not spec or spec == "-":
        try:
            return read_state(stdin)
        except StateError as e:
            raise StateError(f"failed to load container state: {e}") from None
        except OSError as e:
            raise StateError(f"failed to load container state: reading standard input: "
                             f"{e.strerror or e}") from None
    try:
        with _open_regular(spec, "container state") as f:
            return read_state(f)
    except StateError as e:
        raise StateError(f"failed to load container state: {e}") from None


def _open_regular(path: str, what: str) -> BinaryIO:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise StateError(f"failed to open {what} {path}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateError(f"{what} {path} is not a regular file")
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _config_root(bundle: str) -> str:
    """``root.path`` of ``BUNDLE/config.json``."""
    if not bundle:
        raise StateError("failed to determine container root: the state has neither a "
                         "'root' nor a 'bundle'")
    path = os.join(bundle, "config.json")
    with _open_regular(path, "OCI spec file") as f:
        data = _read_bounded(f, MAX_CONFIG_BYTES, f"OCI spec file {path}")
    spec = _decode_first(data, f"OCI spec file {path}")
    if not isinstance(spec, dict):
        raise StateError(f"failed to load OCI spec file {path}: not a JSON object")
    root = spec.get("root")
    if root is None:
        raise StateError(f"failed to determine container root: {path} has no 'root'")
    if not isinstance(root, dict):
        raise StateError(f"failed to load OCI spec file {path}: 'root' is not an object")
    value = root.get("path")
    if not isinstance(value, str) or not value:
        raise StateError(f"failed to determine container root: {path} has no 'root.path'")
    if "\0" in value:
        raise StateError(f"OCI spec file {path}: 'root.path' contains a NUL byte")
    return value


def container_root(state: State) -> str:
    """The container's root directory on the host (absolute, normalised).

    The state's ``root`` if present, else ``root.path`` of the bundle's config.json; a
    relative path is relative to the bundle.  Never empty.
    """
    root = state.root or _config_root(state.bundle)
    if not os.isabs(root):
        if not state.bundle or not os.isabs(state.bundle):
            raise StateError(f"failed to determine container root: relative root path "
                             f"{root!r} and no absolute bundle path")
        root = os.join(state.bundle, root)
    return os.normpath_linux(root)

