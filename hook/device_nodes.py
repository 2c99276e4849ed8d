"""``disable-device-node-modification``: keep the NVIDIA driver from making device nodes.

The NVIDIA kernel module reports its parameters in ``/proc/driver/nvidia/params``; the
user-space driver reads ``ModifyDeviceFiles`` there to decide whether it may create or
change ``/dev/nvidia*`` nodes.  In a container it must not, so when the host's file says
``ModifyDeviceFiles: 1``, the container is shown a copy that says ``ModifyDeviceFiles: 0``:

1. the host's ``/proc/driver/nvidia/params`` is read (it is the host's, not the image's);
   when it does not exist, or no line is exactly ``ModifyDeviceFiles: 1``, or a line is
   exactly ``ModifyDeviceFiles: 0``, there is nothing to do and the container state is not
   even read (as with NVIDIA's hook);
2. otherwise the copy — every line kept, that one changed, each line ended by ``\\n``
   (lines are split as Go's ``bufio.ScanLines`` splits them: at ``\\n``, one trailing
   ``\\r`` dropped) — is mounted read-only (mode 0444, ``ro,nosuid,nodev,noexec``) over
   ``/proc/driver/nvidia/params`` in the container root by
   :meth:`ldcache.inroot.Root.mount_readonly_copy`, held on a private tmpfs.

The hook must run where the container's mounts are made (an OCI ``createContainer`` hook,
as NVIDIA's CDI specs use it, runs in the container's mount namespace before the pivot);
it enters no namespace itself.  A missing ``/proc/driver/nvidia/params`` in the root is
an error, as with NVIDIA's hook.

How the mount is made (see :meth:`~ldcache.inroot.Root.mount_readonly_copy`): the target
is resolved inside the root to an ``O_PATH`` handle and the kernel is only given handles.
With the fd-based mount API the tmpfs is never attached anywhere: it is made and filled
detached, the single-file clone is made read-only while still detached and moved onto the
target handle — nothing is created in the image, nothing is visible half-made.  Kernels
without it get ``mount(2)`` through ``/proc/self/fd/N`` and a scratch directory in the
image's ``/run``, removed afterwards.
"""

from __future__ import annotations

import errno
import stat

from ldcache import _os as os
from ldcache.errors import RootError

from .context import Context, HookError, why

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Optional

__all__ = ["run", "modified_params", "read_params", "HOST_PARAMS", "PARAMS_IN_ROOT",
           "MAX_PARAMS_BYTES"]

#: The host's driver parameters (read on the host, never in the root).
HOST_PARAMS = "/proc/driver/nvidia/params"
#: What is covered in the container root.
PARAMS_IN_ROOT = b"/proc/driver/nvidia/params"
#: Largest parameters file accepted (the driver's is about a kilobyte).
MAX_PARAMS_BYTES = 1 << 20

_KEY = b"ModifyDeviceFiles: "
_ON = _KEY + b"1"
_OFF = _KEY + b"0"


def modified_params(data: bytes) -> Optional[bytes]:
    """The parameters with ``ModifyDeviceFiles: 1`` turned into ``0``, or None when the
    container needs no copy (no such line, or a ``ModifyDeviceFiles: 0`` line).

    Only lines that are exactly ``ModifyDeviceFiles: 1`` or ``…: 0`` count (leading or
    trailing blanks, other values: left as they are).  Every line of the copy ends in
    ``\\n``; a ``\\r`` before a ``\\n`` (or at the end) is dropped."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the text after the last newline is no line when it is empty
    out = []
    change = False
    for line in lines:
        if line.endswith(b"\r"):
            line = line[:-1]
        if line.startswith(_KEY):
            if line == _OFF:
                return None
            if line == _ON:
                line = _OFF
                change = True
        out.append(line + b"\n")
    return b"".join(out) if change else None


def read_params(path: str = HOST_PARAMS) -> Optional[bytes]:
    """The host's parameters file, or None when it does not exist (ENOENT)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise HookError(f"cannot read the driver parameters: {why(e)}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise HookError(f"cannot read the driver parameters: {path} is not a file")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_PARAMS_BYTES:
                raise HookError(f"cannot read the driver parameters: {path} is larger "
                                f"than {MAX_PARAMS_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as e:
        raise HookError(f"cannot read the driver parameters: {why(e)}") from None
    finally:
        os.close(fd)


def run(ctx: Context) -> None:
    data = read_params(HOST_PARAMS)
    if data is None:
        ctx.log.debug(f"{HOST_PARAMS} does not exist: nothing to do")
        return
    copy = modified_params(data)
    if copy is None:
        ctx.log.debug(f"{HOST_PARAMS} does not say ModifyDeviceFiles: 1: nothing to do")
        return
    shown = os.fsdecode(PARAMS_IN_ROOT)
    with ctx.open_root() as root:
        try:
            how = root.mount_readonly_copy(PARAMS_IN_ROOT, copy, mode=0o444, scratch=b"/run")
        except RootError as e:
            if e.errno == errno.ENOENT:
                raise HookError(f"cannot cover {shown} in the container: it does not exist "
                                f"({e.filename})") from None
            raise HookError(f"cannot mount the modified parameters over {shown}: "
                            f"{why(e)}") from None
    ctx.log.debug(f"mounted a read-only copy with ModifyDeviceFiles: 0 over {shown} "
                  f"({how} tmpfs)")
