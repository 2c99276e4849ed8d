"""The command table: every hook, every flag it accepts, and the environment variables.

One table (:data:`HOOKS`, :data:`GLOBAL_FLAGS`, :data:`CTK_FLAGS`) drives three things: the
parser that runs the hooks (:mod:`ldcache_hook.parser`), and the help text and the
``argparse`` view of the same surface for man pages (:mod:`ldcache_hook.helptext`).
This module is data only: it imports nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Dict, Optional, Tuple

__all__ = [
    "Flag", "HookSpec", "HOOKS", "BY_NAME", "GLOBAL_FLAGS", "CTK_FLAGS", "HELP_FLAG",
    "VERSION_FLAG", "DEBUG_ENV", "QUIET_ENV",
]

#: Environment variables that turn on --debug / --quiet; the first one set wins.
DEBUG_ENV = ("NVIDIA_CTK_DEBUG", "NVIDIA_CDI_DEBUG")
QUIET_ENV = ("NVIDIA_CTK_QUIET", "NVIDIA_CDI_QUIET")


# (Plain classes rather than dataclasses: the hook's start-up time is budgeted.)


class Flag:
    """One command-line flag.

    ``kind``: "bool", "string" or "list" (repeatable; values also split at commas);
    ``hidden``: not shown in help (still accepted); ``env``: environment variables that set
    it when it is not given; ``deprecated``: accepted for old CDI specs, and what is said
    when it is used.
    """

    __slots__ = ("name", "kind", "help", "aliases", "default", "metavar", "hidden", "env",
                 "deprecated")

    def __init__(self, name: str, kind: str, help: str, aliases: Tuple[str, ...] = (),
                 default: Optional[str] = None, metavar: Optional[str] = None,
                 hidden: bool = False, env: Tuple[str, ...] = (),
                 deprecated: Optional[str] = None) -> None:
        self.name = name
        self.kind = kind
        self.help = help
        self.aliases = aliases
        self.default = default
        self.metavar = metavar
        self.hidden = hidden
        self.env = env
        self.deprecated = deprecated

    def __repr__(self) -> str:
        return f"Flag({self.name!r}, {self.kind!r})"

    @property
    def names(self) -> Tuple[str, ...]:
        return (self.name,) + self.aliases


class HookSpec:
    """One hook: its name, flags and the module whose ``run(ctx)`` carries it out."""

    __slots__ = ("name", "help", "flags", "module", "hidden", "description")

    def __init__(self, name: str, help: str, flags: Tuple[Flag, ...], module: str,
                 hidden: bool = False, description: str = "") -> None:
        self.name = name
        self.help = help
        self.flags = flags
        self.module = module
        self.hidden = hidden
        self.description = description

    def __repr__(self) -> str:
        return f"HookSpec({self.name!r})"


_CONTAINER_SPEC = Flag(
    "container-spec", "string", "path of the OCI container state; empty or '-': read it "
    "from standard input (the default)", metavar="PATH", aliases=("containerSpec",))

GLOBAL_FLAGS: Tuple[Flag, ...] = (
    Flag("debug", "bool", "enable debug-level logging (env NVIDIA_CTK_DEBUG, NVIDIA_CDI_DEBUG)",
         aliases=("d",), env=DEBUG_ENV),
    Flag("quiet", "bool", "suppress all output except errors; overrides --debug "
         "(env NVIDIA_CTK_QUIET, NVIDIA_CDI_QUIET)", env=QUIET_ENV),
)
#: ``--help`` / ``-h`` and ``--version`` / ``-v``: known at every level (see the parser).
HELP_FLAG = Flag("help", "bool", "show help", aliases=("h",))
VERSION_FLAG = Flag("version", "bool", "print the version", aliases=("v",))
#: nvidia-ctk's own global flag (accepted, unused: the hooks read no configuration file).
CTK_FLAGS: Tuple[Flag, ...] = (
    Flag("config", "string", "path to nvidia-ctk's config file (accepted, unused)",
         metavar="PATH", env=("NVIDIA_CTK_CONFIG",)),
)

HOOKS: Tuple[HookSpec, ...] = (
    HookSpec(
        "update-ldcache",
        "add folders to the container's library search path and rebuild its ld.so.cache",
        (
            Flag("folder", "list", "a folder to add to the search path (repeatable)",
                 metavar="DIR", aliases=("folders",)),
            Flag("ldconfig-path", "string", "path of an ldconfig program: accepted for "
                 "compatibility and never executed", metavar="PATH",
                 default="/sbin/ldconfig"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.update_ldcache",
        description="Writes /etc/ld.so.conf.d/00-nvcr-*.conf listing the folders the image "
                    "does not already configure (creating /etc/ld.so.conf when the image has "
                    "none), makes the SONAME links and writes /etc/ld.so.cache exactly as the "
                    "image's own glibc ldconfig would, without running anything in the image. "
                    "For musl images, makes the SONAME links in the folders and extends "
                    "/etc/ld-musl-ARCH.path instead.",
    ),
    HookSpec(
        "create-symlinks",
        "create symlinks inside the container",
        (
            Flag("link", "list", "a link to create, as TARGET::LINK (repeatable)",
                 metavar="TARGET::LINK"),
            _CONTAINER_SPEC,
            Flag("host-root", "string", "removed from NVIDIA's hook (accepted, ignored)",
                 metavar="DIR", hidden=True,
                 deprecated="--host-root is no longer supported and is ignored"),
            Flag("csv-filename", "list", "removed from NVIDIA's hook (accepted, ignored)",
                 metavar="FILE", hidden=True, aliases=("csv-filenames", "f"),
                 deprecated="--csv-filename is no longer supported and is ignored"),
        ),
        "ldcache_hook.create_symlinks",
        description="LINK is always a path inside the container root; missing parent "
                    "directories are created; an existing symlink to exactly TARGET is kept, "
                    "anything else at LINK is replaced atomically.",
    ),
    HookSpec(
        "chmod",
        "set the mode of paths inside the container",
        (
            Flag("path", "list", "a path to change (repeatable)", metavar="PATH"),
            Flag("mode", "string", "the mode, in octal", metavar="OCTAL"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.chmod",
        description="Paths are inside the container root; a path with a symlink in any "
                    "component is skipped with a warning; paths that already have the mode are "
                    "left alone; permission errors are ignored.",
    ),
    HookSpec(
        "enable-cuda-compat",
        "put the image's CUDA forward-compatibility libraries on the search path if needed",
        (
            Flag("host-driver-version", "string", "the host's driver version; without it "
                 "(and without --host-cuda-version) the hook does nothing", metavar="VERSION"),
            Flag("host-cuda-version", "string", "the CUDA version the host driver supports",
                 metavar="VERSION"),
            Flag("cuda-compat-container-root", "string", "the folder holding the CUDA "
                 "compat libraries in the container", metavar="DIR",
                 default="/usr/local/cuda/compat"),
            _CONTAINER_SPEC,
        ),
        "ldcache_hook.cuda_compat",
        description="When the single libcuda.so.*.* in the compat folder should be used "
                    "(its .note.cuda.fwd_compatibility ELF note decides where present, else "
                    "the driver major versions), writes /etc/ld.so.conf.d/00-compat-*.conf "
                    "naming that folder; a later update-ldcache puts it first.",
    ),
    HookSpec(
        "disable-device-node-modification",
        "keep the NVIDIA driver from creating or changing device nodes in the container",
        (_CONTAINER_SPEC,),
        "ldcache_hook.device_nodes",
        description="When the host's /proc/driver/nvidia/params says ModifyDeviceFiles: 1, "
                    "mounts a read-only copy saying ModifyDeviceFiles: 0, held on a private "
                    "tmpfs, over /proc/driver/nvidia/params in the container; otherwise does "
                    "nothing (and reads no container state).",
    ),
    HookSpec(
        "update-application-profile",
        "restrict the GPUs EGL and Vulkan see in the container (a driver application "
        "profile)",
        (_CONTAINER_SPEC,),
        "ldcache_hook.application_profile",
        description="Writes /etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf "
                    "setting EGLVisibleDGPUDevices to the mask of the minor numbers (0-63) "
                    "of the container's /dev/nvidiaN character devices; with none, writes "
                    "nothing.",
    ),
    HookSpec("noop", "do nothing (for testing)", (), "ldcache_hook.main", hidden=True),
)

#: The hooks by name.
BY_NAME: Dict[str, HookSpec] = {h.name: h for h in HOOKS}
