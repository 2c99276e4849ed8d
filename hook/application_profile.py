"""``update-application-profile``: which GPUs EGL and Vulkan may see in the container.

The NVIDIA driver reads "application profiles" from
``/etc/nvidia/nvidia-application-profiles-rc.d``; its ``EGLVisibleDGPUDevices`` setting is
a bit mask of GPU minor numbers.  This hook writes
``/etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf`` in the container root
holding one profile that sets it, for every application, to the mask of the GPUs the
container was given:

* the entries of the root's ``/dev`` (reached in-root; a missing ``/dev`` means none)
  whose type, as the directory reports it, is a character device and whose name is
  ``nvidia`` followed by decimal digits (``nvidia0``, ``nvidia12``; not ``nvidiactl``,
  ``nvidia-uvm``, ``nvidia-caps``…) contribute bit ``minor`` of their device number;
  a minor outside 0–63 is dropped with a warning;
* with no such device (or only dropped ones) nothing is written;
* otherwise missing directories are created (mode 0555) and the file is written
  atomically, mode 0444, without a trailing newline, in the driver's profile syntax
  (a JSON-like text with the mask as a hexadecimal literal).

As with NVIDIA's hook, any other failure to list ``/dev`` or to stat one of its
character devices is an error.  Unlike it, the file is replaced (a temporary renamed over
it) rather than rewritten in place: a symlink there is replaced, never written through, and
an existing file ends up with mode 0444.
"""

from __future__ import annotations

import errno

from ldcache import _os as os
from ldcache._record import Record
from ldcache.errors import RootError
from ldcache.inroot import DT_CHR, Root

from .context import Context, HookError, why
from .log import Log

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterable, List

__all__ = ["run", "DeviceNode", "select_gpu_minors", "gpu_mask", "profile_config",
           "list_device_nodes", "PROFILE_DIR", "PROFILE_FILE", "MAX_MINOR"]

PROFILE_DIR = b"/etc/nvidia/nvidia-application-profiles-rc.d"
PROFILE_FILE = PROFILE_DIR + b"/10-container.conf"
#: Minor numbers the 64-bit mask can hold: 0 to MAX_MINOR.
MAX_MINOR = 63

_GPU_PREFIX = "nvidia"
_PROFILE_NAME = "_container_"
_SETTING = "EGLVisibleDGPUDevices"


class DeviceNode(Record):
    """An entry of the container's ``/dev``: its name, whether it is a character device,
    and (only meaningful for one) its minor number."""

    name: str
    is_char_device: bool
    minor: int


def select_gpu_minors(nodes: Iterable[DeviceNode]) -> List[int]:
    """The minor numbers of the GPU nodes (``nvidiaN`` character devices), in order."""
    return [n.minor for n in nodes if n.is_char_device and _is_gpu_name(n.name)]


def _is_gpu_name(name: str) -> bool:
    """``nvidia`` followed by one or more ASCII decimal digits."""
    digits = name[len(_GPU_PREFIX):]
    return name.startswith(_GPU_PREFIX) and bool(digits) and not digits.strip("0123456789")


def gpu_mask(minors: Iterable[int], log: Log) -> int:
    """Bit ``m`` for every minor ``m`` in 0..MAX_MINOR; others dropped with a warning."""
    mask = 0
    for m in minors:
        if 0 <= m <= MAX_MINOR:
            mask |= 1 << m
        else:
            log.warning(f"ignoring GPU minor number {m}: the mask holds 0 to {MAX_MINOR}")
    return mask


def profile_config(mask: int) -> bytes:
    """The profile file: ``EGLVisibleDGPUDevices`` = ``mask`` for every application."""
    profile = f'{{"name":"{_PROFILE_NAME}","settings":["{_SETTING}",{mask:#x}]}}'
    rule = f'{{"pattern":[],"profile":"{_PROFILE_NAME}"}}'
    return f'{{"profiles":[{profile}],"rules":[{rule}]}}'.encode()


def list_device_nodes(root: Root) -> List[DeviceNode]:
    """The entries of the root's ``/dev`` in directory order ([] when there is none); a
    character device's minor number from its lstat."""
    try:
        d = root.opendir(b"/dev")
    except RootError as e:
        if e.errno == errno.ENOENT:
            return []
        raise HookError(f"cannot list /dev in the container: {why(e)}") from None
    nodes = []
    with d:
        try:
            entries = d.entries()
        except RootError as e:
            raise HookError(f"cannot list /dev in the container: {why(e)}") from None
        for name, dtype in entries:
            char = dtype == DT_CHR
            minor = 0
            if char:
                try:
                    minor = os.minor(d.lstat(name).st_rdev)
                except RootError as e:
                    raise HookError(f"cannot stat /dev/{os.fsdecode(name)} in the "
                                    f"container: {why(e)}") from None
            nodes.append(DeviceNode(os.fsdecode(name), char, minor))
    return nodes


def run(ctx: Context) -> None:
    with ctx.open_root() as root:
        minors = select_gpu_minors(list_device_nodes(root))
        if not minors:
            ctx.log.debug("no /dev/nvidiaN device in the container: nothing to do")
            return
        mask = gpu_mask(minors, ctx.log)
        if not mask:
            ctx.log.debug("no usable GPU minor number: nothing to do")
            return
        shown = os.fsdecode(PROFILE_FILE)
        try:
            root.makedirs(PROFILE_DIR, 0o555)
            root.remove_stale_temps(PROFILE_FILE)
            root.write_atomic(PROFILE_FILE, profile_config(mask), 0o444)
        except RootError as e:
            raise HookError(f"cannot write {shown}: {why(e)}") from None
    ctx.log.debug(f"wrote {shown}: {_SETTING} {mask:#x}")
