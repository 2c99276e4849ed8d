"""``enable-cuda-compat --host-driver-version=V [--host-cuda-version=C]
[--cuda-compat-container-root=DIR]``: use the image's CUDA forward-compatibility libraries
when the host driver is older than they need.

Decided as NVIDIA's hook decides it:

* no host driver version and no host CUDA version: nothing to do (the state is not read);
* the compat directory (default ``/usr/local/cuda/compat``, resolved inside the root) must
  hold exactly one regular file ``libcuda.so.*.*``; its name gives the compat driver version;
* if that library has an ELF section ``.note.cuda.fwd_compatibility`` (a note from "NVIDIA
  Corporation" whose descriptor is JSON: ``{"CUDA Version": "12.9", "Driver": [535, 550],
  …}``): with both driver versions known, use the compat libraries when the host driver's
  major version is listed and the compat driver is newer (semantic-version order); without
  them, when the note's CUDA version is newer than the host CUDA version;
* otherwise, if a host CUDA version was given, do not use them; else use them when the host
  driver's major version is below the compat driver's.

Using them means writing ``/etc/ld.so.conf.d/00-compat-<uuid>.conf`` (mode 0644) naming the
resolved compat directory; ``00-compat-`` sorts before ``00-nvcr-``, so the update-ldcache
hook that follows puts these libraries first.  The library file is read through
:class:`ldcache.inroot.Root`, its note with :func:`ldcache.elf.read_note` (every read
bounded); a malformed file only costs the note (a warning), never the hook.
"""

from __future__ import annotations

import stat

from ldcache import _os as os
from ldcache.errors import RootError
from ldcache.inroot import DT_REG, Root

from .context import Context, HookError, why
from .log import Log
from .paths import in_root

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Optional, Tuple

__all__ = ["run", "SemVer", "parse_semver", "CompatNote", "read_compat_note",
           "use_compat_libraries", "compat_dir"]

NOTE_SECTION = b".note.cuda.fwd_compatibility"
NOTE_OWNER = b"NVIDIA Corporation"
_LIB_PREFIX = b"libcuda.so."


def _is_compat_lib(name: bytes) -> bool:
    """``libcuda.so.*.*``: ``libcuda.so.`` followed by anything that holds a ``.``."""
    return name.startswith(_LIB_PREFIX) and b"." in name[len(_LIB_PREFIX):]


class _Frozen:
    """What ``@dataclass(frozen=True)`` gave — equality (field by field, with an instance of
    the same class only), a hash, a repr ``Name(field=value, …)``, no assignment — for a class
    whose ``__slots__`` are its fields (``dataclasses`` costs the hook milliseconds to import)."""

    __slots__: Tuple[str, ...] = ()

    def _values(self) -> Tuple[Any, ...]:
        return tuple(getattr(self, f) for f in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self.__slots__)
        return f"{self.__class__.__qualname__}({fields})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")


# --------------------------------------------------------------------------------------------
# semantic versions (Masterminds/semver NewVersion with coercion, as NVIDIA's hook uses)

_U64 = (1 << 64) - 1
#: The characters of one dot-separated identifier of a pre-release or build part.
_IDENT_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"


class SemVer(_Frozen):
    __slots__ = ("major", "minor", "patch", "pre")
    major: int
    minor: int
    patch: int
    pre: str

    def __init__(self, major: int, minor: int, patch: int, pre: str = "") -> None:
        object.__setattr__(self, "major", major)
        object.__setattr__(self, "minor", minor)
        object.__setattr__(self, "patch", patch)
        object.__setattr__(self, "pre", pre)

    def compare(self, other: "SemVer") -> int:
        for a, b in ((self.major, other.major), (self.minor, other.minor),
                     (self.patch, other.patch)):
            if a != b:
                return -1 if a < b else 1
        if self.pre == other.pre:
            return 0
        if not self.pre:
            return 1
        if not other.pre:
            return -1
        return _compare_pre(self.pre, other.pre)


def _compare_pre(a: str, b: str) -> int:
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb):
        if x == y:
            continue
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            return -1 if int(x) < int(y) else 1
        if xn:
            return -1
        if yn:
            return 1
        return -1 if x < y else 1
    if len(pa) == len(pb):
        return 0
    return -1 if len(pa) < len(pb) else 1


def _digits_end(text: str, i: int) -> int:
    """The end of the run of ASCII digits 0-9 at ``text[i]`` (``i`` when there is none)."""
    n = len(text)
    while i < n and "0" <= text[i] <= "9":
        i += 1
    return i


def _dotted(text: str) -> bool:
    """One or more identifiers of ``[0-9A-Za-z-]`` separated by single dots."""
    return all(part and not part.strip(_IDENT_CHARS) for part in text.split("."))


def _loose_parts(text: str) -> Optional[Tuple[str, str, str, str]]:
    """The coercing grammar (``v?MAJOR(.MINOR)?(.PATCH)?(-PRE)?(+BUILD)?``, numbers of ASCII
    digits, PRE and BUILD dotted identifiers) matched by the whole ``text``: (major, minor,
    patch, pre), minor and patch "0" and pre "" when absent; None when it does not match."""
    i = 1 if text.startswith("v") else 0
    end = _digits_end(text, i)
    if end == i:
        return None
    nums = [text[i:end], "0", "0"]
    for k in (1, 2):
        if text[end:end + 1] != ".":
            break
        more = _digits_end(text, end + 1)
        if more == end + 1:
            break
        nums[k] = text[end + 1:more]
        end = more
    rest = text[end:]
    pre = ""
    if rest.startswith("-"):
        plus = rest.find("+")
        pre = rest[1:] if plus < 0 else rest[1:plus]
        if not _dotted(pre):
            return None
        rest = "" if plus < 0 else rest[plus:]
    if rest.startswith("+"):
        if not _dotted(rest[1:]):
            return None
        rest = ""
    if rest:
        return None
    return nums[0], nums[1], nums[2], pre


def parse_semver(text: str) -> Optional[SemVer]:
    """``semver.NewVersion`` (coercing): "575.57.08" → 575.57.8; None when not a version."""
    if not text or len(text) > 256:
        return None
    parts = _loose_parts(text)
    if parts is None:
        return None
    nums = [int(parts[0]), int(parts[1]), int(parts[2])]
    if any(n > _U64 for n in nums):
        return None
    pre = parts[3]
    for part in pre.split(".") if pre else ():
        if part.isdigit() and len(part) > 1 and part[0] == "0":
            return None
    return SemVer(nums[0], nums[1], nums[2], pre)


# --------------------------------------------------------------------------------------------
# the ELF note


class CompatNote(_Frozen):
    __slots__ = ("cuda_version", "driver", "device", "format")
    cuda_version: str
    driver: Tuple[int, ...]
    device: Tuple[int, ...]
    format: int

    def __init__(self, cuda_version: str, driver: Tuple[int, ...], device: Tuple[int, ...],
                 format: int = 0) -> None:
        object.__setattr__(self, "cuda_version", cuda_version)
        object.__setattr__(self, "driver", driver)
        object.__setattr__(self, "device", device)
        object.__setattr__(self, "format", format)

    def use_compat(self, compat: Optional[SemVer], host_driver: Optional[SemVer],
                   host_cuda: Optional[SemVer]) -> bool:
        if compat is None or host_driver is None:
            if host_cuda is not None:
                mine = parse_semver(self.cuda_version) if self.cuda_version else None
                return mine is not None and mine.compare(host_cuda) > 0
            return False
        if host_driver.major not in self.driver:
            return False
        return compat.compare(host_driver) > 0


class _NoteError(Exception):
    pass


def _as_int(v: Any) -> int:
    if type(v) is not int:
        raise _NoteError("not an integer")
    return v


def _field(obj: dict, key: str) -> Any:
    """Go's encoding/json field matching: exact key, else case-insensitive (last wins)."""
    if key in obj:
        return obj[key]
    found = None
    for k, v in obj.items():
        if k.lower() == key.lower():
            found = v
    return found


def read_compat_note(fd: int, size: int) -> Optional[CompatNote]:
    """The forward-compatibility note of the library open at ``fd``; None when it has none.
    Raises ValueError (with a reason) for an unreadable file or malformed note."""
    from ldcache.elf import read_note  # only for a compat library (elf costs milliseconds)
    from ldcache.errors import ELFError

    try:
        desc = read_note(fd, size, NOTE_OWNER, section=NOTE_SECTION)
        if desc is None:
            return None
        desc = desc.strip(b"\0")
        if not desc:
            return None
        import json  # only for a library with the note (json and re cost milliseconds)

        try:
            obj = json.loads(desc.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise _NoteError(f"could not unmarshal JSON data: {e}") from None
        if not isinstance(obj, dict):
            raise _NoteError("could not unmarshal JSON data: not an object")
        cuda = _field(obj, "CUDA Version")
        if cuda is not None and not isinstance(cuda, str):
            raise _NoteError("could not unmarshal JSON data: CUDA Version is not a string")
        driver = _field(obj, "Driver")
        device = _field(obj, "Device")
        fmt = _field(obj, "Format")
        lists: list[Tuple[int, ...]] = []
        for v in (driver, device):
            if v is None:
                lists.append(())
            elif isinstance(v, list):
                lists.append(tuple(_as_int(x) for x in v))
            else:
                raise _NoteError("could not unmarshal JSON data: not a list")
        return CompatNote(cuda or "", lists[0], lists[1], 0 if fmt is None else _as_int(fmt))
    except (_NoteError, ELFError, OSError) as e:
        raise ValueError(str(e) if not isinstance(e, OSError) else e.strerror) from None


def use_compat_libraries(lib_name: str, note: Optional[CompatNote], host_driver: str,
                         host_cuda: str, log: Log) -> bool:
    compat_text = lib_name[len("libcuda.so."):]
    compat = parse_semver(compat_text)
    if compat is None:
        log.warning(f"failed to parse compat driver version {compat_text!r}")
    driver = parse_semver(host_driver)
    if driver is None and host_driver:
        log.warning(f"failed to parse host driver version {host_driver!r}")
    cuda = parse_semver(host_cuda)
    if cuda is None and host_cuda:
        log.warning(f"failed to parse host CUDA version {host_cuda!r}")
    if note is not None:
        return note.use_compat(compat, driver, cuda)
    if host_cuda:
        return False
    if driver is None or compat is None:
        return False
    if driver.major < compat.major:
        return True
    log.debug(f"Compat major version is not greater than the host driver major version "
              f"({host_driver} >= {compat_text})")
    return False


def compat_dir(root: Root, compat_root: str, host_driver: str, host_cuda: str,
               log: Log) -> Optional[bytes]:
    """The resolved in-root compat directory to configure, or None."""
    want = in_root(compat_root)
    if not root.exists(want):
        log.debug("No CUDA forward compatibility libraries directory in container")
        return None
    try:
        resolved = root.resolve(want)
        entries = root.listdir(resolved)
    except RootError as e:
        log.warning(f"Failed to find CUDA compat library: {why(e)}")
        return None
    libs = sorted(name for name, dt in entries if dt == DT_REG and _is_compat_lib(name))
    if not libs:
        log.debug("No CUDA forward compatibility libraries in container")
        return None
    if len(libs) != 1:
        log.warning(f"Unexpected number of CUDA compat libraries in container: "
                    f"{[os.fsdecode(n) for n in libs]}")
        return None
    lib = (resolved.rstrip(b"/") + b"/" + libs[0])
    try:
        fd = root.open(lib, follow=False)
    except RootError as e:
        raise HookError(f"failed to open CUDA compat library {os.fsdecode(lib)}: "
                        f"{why(e)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        try:
            note = read_compat_note(fd, st.st_size)
        except ValueError as e:
            log.warning(f"failed to get ELF header from CUDA compat library: {e}")
            note = None
    finally:
        os.close(fd)
    if not use_compat_libraries(os.fsdecode(libs[0]), note, host_driver, host_cuda, log):
        return None
    return resolved


def _uuid4_text(raw: bytes) -> str:
    """``str(uuid.UUID(bytes=raw, version=4))`` for 16 random bytes ``raw`` (what
    ``str(uuid.uuid4())`` is; ``uuid`` costs milliseconds to import): the version nibble 4,
    the RFC 4122 variant bits, lower-case hex as 8-4-4-4-12."""
    b = bytearray(raw)
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def run(ctx: Context) -> None:
    host_driver = ctx.string("host-driver-version")
    host_cuda = ctx.string("host-cuda-version")
    if not host_driver and not host_cuda:
        ctx.log.debug("Neither a host driver version nor a host CUDA version was specified")
        return
    compat_root = ctx.string("cuda-compat-container-root") or "/usr/local/cuda/compat"
    ctx.container_root()  # the OCI state is read (and checked) first
    with ctx.open_root() as root:
        d = compat_dir(root, compat_root, host_driver, host_cuda, ctx.log)
        if d is None:
            return
        # (update-ldcache's module, ~0.3 ms to load, only when there is a drop-in to write)
        from .update_ldcache import write_dropin

        path = write_dropin(root, b"00-compat-", [d], lambda: _uuid4_text(os.urandom(16)))
        ctx.log.debug(f"Adding directories [{os.fsdecode(d)}] to {os.fsdecode(path)}")

