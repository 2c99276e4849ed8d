"""End to end under a real OCI runtime: runc runs ``createContainer`` hooks exactly as a CDI
spec injects them (``nvidia-cdi-hook create-symlinks …``, ``nvidia-cdi-hook update-ldcache
--folder /usr/lib/nvidia``, ``nvidia-ctk hook …``), with the container's OCI state on the
hook's standard input; NVIDIA-style libraries (gcc-built, real SONAMEs, versioned file
names) are bind-mounted from a host directory at ``/usr/lib/nvidia``, which the image does
not configure.  The container's process — a gcc-built program linked against the image's
glibc — then ``dlopen``s each library *by SONAME* (no LD_LIBRARY_PATH) and prints the path
the loader found it at: through the ``/etc/ld.so.cache`` the hook wrote.

The hook is this checkout, started by an isolated launcher (``python3 -m hook.launcher``)
installed under NVIDIA's program names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from support.hookroots import (
    HOST_TRIPLET,
    NVIDIA_LIBS,
    build_probe,
    distroless_rootfs,
    glibc_rootfs,
    nvidia_dir,
    parse_probe,
    write_launcher,
)

from ldcache.format import parse

RUNC = shutil.which("runc") or ("/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else None)
NV = "/usr/lib/nvidia"
CLEAN_ENV = ["NVIDIA_CTK_DEBUG=false"]  # an explicit env, as the README asks CDI specs to give


class Runc:
    def __init__(self, state_dir: Path) -> None:
        assert RUNC is not None
        self.state_dir = state_dir

    def cmd(self, *args: str) -> List[str]:
        return [RUNC, "--root", str(self.state_dir), *args]

    def run(self, bundle: Path, timeout: float = 120) -> subprocess.CompletedProcess:
        cid = f"cdihook-{uuid.uuid4().hex[:12]}"
        try:
            return subprocess.run(self.cmd("run", "--bundle", str(bundle), cid),
                                  capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        finally:
            subprocess.run(self.cmd("delete", "--force", cid), capture_output=True)


def make_bundle(bundle: Path, rootfs_maker, args: List[str],
                hooks: Optional[List[Dict]] = None, mounts: Optional[List[Dict]] = None
                ) -> Path:
    """A bundle from ``runc spec``: no terminal, writable root, the probe as the process."""
    bundle.mkdir(parents=True)
    rootfs = rootfs_maker(bundle / "rootfs")
    shutil.copy2(build_probe(), rootfs / "probe")
    subprocess.run([RUNC, "spec", "--bundle", str(bundle)], check=True, capture_output=True)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/probe", *args]
    config["process"]["env"] = ["PATH=/usr/bin:/bin"]
    config["root"] = {"path": "rootfs", "readonly": False}
    config["mounts"].extend(mounts or [])
    if hooks:
        config["hooks"] = {"createContainer": hooks}
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


@pytest.fixture(scope="module")
def runc(tmp_path_factory) -> Runc:
    """runc, once proven able to run a container here (else the whole module is skipped)."""
    if RUNC is None:
        pytest.skip("runc is not installed")
    if os.geteuid() != 0:
        pytest.skip("runc needs root here (no rootless set-up)")
    tmp = tmp_path_factory.mktemp("runc")
    r = Runc(tmp / "state")
    bundle = make_bundle(tmp / "probe", glibc_rootfs, ["libc.so.6"])
    try:
        p = r.run(bundle, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.skip("runc cannot run a container here (timed out)")
    if p.returncode != 0:
        why = (p.stderr or p.stdout).decode(errors="replace").strip().splitlines()
        pytest.skip(f"runc cannot run a container here: {why[-1] if why else p.returncode}")
    return r


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> Dict[str, Path]:
    """The launcher, installed under NVIDIA's names (symlinks in place of its binaries)."""
    d = tmp_path_factory.mktemp("bin")
    launcher = write_launcher(d / "cdi-hook")
    for name in ("nvidia-cdi-hook", "nvidia-ctk"):
        (d / name).symlink_to("cdi-hook")
    return {"cdi-hook": launcher, "nvidia-cdi-hook": d / "nvidia-cdi-hook",
            "nvidia-ctk": d / "nvidia-ctk"}


def nvidia_mount(host_dir: Path) -> Dict:
    return {"destination": NV, "type": "bind", "source": str(host_dir),
            "options": ["rbind", "rw", "nosuid", "nodev"]}


def cdi_hooks(programs: Dict[str, Path], shape: str, env: List[str]) -> List[Dict]:
    """The createContainer hooks a CDI spec for these libraries carries."""
    links = ["--link", f"{NV}/libcuda.so.1::/usr/lib/{HOST_TRIPLET}/libcuda.so",
             "--link", "libnvidia-ml.so.1::/usr/lib/nvidia/libnvidia-ml.so"]
    if shape == "nvidia-ctk":
        prog, pre = programs["nvidia-ctk"], ["nvidia-ctk", "hook"]
    else:
        prog, pre = programs["nvidia-cdi-hook"], ["nvidia-cdi-hook"]
    return [
        {"path": str(prog), "args": [*pre, "create-symlinks", *links], "env": env},
        {"path": str(prog), "args": [*pre, "update-ldcache", "--folder", NV], "env": env},
    ]


SONAMES = sorted(NVIDIA_LIBS.values())
PROBE_ARGS = [*SONAMES, "libcuda.so", "libc.so.6"]


def expected_paths() -> Dict[str, str]:
    out = {s: f"{NV}/{s}" for s in SONAMES}
    out["libcuda.so"] = f"/usr/lib/{HOST_TRIPLET}/libcuda.so"  # the create-symlinks link
    out["libc.so.6"] = f"/lib/{HOST_TRIPLET}/libc.so.6"
    return out


def check_run(p: subprocess.CompletedProcess, rootfs: Path, host_dir: Path) -> None:
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
    assert parse_probe(p.stdout) == expected_paths()
    # What the hooks left: the cache, the drop-in, the SONAME links in the mounted folder.
    entries = parse((rootfs / "etc/ld.so.cache").read_bytes()).entries
    assert {e.soname.decode() for e in entries} >= set(SONAMES)
    assert [n for n in os.listdir(rootfs / "etc/ld.so.conf.d") if n.startswith("00-nvcr-")]
    for name, soname in NVIDIA_LIBS.items():
        assert os.readlink(host_dir / soname) == name


def test_runc_glibc_image(runc, programs, tmp_path):
    host_dir = nvidia_dir(tmp_path / "host-nvidia")
    bundle = make_bundle(tmp_path / "bundle", glibc_rootfs, PROBE_ARGS,
                         cdi_hooks(programs, "nvidia-cdi-hook", CLEAN_ENV),
                         [nvidia_mount(host_dir)])
    p = runc.run(bundle)
    check_run(p, bundle / "rootfs", host_dir)
    assert os.readlink(host_dir / "libnvidia-ml.so") == "libnvidia-ml.so.1"


def test_runc_without_the_hooks_the_libraries_are_not_found(runc, programs, tmp_path):
    """The control: the same container without the hooks cannot load them by SONAME."""
    host_dir = nvidia_dir(tmp_path / "host-nvidia")
    bundle = make_bundle(tmp_path / "bundle", glibc_rootfs, PROBE_ARGS, None,
                         [nvidia_mount(host_dir)])
    p = runc.run(bundle)
    got = parse_probe(p.stdout)
    assert p.returncode != 0
    for soname in SONAMES:
        assert got[soname].startswith("FAIL"), got
    assert got["libc.so.6"] == f"/lib/{HOST_TRIPLET}/libc.so.6"


def test_runc_distroless_image(runc, programs, tmp_path):
    """Only libc and the loader: no /etc, no ld.so.conf, no cache, no ldconfig; the hooks
    given in nvidia-ctk's shape."""
    host_dir = nvidia_dir(tmp_path / "host-nvidia")
    bundle = make_bundle(tmp_path / "bundle", distroless_rootfs, PROBE_ARGS,
                         cdi_hooks(programs, "nvidia-ctk", CLEAN_ENV), [nvidia_mount(host_dir)])
    rootfs = bundle / "rootfs"
    assert not (rootfs / "etc").exists()
    assert not any(n == "ldconfig" for d, ds, fs in os.walk(rootfs) for n in fs)
    p = runc.run(bundle)
    check_run(p, rootfs, host_dir)
    assert (rootfs / "etc/ld.so.conf").read_text() == "include /etc/ld.so.conf.d/*.conf\n"


def _bait(top: Path, trip: Path) -> None:
    """Python modules that would leave a file in ``trip`` if anything imported them."""
    for name in ("sitecustomize", "usercustomize", "ldcache", "hook", "ldcache_hook",
                 "construct", "json",
                 "elftools", "re", "os", "encodings", "startup"):
        code = f"open({str(trip / name)!r}, 'w').close()\n"
        if name in ("sitecustomize", "usercustomize", "re", "os", "startup"):
            (top / f"{name}.py").write_text(code)
        else:
            (top / name).mkdir(exist_ok=True)
            (top / name / "__init__.py").write_text(code)


def test_runc_hostile_python_environment(runc, programs, tmp_path):
    """The hooks get the image's kind of environment: PYTHONPATH to a directory of bait
    (sitecustomize, a fake ldcache and hook package…), PYTHONHOME, PYTHONSTARTUP,
    PYTHONINSPECT; and the same bait where the hook's working directory may be (the
    container root, the bundle).  The tripwire directory must stay empty."""
    trip = tmp_path / "tripwire"
    trip.mkdir()
    evil = tmp_path / "evil"
    evil.mkdir()
    _bait(evil, trip)
    host_dir = nvidia_dir(tmp_path / "host-nvidia")
    env = [f"PYTHONPATH={evil}", f"PYTHONHOME={evil}", f"PYTHONSTARTUP={evil}/startup.py",
           "PYTHONINSPECT=1", f"PYTHONUSERBASE={evil}", f"HOME={evil}",
           f"PYTHONPYCACHEPREFIX={evil}/pycache", "PYTHONWARNINGS=error::DeprecationWarning"]
    bundle = make_bundle(tmp_path / "bundle", glibc_rootfs, PROBE_ARGS,
                         cdi_hooks(programs, "nvidia-cdi-hook", env), [nvidia_mount(host_dir)])
    _bait(bundle / "rootfs", trip)
    _bait(bundle, trip)
    p = runc.run(bundle)
    assert os.listdir(trip) == []
    assert not (evil / "pycache").exists()
    check_run(p, bundle / "rootfs", host_dir)


def test_runc_hook_failure_stops_the_container(runc, programs, tmp_path):
    """A failing hook (a malformed link spec) is one line and a non-zero exit, and runc
    refuses to start the container; an unknown hook from a newer toolkit is not."""
    host_dir = nvidia_dir(tmp_path / "host-nvidia")
    hooks = [{"path": str(programs["nvidia-cdi-hook"]),
              "args": ["nvidia-cdi-hook", "hook-from-the-future", "--flag", "x"],
              "env": CLEAN_ENV},
             *cdi_hooks(programs, "nvidia-cdi-hook", CLEAN_ENV)]
    bundle = make_bundle(tmp_path / "ok", glibc_rootfs, PROBE_ARGS, hooks,
                         [nvidia_mount(host_dir)])
    check_run(runc.run(bundle), bundle / "rootfs", host_dir)
    bad = [{"path": str(programs["nvidia-cdi-hook"]),
            "args": ["nvidia-cdi-hook", "create-symlinks", "--link", "no-separator"],
            "env": CLEAN_ENV}]
    bundle = make_bundle(tmp_path / "bad", glibc_rootfs, PROBE_ARGS, bad)
    p = runc.run(bundle)
    assert p.returncode != 0
    assert b"invalid symlink specification" in p.stderr


# ------------------------------------------------- disable-device-node-modification under runc

#: Run inside ``unshare --mount --propagation private``: a tmpfs over /proc/driver holding
#: the stand-in NVIDIA params (the "host's", as every process of this namespace sees
#: them), then ``runc run`` (its container's mount namespace is copied from this one, so
#: the createContainer hook — run there before the pivot — reads the stand-in as the
#: host's file); then what this namespace shows afterwards.  One JSON document.
_RUNC_NS_SCRIPT = r'''
import json, os, subprocess, sys

a = json.loads(sys.argv[1])


def mounts(under):
    out = []
    for line in open("/proc/self/mountinfo"):
        point = line.split()[4]
        if point == under or point.startswith(under + "/"):
            out.append(point)
    return sorted(out)


subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0555", "tmpfs", "/proc/driver"],
               check=True)
os.mkdir("/proc/driver/nvidia")
with open("/proc/driver/nvidia/params", "w") as f:
    f.write(a["params"])
before = mounts("/proc/driver") + mounts(a["rootfs"])
p = subprocess.run(a["run"], capture_output=True, stdin=subprocess.DEVNULL, timeout=120)
subprocess.run(a["delete"], capture_output=True)
with open("/proc/driver/nvidia/params") as f:
    host_after = f.read()
print(json.dumps({"rc": p.returncode, "stdout": p.stdout.decode(), "stderr": p.stderr.decode(),
                  "mounts_before": before,
                  "mounts_after": mounts("/proc/driver") + mounts(a["rootfs"]),
                  "host_after": host_after}))
'''

_NV_PARAMS = ("ResmanDebugLevel: 4294967295\nRmLogonRC: 1\nModifyDeviceFiles: 1\n"
              "DeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n")


@pytest.mark.parametrize("with_hook", [True, False], ids=["hook", "control"])
def test_runc_disable_device_node_modification(runc, programs, tmp_path, with_hook):
    """runc runs ``nvidia-cdi-hook disable-device-node-modification`` as a createContainer
    hook; the host's /proc/driver/nvidia/params is a stand-in saying ``ModifyDeviceFiles:
    1`` (a tmpfs over /proc/driver in a private mount namespace runc is started in), and
    the container's /proc is that procfs, bound (runc allows only a procfs there), so the
    file exists in the container as on an NVIDIA host.  The container's process sees the
    copy saying ``0``, mode 0444, and cannot open it for writing (EROFS, even as root);
    the host's file is unchanged, and nothing is left mounted or made in the root.  The
    control, the same container without the hook, sees the stand-in itself, writable."""
    from support.hookroots import build_view, parse_view

    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("no unshare/mount (util-linux) on this machine")
    if not os.path.isdir("/proc/driver"):
        pytest.skip("no /proc/driver to cover with a tmpfs")
    if os.path.exists("/proc/driver/nvidia/params"):
        pytest.skip("this machine has an NVIDIA driver loaded (/proc/driver/nvidia/params)")
    params = "/proc/driver/nvidia/params"
    hook = {"path": str(programs["nvidia-cdi-hook"]),
            "args": ["nvidia-cdi-hook", "disable-device-node-modification"],
            "env": CLEAN_ENV}
    bundle = make_bundle(tmp_path / "bundle", glibc_rootfs, [], [hook] if with_hook else None)
    rootfs = bundle / "rootfs"
    (rootfs / "run").mkdir()
    shutil.copy2(build_view(), rootfs / "view")
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/view", f"hex:{params}", f"lstat:{params}",
                                 f"append:{params}", "list:/run", "hex:/proc/self/mountinfo"]
    # root with CAP_DAC_OVERRIDE: only the read-only mount can refuse the write (without it
    # the 0444 mode alone gives EACCES first)
    for caps in config["process"]["capabilities"].values():
        caps.append("CAP_DAC_OVERRIDE")
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/proc"]
    config["mounts"].insert(0, {"destination": "/proc", "type": "bind", "source": "/proc",
                                "options": ["rbind", "nosuid", "noexec", "nodev"]})
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    script = tmp_path / "ns.py"
    script.write_text(_RUNC_NS_SCRIPT)
    cid = f"cdihook-{uuid.uuid4().hex[:12]}"
    args = {"params": _NV_PARAMS, "rootfs": str(rootfs),
            "run": runc.cmd("run", "--bundle", str(bundle), cid),
            "delete": runc.cmd("delete", "--force", cid)}
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        str(script), json.dumps(args)], capture_output=True, timeout=180,
                       cwd="/")
    assert p.returncode == 0, p.stderr.decode()
    r = json.loads(p.stdout)
    assert r["rc"] == 0, r
    view = parse_view(r["stdout"].encode())
    mountinfo = bytes.fromhex(view["hex:/proc/self/mountinfo"]).decode().splitlines()
    options = [line.split()[5].split(",") for line in mountinfo if line.split()[4] == params]
    if not with_hook:
        assert bytes.fromhex(view[f"hex:{params}"]).decode() == _NV_PARAMS
        assert view[f"append:{params}"] == "OK" and options == []
        return
    assert bytes.fromhex(view[f"hex:{params}"]).decode() == _NV_PARAMS.replace(
        "ModifyDeviceFiles: 1", "ModifyDeviceFiles: 0")
    assert view[f"lstat:{params}"] == "f 0444 0 0"
    assert view[f"append:{params}"] == "ERR EROFS"
    assert view["list:/run"] == ""  # no scratch directory in the image's /run
    # the container's own mount table: the copy on a mount of its own, read-only
    assert len(options) == 1 and {"ro", "nosuid", "nodev", "noexec"} <= set(options[0]), \
        mountinfo
    assert r["host_after"] == _NV_PARAMS
    assert r["mounts_after"] == r["mounts_before"] == ["/proc/driver"]
    assert sorted(os.listdir(rootfs / "run")) == []
    assert not (rootfs / "proc/driver").exists()
