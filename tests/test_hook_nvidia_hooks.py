"""NVIDIA's two newest hooks: disable-device-node-modification and update-application-profile.

NVIDIA's Go unit tests (TestGetModifiedParamsFileContentsFromReader, TestSelectGPUMinors,
TestBuildApplicationProfileConfig), case for case; the params mount made for real in a
private mount namespace (a tmpfs standing in for the host's /proc/driver), by both
mechanisms of Root.mount_readonly_copy, with tripwires; update-application-profile through
the program, and against NVIDIA's own binary on twin roots."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest
from ldcache_hook.application_profile import (
    DeviceNode,
    gpu_mask,
    profile_config,
    select_gpu_minors,
)
from ldcache_hook.device_nodes import modified_params
from ldcache_hook.log import Log
from support.hookroots import (
    PROJECT,
    hook_launcher,  # noqa: F401 (a pytest fixture, used by name as a test argument)
    host_tripwire,
    run_hook,
    snapshot,
    state,
    write_bundle,
)

PEER = PROJECT.parent / "shared/peers/nvidia-cdi-hook"
PARAMS = "proc/driver/nvidia/params"
PROFILE = "etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf"
NVIDIA_MAJOR = 195


# ------------------------------------------------------------------------ NVIDIA's unit tests

@pytest.mark.parametrize("contents,expected", [
    pytest.param(b"", None, id="no contents"),
    pytest.param(b"# Some other content\n\t\t\tthat we don't care about\n\t\t\t", None,
                 id="other contents are ignored"),
    pytest.param(b"ModifyDeviceFiles: 0", None, id="already zero requires no modification"),
    pytest.param(b"  ModifyDeviceFiles: 1", None, id="leading spaces require no modification"),
    pytest.param(b"ModifyDeviceFiles: 1  ", None,
                 id="Trailing spaces require no modification"),
    pytest.param(b"ModifyDeviceFiles: 11", None, id="Not 1 require no modification"),
    pytest.param(b"ModifyDeviceFiles: 1", b"ModifyDeviceFiles: 0\n",
                 id="single line requires modification"),
    pytest.param(b"ModifyDeviceFiles: 1\n", b"ModifyDeviceFiles: 0\n",
                 id="single line with trailing newline requires modification"),
    pytest.param(b"ModifyDeviceFiles: 1\n\t\t\tother content\n\t\t\tthat\n\t\t\tis maintained",
                 b"ModifyDeviceFiles: 0\n\t\t\tother content\n\t\t\tthat\n\t\t\tis maintained\n",
                 id="other content is maintained"),
])
def test_get_modified_params_file_contents(contents, expected):
    assert modified_params(contents) == expected


@pytest.mark.parametrize("contents,expected", [
    # Lines as Go's bufio.ScanLines splits them: a \r before the \n is dropped.
    (b"A: 1\r\nModifyDeviceFiles: 1\r\n", b"A: 1\nModifyDeviceFiles: 0\n"),
    (b"ModifyDeviceFiles: 1\n\nB: 2", b"ModifyDeviceFiles: 0\n\nB: 2\n"),
    # A "0" line anywhere means nothing is to be done, even after a "1" line.
    (b"ModifyDeviceFiles: 1\nModifyDeviceFiles: 0\n", None),
])
def test_modified_params_line_splitting(contents, expected):
    assert modified_params(contents) == expected


def _nodes(*items: Tuple[str, bool, int]) -> list:
    return [DeviceNode(*i) for i in items]


@pytest.mark.parametrize("nodes,expected", [
    pytest.param(_nodes(("nvidia0", True, 0)), [0], id="single GPU"),
    pytest.param(_nodes(("nvidia0", True, 1), ("nvidia1", True, 0)), [1, 0],
                 id="multiple GPUs, minor != filename order"),
    pytest.param(_nodes(("nvidia10", True, 10)), [10], id="multi-digit minor"),
    pytest.param(_nodes(("nvidia0", True, 0), ("nvidiactl", True, 255),
                        ("nvidia-modeset", True, 254), ("nvidia-uvm", True, 511),
                        ("nvidia-uvm-tools", True, 510)), [0],
                 id="control and modeset nodes are excluded"),
    pytest.param(_nodes(("nvidia-caps", False, 0), ("nvidia-caps-imex-channels", False, 0),
                        ("nvidia1", True, 1)), [1], id="caps and imex nodes are excluded"),
    pytest.param(_nodes(("nvidia0", False, 0)), [],
                 id="non-char-device with matching name is excluded"),
    pytest.param(_nodes(("null", True, 3), ("zero", True, 5)), [],
                 id="unrelated device nodes are excluded"),
    pytest.param([], [], id="no nodes"),
])
def test_select_gpu_minors(nodes, expected):
    assert select_gpu_minors(nodes) == expected


_PROFILE_TEXT = ('{"profiles":[{"name":"_container_","settings":["EGLVisibleDGPUDevices",%s]}],'
                 '"rules":[{"pattern":[],"profile":"_container_"}]}')


@pytest.mark.parametrize("mask,expected", [
    pytest.param(1 << 0, _PROFILE_TEXT % "0x1", id="single GPU, minor 0"),
    pytest.param(1 << 8, _PROFILE_TEXT % "0x100", id="minor 8"),
    pytest.param((1 << 0) | (1 << 15), _PROFILE_TEXT % "0x8001", id="minors 0 and 15 combined"),
    pytest.param(0, _PROFILE_TEXT % "0x0", id="no GPUs"),
])
def test_build_application_profile_config(mask, expected):
    assert profile_config(mask) == expected.encode()


def test_gpu_mask_drops_minors_outside_0_to_63(capsys):
    log = Log("t")
    assert gpu_mask([0, 63, 64, -1, 3], log) == (1 << 63) | (1 << 3) | 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("t: warning: ") for line in err)
    assert "64" in err[0] and "-1" in err[1]


# ----------------------------------------------------------------- disable-device-node-modification


def test_nothing_to_do_without_host_params_reads_no_state(hook_launcher):
    """No /proc/driver/nvidia/params on the host: exit 0 before the state is read."""
    if os.path.exists("/" + PARAMS):
        pytest.skip("this machine has an NVIDIA driver loaded (/proc/driver/nvidia/params)")
    p = run_hook(hook_launcher, ["--debug", "disable-device-node-modification"], b"not json")
    assert p.returncode == 0, p.stderr
    assert b"does not exist: nothing to do" in p.stderr


#: Run inside ``unshare --mount --propagation private``: a tmpfs over /proc/driver holding
#: the params under test, then the hook (the program, or in-process with the fd-based mount
#: API switched off), then what the container root shows.  Prints one JSON document.
_NS_SCRIPT = r'''
import contextlib, hashlib, io, json, os, subprocess, sys

a = json.loads(sys.argv[1])


def tree(top):
    out = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ["link", os.readlink(p)]
            elif os.path.isfile(p):
                out[rel] = ["file", oct(st.st_mode), hashlib.sha256(open(p, "rb").read())
                            .hexdigest()]
            else:
                out[rel] = ["other", oct(st.st_mode)]
    return out


def mounts(under):
    out = {}
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        point = f[4].replace("\\040", " ")
        if point == under or point.startswith(under + "/"):
            out[point] = f[5].split(",")
    return out


subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0555", "tmpfs", "/proc/driver"],
               check=True)
if a["params"] is not None:
    os.mkdir("/proc/driver/nvidia")
    if a["params"] == "<dir>":
        os.mkdir("/proc/driver/nvidia/params")
    else:
        with open("/proc/driver/nvidia/params", "w") as f:
            f.write(a["params"])
before = {t: tree(t) for t in a["trees"]}
mounted = mounts(a["watch"])
if a["how"] == "program":
    p = subprocess.run(a["argv"], input=a["state"].encode(), capture_output=True,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, cwd="/")
    rc, err = p.returncode, p.stderr.decode()
else:
    import ldcache.inroot.mount as mount
    if a["how"] == "scratch":
        mount._detached_mounts = False
    else:  # "refuse:CALL:ERRNO": the fd-based mount API's CALL fails with ERRNO
        _, call, code = a["how"].split(":")
        real = mount._MountCalls.syscall

        def refusing(self, name, *args):
            if name == call:
                raise OSError(int(code), name + ": " + os.strerror(int(code)))
            return real(self, name, *args)

        mount._MountCalls.syscall = refusing
    from ldcache_hook.main import run
    sink = io.StringIO()
    with contextlib.redirect_stderr(sink):
        rc = run("nvidia-cdi-hook", a["argv"], stdin=io.BytesIO(a["state"].encode()), env={})
    err = sink.getvalue()
out = {"rc": rc, "stderr": err,
       "mounts": {k: v for k, v in mounts(a["watch"]).items() if k not in mounted},
       "changed": {t: sorted(k for k in set(before[t]) | set(after)
                             if before[t].get(k) != after.get(k))
                   for t, after in ((t, tree(t)) for t in a["trees"])}}
target = a["target"]
try:
    with open(target) as f:
        out["content"] = f.read()
    out["mode"] = oct(os.stat(target).st_mode)
except OSError as e:
    out["content"] = None
try:
    os.close(os.open(target, os.O_WRONLY | os.O_APPEND))
    out["write_errno"] = 0
except OSError as e:
    out["write_errno"] = e.errno
print(json.dumps(out))
'''

_HOST_PARAMS = ("ResmanDebugLevel: 4294967295\nRmLogonRC: 1\nModifyDeviceFiles: 1\n"
                "DeviceFileUID: 0\nDeviceFileGID: 0\nDeviceFileMode: 438\n")
_COPY = _HOST_PARAMS.replace("ModifyDeviceFiles: 1", "ModifyDeviceFiles: 0")
_ORIGINAL = "the container's own procfs file\n"


def _requires_namespace() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root (CAP_SYS_ADMIN) in a private mount namespace")
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("no unshare/mount (util-linux) on this machine")
    if not os.path.isdir("/proc/driver"):
        pytest.skip("no /proc/driver to cover with a tmpfs")


def _params_root(top: Path) -> Tuple[Path, Path, Path]:
    """(bundle, rootfs, tripwire): a root with its own /proc/driver/nvidia/params and /run,
    and beside it a tripwire shaped like it."""
    bundle = top / "bundle"
    rootfs = bundle / "rootfs"
    (rootfs / PARAMS).parent.mkdir(parents=True)
    (rootfs / PARAMS).write_text(_ORIGINAL)
    (rootfs / "run").mkdir()
    (rootfs / "etc").mkdir()
    write_bundle(bundle)
    trip = host_tripwire(top / "tripwire")
    (trip / PARAMS).parent.mkdir(parents=True)
    (trip / PARAMS).write_text("tripwire\n")
    return bundle, rootfs, trip


def _in_namespace(tmp_path: Path, *, params: Optional[str], argv: list, stdin: bytes,
                  target: Path, trees: list, how: str = "program") -> dict:
    script = tmp_path / "ns.py"
    script.write_text(_NS_SCRIPT)
    args = {"params": params, "argv": argv, "state": stdin.decode(), "target": str(target),
            "trees": [str(t) for t in trees], "watch": str(tmp_path), "how": how}
    p = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                        str(script), json.dumps(args)], capture_output=True, timeout=60,
                       cwd="/")
    assert p.returncode == 0, p.stderr.decode()
    return json.loads(p.stdout)


@pytest.mark.parametrize("how", [
    "program", "scratch", "scratch-without-run",
    # Where the kernel lacks the fd-based API, or will not clone out of a detached mount,
    # the attempt leaves nothing behind and the scratch mechanism is used.
    f"refuse:fsopen:{errno.ENOSYS}", f"refuse:open_tree:{errno.EINVAL}",
    f"refuse:mount_setattr:{errno.ENOSYS}",
])
def test_params_copy_mounted_read_only(tmp_path, hook_launcher, how):
    """ModifyDeviceFiles: 1 on the host: the root sees the copy with 0, read-only (EROFS
    even for root), on a mount of its own; nothing else in the root or outside it changes,
    and once the namespace is gone the root is exactly as before (no scratch left, in /run
    or, for a root without /run, in /)."""
    _requires_namespace()
    bundle, rootfs, trip = _params_root(tmp_path)
    if how == "scratch-without-run":
        (rootfs / "run").rmdir()
        how = "scratch"
    pristine = (snapshot(rootfs), snapshot(trip))
    argv = ([str(hook_launcher)] if how == "program" else []) + [
        "--debug", "disable-device-node-modification"]
    r = _in_namespace(tmp_path, params=_HOST_PARAMS, argv=argv, stdin=state(bundle),
                      target=rootfs / PARAMS, trees=[rootfs, trip], how=how)
    assert r["rc"] == 0, r
    lines = r["stderr"].splitlines()
    assert all(": debug: " in line for line in lines), lines
    # The mechanism: "scratch" when the fd-based mount API is switched off; the program
    # uses the fd-based one wherever this kernel lets it clone out of a detached mount.
    mechanisms = ["detached", "scratch"] if how == "program" else ["scratch"]
    assert any(f"({m} tmpfs)" in lines[-1] for m in mechanisms), lines
    assert r["content"] == _COPY
    assert r["mode"] == oct(stat.S_IFREG | 0o444)
    assert r["write_errno"] == 30  # EROFS
    assert list(r["mounts"]) == [str(rootfs / PARAMS)]
    options = r["mounts"][str(rootfs / PARAMS)]
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(options), options
    assert r["changed"] == {str(rootfs): [PARAMS], str(trip): []}
    assert (snapshot(rootfs), snapshot(trip)) == pristine
    assert (rootfs / PARAMS).read_text() == _ORIGINAL


@pytest.mark.parametrize("params", [
    pytest.param("ModifyDeviceFiles: 0\n", id="already-0"),
    pytest.param("ResmanDebugLevel: 4294967295\n", id="no-setting"),
    pytest.param(None, id="no-params-file"),
])
def test_nothing_to_do_mounts_nothing_and_reads_no_state(tmp_path, hook_launcher, params):
    _requires_namespace()
    bundle, rootfs, trip = _params_root(tmp_path)
    r = _in_namespace(tmp_path, params=params, argv=[
        str(hook_launcher), "disable-device-node-modification"], stdin=b"not json",
        target=rootfs / PARAMS, trees=[rootfs, trip])
    assert r["rc"] == 0 and r["stderr"] == "", r
    assert r["mounts"] == {} and r["content"] == _ORIGINAL
    assert r["changed"] == {str(rootfs): [], str(trip): []}


@pytest.mark.parametrize("case", ["missing-target", "relative-escape", "absolute-escape",
                                  "params-is-a-directory"])
def test_failures_are_one_line_and_mount_nothing(tmp_path, hook_launcher, case):
    """No target in the root (also where /proc is a link aimed at the tripwire: followed
    inside the root only), or an unreadable host file: exit 1, one line, no mount."""
    _requires_namespace()
    bundle, rootfs, trip = _params_root(tmp_path)
    shutil.rmtree(rootfs / "proc")
    if case == "relative-escape":
        (rootfs / "proc").symlink_to("../../tripwire/proc")
    elif case == "absolute-escape":
        (rootfs / "proc").symlink_to(trip / "proc")
    pristine = snapshot(trip)
    r = _in_namespace(tmp_path, params=("<dir>" if case == "params-is-a-directory"
                                        else _HOST_PARAMS),
                      argv=[str(hook_launcher), "disable-device-node-modification"],
                      stdin=state(bundle), target=trip / PARAMS, trees=[rootfs, trip])
    assert r["rc"] == 1, r
    lines = r["stderr"].splitlines()
    assert len(lines) == 1 and "Traceback" not in r["stderr"], r["stderr"]
    assert lines[0].startswith("nvidia-cdi-hook: error: disable-device-node-modification: ") \
        or lines[0].startswith("cdi-hook: error: disable-device-node-modification: "), lines
    if case == "params-is-a-directory":
        assert "driver parameters" in lines[0]
    else:
        assert "does not exist" in lines[0]
    assert r["mounts"] == {} and r["content"] == "tripwire\n" and r["write_errno"] == 0
    assert r["changed"] == {str(rootfs): [], str(trip): []}
    assert snapshot(trip) == pristine


@pytest.mark.parametrize("how", [f"refuse:move_mount:{errno.EPERM}",
                                 f"refuse:mount_setattr:{errno.EPERM}"])
def test_mount_failure_is_one_line_and_leaves_nothing(tmp_path, how):
    """A failure of the fd-based mount API other than "not supported" is the hook's error
    (no second attempt): one line, exit 1, nothing mounted, nothing left in the root."""
    _requires_namespace()
    bundle, rootfs, trip = _params_root(tmp_path)
    pristine = snapshot(rootfs)
    r = _in_namespace(tmp_path, params=_HOST_PARAMS, argv=[
        "disable-device-node-modification"], stdin=state(bundle), target=rootfs / PARAMS,
        trees=[rootfs, trip], how=how)
    assert r["rc"] == 1, r
    lines = r["stderr"].splitlines()
    call = how.split(":")[1]
    assert len(lines) == 1 and f"{call}: Operation not permitted" in lines[0], lines
    assert r["mounts"] == {} and r["content"] == _ORIGINAL
    assert r["changed"] == {str(rootfs): [], str(trip): []}
    assert snapshot(rootfs) == pristine


def test_params_copy_same_as_nvidia(tmp_path):
    """NVIDIA's binary, given the same host params, shows the container the same text."""
    _requires_namespace()
    if not PEER.exists():
        pytest.skip(f"NVIDIA's nvidia-cdi-hook is not at {PEER}")
    bundle, rootfs, trip = _params_root(tmp_path)
    r = _in_namespace(tmp_path, params=_HOST_PARAMS, argv=[
        str(PEER), "disable-device-node-modification"], stdin=state(bundle),
        target=rootfs / PARAMS, trees=[trip])
    assert r["rc"] == 0, r
    assert r["content"] == _COPY
    assert r["changed"] == {str(trip): []}


# ---------------------------------------------------------------------- update-application-profile


def _dev_root(root: Path, case: str) -> Path:
    """A container root for update-application-profile: ``case`` says what its /dev holds."""
    root.mkdir(parents=True)
    (root / "etc").mkdir()
    if case == "no-dev":
        return root
    if case == "dev-is-a-file":
        (root / "dev").write_text("not a directory\n")
        return root
    dev = root / "dev"
    dev.mkdir()
    (dev / "nvidia5").write_text("a regular file named like a GPU\n")
    (dev / "nvidia6").symlink_to("nvidia0")
    (dev / "nvidia-caps").mkdir()
    if case == "no-gpus":
        return root

    def chr_node(name: str, major: int, minor: int) -> None:
        os.mknod(dev / name, stat.S_IFCHR | 0o666, os.makedev(major, minor))

    chr_node("null", 1, 3)
    if case == "only-out-of-range":
        chr_node("nvidia64", NVIDIA_MAJOR, 64)
        return root
    for name, minor in (("nvidia0", 0), ("nvidia1", 3), ("nvidia12", 12), ("nvidia64", 64),
                        ("nvidiactl", 255), ("nvidia-modeset", 254)):
        chr_node(name, NVIDIA_MAJOR, minor)
    chr_node("nvidia-uvm", 235, 0)
    if case == "existing-dirs":
        (root / "etc/nvidia").mkdir(mode=0o750)
    elif case == "rewrite":
        (root / PROFILE).parent.mkdir(parents=True)
        (root / PROFILE).write_text("old profile\n")
        os.chmod(root / PROFILE, 0o444)
    return root


def _tree(top: Path) -> Dict[str, tuple]:
    """Everything under ``top``: type, mode, owner and content, link text or device number."""
    out: Dict[str, tuple] = {}
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            p = Path(d) / n
            st = os.lstat(p)
            rel = str(p.relative_to(top))
            kind = stat.S_IFMT(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                what: object = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                what = st.st_rdev if stat.S_ISCHR(st.st_mode) else None
            out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, what)
    return out


def _mknod_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("character devices (mknod) need root")


def _profile(tmp_path: Path, hook_launcher: Path, case: str, debug: bool = False):
    bundle = tmp_path / "b"
    rootfs = _dev_root(bundle / "rootfs", case)
    write_bundle(bundle)
    args = (["--debug"] if debug else []) + ["update-application-profile"]
    return rootfs, run_hook(hook_launcher, args, state(bundle))


def test_profile_written_for_the_gpus_in_dev(tmp_path, hook_launcher):
    _mknod_or_skip()
    rootfs, p = _profile(tmp_path, hook_launcher, "gpus")
    assert p.returncode == 0, p.stderr
    # nvidia0 (0), nvidia1 (3), nvidia12 (12); nvidia64 dropped; ctl, modeset, uvm, the
    # regular file, the symlink and the directory are no GPUs.
    assert (rootfs / PROFILE).read_bytes() == profile_config(0x1009)
    assert (rootfs / PROFILE).read_bytes() == (_PROFILE_TEXT % "0x1009").encode()
    assert stat.S_IMODE((rootfs / PROFILE).stat().st_mode) == 0o444
    for d in ("etc/nvidia", "etc/nvidia/nvidia-application-profiles-rc.d"):
        assert stat.S_IMODE((rootfs / d).stat().st_mode) == 0o555, d
    assert os.listdir((rootfs / PROFILE).parent) == ["10-container.conf"]  # no temporaries
    err = p.stderr.decode().splitlines()
    assert len(err) == 1 and err[0].startswith("cdi-hook: warning: ") and "64" in err[0], err


@pytest.mark.parametrize("case", ["no-dev", "no-gpus", "only-out-of-range"])
def test_no_usable_gpu_writes_nothing(tmp_path, hook_launcher, case):
    if case == "only-out-of-range":
        _mknod_or_skip()
    bundle = tmp_path / "b"
    rootfs = _dev_root(bundle / "rootfs", case)
    write_bundle(bundle)
    before = _tree(rootfs)
    p = run_hook(hook_launcher, ["update-application-profile"], state(bundle))
    assert p.returncode == 0, p.stderr
    assert _tree(rootfs) == before
    assert (b"warning" in p.stderr) == (case == "only-out-of-range"), p.stderr


def test_dev_not_a_directory_is_one_line_error(tmp_path, hook_launcher):
    rootfs, p = _profile(tmp_path, hook_launcher, "dev-is-a-file")
    assert p.returncode == 1
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "cdi-hook: error: update-application-profile: cannot list /dev"), lines
    assert not (rootfs / "etc/nvidia").exists()


@pytest.mark.parametrize("link", ["relative", "absolute"])
def test_profile_symlink_aimed_outside_is_replaced_not_followed(tmp_path, hook_launcher, link):
    _mknod_or_skip()
    trip = host_tripwire(tmp_path / "tripwire")
    pristine = snapshot(trip)
    bundle = tmp_path / "b"
    rootfs = _dev_root(bundle / "rootfs", "gpus")
    (rootfs / PROFILE).parent.mkdir(parents=True)
    (rootfs / PROFILE).symlink_to("../../../../../tripwire/secret" if link == "relative"
                                  else str(trip / "secret"))
    write_bundle(bundle)
    p = run_hook(hook_launcher, ["update-application-profile"], state(bundle))
    assert p.returncode == 0, p.stderr
    assert not (rootfs / PROFILE).is_symlink()
    assert (rootfs / PROFILE).read_bytes() == profile_config(0x1009)
    assert snapshot(trip) == pristine


def test_dev_link_is_followed_inside_the_root(tmp_path, hook_launcher):
    """``/dev -> /realdev`` (absolute) is the root's /realdev (NVIDIA's hook fails here:
    Go's os.Root refuses absolute links); the host's /realdev-alike is never looked at."""
    _mknod_or_skip()
    bundle = tmp_path / "b"
    rootfs = _dev_root(bundle / "rootfs", "gpus")
    (rootfs / "dev").rename(rootfs / "realdev")
    (rootfs / "dev").symlink_to("/realdev")
    write_bundle(bundle)
    p = run_hook(hook_launcher, ["update-application-profile"], state(bundle))
    assert p.returncode == 0, p.stderr
    assert (rootfs / PROFILE).read_bytes() == profile_config(0x1009)


@pytest.mark.parametrize("case", ["gpus", "no-dev", "no-gpus", "only-out-of-range",
                                  "existing-dirs", "rewrite", "dev-is-a-file"])
def test_profile_same_tree_as_nvidia(tmp_path, hook_launcher, case):
    """Twin roots, one given to NVIDIA's binary and one to ours: the same trees (types,
    modes, owners, contents) and the same exit status."""
    if not PEER.exists():
        pytest.skip(f"NVIDIA's nvidia-cdi-hook is not at {PEER}")
    if case not in ("no-dev", "no-gpus", "dev-is-a-file"):
        _mknod_or_skip()
    trees = {}
    codes = {}
    for who in ("nvidia", "ours"):
        bundle = tmp_path / who
        _dev_root(bundle / "rootfs", case)
        write_bundle(bundle)
        if who == "nvidia":
            p = subprocess.run([str(PEER), "update-application-profile"], input=state(bundle),
                               capture_output=True, env={"PATH": "/usr/bin:/bin"}, cwd="/",
                               umask=0o022, timeout=60)
        else:
            p = run_hook(hook_launcher, ["update-application-profile"], state(bundle))
        codes[who] = p.returncode
        trees[who] = _tree(bundle / "rootfs")
    assert codes["ours"] == codes["nvidia"] == (1 if case == "dev-is-a-file" else 0)
    assert trees["ours"] == trees["nvidia"]
    if case not in ("no-dev", "no-gpus", "only-out-of-range", "dev-is-a-file"):
        assert PROFILE in trees["ours"]
