"""Hostile images: every hook against roots that point outside themselves.

Each case plants something in the container root aimed at a *tripwire* directory on the
host (an ``etc`` with ld.so.conf files and a cache, a ``lib`` with a library, a compat
library, a 0600 file, a 0700 directory).  After the hook has run, the tripwire must be
exactly as it was — every path, type, mode, owner, size, content and link target — and the
hook must either have done its job inside the root (checked per case) or have failed with
one clear line.  Every case runs twice: with the kernel's ``openat2(RESOLVE_IN_ROOT)`` and
with ldcache's component walk (``LDCACHE_NO_OPENAT2=1``).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional

import pytest
from support.gcclib import install_library
from support.hookroots import (  # noqa: F401
    compat_library,
    glibc_rootfs,
    hook_launcher,
    host_tripwire,
    musl_rootfs,
    nvidia_dir,
    run_hook,
    snapshot,
    state,
    write_bundle,
)

from ldcache.format import parse
from ldcache.inroot import openat2_available

NV = "usr/lib/nvidia"


class Case(NamedTuple):
    args: List[str]
    #: None: the hook must succeed and ``check`` hold; else a fragment of the error line.
    error: Optional[str] = None
    check: Optional[Callable[[Path, subprocess.CompletedProcess], None]] = None


def up(rootfs: Path, host: Path) -> str:
    """A relative link text from ``rootfs/<one level>`` that climbs far above the root and
    then names ``host``: what a hostile image writes to escape."""
    return "../" * 24 + str(host).lstrip("/")


def mirror(rootfs: Path, host: Path) -> Path:
    """Where ``host`` lands when an escaping link is resolved inside the root."""
    return rootfs / str(host).lstrip("/")


def cache_sonames(rootfs: Path, cache: str = "etc/ld.so.cache") -> set:
    return {e.soname for e in parse((rootfs / cache).read_bytes()).entries}


def has_nvidia(rootfs: Path, cache: str = "etc/ld.so.cache") -> None:
    names = cache_sonames(rootfs, cache)
    assert b"libcuda.so.1" in names and b"libhost.so.1" not in names, names


UPDATE = ["update-ldcache", "--folder", "/" + NV]


# ------------------------------------------------------------------------------ the cases


def etc_is_absolute_link_to_host(r: Path, h: Path) -> Case:
    shutil.rmtree(r / "etc")
    (r / "etc").symlink_to(h / "etc")
    return Case(UPDATE, error="failed to create /etc/ld.so.conf.d")


def etc_is_relative_link_escaping_into_a_mirror(r: Path, h: Path) -> Case:
    """The link escapes; inside the root, where it lands exists: the job is done there."""
    shutil.rmtree(r / "etc")
    (r / "etc").symlink_to(up(r, h) + "/etc")
    (mirror(r, h) / "etc").mkdir(parents=True)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        m = mirror(r, h) / "etc"
        assert (m / "ld.so.conf").read_text().startswith("include /etc/ld.so.conf.d/*.conf")
        assert [n for n in os.listdir(m / "ld.so.conf.d") if n.startswith("00-nvcr-")]
        has_nvidia(r, str((m / "ld.so.cache").relative_to(r)))
    return Case(UPDATE, check=check)


def conf_d_is_absolute_link_to_host(r: Path, h: Path) -> Case:
    shutil.rmtree(r / "etc/ld.so.conf.d")
    (r / "etc/ld.so.conf.d").symlink_to(h / "etc/ld.so.conf.d")
    return Case(UPDATE, error="failed to create /etc/ld.so.conf.d")


def conf_d_is_relative_link_escaping_into_a_mirror(r: Path, h: Path) -> Case:
    shutil.rmtree(r / "etc/ld.so.conf.d")
    (r / "etc/ld.so.conf.d").symlink_to(up(r, h) + "/etc/ld.so.conf.d")
    (mirror(r, h) / "etc/ld.so.conf.d").mkdir(parents=True)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert [n for n in os.listdir(mirror(r, h) / "etc/ld.so.conf.d")
                if n.startswith("00-nvcr-")]
        has_nvidia(r)
    return Case(UPDATE, check=check)


def conf_includes_host_files(r: Path, h: Path) -> Case:
    """include ../../../../<host>/etc/*.conf, absolute host includes and host dirs."""
    (r / "etc/ld.so.conf").write_text(
        "include /etc/ld.so.conf.d/*.conf\n"
        f"include ../../../../../../../../{str(h).lstrip('/')}/etc/*.conf\n"
        f"include {h}/etc/ld.so.conf.d/*.conf\n"
        f"include {h}/etc/ld.so.conf\n"
        f"{h}/lib\n../../../../../../../..{h}/lib\n")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        has_nvidia(r)
    return Case(UPDATE, check=check)


def cache_is_absolute_link_to_host_file(r: Path, h: Path) -> Case:
    (r / "etc/ld.so.cache").symlink_to(h / "etc/ld.so.cache")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert stat.S_ISREG(os.lstat(r / "etc/ld.so.cache").st_mode)
        has_nvidia(r)
    return Case(UPDATE, check=check)


def cache_is_relative_link_escaping(r: Path, h: Path) -> Case:
    (r / "etc/ld.so.cache").symlink_to(up(r, h) + "/etc/ld.so.cache")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert stat.S_ISREG(os.lstat(r / "etc/ld.so.cache").st_mode)
        has_nvidia(r)
    return Case(UPDATE, check=check)


def cache_is_hard_link_to_host_file(r: Path, h: Path) -> Case:
    os.link(h / "etc/ld.so.cache", r / "etc/ld.so.cache")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert os.stat(r / "etc/ld.so.cache").st_ino != os.stat(h / "etc/ld.so.cache").st_ino
        has_nvidia(r)
    return Case(UPDATE, check=check)


def conf_is_link_to_host_file(r: Path, h: Path) -> Case:
    """The top-level conf points at the host's: never written, never read; the folder still
    reaches the cache."""
    (r / "etc/ld.so.conf").unlink()
    (r / "etc/ld.so.conf").symlink_to(h / "etc/ld.so.conf")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert os.readlink(r / "etc/ld.so.conf") == str(h / "etc/ld.so.conf")
        has_nvidia(r)
    return Case(UPDATE, check=check)


def folder_is_absolute_link_to_host_lib(r: Path, h: Path) -> Case:
    """ldconfig would make libhost.so.1 in the host directory and cache it."""
    shutil.rmtree(r / NV)
    (r / NV).symlink_to(h / "lib")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert b"libhost.so.1" not in cache_sonames(r)
    return Case(UPDATE, check=check)


def folder_is_relative_link_escaping(r: Path, h: Path) -> Case:
    shutil.rmtree(r / NV)
    (r / NV).symlink_to(up(r, h) + "/lib")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert b"libhost.so.1" not in cache_sonames(r)
    return Case(UPDATE, check=check)


def library_links_to_host_files(r: Path, h: Path) -> Case:
    """Library names in a scanned folder that link to host libraries."""
    (r / NV / "libhostlink.so.1").symlink_to(h / "lib/libhost.so.1.0")
    (r / NV / "libup.so.1").symlink_to(up(r, h) + "/lib/libhost.so.1.0")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        has_nvidia(r)
    return Case(UPDATE, check=check)


def aux_cache_dir_is_link_to_host(r: Path, h: Path) -> Case:
    (r / "var/cache").mkdir(parents=True)
    (r / "var/cache/ldconfig").symlink_to(h / "cache")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        has_nvidia(r)
    return Case(UPDATE, check=check)


def fifos_where_files_are_read(r: Path, h: Path) -> Case:
    """A FIFO as ld.so.conf drop-in and as a library: never opened (nothing blocks)."""
    os.mkfifo(r / "etc/ld.so.conf.d/fifo.conf")
    os.mkfifo(r / NV / "libfifo.so.1")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        has_nvidia(r)
    return Case(UPDATE, check=check)


def conf_d_is_a_symlink_loop(r: Path, h: Path) -> Case:
    shutil.rmtree(r / "etc/ld.so.conf.d")
    (r / "etc/ld.so.conf.d").symlink_to("ld.so.conf.d")
    return Case(UPDATE, error="ld.so.conf.d")


def musl_path_file_is_link_to_host(r: Path, h: Path) -> Case:
    shutil.rmtree(r)
    musl_rootfs(r)
    (r / "etc/ld-musl-x86_64.path").symlink_to(h / "etc/ld-musl-x86_64.path")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        path = r / "etc/ld-musl-x86_64.path"
        assert stat.S_ISREG(os.lstat(path).st_mode)
        assert path.read_text().startswith("/" + NV + "\n")
    return Case(UPDATE, check=check)


def link_path_climbs_with_dotdot(r: Path, h: Path) -> Case:
    link = "/" + "../" * 12 + str(h).lstrip("/") + "/planted"

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert os.readlink(mirror(r, h) / "planted") == "libcuda.so.1"
    return Case(["create-symlinks", "--link", f"libcuda.so.1::{link}"], check=check)


def link_parent_is_absolute_link_to_host(r: Path, h: Path) -> Case:
    (r / "usr/lib/gbm").symlink_to(h / "private")
    return Case(["create-symlinks", "--link", "../x.so::/usr/lib/gbm/nvidia-drm_gbm.so"],
                error="failed to create parent directory of link")


def link_parent_is_relative_link_escaping_into_a_mirror(r: Path, h: Path) -> Case:
    (r / "usr/lib/gbm").symlink_to(up(r, h) + "/private")
    (mirror(r, h) / "private").mkdir(parents=True)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert os.readlink(mirror(r, h) / "private/nvidia-drm_gbm.so") == "../x.so"
    return Case(["create-symlinks", "--link", "../x.so::/usr/lib/gbm/nvidia-drm_gbm.so"],
                check=check)


def link_grandparent_is_link_to_host(r: Path, h: Path) -> Case:
    """Parents to create below a link to the host: created inside the root, or refused."""
    (r / "usr/share").mkdir(parents=True)
    (r / "usr/share/vulkan").symlink_to(h / "private")
    return Case(["create-symlinks", "--link", "t::/usr/share/vulkan/icd.d/nvidia.json"],
                error="failed to create parent directory of link")


def link_is_link_to_host_file(r: Path, h: Path) -> Case:
    (r / "usr/lib/libcuda.so").symlink_to(h / "secret")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert os.readlink(r / "usr/lib/libcuda.so") == "libcuda.so.1"
    return Case(["create-symlinks", "--link", "libcuda.so.1::/usr/lib/libcuda.so"],
                check=check)


def chmod_path_is_link_to_host_file(r: Path, h: Path) -> Case:
    (r / "dev").mkdir()
    (r / "dev/dri").symlink_to(h / "secret")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert b"/dev/dri is a symlink" in p.stderr
    return Case(["chmod", "--mode", "777", "--path", "/dev/dri"], check=check)


def chmod_parent_is_link_to_host_dir(r: Path, h: Path) -> Case:
    (r / "dev").symlink_to(h)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert b"/dev is a symlink" in p.stderr
    return Case(["chmod", "--mode", "777", "--path", "/dev/private", "--path", "/dev/secret"],
                check=check)


def chmod_path_climbs_with_dotdot(r: Path, h: Path) -> Case:
    (mirror(r, h)).mkdir(parents=True)
    (mirror(r, h) / "secret").write_text("in-root twin")
    os.chmod(mirror(r, h) / "secret", 0o600)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert stat.S_IMODE(os.stat(mirror(r, h) / "secret").st_mode) == 0o777
    return Case(["chmod", "--mode", "777", "--path",
                 "/" + "../" * 12 + str(h).lstrip("/") + "/secret"], check=check)


def compat_root_is_link_to_host(r: Path, h: Path) -> Case:
    (r / "usr/local/cuda").symlink_to(h)

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert not [n for n in os.listdir(r / "etc/ld.so.conf.d") if "compat" in n]
    return Case(["enable-cuda-compat", "--host-driver-version", "535.104.05",
                 "--cuda-compat-container-root", "/usr/local/cuda/compat"], check=check)


def compat_library_is_link_to_host(r: Path, h: Path) -> Case:
    (r / "usr/local/cuda/compat").mkdir(parents=True)
    (r / "usr/local/cuda/compat/libcuda.so.575.57.08").symlink_to(
        h / "compat/libcuda.so.999.1.1")

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert not [n for n in os.listdir(r / "etc/ld.so.conf.d") if "compat" in n]
    return Case(["enable-cuda-compat", "--host-driver-version", "535.104.05"], check=check)


def compat_conf_d_is_link_to_host(r: Path, h: Path) -> Case:
    (r / "usr/local/cuda/compat").mkdir(parents=True)
    shutil.copyfile(compat_library(), r / "usr/local/cuda/compat/libcuda.so.575.57.08")
    shutil.rmtree(r / "etc/ld.so.conf.d")
    (r / "etc/ld.so.conf.d").symlink_to(h / "etc/ld.so.conf.d")
    return Case(["enable-cuda-compat", "--host-driver-version", "535.104.05"],
                error="failed to create /etc/ld.so.conf.d")


def compat_library_is_hostile_elf(r: Path, h: Path) -> Case:
    """A compat library whose section table is garbage: a warning, the versions decide."""
    d = r / "usr/local/cuda/compat"
    d.mkdir(parents=True)
    data = bytearray(compat_library().read_bytes())
    data[0x28:0x30] = (len(data) * 3).to_bytes(8, "little")  # e_shoff past the end
    data[0x3C:0x3E] = (0xFFFF).to_bytes(2, "little")  # e_shnum
    (d / "libcuda.so.575.57.08").write_bytes(bytes(data))

    def check(r: Path, p: subprocess.CompletedProcess) -> None:
        assert b"failed to get ELF header" in p.stderr
        assert [n for n in os.listdir(r / "etc/ld.so.conf.d") if "compat" in n]
    return Case(["enable-cuda-compat", "--host-driver-version", "535.104.05"], check=check)


CASES: Dict[str, Callable[[Path, Path], Case]] = {f.__name__: f for f in (
    etc_is_absolute_link_to_host,
    etc_is_relative_link_escaping_into_a_mirror,
    conf_d_is_absolute_link_to_host,
    conf_d_is_relative_link_escaping_into_a_mirror,
    conf_includes_host_files,
    cache_is_absolute_link_to_host_file,
    cache_is_relative_link_escaping,
    cache_is_hard_link_to_host_file,
    conf_is_link_to_host_file,
    folder_is_absolute_link_to_host_lib,
    folder_is_relative_link_escaping,
    library_links_to_host_files,
    aux_cache_dir_is_link_to_host,
    fifos_where_files_are_read,
    conf_d_is_a_symlink_loop,
    musl_path_file_is_link_to_host,
    link_path_climbs_with_dotdot,
    link_parent_is_absolute_link_to_host,
    link_parent_is_relative_link_escaping_into_a_mirror,
    link_grandparent_is_link_to_host,
    link_is_link_to_host_file,
    chmod_path_is_link_to_host_file,
    chmod_parent_is_link_to_host_dir,
    chmod_path_climbs_with_dotdot,
    compat_root_is_link_to_host,
    compat_library_is_link_to_host,
    compat_conf_d_is_link_to_host,
    compat_library_is_hostile_elf,
)}

MODES = ["openat2", "walk"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_image(tmp_path, hook_launcher, name, mode):
    if mode == "openat2" and not openat2_available():
        pytest.skip("openat2(RESOLVE_IN_ROOT) is not available on this kernel")
    host = host_tripwire(tmp_path / "host")
    bundle = tmp_path / "bundle"
    rootfs = glibc_rootfs(bundle / "rootfs")
    nvidia_dir(rootfs / NV)
    write_bundle(bundle)
    case = CASES[name](rootfs, host)
    before = snapshot(host)
    env = {"PATH": "/usr/bin:/bin"}
    if mode == "walk":
        env["LDCACHE_NO_OPENAT2"] = "1"
    p = run_hook(hook_launcher, case.args, state(bundle), env=env, timeout=60)
    assert snapshot(host) == before, "the host tripwire changed"
    if case.error is None:
        assert p.returncode == 0, p.stderr.decode()
        if case.check is not None:
            case.check(rootfs, p)
    else:
        assert p.returncode == 1, p.stderr.decode()
        lines = p.stderr.decode().splitlines()
        assert len(lines) == 1 and lines[0].startswith("cdi-hook: error: "), lines
        assert case.error in lines[0], lines[0]


def test_enough_cases():
    assert len(CASES) >= 15
    hooks = {CASES[n].__name__.split("_")[0] for n in CASES}
    assert {"link", "chmod", "compat", "conf", "cache", "folder"} <= hooks


def test_the_tripwire_can_fail(tmp_path):
    """The snapshot sees a mode, content or link change (a tripwire that cannot fail is
    none)."""
    host = host_tripwire(tmp_path / "host")
    before = snapshot(host)
    os.chmod(host / "secret", 0o644)
    assert snapshot(host) != before
    os.chmod(host / "secret", 0o600)
    assert snapshot(host) == before
    (host / "etc/ld.so.cache").write_bytes(b"host cache, must survivE")
    assert snapshot(host) != before
    install_library(host / "lib/libhost.so.1.0", "libhost.so.1")
    (host / "lib/libhost.so.1").symlink_to("libhost.so.1.0")
    assert snapshot(host) != before
