"""A real CDI engine: Debian's podman injects a CDI spec shaped like ``nvidia-ctk cdi
generate`` output, and crun or runc run its ``createContainer`` hooks with our
``cdi-hook`` (the isolated launcher) as the hook program.

The spec (``nvidia.com/gpu``, devices ``0`` and ``all``) mounts the real NVIDIA 535
libraries of Debian bookworm's non-free archive (``libcuda1``, ``libnvidia-ml1``, … unpacked
from their .debs, as a Debian host with the driver installed has them, under
``/usr/lib/x86_64-linux-gnu/nvidia/current``), gives device nodes (stand-ins: character
devices with ``/dev/null``'s numbers, named ``/dev/nvidia0``, ``/dev/nvidiactl``,
``/dev/dri/card1`` …) and the hooks NVIDIA's generator writes: ``create-symlinks``,
``enable-cuda-compat``, ``update-ldcache``, ``chmod``, ``disable-device-node-modification``,
``update-application-profile``, each with ``env: [NVIDIA_CTK_DEBUG=false]``.

Two images, imported with ``podman import`` from roots made here: a Debian bookworm one (the
debootstrapped root, its own ldconfig's cache, libssl3 installed) and a distroless one (the
files of libc6 and libssl3 only: no shell, no ldconfig, no ``/etc/ld.so.conf``, no cache).
In each, a gcc-built program (``hookroots.VIEW_SOURCE``) dlopens every SONAME by name and
reports what the container sees: the paths the loader took, ``/etc/ld.so.cache``, the
links, the drop-ins, the device nodes' modes.  Then the same spec with NVIDIA's own
``nvidia-cdi-hook`` as the hook program must show the same container, except for the
differences README.md lists.

podman runs rootful with private storage (overlay, or vfs where overlay cannot be had),
run and temporary directories, an empty OCI hooks directory, a cgroup parent of its own
(removed afterwards) and its own configuration files: nothing of the machine's container
storage or configuration is used.  Each podman command runs in a private mount namespace,
where the machine's ``/var/lib/containers`` is covered by a directory of the test's
(``podman import`` writes a blob-info cache there whatever ``--root`` says; where the
machine has none, the one podman makes is removed afterwards) and, on a
hybrid cgroup hierarchy whose cgroup2 part has controllers (this sandbox: ``hugetlb``), that
part is hidden: crun 1.8 refuses every container there ("cgroups in hybrid mode not
supported, drop all controllers from cgroupv2"), and sees plain cgroup v1 instead.  The
containers get ``nofile``/``nproc`` limits of 1024: podman's rootful defaults (1048576) are
above the limits podman's runtimes run with here, and raising a limit needs
CAP_SYS_RESOURCE, which this sandbox withholds.  The CDI spec is the one thing outside: this
podman (4.3) has neither ``--cdi-spec-dir`` nor containers.conf's ``cdi_spec_dirs`` and reads
specs only from ``/etc/cdi`` and ``/var/run/cdi``, so unless it has that option the test
writes its own file in ``/var/run/cdi`` for the length of each run (under a lock) and
removes it; it skips where the machine's own specs define ``nvidia.com/gpu``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import resource
import shutil
import stat
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
from support.common import LDCONFIG
from support.debroots import (
    RootUnavailable,
    find_ldconfig,
    require_root,
    root_generator,
    working_copy,
)
from support.hookroots import (
    PROJECT,
    build_view,
    distroless_debian_rootfs,
    nvidia_driver,
    parse_view,
    write_launcher,
)
from support.synthroots import host_generator

from ldcache.format import parse

pytestmark = pytest.mark.slow

PODMAN = shutil.which("podman")
RUNTIMES = {"crun": shutil.which("crun"), "runc": shutil.which("runc")}
PEER = PROJECT.parent / "shared/peers/nvidia-cdi-hook"
CDI_RUN_DIR = Path("/var/run/cdi")
VARLIB = Path("/var/lib/containers")
LIB = "/usr/lib/x86_64-linux-gnu"
NV = f"{LIB}/nvidia/current"
DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools")
GPU0 = ("/dev/nvidia0", "/dev/dri/card1", "/dev/dri/renderD128")
PROFILE = "/etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf"
PARAMS = "/proc/driver/nvidia/params"
#: A directory the images have with mode 0700, given to the chmod hook beside NVIDIA's
#: /dev/dri: rootful runtimes already make /dev/dri 0755, so only here is the hook's work
#: visible.
CHMOD_PROBE = "/opt/chmod-probe"
CDI_LOCK = Path(tempfile.gettempdir()) / "ldcache-test-podman-cdi.lock"


# ---------------------------------------------------------------------------- podman, private


def _unified_has_controllers() -> bool:
    """A hybrid cgroup hierarchy (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) whose
    v2 part has controllers: crun (1.8) refuses every container there ("cgroups in hybrid
    mode not supported, drop all controllers from cgroupv2")."""
    unified = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    try:
        return os.path.ismount("/sys/fs/cgroup/unified") and unified.read_text().strip() != ""
    except OSError:
        return False


#: Runs its arguments in the private mount namespace ``unshare`` made: optionally hides
#: the cgroup2 part of a hybrid hierarchy from crun, and the machine's blob-info cache
#: directory from podman (``podman import`` writes one in /var/lib/containers/cache).
_NS_WRAPPER = r"""
set -e
if [ -n "$LDCACHE_TEST_HIDE_UNIFIED" ]; then
    mount -t tmpfs -o size=4k,mode=0555 ldcache-test /sys/fs/cgroup/unified
fi
if [ -n "$LDCACHE_TEST_VARLIB" ] && [ -d /var/lib/containers ]; then
    mount --bind "$LDCACHE_TEST_VARLIB" /var/lib/containers
fi
exec "$@"
"""


class Podman:
    """podman with everything of its own under ``top``."""

    def __init__(self, top: Path, driver: str = "overlay") -> None:
        self.top = top
        self.driver = driver
        self.tag = f"ldcache-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.cgroup_parent = f"/{self.tag}"
        for d in ("graph", "run", "tmp", "hooks.d", "varlib", "net"):
            (top / d).mkdir(parents=True, exist_ok=True)
        (top / "storage.conf").write_text(
            f'[storage]\ndriver = "{driver}"\ngraphroot = "{top}/graph"\n'
            f'runroot = "{top}/run"\n')
        # The machine's limits cannot be raised here (no CAP_SYS_RESOURCE in this
        # sandbox) and podman's rootful defaults (nofile, nproc 1048576) are above them:
        # ask for modest limits, which lowering never needs a capability for.
        nofile = min(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        nproc = min(1024, resource.getrlimit(resource.RLIMIT_NPROC)[1])
        (top / "containers.conf").write_text(
            "[containers]\n"
            'netns = "none"\n'
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "none"\n'
            f'hooks_dir = ["{top}/hooks.d"]\n'
            f'tmp_dir = "{top}/tmp"\n'
            "[network]\n"
            f'network_config_dir = "{top}/net"\n')
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(top), "LC_ALL": "C",
                    "CONTAINERS_CONF": str(top / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(top / "storage.conf"),
                    "CONTAINERS_REGISTRIES_CONF": str(top / "registries.conf"),
                    "LDCACHE_TEST_VARLIB": str(top / "varlib")}
        (top / "registries.conf").write_text("")
        if _unified_has_controllers():
            self.env["LDCACHE_TEST_HIDE_UNIFIED"] = "1"
        self.cdi_option = _has_cdi_spec_dir()
        # Where the machine has no /var/lib/containers there is nothing to cover, and
        # podman import makes it for its blob-info cache: removed again in cleanup().
        self.varlib_existed = VARLIB.exists()

    def cmd(self, *args: str) -> List[str]:
        assert PODMAN is not None
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _NS_WRAPPER,
                "sh", PODMAN, *args]

    def run(self, *args: str, stdin=None, timeout: float = 180
            ) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), capture_output=True,
                              stdin=stdin if stdin is not None else subprocess.DEVNULL,
                              env=self.env, timeout=timeout, cwd="/")

    def try_import(self, root: Path, name: str) -> Tuple[str, subprocess.CompletedProcess]:
        """``tar`` of the root, ``podman import``ed as ``localhost/TAG-NAME:test``."""
        image = f"localhost/{self.tag}-{name}:test"
        tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-cf", "-", "."],
                               stdout=subprocess.PIPE)
        try:
            p = self.run("import", "-", image, stdin=tar.stdout)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()
        assert tar.returncode == 0
        return image, p

    def import_root(self, root: Path, name: str) -> str:
        image, p = self.try_import(root, name)
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        return image

    def smoke(self, root: Path) -> Optional[str]:
        """None when an image of ``root`` (with /view) imports and runs with crun and runc,
        else why not."""
        image, p = self.try_import(root, "smoke")
        if p.returncode != 0:
            return f"podman import: {_why(p)}"
        for runtime in RUNTIMES:
            p = self.container(runtime, image, ["/view", "dlopen:libc.so.6"])
            if p.returncode != 0:
                return f"with {runtime}: {_why(p)}"
        return None

    def container(self, runtime: str, image: str, args: List[str], *devices: str,
                  spec_dirs: Optional[Path] = None) -> subprocess.CompletedProcess:
        extra: List[str] = []
        if spec_dirs is not None:
            extra = ["--cdi-spec-dir", str(spec_dirs)]
        run = ["run", "--rm", "--runtime", runtime, "--cgroup-parent", self.cgroup_parent]
        for d in devices:
            run += ["--device", d]
        return self.run(*extra, *run, image, *args)

    def cleanup(self) -> None:
        self.run("rm", "--all", "--force", timeout=120)
        self.run("rmi", "--all", "--force", timeout=120)
        # cgroupfs: podman leaves the cgroup parent (and conmon's cgroup in it) behind, in
        # every v1 hierarchy (or the v2 one)
        cgroup = Path("/sys/fs/cgroup")
        name = self.cgroup_parent.lstrip("/")
        for top in [cgroup / name, *(d / name for d in cgroup.iterdir() if d.is_dir())]:
            if top.is_dir():
                for d in sorted((p for p in top.rglob("*") if p.is_dir()),
                                key=lambda p: -len(p.parts)):
                    _rmdir_quiet(d)
                _rmdir_quiet(top)
        blob_cache = VARLIB / "cache" / "blob-info-cache-v1.boltdb"
        if (not self.varlib_existed and VARLIB.is_dir() and os.listdir(VARLIB) == ["cache"]
                and os.listdir(VARLIB / "cache") == [blob_cache.name]):
            blob_cache.unlink()
            _rmdir_quiet(VARLIB / "cache")
            _rmdir_quiet(VARLIB)


def _has_cdi_spec_dir() -> bool:
    """Whether this podman takes ``--cdi-spec-dir`` (a private spec directory)."""
    assert PODMAN is not None
    p = subprocess.run([PODMAN, "--help"], capture_output=True, env={"PATH": "/usr/bin:/bin"})
    return b"--cdi-spec-dir" in p.stdout


def _rmdir_quiet(d: Path) -> None:
    try:
        os.rmdir(d)
    except OSError:
        pass


def _why(p: subprocess.CompletedProcess) -> str:
    lines = (p.stderr or p.stdout).decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit {p.returncode}"


# ---------------------------------------------------------------------------- images


def debian_image_root(dest: Path, debs: List[Path]) -> Path:
    """The debootstrapped bookworm root as an image: ``/proc`` a directory (debootstrap's
    first stage leaves a link to the host's), without debootstrap's work directory, the
    given packages unpacked into it (libssl3, as ``apt-get install`` would) and the
    cache the image's own ldconfig writes for it."""
    require_root("bookworm", "amd64")
    working_copy("bookworm", "amd64", dest, hardlink=True)
    (dest / "proc").unlink()
    (dest / "proc").mkdir()
    shutil.rmtree(dest / "debootstrap")
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    # the root's own ldconfig (chrooted into the root): the cache a Debian image has
    subprocess.run([str(find_ldconfig(dest)), "-r", str(dest)], check=True,
                   capture_output=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    return dest


# ---------------------------------------------------------------------------- the CDI spec


def device_nodes(top: Path) -> Dict[str, Path]:
    """Stand-ins for the NVIDIA device nodes: character devices with /dev/null's numbers
    (1:3, harmless to open) at test-owned paths."""
    out = {}
    for path in (*DEVICES, *GPU0):
        host = top / path.lstrip("/")
        host.parent.mkdir(parents=True, exist_ok=True)
        os.mknod(host, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out[path] = host
    return out


def cdi_spec(driver, hook: Path, nodes: Dict[str, Path], *, hooks: bool = True) -> dict:
    """What ``nvidia-ctk cdi generate --driver-root DRIVER`` writes for these libraries and
    nodes (cdiVersion 0.5.0; the hooks in its shape, ``hook`` as their program; none with
    ``hooks=False``)."""
    def edit_nodes(paths) -> List[dict]:
        return [{"path": p, "hostPath": str(nodes[p])} for p in paths]

    def one(*args: str) -> dict:
        return {"hookName": "createContainer", "path": str(hook),
                "args": ["nvidia-cdi-hook", *args], "env": ["NVIDIA_CTK_DEBUG=false"]}

    gpu = {"deviceNodes": edit_nodes(GPU0)}
    return {
        "cdiVersion": "0.5.0",
        "kind": "nvidia.com/gpu",
        "devices": [{"name": "0", "containerEdits": gpu}, {"name": "all", "containerEdits": gpu}],
        "containerEdits": {
            "env": ["NVIDIA_VISIBLE_DEVICES=void"],
            "deviceNodes": edit_nodes(DEVICES),
            "hooks": [] if not hooks else [
                one("create-symlinks", "--link", f"libcuda.so.1::{NV}/libcuda.so",
                    "--link", f"../libnvidia-allocator.so.1::{NV}/gbm/nvidia-drm_gbm.so"),
                one("enable-cuda-compat", f"--host-driver-version={driver.upstream}"),
                one("update-ldcache", "--folder", LIB, "--folder", NV),
                one("chmod", "--mode", "755", "--path", "/dev/dri", "--path", CHMOD_PROBE),
                one("disable-device-node-modification"),
                one("update-application-profile"),
            ],
            "mounts": [{"hostPath": str(driver.root / rel), "containerPath": "/" + rel,
                        "options": ["ro", "nosuid", "nodev", "rbind", "rprivate"]}
                       for rel in sorted(driver.libraries)],
        },
    }


@contextmanager
def installed_spec(podman: Podman, spec: dict) -> Iterator[Optional[Path]]:
    """The spec where podman reads it for one run: a private directory when podman has
    ``--cdi-spec-dir`` (yields it), else our own file in /var/run/cdi under a lock,
    removed afterwards (yields None)."""
    if podman.cdi_option:
        d = podman.top / "cdi"
        d.mkdir(exist_ok=True)
        (d / "ldcache-test.json").write_text(json.dumps(spec, indent=1))
        yield d
        return
    with open(CDI_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = not CDI_RUN_DIR.exists()
        CDI_RUN_DIR.mkdir(parents=True, exist_ok=True)
        f = CDI_RUN_DIR / f"{podman.tag}.json"
        try:
            f.write_text(json.dumps(spec, indent=1))
            yield None
        finally:
            f.unlink(missing_ok=True)
            if made:
                _rmdir_quiet(CDI_RUN_DIR)


def _other_gpu_specs() -> List[str]:
    """The machine's spec files (not ours) that define nvidia.com/gpu: ours in
    /var/run/cdi would conflict with them or shadow them."""
    out = []
    for d in (CDI_RUN_DIR, Path("/etc/cdi")):
        if not d.is_dir():
            continue
        for f in sorted(d.iterdir()):
            if f.name.startswith("ldcache-test-"):
                continue
            try:
                if b"nvidia.com/gpu" in f.read_bytes():
                    out.append(str(f))
            except OSError:
                pass
    return out


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def podman(tmp_path_factory) -> Iterator[Podman]:
    """podman able to run a container here with crun and runc (else the module skips,
    saying why)."""
    if PODMAN is None:
        pytest.skip("podman is not installed")
    for name, path in RUNTIMES.items():
        if path is None:
            pytest.skip(f"{name} is not installed")
    if os.geteuid() != 0:
        pytest.skip("the podman test runs rootful podman (needs root)")
    if shutil.which("unshare") is None:
        pytest.skip("no unshare (util-linux) on this machine")
    others = [] if _has_cdi_spec_dir() else _other_gpu_specs()
    if others:
        pytest.skip(f"this machine's CDI specs already define nvidia.com/gpu ({others[0]}); "
                    "the test will not shadow them")
    top = tmp_path_factory.mktemp("podman")
    smoke = top / "smoke"
    distroless_debian_rootfs(smoke, [_libc6_deb()])
    shutil.copy2(build_view(), smoke / "view")
    # overlay where the test's directory allows it (not on an overlay itself), else vfs
    for storage in ("overlay", "vfs"):
        pm = Podman(top / storage, storage)
        try:
            why = pm.smoke(smoke)
        except BaseException:
            pm.cleanup()
            raise
        if why is None:
            break
        pm.cleanup()
        if storage == "vfs" or "overlay" not in why:
            pytest.skip(f"podman cannot run a container here: {why}")
    try:
        yield pm
    finally:
        pm.cleanup()


def _libc6_deb() -> Path:
    root = require_root("bookworm", "amd64")
    debs = sorted((root / "var/cache/apt/archives").glob("libc6_*_amd64.deb"))
    if not debs:
        pytest.skip(f"no libc6 .deb in {root}/var/cache/apt/archives")
    return debs[0]


@pytest.fixture(scope="module")
def driver():
    try:
        return nvidia_driver()
    except RootUnavailable as e:
        pytest.skip(f"the NVIDIA 535 packages of Debian bookworm are unavailable: {e.reason}")


@pytest.fixture(scope="module")
def images(podman, driver, tmp_path_factory) -> Dict[str, str]:
    """name → podman image: "debian" and "distroless", each with /view."""
    top = tmp_path_factory.mktemp("images")
    view = build_view()
    ssl = driver.deb("libssl3")
    roots = {"debian": debian_image_root(top / "debian", [ssl]),
             "distroless": distroless_debian_rootfs(top / "distroless", [_libc6_deb(), ssl])}
    out = {}
    for name, root in roots.items():
        shutil.copy2(view, root / "view")
        (root / CHMOD_PROBE.lstrip("/")).mkdir(parents=True)
        os.chmod(root / CHMOD_PROBE.lstrip("/"), 0o700)
        out[name] = podman.import_root(root, name)
    return out


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("hook")
    return write_launcher(d / "cdi-hook")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> Dict[str, Path]:
    return device_nodes(tmp_path_factory.mktemp("devices"))


# ---------------------------------------------------------------------------- the view


def sonames(driver, image: str) -> Dict[str, str]:
    """SONAME → the path the container's loader must take for it.  In the Debian image
    /lib is a link to usr/lib (merged /usr): ldconfig scans /lib/x86_64-linux-gnu before
    /usr/lib/x86_64-linux-gnu, and lists a library it meets twice under its first path."""
    out = {}
    for rel, so in driver.libraries.items():
        directory = "/" + rel.rsplit("/", 1)[0]
        if image == "debian" and directory == LIB:
            directory = "/lib/x86_64-linux-gnu"
        out[so] = f"{directory}/{so}"
    return out


def view_args(driver) -> List[str]:
    args = [f"dlopen:{s}" for s in sorted(set(driver.libraries.values()))]
    args += [f"dlopen:{NV}/libcuda.so", f"dlopen:{NV}/gbm/nvidia-drm_gbm.so",
             f"readlink:{NV}/libcuda.so", f"readlink:{NV}/gbm/nvidia-drm_gbm.so",
             f"dir:{NV}", f"dir:{NV}/gbm", f"list:{LIB}", "lstat:/dev/dri",
             f"lstat:{CHMOD_PROBE}",
             *(f"lstat:{d}" for d in (*DEVICES, *GPU0)),
             "hex:/etc/ld.so.cache", "hex:/etc/ld.so.conf", "dir:/etc/ld.so.conf.d",
             f"lstat:{PARAMS}", f"hex:{PROFILE}", "lstat:/usr/local/cuda/compat"]
    return args


def run_view(podman: Podman, runtime: str, image: str, driver, hook: Path,
             nodes: Dict[str, Path], *, hooks: bool = True
             ) -> Tuple[subprocess.CompletedProcess, Dict[str, str]]:
    with installed_spec(podman, cdi_spec(driver, hook, nodes, hooks=hooks)) as spec_dir:
        p = podman.container(runtime, image, ["/view", *view_args(driver)], "nvidia.com/gpu=all",
                             spec_dirs=spec_dir)
    return p, parse_view(p.stdout)


def cache_entries(view: Dict[str, str]) -> List[Tuple[str, str, int]]:
    cache = parse(bytes.fromhex(view["hex:/etc/ld.so.cache"]))
    return [(e.soname.decode(), e.path.decode(), e.flags) for e in cache.entries]


def generator(view: Dict[str, str]) -> Optional[bytes]:
    return parse(bytes.fromhex(view["hex:/etc/ld.so.cache"])).generator


def dropins(view: Dict[str, str]) -> Dict[str, Tuple[str, str]]:
    """/etc/ld.so.conf.d: name (random part of 00-nvcr-/zz-nvcr- names as *) → (mode, text)."""
    out = {}
    for key, value in view.items():
        if key.startswith("dir:/etc/ld.so.conf.d/"):
            name = key.rsplit("/", 1)[1]
            name = re.sub(r"^(00-nvcr-|zz-nvcr-).*\.conf$", r"\1*.conf", name)
            kind, mode, data = (value.split(" ") + [""])[:3]
            assert kind == "f", (key, value)
            assert name not in out, f"two drop-ins named {name}"
            out[name] = (mode, bytes.fromhex(data).decode())
    return out


def check_view(p: subprocess.CompletedProcess, view: Dict[str, str], driver, image: str
               ) -> None:
    """The container of our hooks: every SONAME by name through the cache, the links, the
    drop-in, the modes, the profile."""
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
    for so, path in sonames(driver, image).items():
        assert view[f"dlopen:{so}"] == path, (so, view)
    assert view[f"dlopen:{NV}/libcuda.so"] == f"{NV}/libcuda.so"
    assert view[f"dlopen:{NV}/gbm/nvidia-drm_gbm.so"] == f"{NV}/gbm/nvidia-drm_gbm.so"
    assert view[f"readlink:{NV}/libcuda.so"] == "libcuda.so.1"
    assert view[f"readlink:{NV}/gbm/nvidia-drm_gbm.so"] == "../libnvidia-allocator.so.1"
    # ldconfig's SONAME links beside the mounted files (the mounts themselves read-only)
    for rel, so in driver.libraries.items():
        directory, name = rel.rsplit("/", 1)
        if so != name:
            assert view[f"dir:/{directory}/{so}"] == f"l 0777 {name}", view
    # the cache lists every SONAME at its path, as an x86-64 libc6 library
    entries = cache_entries(view)
    listed = {(s, path) for s, path, flags in entries if flags == 0x0303}
    assert set(sonames(driver, image).items()) <= listed, entries
    # /dev/dri and the image's 0700 directory 0755 after the chmod hook; the nodes as the
    # spec gave them
    assert view["lstat:/dev/dri"] == "d 0755 0 0"
    assert view[f"lstat:{CHMOD_PROBE}"] == "d 0755 0 0"
    for d in (*DEVICES, *GPU0):
        assert view[f"lstat:{d}"] == "c 0666 0 0 1:3", (d, view[f"lstat:{d}"])
    # nothing to do for disable-device-node-modification (no NVIDIA params on this
    # host) and enable-cuda-compat (no compat libraries in the image)
    assert view[f"lstat:{PARAMS}"] == "ERR ENOENT"
    assert view["lstat:/usr/local/cuda/compat"] == "ERR ENOENT"
    # update-application-profile: the mask of the minor of /dev/nvidia0 (3, a stand-in)
    # (NVIDIA's text, with the mask in hex: not JSON)
    assert bytes.fromhex(view[f"hex:{PROFILE}"]) == (
        b'{"profiles":[{"name":"_container_","settings":["EGLVisibleDGPUDevices",0x8]}],'
        b'"rules":[{"pattern":[],"profile":"_container_"}]}')


@pytest.fixture(scope="module")
def views(podman, images, driver, ours, nodes):
    """(image, runtime, "ours"|"nvidia") → (podman's result, the container's view), each
    container run once per module."""
    done: Dict[Tuple[str, str, str], Tuple[subprocess.CompletedProcess, Dict[str, str]]] = {}

    def get(image: str, runtime: str, hook: str):
        key = (image, runtime, hook)
        if key not in done:
            program = ours if hook == "ours" else PEER
            done[key] = run_view(podman, runtime, images[image], driver, program, nodes)
        return done[key]

    return get


@pytest.mark.parametrize("runtime", ["crun", "runc"])
@pytest.mark.parametrize("image", ["debian", "distroless"])
def test_podman_cdi_our_hook(views, driver, image, runtime):
    """``podman run --device nvidia.com/gpu=all`` with our hook: every SONAME dlopened by
    name through the cache it wrote, the drop-in naming the one folder the image did not
    configure (and, in distroless, the ld.so.conf it lacked)."""
    p, view = views(image, runtime, "ours")
    check_view(p, view, driver, image)
    conf = dropins(view)
    assert conf["00-nvcr-*.conf"] == ("0644", f"{NV}\n")  # LIB is configured already
    if image == "debian":
        assert view["hex:/etc/ld.so.conf"] == b"include /etc/ld.so.conf.d/*.conf\n\n".hex()
        assert set(conf) == {"libc.conf", "x86_64-linux-gnu.conf", "00-nvcr-*.conf"}
    else:
        # distroless: no ld.so.conf until the hook made one
        assert bytes.fromhex(view["hex:/etc/ld.so.conf"]) == b"include /etc/ld.so.conf.d/*.conf\n"
        assert set(conf) == {"x86_64-linux-gnu.conf", "00-nvcr-*.conf"}
    assert b"libcrypto.so.3" in bytes.fromhex(view["hex:/etc/ld.so.cache"])


def test_podman_cdi_without_hooks_the_libraries_are_not_found(podman, images, driver, ours,
                                                               nodes):
    """The control: the same spec without its hooks, in the distroless image (no cache):
    the libraries are mounted, but the loader finds by SONAME only the one in its default
    directory (/usr/lib/x86_64-linux-gnu), and there are no links, no cache, no mode
    changed, no profile."""
    p, view = run_view(podman, "crun", images["distroless"], driver, ours, nodes, hooks=False)
    assert p.returncode == 1, (p.stdout + p.stderr).decode(errors="replace")
    for rel, so in driver.libraries.items():
        if rel.startswith(NV.lstrip("/")):
            assert view[f"dlopen:{so}"].startswith("FAIL "), view[f"dlopen:{so}"]
            assert view[f"dir:/{rel}"].startswith("f 0644 7f454c46")  # the mounted file
        else:
            assert view[f"dlopen:{so}"] == f"{LIB}/{so}"
    assert view[f"readlink:{NV}/libcuda.so"] == "ERR ENOENT"
    assert view["hex:/etc/ld.so.cache"] == "ERR ENOENT"
    assert view["hex:/etc/ld.so.conf"] == "ERR ENOENT"
    assert view[f"hex:{PROFILE}"] == "ERR ENOENT"
    assert view["lstat:/dev/dri"] == "d 0755 0 0"  # the runtime's own
    assert view[f"lstat:{CHMOD_PROBE}"] == "d 0700 0 0"


#: NVIDIA's zz-nvcr-*.conf: the system search paths of the host's ldconfig it runs,
#: Debian's when the image has /etc/debian_version, else the generic ones (x86-64).
ZZ_NVCR = {"debian": "/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n/lib\n/usr/lib\n",
           "distroless": "/lib\n/usr/lib\n/lib64\n/usr/lib64\n/libx32\n/usr/libx32\n"}
#: What ldconfig lists only because NVIDIA's zz-nvcr file names a directory the image's
#: configuration does not: distroless's /lib64 (the loader's link there).
ZZ_ONLY = {"debian": set(),
           "distroless": {("ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2", 0x0303)}}


@pytest.mark.parametrize("runtime", ["crun", "runc"])
@pytest.mark.parametrize("image", ["debian", "distroless"])
def test_podman_cdi_same_as_nvidia(views, driver, image, runtime):
    """The same spec with NVIDIA's nvidia-cdi-hook as the program: the same container —
    the paths the loader takes, the links, the modes, the devices, the profile — but for
    README's "writes no zz-nvcr-*.conf": NVIDIA's extra drop-in, the cache entries it adds
    and the generator of the host's ldconfig, which it runs."""
    if not PEER.exists():
        pytest.skip(f"NVIDIA's nvidia-cdi-hook is not at {PEER}")
    assert "writes no `zz-nvcr-*.conf`" in (PROJECT / "README.md").read_text()
    if LDCONFIG is None:
        pytest.skip("NVIDIA's update-ldcache runs the host's ldconfig; this machine has none")
    p_ours, mine = views(image, runtime, "ours")
    p_nv, theirs = views(image, runtime, "nvidia")
    check_view(p_nv, theirs, driver, image)
    check_view(p_ours, mine, driver, image)

    # everything but the drop-ins (random names) and the cache is the same
    def rest(view: Dict[str, str]) -> Dict[str, str]:
        return {k: v for k, v in view.items() if not k.startswith("dir:/etc/ld.so.conf.d/")
                and k != "hex:/etc/ld.so.cache"}

    assert rest(mine) == rest(theirs)
    # the drop-ins: NVIDIA's 00-nvcr and ours alike, and NVIDIA's zz-nvcr
    conf_ours, conf_nv = dropins(mine), dropins(theirs)
    assert conf_nv.pop("zz-nvcr-*.conf") == ("0644", ZZ_NVCR[image])
    assert conf_ours == conf_nv
    # the cache: NVIDIA's lists, in the same order, what ours does and what only its
    # zz-nvcr directories hold
    entries_ours, entries_nv = cache_entries(mine), cache_entries(theirs)
    assert set(entries_nv) - set(entries_ours) == ZZ_ONLY[image]
    assert [e for e in entries_nv if e not in ZZ_ONLY[image]] == entries_ours
    # generators: the image's glibc (ours) and the host's ldconfig (NVIDIA's)
    image_generator = root_generator(require_root("bookworm", "amd64"), "amd64")
    assert generator(mine) == image_generator
    assert generator(theirs) == host_generator(LDCONFIG)
    if image == "debian" and generator(mine) == generator(theirs):
        assert mine["hex:/etc/ld.so.cache"] == theirs["hex:/etc/ld.so.cache"]
