"""NVIDIA's own ``nvidia-cdi-hook`` against ours, hook for hook, on twin roots.

For each kind of root — Debian bullseye, bookworm and trixie (glibc 2.31, 2.36, 2.41;
debootstrapped, tests/support/debroots.py), a distroless one (libc and loader only) and an
Alpine-shaped musl one — one root gets NVIDIA-style libraries, a CUDA compat directory and a
``/dev/dri``, and two identical copies of it then get the same hooks in the same order, one
through NVIDIA's binary (``../shared/peers``, run as its README says), the other through our
isolated launcher: ``create-symlinks``, ``chmod`` (three modes), ``enable-cuda-compat``,
``update-ldcache`` (twice).  The two trees (type, mode, owner, content or link target) must
then be the same except for the differences README.md lists, each asserted exactly.

The caches are compared by their entries: NVIDIA's is written by the host's ldconfig (its
layout, generator and osversion fields), ours by no ldconfig at all.  Each is also checked
byte for byte against the ldconfig that wrote it or should have: ours against the image's
own (the host's for the distroless root, whose libc is the host's), NVIDIA's against the
host's run with NVIDIA's configuration files on a copy.  In the musl root, which has no
cache, our SONAME links are checked against the host's ``ldconfig -n FOLDER…`` on a copy.

Two bugs of ours this test found, fixed since, each keep a test of their own below: a
``--folder`` that is a built-in directory of the image's glibc was left out of our drop-in
(test_system_directory_folder_precedence), and in a musl root ours made no SONAME links
(test_musl_soname_links).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from support import debroots
from support.gcclib import install_library
from support.hookroots import (
    HOST_TRIPLET,
    NVIDIA_LIBS,
    compat_library,
    distroless_rootfs,
    glibc_rootfs,
    hook_launcher,  # noqa: F401 (a pytest fixture, used by name as a test argument)
    host_tripwire,
    musl_rootfs,
    nvidia_dir,
    run_hook,
    snapshot,
    state,
    write_bundle,
)
from support.synthroots import tree
from test_hook_nvidia_hooks import PEER, _tree

from ldcache.format import Entry, parse

#: The ldconfig NVIDIA's update-ldcache runs (its --ldconfig-path default): the host's.
HOST_LDCONFIG = Path("/sbin/ldconfig")
NV = "/usr/lib/nvidia"
ML = f"/usr/lib/{HOST_TRIPLET}"
#: A library the image's own configuration already names (Debian: x86_64-linux-gnu.conf).
ML_LIBS = {"libnvidia-egl-gbm.so.1.1.2": "libnvidia-egl-gbm.so.1"}
COMPAT = "/usr/local/cuda-12.9/compat"
COMPAT_LIB = "libcuda.so.575.57.08"
#: What NVIDIA's update-ldcache writes into a new etc/ld.so.conf.d/zz-nvcr-*.conf on every
#: run (measured): the library directories it assumes for the image's distribution — Debian's,
#: and those of an image it does not recognise (it tells them apart by the image's
#: os-release files: a Debian root without them gets the second list).
ZZ_DEBIAN = (f"/lib/{HOST_TRIPLET}", ML, "/lib", "/usr/lib")
ZZ_OTHER = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/libx32", "/usr/libx32")
#: musl's built-in path, which an /etc/ld-musl-ARCH.path replaces (ours keeps it listed).
MUSL_DEFAULT = ("/lib", "/usr/local/lib", "/usr/lib")
_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

#: kind → Debian suite (None: built here).
KINDS: Dict[str, Optional[str]] = {"bullseye-glibc2.31": "bullseye",
                                   "bookworm-glibc2.36": "bookworm",
                                   "trixie-glibc2.41": "trixie",
                                   "distroless": None, "musl": None}

#: The hooks, in a CDI spec's order (update-ldcache is run twice, after these).
HOOKS: List[List[str]] = [
    ["create-symlinks",
     "--link", f"libcuda.so.1::{ML}/libcuda.so",                       # new
     "--link", "../libnvidia-allocator.so.1::/usr/lib/gbm/nvidia-drm_gbm.so",  # new parent
     "--link", "libcuda.so.1::/usr/lib/gbm/wrong.so",                  # a link elsewhere
     "--link", "libcuda.so.1::/usr/lib/gbm/file.so",                   # a regular file
     "--link", "libcuda.so.1::/usr/lib/gbm/right.so",                  # already right
     "--link", "/x::/new/deep/dir/link",                               # deep new parents
     "--link", "t::/usr/lib/../../../escape"],                         # folded to /escape
    ["chmod", "--mode", "755", "--path", "/dev/dri", "--path", "/dev/dri/card0",
     "--path", "/dev/missing", "--path", "/dev/dri-link/by-path", "--path", "/dev/host-dri"],
    ["chmod", "--mode", "1777", "--path", "/dev/sticky"],
    ["chmod", "--mode", "6755", "--path", "/dev/suid"],
    ["enable-cuda-compat", "--host-driver-version", "535.104.05"],
]
UPDATE = ["update-ldcache", "--folder", NV, "--folder", ML]


# ------------------------------------------------------------------------------ running both


def _require_peer() -> None:
    if not PEER.exists():
        pytest.skip(f"NVIDIA's nvidia-cdi-hook is not at {PEER}")
    if os.geteuid() != 0:
        pytest.skip("NVIDIA's update-ldcache needs root (it pivot_roots into the container "
                    "root in new namespaces), and so does ldconfig -r")
    for tool in ("unshare", "mount"):
        if shutil.which(tool) is None:
            pytest.skip(f"no {tool} (util-linux) on this machine")
    if not HOST_LDCONFIG.is_file():
        pytest.skip(f"NVIDIA's update-ldcache runs the host's {HOST_LDCONFIG}, which is missing")


def run_peer(args: Sequence[str], bundle: Path) -> subprocess.CompletedProcess:
    """NVIDIA's binary with the OCI state on stdin.  update-ldcache pivot_roots into the
    root, which must be a mount point: a bind mount of it, in a private mount namespace."""
    argv = [str(PEER), *args]
    if args[0] == "update-ldcache":
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
                'mount --bind -- "$1" "$1"; shift; exec "$@"', "sh",
                str(bundle / "rootfs"), *argv]
    return subprocess.run(argv, input=state(bundle), capture_output=True, env=_ENV, cwd="/",
                          umask=0o022, timeout=120)


def _both(launcher: Path, bundles: Dict[str, Path], args: Sequence[str]) -> None:
    """Ours, then NVIDIA's (so that what NVIDIA's does outside the root cannot hide what ours
    did): both succeed."""
    for who in ("ours", "nvidia"):
        p = (run_hook(launcher, args, state(bundles[who])) if who == "ours"
             else run_peer(args, bundles[who]))
        assert p.returncode == 0, (who, args, p.stderr.decode())


# ------------------------------------------------------------------------------ trees

_RANDOM = [
    (re.compile(r"^(etc/ld\.so\.conf\.d/(?:00|zz)-nvcr-)[0-9]+(\.conf)$"), r"\1*\2"),
    (re.compile(r"^(etc/ld\.so\.conf\.d/00-compat-)[0-9a-f-]{36}(\.conf)$"), r"\1*\2"),
    (re.compile(r"^(run/nvidia-ctk-hook/)[0-9a-f-]{36}$"), r"\1*"),
]
ANY = object()  # in an expected value: any content hash

Value = Tuple[object, ...]


def _normalized(t: Dict[str, tuple]) -> Dict[str, List[Value]]:
    """The tree with the random part of generated names as ``*`` (so one name can stand for
    several files: a sorted list each) and the cache's content left out (compared apart)."""
    out: Dict[str, List[Value]] = {}
    for rel, v in t.items():
        for pattern, repl in _RANDOM:
            rel = pattern.sub(repl, rel)
        if rel == "etc/ld.so.cache":
            v = v[:-1] + (None,)
        out.setdefault(rel, []).append(v)
    return {k: sorted(v, key=repr) for k, v in out.items()}


def _differences(nvidia: Dict[str, tuple], ours: Dict[str, tuple]
                 ) -> Dict[str, Tuple[Optional[List[Value]], Optional[List[Value]]]]:
    a, b = _normalized(nvidia), _normalized(ours)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def _matches(got: Optional[List[Value]], want: Optional[List[Value]]) -> bool:
    if got is None or want is None:
        return got is want
    return len(got) == len(want) and all(
        len(g) == len(w) and all(x is ANY or x == y for x, y in zip(w, g))
        for g, w in zip(got, want))


def _assert_differences(nvidia: Path, ours: Path, expected: Dict[str, Tuple]) -> None:
    diff = _differences(_tree(nvidia), _tree(ours))
    assert sorted(diff) == sorted(expected), {k: diff.get(k) for k in set(diff) ^ set(expected)}
    for k, (want_nv, want_ours) in expected.items():
        got_nv, got_ours = diff[k]
        assert _matches(got_nv, want_nv) and _matches(got_ours, want_ours), (k, diff[k])


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dir(mode: int = 0o755) -> Value:
    return (stat.S_IFDIR, mode, 0, 0, None)


def _file(content: object, mode: int = 0o644) -> Value:
    return (stat.S_IFREG, mode, 0, 0,
            _sha(content) if isinstance(content, bytes) else content)


def _link(target: str) -> Value:
    return (stat.S_IFLNK, 0o777, 0, 0, target)


def _lines(*dirs: str) -> bytes:
    return "".join(d + "\n" for d in dirs).encode()


# ------------------------------------------------------------------------------ roots


def _base(kind: str, dest: Path) -> Path:
    suite = KINDS[kind]
    if suite is not None:
        root = debroots.working_copy(suite, "amd64", dest, hardlink=True)
        if (root / "proc").is_symlink():
            # debootstrap's first stage leaves /proc a link to the host's /proc; in a
            # container root it is a directory (NVIDIA's update-ldcache refuses the link:
            # test_proc_link_fails_only_nvidia).
            (root / "proc").unlink()
            (root / "proc").mkdir(mode=0o555)
        return root
    return distroless_rootfs(dest) if kind == "distroless" else musl_rootfs(dest)


def _equip(root: Path, host: Path) -> None:
    """What the hooks get to work on: NVIDIA-style libraries in a new folder and in one the
    image configures, a compat libcuda whose note asks for it under a 535 host driver, link
    sites for create-symlinks, a /dev/dri (and links to it, one aimed at ``host``) for chmod."""
    nvidia_dir(root / NV.lstrip("/"))
    nvidia_dir(root / ML.lstrip("/"), ML_LIBS)
    compat = root / COMPAT.lstrip("/")
    compat.mkdir(parents=True)
    shutil.copyfile(compat_library({"CUDA Version": "12.9", "Driver": [535]}),
                    compat / COMPAT_LIB)
    (compat / "libcuda.so.1").symlink_to(COMPAT_LIB)
    (root / "usr/local/cuda").symlink_to("cuda-12.9")
    gbm = root / "usr/lib/gbm"
    gbm.mkdir(parents=True)
    (gbm / "wrong.so").symlink_to("elsewhere")
    (gbm / "file.so").write_text("a file\n")
    (gbm / "right.so").symlink_to("libcuda.so.1")
    dev = root / "dev"
    (dev / "dri/by-path").mkdir(parents=True)
    (dev / "dri/card0").write_text("")
    for path, mode in (("dri", 0o700), ("dri/by-path", 0o700), ("dri/card0", 0o600)):
        os.chmod(dev / path, mode)
    (dev / "dri-link").symlink_to("dri")
    (dev / "host-dri").symlink_to(host)
    (dev / "sticky").mkdir()
    (dev / "suid").write_text("")
    os.chmod(dev / "suid", 0o755)


def _twins(tmp_path: Path, make: Callable[[Path], Path]) -> Tuple[Path, Dict[str, Path]]:
    """The root ``make(dest)`` builds, and two full copies of it in bundles "ours" and
    "nvidia" (full: chmod changes inodes, which hard links would share)."""
    pristine = make(tmp_path / "pristine")
    bundles = {}
    for who in ("ours", "nvidia"):
        bundle = tmp_path / who
        bundle.mkdir()
        subprocess.run(["cp", "-a", "--", str(pristine), str(bundle / "rootfs")], check=True)
        bundles[who] = write_bundle(bundle, str(bundle / "rootfs"))
    return pristine, bundles


def _hardlinked(src: Path, dest: Path) -> Path:
    """A hard-linked copy: ldconfig and both hooks only ever replace files in a root."""
    subprocess.run(["cp", "-al", "--", str(src), str(dest)], check=True)
    return dest


def _add_new_conf(after: Path, ref: Path) -> List[str]:
    """Copy into ``ref`` the configuration files ``after`` has and ``ref`` lacks."""
    added = []
    for rel in ["etc/ld.so.conf"] + [f"etc/ld.so.conf.d/{n}" for n in
                                     sorted(os.listdir(after / "etc/ld.so.conf.d"))]:
        if (after / rel).is_file() and not (ref / rel).exists():
            (ref / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(after / rel, ref / rel)
            added.append(rel)
    return added


# ------------------------------------------------------------------------------ caches


Key = Tuple[bytes, bytes, int, int, Optional[bytes], int]


def _key(e: Entry) -> Key:
    """An entry by meaning, its osversion left out (written by NVIDIA's host ldconfig)."""
    return (e.soname, e.path, e.flags, e.legacy_hwcap, e.hwcaps_name, e.isa_level)


def _keys(cache: Path) -> List[Key]:
    return [_key(e) for e in parse(cache.read_bytes()).entries]


def _dirname(path: bytes) -> bytes:
    return posixpath.dirname(path)


def _zz_dirs(kind: str) -> Tuple[str, ...]:
    return ZZ_DEBIAN if KINDS[kind] is not None else ZZ_OTHER


def _zz_extras(kind: str, nvidia: List[Key], ours: List[Key]) -> List[Key]:
    """NVIDIA's entries from the directories of its zz-nvcr file that our cache (the
    image's glibc's) has nothing from."""
    zz = {d.encode() for d in _zz_dirs(kind)}
    ours_dirs = {_dirname(k[1]) for k in ours}
    return [k for k in nvidia if _dirname(k[1]) in zz and _dirname(k[1]) not in ours_dirs]


#: NVIDIA's cache entries from its zz-nvcr directories, per kind (paths; measured): the
#: distroless root's /lib64 holds the loader's link, which its glibc does not search.
ZZ_EXTRAS = {"distroless": [b"/lib64/ld-linux-x86-64.so.2"]}


# ------------------------------------------------------------------------------ expectations


def _chmod_differences() -> Dict[str, Tuple]:
    """README: NVIDIA's chmod follows a symlink (here /dev/dri-link, inside the root; for
    /dev/host-dri outside it, checked apart) and drops setuid, setgid and sticky bits."""
    return {
        "dev/dri/by-path": ([_dir(0o755)], [_dir(0o700)]),
        "dev/sticky": ([_dir(0o777)], [_dir(0o1777)]),
        "dev/suid": ([_file(b"", 0o755)], [_file(b"", 0o6755)]),
    }


def _update_differences(kind: str, pristine: Path, runs: int) -> Dict[str, Tuple]:
    """What differs after ``runs`` update-ldcache runs, on top of _chmod_differences."""
    out = _chmod_differences()
    zz = [_file(_lines(*_zz_dirs(kind)))] * runs
    # NVIDIA's: a new zz-nvcr file and an empty /run/nvidia-ctk-hook/UUID on every run, and
    # /proc and /run where the root had none (it mounts them in its namespace).
    out["etc/ld.so.conf.d/zz-nvcr-*.conf"] = (zz, None)
    out["run/nvidia-ctk-hook"] = ([_dir()], None)
    out["run/nvidia-ctk-hook/*"] = ([_dir()] * runs, None)
    for top in ("proc", "run"):
        if not (pristine / top).is_dir():
            out[top] = ([_dir()], None)
    if (pristine / "var/cache").is_dir():
        # NVIDIA's (the host's ldconfig) writes glibc's aux cache; ours writes none (README).
        if not (pristine / "var/cache/ldconfig").is_dir():
            out["var/cache/ldconfig"] = ([_dir(0o700)], None)
        out["var/cache/ldconfig/aux-cache"] = ([_file(ANY, 0o600)], None)
    # (distroless: both drop-ins list ML too, a system directory of the image's glibc that
    # no configuration file names; the same 00-nvcr file, so no difference)
    if kind == "musl":
        # NVIDIA's runs the host's glibc ldconfig in the musl root too: an ld.so.conf, its
        # drop-in, a cache no musl loader reads, SONAME links also outside the folders (in
        # /lib; both make those in the folders); its path file lists the folders and the zz
        # directories, ours the folders and musl's default path (which the file replaces,
        # /usr/local/lib too).  NVIDIA's appends its directories to the path file again on
        # every run.
        out["etc/ld.so.conf"] = ([_file(b"include /etc/ld.so.conf.d/*.conf\n")], None)
        out["etc/ld.so.conf.d/00-nvcr-*.conf"] = ([_file(_lines(NV, ML))], None)
        out["etc/ld.so.cache"] = ([_file(None)], None)
        out["etc/ld-musl-x86_64.path"] = ([_file(_lines(NV, ML, *ZZ_OTHER * runs))],
                                          [_file(_lines(NV, ML, *MUSL_DEFAULT))])
        out["lib/libc.musl-x86_64.so.1"] = ([_link("ld-musl-x86_64.so.1")], None)
    return out


def _musl_folder_links() -> Dict[str, str]:
    """The SONAME links both make in the musl root's folders (NVIDIA's host ldconfig, ours
    as ``ldconfig -n FOLDER…``)."""
    links = {f"{NV[1:]}/{soname}": name for name, soname in NVIDIA_LIBS.items()}
    links.update({f"{ML[1:]}/{soname}": name for name, soname in ML_LIBS.items()})
    return links


# ------------------------------------------------------------------------------ the test


@pytest.mark.parametrize("kind", [
    pytest.param(kind, marks=[pytest.mark.slow] if suite else []) for kind, suite in KINDS.items()])
def test_same_as_nvidia(tmp_path: Path, hook_launcher: Path, kind: str) -> None:
    _require_peer()
    suite = KINDS[kind]
    if suite is not None:
        debroots.require_root(suite, "amd64")
    host = host_tripwire(tmp_path / "host")
    host_before = snapshot(host)

    def make(dest: Path) -> Path:
        root = _base(kind, dest)
        _equip(root, host / "private")
        return root

    pristine, bundles = _twins(tmp_path, make)
    roots = {who: b / "rootfs" for who, b in bundles.items()}

    # create-symlinks, chmod, enable-cuda-compat: the same, but for chmod's README rules.
    for args in HOOKS:
        _both(hook_launcher, bundles, args)
    _assert_differences(roots["nvidia"], roots["ours"], _chmod_differences())
    for who in ("ours", "nvidia"):
        assert os.readlink(roots[who] / "usr/lib/gbm/file.so") == "libcuda.so.1"
        assert os.readlink(roots[who] / "escape") == "t"
        (conf,) = (roots[who] / "etc/ld.so.conf.d").glob("00-compat-*.conf")
        assert conf.read_text() == COMPAT + "\n"
    # NVIDIA's chmod followed /dev/host-dri out of the root; ours ran first, and skipped it.
    host_after = snapshot(host)
    assert {k for k in host_before if host_before[k] != host_after[k]} == {"private"}
    assert stat.S_IMODE((host / "private").stat().st_mode) == 0o755

    # update-ldcache, on hard-linked references taken just before it.
    refs = {who: _hardlinked(roots[who], tmp_path / f"ref-{who}") for who in roots}
    _both(hook_launcher, bundles, UPDATE)
    _assert_differences(roots["nvidia"], roots["ours"], _update_differences(kind, pristine, 1))
    first = {who: _tree(r) for who, r in roots.items()}
    _check_caches(kind, roots, refs)
    # Again: ours changes nothing; NVIDIA's leaves one more zz-nvcr file and /run directory.
    _both(hook_launcher, bundles, UPDATE)
    assert _tree(roots["ours"]) == first["ours"]
    _assert_differences(roots["nvidia"], roots["ours"], _update_differences(kind, pristine, 2))


def _not_ldconfigs(t: Dict[str, str]) -> Dict[str, str]:
    """Without what NVIDIA's hook itself (not its ldconfig) made: /run, /proc, the musl
    path file."""
    return {k: v for k, v in t.items() if k.split("/")[0] not in ("run", "proc")
            and k != "etc/ld-musl-x86_64.path"}


def _check_caches(kind: str, roots: Dict[str, Path], refs: Dict[str, Path]) -> None:
    """NVIDIA's cache is what the host's ldconfig writes given NVIDIA's configuration files;
    ours is what the image's own ldconfig writes given ours; the two have the same entries
    but for those from NVIDIA's zz-nvcr directories (README)."""
    cache = "etc/ld.so.cache"
    _add_new_conf(roots["nvidia"], refs["nvidia"])
    debroots.run_ldconfig(HOST_LDCONFIG, refs["nvidia"], [])
    assert (refs["nvidia"] / cache).read_bytes() == (roots["nvidia"] / cache).read_bytes()
    assert _not_ldconfigs(tree(refs["nvidia"])) == _not_ldconfigs(tree(roots["nvidia"]))
    if kind == "musl":
        assert not (roots["ours"] / cache).exists()
        for who in roots:
            for rel, target in _musl_folder_links().items():
                assert os.readlink(roots[who] / rel) == target, (who, rel)
        # ours: exactly what ``ldconfig -n FOLDER…`` makes (the host's: the root has none)
        debroots.run_ldconfig(HOST_LDCONFIG, refs["ours"], ["-n", NV, ML])
        path = "etc/ld-musl-x86_64.path"
        assert {k: v for k, v in tree(roots["ours"]).items() if k != path} == \
            tree(refs["ours"])
        return
    added = _add_new_conf(roots["ours"], refs["ours"])
    assert len([a for a in added if "/00-nvcr-" in a]) == 1, added
    if KINDS[kind] is not None:
        debroots.run_root_ldconfig(refs["ours"], "amd64", [])
    else:  # the distroless root's libc and loader are the host's: so is its ldconfig
        debroots.run_ldconfig(HOST_LDCONFIG, refs["ours"], [])
    assert (roots["ours"] / cache).read_bytes() == (refs["ours"] / cache).read_bytes()
    assert tree(roots["ours"]) == tree(refs["ours"])
    nv, ours = _keys(roots["nvidia"] / cache), _keys(roots["ours"] / cache)
    # osversion: glibc 2.31's ldconfig records the ABI note's OS version, the host's none.
    osversions = {who: {(e.soname, e.path): e.osversion
                        for e in parse((roots[who] / cache).read_bytes()).entries}
                  for who in roots}
    changed = {k for k, v in osversions["ours"].items()
               if k in osversions["nvidia"] and osversions["nvidia"][k] != v}
    if kind.startswith("bullseye"):
        assert changed and all(osversions["nvidia"][k] == 0 for k in changed), changed
        assert {osversions["ours"][k] for k in changed} == {0x30200}  # Linux 3.2.0
    else:
        assert changed == set()
    extras = _zz_extras(kind, nv, ours)
    assert [k[1] for k in extras] == ZZ_EXTRAS.get(kind, [])
    assert [k for k in nv if k not in extras] == ours
    assert len(ours) > (30 if KINDS[kind] else 5)
    got = {k[0]: k[1] for k in reversed(ours)}  # the first entry of each soname
    assert got[b"libcuda.so.1"] == f"{COMPAT}/libcuda.so.1".encode()
    assert got[b"libnvidia-ml.so.1"] == f"{NV}/libnvidia-ml.so.1".encode()
    # (/lib is /usr/lib in the Debian roots, merged /usr)
    assert got[b"libnvidia-egl-gbm.so.1"] in {f"{d}/libnvidia-egl-gbm.so.1".encode()
                                              for d in (ML, f"/lib/{HOST_TRIPLET}")}


# ------------------------------------------------------------------------------ single cases


def _dup_root(dest: Path) -> Path:
    """A Debian-shaped root (ld.so.conf reads ld.so.conf.d; libc.conf names /usr/local/lib)
    whose /usr/local/lib has its own libdup.so.1, beside the driver's in ML."""
    root = glibc_rootfs(dest)
    install_library(root / "usr/local/lib/libdup.so.1.0", "libdup.so.1", symbol="image")
    install_library(root / ML.lstrip("/") / "libdup.so.1.2", "libdup.so.1", symbol="driver")
    return root


def test_system_directory_folder_precedence(tmp_path: Path, hook_launcher: Path) -> None:
    """``--folder ML`` where no configuration file names ML (a built-in directory of the
    image's glibc): both drop-ins list it, so ML's libdup.so.1 comes before the one in
    /usr/local/lib (configured later, in libc.conf) — ours once left ML out of its drop-in,
    and the image's library won."""
    _require_peer()
    bundles = _twins(tmp_path, _dup_root)[1]
    _both(hook_launcher, bundles, ["update-ldcache", "--folder", ML])
    first = {}
    for who, b in bundles.items():
        keys = _keys(b / "rootfs/etc/ld.so.cache")
        first[who] = next(k[1] for k in keys if k[0] == b"libdup.so.1")
        (dropin,) = (b / "rootfs/etc/ld.so.conf.d").glob("00-nvcr-*.conf")
        assert dropin.read_text() == ML + "\n", who
    assert first == {"nvidia": f"{ML}/libdup.so.1".encode(), "ours": f"{ML}/libdup.so.1".encode()}


def test_musl_soname_links(tmp_path: Path, hook_launcher: Path) -> None:
    """musl's loader opens a library by its file name in each path directory: the SONAME
    links (libcuda.so.1 -> libcuda.so.535.104.05) are what makes the folders' libraries
    loadable.  NVIDIA's makes them (its host ldconfig does), and so does ours (once it made
    none), in the folder only."""
    _require_peer()

    def make(dest: Path) -> Path:
        root = musl_rootfs(dest)
        nvidia_dir(root / NV.lstrip("/"))
        return root

    bundles = _twins(tmp_path, make)[1]
    _both(hook_launcher, bundles, ["update-ldcache", "--folder", NV])
    links = {who: {n: os.readlink(b / "rootfs" / NV[1:] / n)
                   for n in os.listdir(b / "rootfs" / NV[1:])
                   if (b / "rootfs" / NV[1:] / n).is_symlink()}
             for who, b in bundles.items()}
    assert links["nvidia"] == {soname: name for name, soname in NVIDIA_LIBS.items()}
    assert links["ours"] == links["nvidia"]
    assert not (bundles["ours"] / "rootfs/lib/libc.musl-x86_64.so.1").is_symlink()


def test_proc_link_fails_only_nvidia(tmp_path: Path, hook_launcher: Path) -> None:
    """A root whose /proc is a symlink (as debootstrap's first stage leaves it): NVIDIA's
    update-ldcache, which mounts procfs there, fails and changes nothing; ours, which needs
    no /proc, does its job (README)."""
    _require_peer()

    def make(dest: Path) -> Path:
        root = glibc_rootfs(dest)
        nvidia_dir(root / NV.lstrip("/"))
        (root / "proc").symlink_to("/proc")
        return root

    pristine, bundles = _twins(tmp_path, make)
    before = _tree(pristine)
    p = run_peer(["update-ldcache", "--folder", NV], bundles["nvidia"])
    assert p.returncode == 1 and b"error mounting /proc" in p.stderr, p.stderr
    assert _tree(bundles["nvidia"] / "rootfs") == before
    p = run_hook(hook_launcher, ["update-ldcache", "--folder", NV], state(bundles["ours"]))
    assert p.returncode == 0, p.stderr
    keys = _keys(bundles["ours"] / "rootfs/etc/ld.so.cache")
    assert (b"libcuda.so.1", f"{NV}/libcuda.so.1".encode()) in {k[:2] for k in keys}


def test_root_without_etc(tmp_path: Path, hook_launcher: Path) -> None:
    """A root with no /etc at all (a distroless image given no other hook first): NVIDIA's
    update-ldcache fails to create /etc/ld.so.conf (leaving only its /proc and /run); ours
    creates /etc with it (README)."""
    _require_peer()

    def make(dest: Path) -> Path:
        root = distroless_rootfs(dest)
        nvidia_dir(root / NV.lstrip("/"))
        return root

    pristine, bundles = _twins(tmp_path, make)
    before = _tree(pristine)
    p = run_peer(["update-ldcache", "--folder", NV], bundles["nvidia"])
    assert p.returncode == 1 and b"failed to create top-level ld.so.conf file" in p.stderr, \
        p.stderr
    # (what it leaves: its /proc and /run/nvidia-ctk-hook/UUID, made before it failed)
    assert _differences(_tree(bundles["nvidia"] / "rootfs"), before) == {
        k: ([_dir()], None) for k in ("proc", "run", "run/nvidia-ctk-hook",
                                      "run/nvidia-ctk-hook/*")}
    p = run_hook(hook_launcher, ["update-ldcache", "--folder", NV], state(bundles["ours"]))
    assert p.returncode == 0, p.stderr
    rootfs = bundles["ours"] / "rootfs"
    assert (rootfs / "etc/ld.so.conf").read_text() == "include /etc/ld.so.conf.d/*.conf\n"
    keys = _keys(rootfs / "etc/ld.so.cache")
    assert (b"libcuda.so.1", f"{NV}/libcuda.so.1".encode()) in {k[:2] for k in keys}


def test_conf_without_include(tmp_path: Path, hook_launcher: Path) -> None:
    """An ld.so.conf that never reads ld.so.conf.d: NVIDIA's drop-ins are never read, so its
    cache lacks the folder; ours also scans the folder as ``ldconfig DIR`` would (README),
    and has the same entries besides.  A folder that is a system directory (ML) is in both
    caches, scanned last, as a system directory (ours does not make it a command-line
    directory, which would come first): the image's libdup.so.1 before ML's in both."""
    _require_peer()

    def make(dest: Path) -> Path:
        root = _dup_root(dest)
        (root / "etc/ld.so.conf").write_text("/usr/local/lib\n")
        nvidia_dir(root / NV.lstrip("/"))
        return root

    bundles = _twins(tmp_path, make)[1]
    _both(hook_launcher, bundles, ["update-ldcache", "--folder", NV, "--folder", ML])
    nv, ours = (_keys(bundles[w] / "rootfs/etc/ld.so.cache") for w in ("nvidia", "ours"))
    assert {k[1] for k in ours} - {k[1] for k in nv} == {
        f"{NV}/{soname}".encode() for soname in NVIDIA_LIBS.values()}
    assert [k for k in ours if not k[1].startswith(NV.encode() + b"/")] == nv
    assert [k[1] for k in ours if k[0] == b"libdup.so.1"] == [
        b"/usr/local/lib/libdup.so.1", f"{ML}/libdup.so.1".encode()]


@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_create_symlinks_parent_link_out_of_root(tmp_path: Path, hook_launcher: Path,
                                                 link: str) -> None:
    """A link whose parent is a symlink aimed out of the root: both refuse (exit 1), neither
    creates anything, in the root or outside it."""
    if not PEER.exists():
        pytest.skip(f"NVIDIA's nvidia-cdi-hook is not at {PEER}")
    host = host_tripwire(tmp_path / "host")
    host_before = snapshot(host)

    def make(dest: Path) -> Path:
        (dest / "usr/lib").mkdir(parents=True)
        (dest / "usr/lib/out").symlink_to(
            host / "private" if link == "absolute" else "../../../../host/private")
        return dest

    pristine, bundles = _twins(tmp_path, make)
    args = ["create-symlinks", "--link", "libcuda.so.1::/usr/lib/out/libcuda.so"]
    codes = {"ours": run_hook(hook_launcher, args, state(bundles["ours"])).returncode,
             "nvidia": run_peer(args, bundles["nvidia"]).returncode}
    assert codes == {"ours": 1, "nvidia": 1}
    for b in bundles.values():
        assert _tree(b / "rootfs") == _tree(pristine)
    assert snapshot(host) == host_before
