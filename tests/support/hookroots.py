"""Helpers for the cdi-hook tests: container roots, bundles, OCI states, the hook launcher,
gcc-built NVIDIA stand-ins, the dlopen probe, and tripwires outside a root."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .gcclib import build_library, compile_c, install_library
from .synthroots import HOST_TRIPLET, copy_host_runtime

PROJECT = Path(__file__).resolve().parent.parent.parent

#: NVIDIA-style stand-ins: file name → SONAME.
NVIDIA_LIBS = {
    "libcuda.so.535.104.05": "libcuda.so.1",
    "libnvidia-ml.so.535.104.05": "libnvidia-ml.so.1",
    "libnvidia-ptxjitcompiler.so.535.104.05": "libnvidia-ptxjitcompiler.so.1",
}


# --------------------------------------------------------------------------------------------
# the hook as a program


def write_launcher(dest: Path, python: str = sys.executable) -> Path:
    """An isolated launcher (``#!python -IS``) running this checkout's ``hook`` package."""
    code = ("import sys; from ldcache_hook.launcher import write_launcher; "
            "write_launcher(sys.argv[1], sys.argv[2])")
    subprocess.run([python, "-I", "-c", code, str(dest), python], check=True, cwd="/")
    return dest


def run_hook(launcher: Path | str, args: Sequence[str], state: bytes | None = b"",
             *, env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the hook program with ``state`` on standard input (never inheriting ours)."""
    return subprocess.run([str(launcher), *args], input=state if state is not None else b"",
                          capture_output=True, env=dict(env) if env is not None else
                          {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                          cwd=str(cwd) if cwd else "/", timeout=timeout)


# --------------------------------------------------------------------------------------------
# roots and bundles


def glibc_rootfs(root: Path, *, conf: bool = True) -> Path:
    """A small Debian-shaped root: the machine's libc and loader, ``/etc/ld.so.conf``
    including ``/etc/ld.so.conf.d/*.conf`` and a ``libc.conf`` naming ``/usr/local/lib``."""
    root.mkdir(parents=True, exist_ok=True)
    copy_host_runtime(root)
    if conf:
        (root / "etc/ld.so.conf").write_text("include /etc/ld.so.conf.d/*.conf\n\n")
        (root / "etc/ld.so.conf.d").mkdir(exist_ok=True)
        (root / "etc/ld.so.conf.d/libc.conf").write_text(
            "# libc default configuration\n/usr/local/lib\n")
        (root / "usr/local/lib").mkdir(parents=True, exist_ok=True)
    return root


def distroless_rootfs(root: Path) -> Path:
    """Only libc and the loader: no /etc at all, no cache, no ldconfig."""
    root.mkdir(parents=True, exist_ok=True)
    copy_host_runtime(root)
    shutil.rmtree(root / "etc")
    return root


def distroless_debian_rootfs(root: Path, debs: Sequence[Path]) -> Path:
    """A distroless-shaped root made as Google's distroless base images are: the files of
    a few Debian packages (libc6, libssl3, …) unpacked with ``dpkg-deb -x`` and nothing
    else — no shell, no ldconfig (libc-bin), no ``/etc/ld.so.conf``, no cache, no package
    database; libc6's ``/etc/ld.so.conf.d/x86_64-linux-gnu.conf`` is there."""
    root.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    shutil.rmtree(root / "usr/share/doc", ignore_errors=True)
    shutil.rmtree(root / "usr/share/lintian", ignore_errors=True)
    return root


def musl_rootfs(root: Path, arch: str = "x86_64") -> Path:
    """An Alpine-shaped root: a musl loader (a stand-in file; never run) and /etc."""
    (root / "lib").mkdir(parents=True, exist_ok=True)
    install_library(root / f"lib/ld-musl-{arch}.so.1", f"libc.musl-{arch}.so.1")
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/alpine-release").write_text("3.20.0\n")
    return root


def nvidia_dir(path: Path, libs: Mapping[str, str] = NVIDIA_LIBS) -> Path:
    """A host directory of gcc-built NVIDIA stand-ins with real SONAMEs."""
    path.mkdir(parents=True, exist_ok=True)
    for name, soname in libs.items():
        install_library(path / name, soname, symbol="nv_" + soname.split(".")[0][3:]
                        .replace("-", "_"))
    return path


def write_bundle(bundle: Path, rootfs: str = "rootfs", **config: object) -> Path:
    bundle.mkdir(parents=True, exist_ok=True)
    spec = {"ociVersion": "1.0.2", "root": {"path": rootfs}}
    spec.update(config)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def state(bundle: Path | str | None = None, *, root: str | None = None,
          cid: str = "c1") -> bytes:
    s: Dict[str, object] = {"ociVersion": "1.0.2", "id": cid, "status": "creating",
                            "pid": 1234}
    if bundle is not None:
        s["bundle"] = str(bundle)
    if root is not None:
        s["root"] = root
    return json.dumps(s).encode()


# --------------------------------------------------------------------------------------------
# gcc-built programs and libraries


PROBE_SOURCE = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* For each argument: in a fresh child process, dlopen it by name (no LD_LIBRARY_PATH),
   print "NAME PATH" with the path the loader used (dlinfo's link map); "NAME FAIL why". */
int main(int argc, char **argv) {
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            void *h = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
            struct link_map *lm = 0;
            if (!h) { printf("%s FAIL %s\n", argv[i], dlerror()); return 1; }
            if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
                printf("%s FAIL dlinfo\n", argv[i]); return 1;
            }
            printf("%s %s\n", argv[i], lm->l_name);
            return 0;
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            bad = 1;
    }
    return bad;
}
"""


def build_probe() -> Path:
    """The dlopen probe, dynamically linked against the machine's libc (cached)."""
    return compile_c(PROBE_SOURCE, name="probe")


def parse_probe(output: bytes) -> Dict[str, str]:
    got = {}
    for line in output.decode().splitlines():
        name, _, rest = line.partition(" ")
        got[name] = rest
    return got


def note_asm(section: str, owner: bytes, desc: bytes, note_type: int = 1,
             align: int = 4) -> str:
    """Top-level asm placing one ELF note in an SHT_NOTE section named ``section``."""
    def pad(b: bytes) -> bytes:
        return b + b"\0" * (-len(b) % align)

    # The descriptor starts at the first multiple of ``align`` after header and name.
    body = pad(len(owner).to_bytes(4, "little") + len(desc).to_bytes(4, "little")
               + note_type.to_bytes(4, "little") + owner) + pad(desc)
    data = ",".join(str(b) for b in body)
    return (f'__asm__(".pushsection {section},\\"a\\",@note\\n.balign {align}\\n'
            f'.byte {data}\\n.popsection\\n");\n')


def compat_library(note: Optional[dict] = None, *, raw_desc: Optional[bytes] = None) -> Path:
    """A gcc-built ``libcuda.so.1`` stand-in, with a ``.note.cuda.fwd_compatibility`` note
    ("NVIDIA Corporation", JSON descriptor) when ``note`` (or ``raw_desc``) is given."""
    code = "int cuInit(unsigned flags) { return (int)flags; }\n"
    if note is not None or raw_desc is not None:
        desc = raw_desc if raw_desc is not None else json.dumps(note).encode() + b"\0"
        code += note_asm(".note.cuda.fwd_compatibility", b"NVIDIA Corporation\0", desc)
    return build_library("libcuda.so.1", code=code)


# --------------------------------------------------------------------------------------------
# tripwires


def snapshot(top: Path) -> Dict[str, Tuple]:
    """Everything under ``top`` (itself included): type, mode, owner, size and content hash
    or link target — compared before and after a hook runs."""
    out: Dict[str, Tuple] = {}

    def one(p: Path, rel: str) -> None:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
        else:
            h = hashlib.sha256(p.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, h)

    one(top, ".")
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            one(p, os.path.relpath(p, top))
    return out


def host_tripwire(top: Path) -> Path:
    """A host directory shaped like the places a hostile image aims at: an ``etc`` with
    ld.so.conf files, a ``lib`` with a library, a private file (0600) and a directory."""
    (top / "etc/ld.so.conf.d").mkdir(parents=True)
    (top / "etc/ld.so.conf").write_text("/host/only\n")
    (top / "etc/ld.so.conf.d/host.conf").write_text("/host/lib\n")
    (top / "etc/ld.so.cache").write_bytes(b"host cache, must survive")
    (top / "etc/ld-musl-x86_64.path").write_text("/host/lib\n")
    install_library(top / "lib/libhost.so.1.0", "libhost.so.1")
    install_library(top / "compat/libcuda.so.999.1.1", "libcuda.so.1")
    (top / "secret").write_text("secret")
    os.chmod(top / "secret", 0o600)
    (top / "private").mkdir()
    os.chmod(top / "private", 0o700)
    (top / "cache").mkdir()
    return top


def files_under(top: Path) -> List[str]:
    return sorted(os.path.relpath(os.path.join(d, n), top)
                  for d, ds, fs in os.walk(top) for n in ds + fs)


def listing(paths: Iterable[Path]) -> List[str]:
    return sorted(str(p) for p in paths)


__all__ = [
    "PROJECT", "NVIDIA_LIBS", "HOST_TRIPLET", "write_launcher", "run_hook", "glibc_rootfs",
    "distroless_rootfs", "musl_rootfs", "nvidia_dir", "write_bundle", "state",
    "build_probe", "parse_probe", "note_asm", "compat_library", "snapshot",
    "host_tripwire", "files_under", "listing", "hook_launcher",
    "distroless_debian_rootfs", "VIEW_SOURCE", "build_view", "parse_view",
    "NVIDIA_DRIVER_PACKAGES", "NVIDIA_DRIVER_IMAGE_PACKAGES", "NvidiaDriver", "nvidia_driver",
]


# --------------------------------------------------------------------------------------------
# fixtures (import them into a test module to use them)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hook_launcher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An isolated launcher for this checkout, as ``python3 -m ldcache_hook.launcher`` writes it."""
    d = tmp_path_factory.mktemp("launcher")
    return write_launcher(d / "cdi-hook")


# --------------------------------------------------------------------------------------------
# a container's view, seen from inside it (for images without a shell)


VIEW_SOURCE = r"""
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

/* One line per argument KIND:ARG, "KIND:ARG RESULT" (errors: "KIND:ARG ERR errno-name"):
     dlopen:NAME    the path the loader used for dlopen(NAME) in a fresh child, or FAIL why
     lstat:PATH     TYPE MODE UID GID [MAJOR:MINOR]   (TYPE: f d l c b p s; MODE octal)
     readlink:PATH  the link's target
     list:DIR       the names in DIR, sorted, separated by "/"
     hex:PATH       the file's bytes in hex (up to 4 MiB)
     dir:DIR        one line per entry: "dir:DIR/NAME TYPE MODE HEX" (a file's first 64 KiB;
                    a link: its target)
     append:PATH    OK when PATH opens for appending, else ERR errno-name
   Exit 0 when every dlopen succeeded. */

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in DIR but . and .., sorted, into names (at most 4096); -1 if it cannot be read. */
static int sorted_names(const char *p, char **names) {
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    return n;
}

static void err(const char *arg) { printf("%s ERR %s\n", arg, strerrorname_np(errno)); }

int main(int argc, char **argv) {
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i], *p = strchr(a, ':');
        if (!p) { printf("%s ERR usage\n", a); bad = 1; continue; }
        p++;
        fflush(stdout);
        if (!strncmp(a, "dlopen:", 7)) {
            pid_t pid = fork();
            if (pid == 0) {
                void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
                struct link_map *lm = 0;
                if (!h) { printf("%s FAIL %s\n", a, dlerror()); return 1; }
                if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm) {
                    printf("%s FAIL dlinfo\n", a); return 1;
                }
                printf("%s %s\n", a, lm->l_name);
                return 0;
            }
            int st = 0;
            if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
                bad = 1;
        } else if (!strncmp(a, "lstat:", 6)) {
            struct stat st;
            if (lstat(p, &st) != 0) { err(a); continue; }
            char t = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' :
                     S_ISLNK(st.st_mode) ? 'l' : S_ISCHR(st.st_mode) ? 'c' :
                     S_ISBLK(st.st_mode) ? 'b' : S_ISFIFO(st.st_mode) ? 'p' : 's';
            printf("%s %c %04o %u %u", a, t, (unsigned)(st.st_mode & 07777),
                   (unsigned)st.st_uid, (unsigned)st.st_gid);
            if (t == 'c' || t == 'b')
                printf(" %u:%u", major(st.st_rdev), minor(st.st_rdev));
            printf("\n");
        } else if (!strncmp(a, "readlink:", 9)) {
            char buf[4096];
            ssize_t n = readlink(p, buf, sizeof buf - 1);
            if (n < 0) { err(a); continue; }
            buf[n] = 0;
            printf("%s %s\n", a, buf);
        } else if (!strncmp(a, "list:", 5)) {
            char *names[4096];
            int n = sorted_names(p, names);
            if (n < 0) { err(a); continue; }
            printf("%s ", a);
            for (int k = 0; k < n; k++) printf(k ? "/%s" : "%s", names[k]);
            printf("\n");
        } else if (!strncmp(a, "hex:", 4)) {
            int fd = open(p, O_RDONLY | O_CLOEXEC);
            if (fd < 0) { err(a); continue; }
            static unsigned char buf[4 << 20];
            ssize_t n, total = 0;
            while (total < (ssize_t)sizeof buf &&
                   (n = read(fd, buf + total, sizeof buf - total)) > 0)
                total += n;
            close(fd);
            printf("%s ", a);
            for (ssize_t k = 0; k < total; k++) printf("%02x", buf[k]);
            printf("\n");
        } else if (!strncmp(a, "dir:", 4)) {
            /* one line per entry, sorted: "dir:DIR/NAME TYPE MODE HEX-or-link-target" */
            char *names[4096];
            int n = sorted_names(p, names);
            if (n < 0) { err(a); continue; }
            for (int k = 0; k < n; k++) {
                char path[4096], buf[65536];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", p, names[k]);
                if (lstat(path, &st) != 0) { printf("dir:%s ERR %s\n", path,
                                                    strerrorname_np(errno)); continue; }
                printf("dir:%s %c %04o ", path, S_ISREG(st.st_mode) ? 'f' :
                       S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'o',
                       (unsigned)(st.st_mode & 07777));
                if (S_ISLNK(st.st_mode)) {
                    ssize_t m = readlink(path, buf, sizeof buf - 1);
                    buf[m < 0 ? 0 : m] = 0;
                    printf("%s", buf);
                } else if (S_ISREG(st.st_mode)) {
                    int fd = open(path, O_RDONLY | O_CLOEXEC);
                    ssize_t m = fd < 0 ? 0 : read(fd, buf, sizeof buf);
                    for (ssize_t j = 0; j < m; j++) printf("%02x", (unsigned char)buf[j]);
                    if (fd >= 0) close(fd);
                }
                printf("\n");
            }
        } else if (!strncmp(a, "append:", 7)) {
            int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
            if (fd < 0) { err(a); continue; }
            close(fd);
            printf("%s OK\n", a);
        } else {
            printf("%s ERR usage\n", a);
            bad = 1;
        }
    }
    return bad;
}
"""


def build_view() -> Path:
    """The container-view program (``VIEW_SOURCE``), dynamically linked against the
    machine's libc (cached): what a test sees from inside an image that has no shell."""
    return compile_c(VIEW_SOURCE, name="view")


def parse_view(output: bytes) -> Dict[str, str]:
    """``KIND:ARG`` → result, from the view program's output."""
    got: Dict[str, str] = {}
    for line in output.decode(errors="surrogateescape").splitlines():
        key, _, rest = line.partition(" ")
        got[key] = rest
    return got


# --------------------------------------------------------------------------------------------
# the real NVIDIA 535 libraries, from Debian's non-free archive


#: The driver's libraries as Debian packages them (source package nvidia-graphics-drivers,
#: bookworm: 535.x), all of one version.
NVIDIA_DRIVER_PACKAGES = ("libcuda1", "libnvidia-ml1", "libnvidia-ptxjitcompiler1",
                          "libnvidia-pkcs11-openssl3", "libnvidia-cfg1",
                          "libnvidia-allocator1")
#: Other packages fetched with them: what libnvidia-pkcs11-openssl3 needs in the image
#: (libcrypto.so.3), as a Debian or distroless base image carries it.
NVIDIA_DRIVER_IMAGE_PACKAGES = ("libssl3",)
NVIDIA_DRIVER_SUITE = "bookworm"


def _soname(path: Path) -> str:
    """DT_SONAME of a library, read with pyelftools (the tests' ELF oracle)."""
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags("DT_SONAME"):
                    return str(tag.soname)
    raise ValueError(f"{path}: no DT_SONAME")


class NvidiaDriver:
    """An unpacked set of NVIDIA driver packages: ``root`` holds their files as dpkg
    would install them (``usr/lib/x86_64-linux-gnu/nvidia/current/libcuda.so.535…``);
    ``debs`` every downloaded .deb (the image packages too); ``version`` the Debian
    package version; ``libraries`` each real library file (path relative to ``root``) →
    its SONAME."""

    def __init__(self, base: Path) -> None:
        info = json.loads((base.parent / (base.name + ".ok")).read_text())
        self.base = base
        self.root = base / "root"
        self.debs = base / "debs"
        self.version: str = info["version"]
        self.upstream: str = info["upstream"]
        self.packages: Dict[str, str] = info["packages"]
        self.libraries: Dict[str, str] = info["libraries"]

    def deb(self, package: str) -> Path:
        return self.debs / self.packages[package]


def _apt(apt_dir: Path, *args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess:
    """apt-get/apt-cache with a private configuration, lists and cache under apt_dir
    (nothing of the machine's apt state is read or written)."""
    opts = [f"-oDir::Etc={apt_dir}/etc", f"-oDir::Etc::sourcelist={apt_dir}/etc/sources.list",
            f"-oDir::Etc::sourceparts={apt_dir}/etc/sources.list.d",
            f"-oDir::Etc::preferencesparts={apt_dir}/etc/preferences.d",
            f"-oDir::Etc::parts={apt_dir}/etc/apt.conf.d",
            f"-oDir::State={apt_dir}/state", "-oDir::State::status=/dev/null",
            f"-oDir::Cache={apt_dir}/cache", "-oAPT::Architecture=amd64",
            "-oAPT::Architectures::=amd64", "-oAPT::Sandbox::User=root",
            "-oAcquire::Retries=2", "-oAcquire::http::Timeout=30"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
           **{k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}}
    return subprocess.run([args[0], *opts, *args[1:]], capture_output=True, env=env,
                          timeout=600, cwd=str(cwd or apt_dir))


def nvidia_driver(cache: Optional[Path] = None) -> NvidiaDriver:
    """The NVIDIA 535 libraries of Debian bookworm non-free (and libssl3), downloaded once
    with apt (a private configuration) from deb.debian.org, unpacked with ``dpkg-deb -x``
    and cached under ``ROOTS_DIR/nvidia-535/VERSION`` (``.ok`` marker written last).  A
    cached version is used without the network; ``LDCACHE_ROOTS_BUILD=0`` never downloads.
    Raises ``debroots.RootUnavailable`` with the reason when it cannot be had."""
    import fcntl

    from .debroots import ROOTS_DIR, RootUnavailable

    top = (cache or ROOTS_DIR) / "nvidia-535"

    def cached() -> Optional[NvidiaDriver]:
        marks = sorted(top.glob("*.ok"), key=lambda p: p.stat().st_mtime)
        for mark in reversed(marks):
            base = mark.with_suffix("")
            if (base / "root").is_dir():
                return NvidiaDriver(base)
        return None

    found = cached() if top.is_dir() else None
    if found is not None:
        return found
    if os.environ.get("LDCACHE_ROOTS_BUILD", "1") == "0":
        raise RootUnavailable("NVIDIA driver packages not downloaded and LDCACHE_ROOTS_BUILD=0")
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RootUnavailable(f"{tool} is not installed")
    keyring = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
    if not keyring.is_file():
        raise RootUnavailable(f"no {keyring} (package debian-archive-keyring)")
    top.mkdir(parents=True, exist_ok=True)
    with open(top.parent / "nvidia-535.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = cached()
        if found is not None:
            return found
        apt_dir = top / "apt"
        try:
            for d in ("etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d",
                      "state/lists/partial", "cache/archives/partial"):
                (apt_dir / d).mkdir(parents=True, exist_ok=True)
            s = NVIDIA_DRIVER_SUITE
            (apt_dir / "etc/sources.list").write_text("".join(
                f"deb [signed-by={keyring}] http://deb.debian.org/{path} {suite} main non-free\n"
                for path, suite in (("debian", s), ("debian", f"{s}-updates"),
                                    ("debian-security", f"{s}-security"))))
            p = _apt(apt_dir, "apt-get", "update", "-q")
            log = (p.stdout + p.stderr).decode(errors="replace")
            if p.returncode != 0 or "\nW: Failed to fetch" in log or "\nE: " in log:
                lines = [ln for ln in log.splitlines() if ln.startswith(("E:", "W:"))]
                raise RootUnavailable("apt-get update of Debian's archive failed: "
                                      + (lines[0] if lines else log.strip()[-200:]))

            def candidate(package: str) -> str:
                q = _apt(apt_dir, "apt-cache", "policy", package).stdout.decode()
                for line in q.splitlines():
                    if line.strip().startswith("Candidate:"):
                        v = line.split(":", 1)[1].strip()
                        if v != "(none)":
                            return v
                raise RootUnavailable(f"Debian {s} has no package {package} (non-free)")

            version = candidate(NVIDIA_DRIVER_PACKAGES[0])
            wanted = [f"{n}={version}" for n in NVIDIA_DRIVER_PACKAGES]
            wanted += [f"{n}={candidate(n)}" for n in NVIDIA_DRIVER_IMAGE_PACKAGES]
            work = top / f"{version}.tmp-{os.getpid()}"
            if work.exists():
                shutil.rmtree(work)
            try:
                (work / "debs").mkdir(parents=True)
                p = _apt(apt_dir, "apt-get", "download", "-q", *wanted, cwd=work / "debs")
                if p.returncode != 0:
                    err = (p.stdout + p.stderr).decode(errors="replace").strip().splitlines()
                    raise RootUnavailable(f"apt-get download {' '.join(wanted)} failed: "
                                          f"{err[-1] if err else p.returncode}")
                packages = {deb.name.split("_", 1)[0]: deb.name
                            for deb in sorted((work / "debs").glob("*.deb"))}
                missing = {w.split("=")[0] for w in wanted} - set(packages)
                if missing:
                    raise RootUnavailable(f"apt-get download gave no {', '.join(sorted(missing))}")
                for name in NVIDIA_DRIVER_PACKAGES:
                    subprocess.run(["dpkg-deb", "-x", str(work / "debs" / packages[name]),
                                    str(work / "root")], check=True, capture_output=True)
                libraries = {}
                for dirpath, _dirs, files in os.walk(work / "root"):
                    for n in files:
                        f = Path(dirpath) / n
                        if ".so." in n and not f.is_symlink():
                            libraries[str(f.relative_to(work / "root"))] = _soname(f)
                upstream = version.split("-", 1)[0]
                final = top / version
                if final.exists():
                    shutil.rmtree(final)
                os.rename(work, final)
                mark = {"version": version, "upstream": upstream, "packages": packages,
                        "libraries": libraries, "suite": s,
                        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                tmp_mark = top / f"{version}.ok.tmp"
                tmp_mark.write_text(json.dumps(mark, indent=1, sort_keys=True) + "\n")
                os.replace(tmp_mark, top / f"{version}.ok")
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
        finally:
            shutil.rmtree(apt_dir, ignore_errors=True)  # the archive's indexes: not kept
        return NvidiaDriver(top / version)
