"""Real Debian roots for tests and for ``vectors/make_vectors.py``.

A *pristine* root is a ``debootstrap --variant=minbase --foreign`` tree: the first
stage only downloads and unpacks the required packages, which is all ldconfig needs
(libraries, symlinks, ``/etc/ld.so.conf*`` and the root's own static ``/sbin/ldconfig``)
and it works the same for every architecture without emulation.  Roots are built once
and cached under :data:`ROOTS_DIR` (``$LDCACHE_ROOTS_DIR``, default
``/var/tmp/ldcache-roots``)::

    ROOTS_DIR/<suite>-<arch>/        the root (never modified after the build)
    ROOTS_DIR/<suite>-<arch>.ok      JSON marker, written only after a successful build
    ROOTS_DIR/<suite>-<arch>.lock    flock(2) lock held while building
    ROOTS_DIR/<suite>-<arch>.log     debootstrap output of the last build attempt

A build runs in ``<suite>-<arch>.tmp-<pid>`` and is renamed into place after it has
been checked, so a crashed or failed build never leaves a half root behind.

Environment:

* ``LDCACHE_ROOTS_DIR`` – where roots live.
* ``LDCACHE_ROOTS_BUILD=0`` – never run debootstrap; a root that is not built yet is
  :class:`RootUnavailable` (lets a CI run that must stay offline skip cleanly).

Executing a root's own ``ldconfig`` (:func:`run_root_ldconfig`) is acceptable here
only because these roots are built by us from Debian's archive; ldcache itself never
executes anything inside a root.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

__all__ = [
    "ROOTS_DIR",
    "SUITES",
    "ARCHES",
    "QEMU",
    "BYTE_ORDER",
    "TRIPLET",
    "RootUnavailable",
    "RootBuildError",
    "debian_root",
    "root_info",
    "working_copy",
    "find_ldconfig",
    "run_ldconfig",
    "run_root_ldconfig",
    "root_generator",
    "cache_generator",
    "package_version",
    "glibc_version",
    "require_root",
    "require_root_ldconfig",
    "SYNTHETIC_SPEC",
    "synthetic_spec",
    "build_synthetic_root",
    "VECTORS_DIR",
    "vector_index",
    "require_synthetic_root",
]

ROOTS_DIR: Path = Path(os.environ.get("LDCACHE_ROOTS_DIR", "/var/tmp/ldcache-roots"))

#: Debian suite → upstream glibc release it ships.
SUITES: Dict[str, str] = {"bullseye": "2.31", "bookworm": "2.36", "trixie": "2.41",
                          "sid": "2.43"}

#: Debian architectures each suite offers on the default mirror.  riscv64 became a
#: release architecture in trixie.  bullseye is in LTS: its Release file now lists
#: only amd64, arm64, armhf and i386 (s390x and ppc64el were dropped from the mirror).
ARCHES: Dict[str, List[str]] = {
    "bullseye": ["amd64", "i386", "arm64", "armhf"],
    "bookworm": ["amd64", "i386", "s390x", "arm64", "armhf", "ppc64el"],
    "trixie": ["amd64", "i386", "s390x", "arm64", "armhf", "ppc64el", "riscv64"],
    "sid": ["amd64", "i386", "s390x", "arm64", "armhf", "ppc64el", "riscv64"],
}

#: qemu-user binary that runs a static binary of the architecture (None: runs natively).
QEMU: Dict[str, Optional[str]] = {
    "arm64": "qemu-aarch64-static",
    "armhf": "qemu-arm-static",
    "s390x": "qemu-s390x-static",
    "ppc64el": "qemu-ppc64le-static",
    "riscv64": "qemu-riscv64-static",
    "i386": None,
    "amd64": None,
}

#: Byte order of the caches an architecture's ldconfig writes.
BYTE_ORDER: Dict[str, str] = {
    "amd64": "little",
    "i386": "little",
    "arm64": "little",
    "armhf": "little",
    "ppc64el": "little",
    "riscv64": "little",
    "s390x": "big",
}

#: Debian multiarch triplet of each architecture.
TRIPLET: Dict[str, str] = {
    "amd64": "x86_64-linux-gnu",
    "i386": "i386-linux-gnu",
    "arm64": "aarch64-linux-gnu",
    "armhf": "arm-linux-gnueabihf",
    "ppc64el": "powerpc64le-linux-gnu",
    "riscv64": "riscv64-linux-gnu",
    "s390x": "s390x-linux-gnu",
}

_DEBOOTSTRAP_TIMEOUT = 600  # seconds; a minbase first stage takes 15-60 s
_CLEAN_ENV: Dict[str, str] = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
_NETWORK_HINTS = (
    "failed getting release file",
    "couldn't download",
    "could not resolve",
    "temporary failure in name resolution",
    "network is unreachable",
    "connection refused",
    "connection timed out",
    "no route to host",
    "unable to connect",
    "failed getting release signature",
)


class RootUnavailable(Exception):
    """A root cannot be provided for a reason outside the code (missing tool, no
    network, not root, building disabled).  ``reason`` is a one-line explanation."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RootBuildError(RuntimeError):
    """debootstrap ran but produced something unusable (a real failure, not a skip)."""


def _root_path(suite: str, arch: str) -> Path:
    return ROOTS_DIR / f"{suite}-{arch}"


def _marker_path(suite: str, arch: str) -> Path:
    return ROOTS_DIR / f"{suite}-{arch}.ok"


def _check_known(suite: str, arch: str) -> None:
    if suite not in ARCHES:
        raise ValueError(f"unknown suite {suite!r}; known: {', '.join(sorted(ARCHES))}")
    if arch not in QEMU:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(QEMU))}")
    if arch not in ARCHES[suite]:
        if suite == "bullseye" and arch in ("s390x", "ppc64el"):
            raise RootUnavailable(
                f"Debian {suite} LTS dropped {arch} from the mirror (Release lists no {arch})"
            )
        raise RootUnavailable(f"Debian {suite} has no {arch} port")


def _inside(root: Path, path: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _resolve_in_root(root: Path, rel: str) -> Optional[Path]:
    """``rel`` resolved on the host, accepted only if it stays inside ``root``."""
    real_root = root.resolve()
    cand = (root / rel.lstrip("/")).resolve()
    if not _inside(real_root, cand) or not cand.exists():
        return None
    return cand


def find_ldconfig(root: Path) -> Path:
    """The root's ``ldconfig`` binary (``/sbin`` or, after the usr move, ``/usr/sbin``)."""
    for rel in ("sbin/ldconfig", "usr/sbin/ldconfig"):
        cand = _resolve_in_root(root, rel)
        if cand is not None and cand.is_file():
            return cand
    raise RootBuildError(f"{root}: no sbin/ldconfig inside the root")


def _find_libc(root: Path, arch: str) -> Optional[Path]:
    for rel in (
        f"lib/{TRIPLET[arch]}/libc.so.6",
        f"usr/lib/{TRIPLET[arch]}/libc.so.6",
        "lib/libc.so.6",
        "usr/lib/libc.so.6",
    ):
        cand = _resolve_in_root(root, rel)
        if cand is not None:
            return cand
    return None


def _deb_versions(root: Path) -> Dict[str, str]:
    """Package → version from the .deb files debootstrap left in the root.

    ``debootstrap/debpaths`` (kept by ``--foreign``) maps each package to its .deb;
    without it the names under ``var/cache/apt/archives`` are used.  File names
    are ``<pkg>_<version with ':' as %3a>_<arch>.deb``.
    """
    names: List[str] = []
    debpaths = root / "debootstrap" / "debpaths"
    if debpaths.is_file():
        for line in debpaths.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                names.append(parts[1].rsplit("/", 1)[-1])
    archives = root / "var" / "cache" / "apt" / "archives"
    if archives.is_dir():
        names.extend(p.name for p in archives.glob("*.deb"))
    out: Dict[str, str] = {}
    for name in names:
        m = re.fullmatch(r"([^_]+)_([^_]+)_([^_]+)\.deb", name)
        if m:
            out.setdefault(m.group(1), urllib.parse.unquote(m.group(2)))
    return out


def _dpkg_status_versions(root: Path) -> Dict[str, str]:
    status = root / "var" / "lib" / "dpkg" / "status"
    out: Dict[str, str] = {}
    if not status.is_file():
        return out
    for stanza in status.read_text(errors="replace").split("\n\n"):
        fields: Dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(" "):
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        if "Package" in fields and "Version" in fields and "installed" in fields.get("Status", ""):
            out[fields["Package"]] = fields["Version"]
    return out


def package_version(root: Path, package: str) -> Optional[str]:
    """Debian version of ``package`` in ``root``: dpkg status if the package is
    installed there, else the name of the .deb debootstrap unpacked."""
    version = _dpkg_status_versions(root).get(package)
    if version is None:
        version = _deb_versions(root).get(package)
    return version


def glibc_version(debian_version: str) -> str:
    """Upstream glibc release of a Debian libc6 version: ``2.36-9+deb12u14`` → ``2.36``."""
    m = re.match(r"(?:\d+:)?(\d+\.\d+)", debian_version)
    if not m:
        raise ValueError(f"not a glibc package version: {debian_version!r}")
    return m.group(1)


def _classify_failure(log: str) -> Optional[str]:
    low = log.lower()
    if "error 404" in low and "couldn't download" in low:
        errors = [ln.strip() for ln in log.splitlines() if ln.startswith("E:")]
        detail = errors[-1] if errors else "Couldn't download packages"
        return f"Debian mirror answered 404 for packages in its index ({detail})"
    for hint in _NETWORK_HINTS:
        if hint in low:
            last = [ln for ln in log.splitlines() if ln.startswith("E:")]
            detail = last[-1] if last else hint
            return f"Debian mirror not reachable by debootstrap ({detail.strip()})"
    return None


def _build(suite: str, arch: str, final: Path) -> Dict[str, Any]:
    """Run debootstrap into a temporary directory and move it to ``final``."""
    tmp = ROOTS_DIR / f"{suite}-{arch}.tmp-{os.getpid()}"
    log_path = ROOTS_DIR / f"{suite}-{arch}.log"
    if tmp.exists():
        shutil.rmtree(tmp)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        "--foreign",
        f"--arch={arch}",
        suite,
        str(tmp),
    ]
    start = time.monotonic()
    try:
        try:
            proc = subprocess.run(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=_DEBOOTSTRAP_TIMEOUT,
                env={**_CLEAN_ENV, **{k: v for k, v in os.environ.items() if k.endswith("_proxy")}},
            )
        except subprocess.TimeoutExpired:
            raise RootUnavailable(
                f"debootstrap {suite}/{arch} did not finish in {_DEBOOTSTRAP_TIMEOUT} s"
            ) from None
        log = proc.stdout.decode(errors="replace")
        # debootstrap keeps its own log inside the target on failure
        inner = tmp / "debootstrap" / "debootstrap.log"
        if inner.is_file():
            log += "\n--- debootstrap.log ---\n" + inner.read_text(errors="replace")
        log_path.write_text(log)
        if proc.returncode != 0:
            network = _classify_failure(log)
            if network is not None:
                raise RootUnavailable(network)
            errors = [ln.strip() for ln in log.splitlines() if ln.startswith("E:")]
            if errors and "no entry for" in errors[0]:
                raise RootUnavailable(f"debootstrap {suite}/{arch}: {errors[0]}")
            tail = " | ".join(errors or log.strip().splitlines()[-3:])
            raise RootBuildError(
                f"debootstrap {suite}/{arch} failed (exit {proc.returncode}): {tail}; "
                f"see {log_path}"
            )
        find_ldconfig(tmp)
        if _find_libc(tmp, arch) is None:
            raise RootBuildError(f"debootstrap {suite}/{arch}: no libc.so.6 in {tmp}")
        libc6 = package_version(tmp, "libc6")
        libc_bin = package_version(tmp, "libc-bin")
        if libc6 is None or libc_bin is None:
            raise RootBuildError(f"debootstrap {suite}/{arch}: cannot tell the libc6 version")
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {
        "suite": suite,
        "arch": arch,
        "libc6": libc6,
        "libc-bin": libc_bin,
        "glibc": glibc_version(libc6),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.monotonic() - start, 1),
        "command": cmd[:-1] + ["<dir>"],
    }


def debian_root(suite: str, arch: str) -> Path:
    """The pristine minbase root of ``suite``/``arch``, building it on first use.

    Safe to call from several processes at once: one builds, the others wait on the
    lock and then reuse the result.  Never modify the returned tree; use
    :func:`working_copy`.
    """
    _check_known(suite, arch)
    root = _root_path(suite, arch)
    marker = _marker_path(suite, arch)
    if marker.is_file() and root.is_dir():
        return root
    if os.environ.get("LDCACHE_ROOTS_BUILD", "1") == "0":
        raise RootUnavailable(f"{suite}/{arch} root not built and LDCACHE_ROOTS_BUILD=0")
    if os.geteuid() != 0:
        raise RootUnavailable("building a Debian root needs root (debootstrap)")
    if shutil.which("debootstrap") is None:
        raise RootUnavailable("debootstrap is not installed")
    if not Path(f"/usr/share/debootstrap/scripts/{suite}").exists():
        raise RootUnavailable(f"this debootstrap has no script for {suite}")
    ROOTS_DIR.mkdir(parents=True, exist_ok=True)
    lock_path = ROOTS_DIR / f"{suite}-{arch}.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if marker.is_file() and root.is_dir():  # built by someone else meanwhile
                return root
            marker.unlink(missing_ok=True)
            info = _build(suite, arch, root)
            tmp_marker = marker.with_suffix(".ok.tmp")
            tmp_marker.write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
            tmp_marker.rename(marker)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root


def root_info(suite: str, arch: str) -> Dict[str, Any]:
    """The marker record of a built root: suite, arch, libc6, libc-bin, glibc, built."""
    debian_root(suite, arch)
    info: Dict[str, Any] = json.loads(_marker_path(suite, arch).read_text())
    return info


def working_copy(suite: str, arch: str, dest: Path, *, hardlink: bool = False) -> Path:
    """A private copy of the pristine root at ``dest`` (must not exist yet).

    Default is a full ``cp -a`` (about 200 MB, under a second on local disk): the
    copy can be changed in any way.  ``hardlink=True`` uses ``cp -al`` (instant, no
    space): safe for running ldconfig itself, which only ever *replaces* files
    (symlinks by unlink+symlink, the cache and aux cache by write-to-temp+rename) and
    never writes into an existing file, but a caller that writes into a regular file
    of the copy would also change the pristine root.  The .deb files are not
    copied.
    """
    src = debian_root(suite, arch)
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    flag = "-al" if hardlink else "-a"
    subprocess.run(["cp", flag, "--", str(src), str(dest)], check=True)
    archives = dest / "var" / "cache" / "apt" / "archives"
    if archives.is_dir():
        for deb in archives.glob("*.deb"):
            deb.unlink()
    return dest


def run_ldconfig(
    ldconfig: Path,
    root: Path,
    args: Sequence[str],
    arch: str = "amd64",
    *,
    check: bool = True,
    env: Optional[Dict[str, str]] = None,
) -> "subprocess.CompletedProcess[bytes]":
    """Run the ldconfig binary ``ldconfig`` (a host path) as ``ldconfig -r ROOT *args``.

    Foreign binaries run under the qemu-user emulator of ``arch``.  The environment
    is reduced to PATH and LC_ALL=C (ldconfig ≤2.36 reads ``LD_HWCAP_MASK``); pass
    ``env`` to add variables.  Output is returned as bytes.
    """
    if os.geteuid() != 0:
        raise RootUnavailable("running ldconfig -r with chroot needs root")
    qemu = QEMU[arch]
    cmd: List[str] = []
    if qemu is not None:
        qemu_path = shutil.which(qemu)
        if qemu_path is None:
            raise RootUnavailable(f"{qemu} is not installed (package qemu-user-static)")
        cmd.append(qemu_path)
    cmd += [str(ldconfig), "-r", str(root), *args]
    full_env = dict(_CLEAN_ENV)
    if env:
        full_env.update(env)
    return subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, check=check, timeout=300
    )


def run_root_ldconfig(
    root: Path, arch: str, args: Sequence[str], *, check: bool = True
) -> "subprocess.CompletedProcess[bytes]":
    """Run ``root``'s own ``/sbin/ldconfig -r ROOT *args`` (under qemu when foreign).

    Running as root, ldconfig chroots into ROOT, so ``-C``/``-f`` paths are inside it.
    """
    return run_ldconfig(find_ldconfig(Path(root)), Path(root), args, arch, check=check)


def cache_generator(data: bytes, byte_order: str) -> Optional[bytes]:
    """The generator string recorded in a cache file, or None when it has none
    (old format, or written by glibc ≤2.32)."""
    bo = "<" if byte_order == "little" else ">"
    new_magic = b"glibc-ld.so.cache1.1"
    if data.startswith(new_magic):
        base = 0
    elif data.startswith(b"ld.so-1.7.0"):
        (nold,) = struct.unpack_from(bo + "I", data, 12)
        base = 16 + 12 * nold
        if not data.startswith(new_magic, base):
            return None
    else:
        raise ValueError("not an ld.so.cache file")
    ext = struct.unpack_from(bo + "I", data, base + 32)[0]
    if ext == 0:
        return None
    magic, count = struct.unpack_from(bo + "II", data, ext)
    if magic != 0xEAA42174:
        raise ValueError(f"bad extension magic {magic:#x}")
    for i in range(count):
        tag, _flags, off, size = struct.unpack_from(bo + "IIII", data, ext + 8 + 16 * i)
        if tag == 0:
            return data[off : off + size]
    return None


_GENERATORS: Dict[str, Optional[bytes]] = {}


def root_generator(root: Path, arch: str) -> Optional[bytes]:
    """The generator string ``root``'s ldconfig writes into caches (None for ≤2.32).

    Found by letting that ldconfig write an empty cache for a scratch root, so the
    root itself is not touched.
    """
    ldconfig = find_ldconfig(Path(root))
    key = str(ldconfig)
    if key not in _GENERATORS:
        with tempfile.TemporaryDirectory(prefix="ldcache-gen-") as scratch:
            sroot = Path(scratch)
            (sroot / "etc").mkdir()
            (sroot / "etc" / "ld.so.conf").write_text("")
            (sroot / "var" / "cache" / "ldconfig").mkdir(parents=True)
            run_ldconfig(ldconfig, sroot, ["-X", "-C", "/etc/ld.so.cache"], arch)
            data = (sroot / "etc" / "ld.so.cache").read_bytes()
        _GENERATORS[key] = cache_generator(data, BYTE_ORDER[arch])
    return _GENERATORS[key]


# ------------------------------------------------------------- synthetic roots

#: The committed vectors (see vectors/README.md).
VECTORS_DIR: Path = Path(__file__).resolve().parent.parent.parent / "vectors"

#: Declarative description of the small gcc-built roots behind the feature vectors.
SYNTHETIC_SPEC: Path = VECTORS_DIR / "synthetic-roots.json"


def vector_index() -> List[Dict[str, Any]]:
    """The per-file records of ``vectors/index.json`` (file, kind, suite, arch, glibc,
    libc_bin_version, layout, requested_layout, byte_order, cache_path, generator,
    size, entries, sha256, reproducible, root, ldconfig, notes, ...)."""
    files: List[Dict[str, Any]] = json.loads((VECTORS_DIR / "index.json").read_text())["files"]
    return files


def synthetic_spec(name: str) -> Dict[str, Any]:
    """The record of synthetic root ``name`` in ``vectors/synthetic-roots.json``."""
    roots: Dict[str, Any] = json.loads(SYNTHETIC_SPEC.read_text())["roots"]
    if name not in roots:
        raise KeyError(f"no synthetic root {name!r} in {SYNTHETIC_SPEC}")
    spec: Dict[str, Any] = roots[name]
    return spec


def _abi_tag_asm(tag: Sequence[int]) -> str:
    """Assembler for a ``.note.ABI-tag`` note: NT_GNU_ABI_TAG, name "GNU", 4 words."""
    words = ", ".join(str(int(w)) for w in tag)
    return (
        '\t.section .note.ABI-tag,"a",@note\n'
        "\t.p2align 2\n"
        "\t.long 4, 16, 1\n"
        '\t.asciz "GNU"\n'
        f"\t.long {words}\n"
    )


def _compile_lib(lib: Dict[str, Any], out: Path, work: Path, serial: int) -> None:
    """Build one shared object as ``lib`` describes (see synthetic-roots.json)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise RootUnavailable("gcc is not installed")
    m32 = bool(lib.get("m32", False))
    src = work / f"src{serial}.c"
    src.write_text(f"int ldcache_synthetic_{serial}(void) {{ return {serial}; }}\n")
    cmd = [gcc, "-shared", "-fPIC", "-nostdlib", "-O0", "-Wl,--build-id=none"]
    if m32:
        cmd.append("-m32")
    if lib.get("soname") is not None:
        cmd.append(f"-Wl,-soname,{lib['soname']}")
    cmd += list(lib.get("ldflags", []))
    cmd += ["-o", str(out), str(src)]
    if lib.get("abi_tag") is not None:
        asm = work / f"abi{serial}.s"
        asm.write_text(_abi_tag_asm(lib["abi_tag"]))
        cmd.append(str(asm))
    for needed in lib.get("needed", []):
        # a stub of the same class whose SONAME is ``needed`` gives a DT_NEEDED entry
        stub = work / f"stub{serial}-{needed}"
        stub_src = work / f"stub{serial}.c"
        stub_src.write_text("int ldcache_stub(void) { return 0; }\n")
        stub_cmd = [gcc, "-shared", "-fPIC", "-nostdlib", "-Wl,--build-id=none"]
        if m32:
            stub_cmd.append("-m32")
        stub_cmd += [f"-Wl,-soname,{needed}", "-o", str(stub), str(stub_src)]
        subprocess.run(stub_cmd, check=True, capture_output=True)
        cmd += ["-Wl,--no-as-needed", str(stub)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        raise RootUnavailable(
            f"gcc cannot build {out.name}: {proc.stderr.decode(errors='replace').strip()}"
        )


def build_synthetic_root(name: str, dest: Path) -> Path:
    """Build synthetic root ``name`` of ``vectors/synthetic-roots.json`` at ``dest``.

    Keys of a root record: ``base`` (null, or "<suite>-<arch>": start from a
    :func:`working_copy` of that Debian root), ``dirs`` (directories to create),
    ``files`` (path → text), ``libs`` (list of {path, soname, m32, ldflags, needed,
    abi_tag}; compiled in list order, which is also creation order), ``symlinks``
    (path → target).  Paths are absolute paths inside the root.
    """
    spec = synthetic_spec(name)
    dest = Path(dest)
    base = spec.get("base")
    if base:
        suite, arch = base.split("-", 1)
        working_copy(suite, arch, dest)
    else:
        dest.mkdir(parents=True)
    for d in ["/etc", "/var/cache/ldconfig", *spec.get("dirs", [])]:
        (dest / d.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for path, text in spec.get("files", {}).items():
        target = dest / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    with tempfile.TemporaryDirectory(prefix="ldcache-syn-") as work:
        for serial, lib in enumerate(spec.get("libs", [])):
            out = dest / lib["path"].lstrip("/")
            out.parent.mkdir(parents=True, exist_ok=True)
            _compile_lib(lib, out, Path(work), serial)
    for path, target in spec.get("symlinks", {}).items():
        link = dest / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, link)
    return dest


# ---------------------------------------------------------------- pytest helpers


def require_root(suite: str, arch: str) -> Path:
    """:func:`debian_root`, or ``pytest.skip`` with the reason it is unavailable."""
    import pytest

    try:
        return debian_root(suite, arch)
    except RootUnavailable as exc:
        pytest.skip(f"Debian {suite}/{arch} root unavailable: {exc.reason}")
        raise  # unreachable; keeps type checkers happy


def require_synthetic_root(name: str, dest: Path) -> Path:
    """:func:`build_synthetic_root`, or ``pytest.skip`` when gcc (or the Debian base
    root it starts from) is unavailable."""
    import pytest

    try:
        return build_synthetic_root(name, dest)
    except RootUnavailable as exc:
        pytest.skip(f"synthetic root {name} unavailable: {exc.reason}")
        raise


def require_root_ldconfig(arch: str) -> None:
    """``pytest.skip`` unless the root's ldconfig of ``arch`` can be run here."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("running ldconfig -r ROOT with chroot needs root")
    qemu = QEMU[arch]
    if qemu is not None and shutil.which(qemu) is None:
        pytest.skip(f"{qemu} is not installed (package qemu-user-static)")
