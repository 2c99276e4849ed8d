"""The README's quick start, as a new user runs it: on fresh Debian (bookworm and trixie,
``debootstrap --variant=minbase --include=python3``: python3 and nothing else), as root, in
this checkout.

The commands are read from README.md — the first ``sh`` block of "Quick start" and the
launcher block of "cdi-hook in CDI specs" — never copied here.  ``/path/to/rootfs`` is
replaced by a root made inside the fresh system (its own libraries), and the result is
compared with what that system's own glibc ``ldconfig`` makes of a twin of that root.

The pristine minbase systems are debootstrapped once and cached beside the other test roots
(``tests/support/debroots.py``: ``LDCACHE_ROOTS_DIR``, ``LDCACHE_ROOTS_BUILD=0``); each test
runs in a copy.  The installs inside it reach Debian's mirror and PyPI, through the
machine's resolver and local CA certificates (copied in, as its network set-up).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from support import debroots
from support.common import PROJECT, requires_root

SUITES = ["bookworm", "trixie"]
README = PROJECT / "README.md"
PLACEHOLDER = "/path/to/rootfs"
_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
        "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}


def _blocks(text: str, heading: str) -> list[str]:
    """The ``sh`` code blocks of the README section ``heading`` (a ``##`` line)."""
    at = text.index("\n## " + heading)
    end = text.find("\n## ", at + 4)
    section = text[at:end if end >= 0 else len(text)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def readme_commands() -> tuple[str, str]:
    """(the install-and-run command, the launcher command) as the README gives them."""
    text = README.read_text()
    quick = _blocks(text, "Quick start")[0].strip()
    assert PLACEHOLDER in quick and "\n" not in quick, quick
    launcher = next(line for block in _blocks(text, "cdi-hook in CDI specs")
                    for line in block.splitlines() if "ldcache_hook.launcher" in line)
    return quick, launcher.strip()


def test_readme_commands_are_found() -> None:
    quick, launcher = readme_commands()
    assert quick.endswith(f"ldcache build -r {PLACEHOLDER}")
    assert launcher.endswith("/usr/local/bin/cdi-hook")


def _minbase(suite: str) -> Path:
    """A pristine, complete minbase system of ``suite`` with python3 (built once, then
    reused)."""
    requires_root()
    if shutil.which("debootstrap") is None:
        pytest.skip("needs debootstrap (apt-get install debootstrap)")
    final = debroots.ROOTS_DIR / f"{suite}-amd64-minbase-python3"
    ok = debroots.ROOTS_DIR / f"{suite}-amd64-minbase-python3.ok"
    debroots.ROOTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(debroots.ROOTS_DIR / f"{suite}-amd64-minbase-python3.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ok.exists() and final.is_dir():
            return final
        if os.environ.get("LDCACHE_ROOTS_BUILD") == "0":
            pytest.skip(f"{suite} minbase system not built and LDCACHE_ROOTS_BUILD=0")
        tmp = debroots.ROOTS_DIR / f"{suite}-amd64-minbase-python3.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        p = subprocess.run(["debootstrap", "--variant=minbase", "--include=python3",
                            "--arch=amd64", suite,
                            str(tmp), "http://deb.debian.org/debian"],
                           capture_output=True, text=True, env=_ENV, timeout=1200)
        if p.returncode != 0:
            log = p.stdout + p.stderr
            shutil.rmtree(tmp, ignore_errors=True)
            if any(h in log.lower() for h in ("failed getting release", "couldn't download",
                                               "could not resolve", "unable to connect")):
                pytest.skip(f"Debian mirror not reachable by debootstrap ({suite})")
            raise AssertionError(f"debootstrap {suite} failed:\n{log[-3000:]}")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
        ok.write_text("ok\n")
        return final


def _chroot(system: Path, script: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``script`` as root in ``system``, in a private mount namespace with its own /proc."""
    inner = f"mount -t proc proc {system}/proc && exec chroot {system} /bin/sh -ec \"$0\""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--fork",
                           "/bin/sh", "-c", inner, script], capture_output=True, text=True,
                          env=_ENV, timeout=timeout)


def _copy_checkout(dest: Path) -> None:
    """This checkout's files (tracked and new, not ignored), as a fresh clone has them."""
    listed = subprocess.run(["git", "-C", str(PROJECT), "ls-files", "-co", "--exclude-standard",
                             "-z"], capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        src = PROJECT / name
        if not src.is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / name, follow_symlinks=False)


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_quickstart_on_fresh_debian(tmp_path: Path, suite: str) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    quick, launcher = readme_commands()
    system = tmp_path / "system"
    subprocess.run(["cp", "-a", str(_minbase(suite)), str(system)], check=True)
    assert not (system / "usr/bin/pip3").exists() and (system / "usr/bin/python3").exists()
    # The machine's network set-up is the fresh system's too: its resolver and the local CA
    # certificates it trusts (Debian's ca-certificates adds /usr/local/share/ca-certificates
    # to the bundle pip uses when python3-venv brings it in).
    shutil.copy("/etc/resolv.conf", system / "etc/resolv.conf")
    local_cas = system / "usr/local/share/ca-certificates"
    local_cas.mkdir(parents=True, exist_ok=True)
    for crt in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(crt, local_cas / crt.name)
    _copy_checkout(system / "src/ldcache")
    # A root to build, made of the fresh system's own libraries, and a twin for its ldconfig.
    prepare = _chroot(system, """
        triplet=$(ls -d /usr/lib/*-linux-gnu | head -1); triplet=${triplet##*/}
        for r in /srv/rootfs /srv/twin; do
            mkdir -p $r/etc $r/usr/lib
            cp -a /usr/lib/$triplet $r/usr/lib/
            ln -s usr/lib $r/lib
            cp /etc/ld.so.conf $r/etc/ && cp -a /etc/ld.so.conf.d $r/etc/
        done
        ldconfig -r /srv/twin
    """)
    assert prepare.returncode == 0, prepare.stderr
    run = _chroot(system, "cd /src/ldcache && " + quick.replace(PLACEHOLDER, "/srv/rootfs"))
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    assert "Traceback" not in run.stderr

    # The links ldcache made are the links the system's own ldconfig made in the twin.
    def links(root: Path) -> dict:
        return {str(p.relative_to(root)): os.readlink(p) for p in root.rglob("*")
                if p.is_symlink()}

    assert links(system / "srv/rootfs") == links(system / "srv/twin")
    assert len(links(system / "srv/rootfs")) > 10
    check = _chroot(system, f"""
        ldcache diff --ignore-generator /srv/twin/etc/ld.so.cache /srv/rootfs/etc/ld.so.cache
        # ldconfig -p of both, without the lines naming the file and the generator
        test "$(ldconfig -p -C /srv/rootfs/etc/ld.so.cache | sed '1d;$d')" = \
             "$(ldconfig -p -C /srv/twin/etc/ld.so.cache | sed '1d;$d')"
        ldcache verify -r /srv/rootfs
        {launcher}
        test -x /usr/local/bin/cdi-hook
        # the start-up bundle, written with it into the installed package, and named by it
        b=$(sed -n "s/^install('\\(.*\\)')$/\\1/p" /usr/local/bin/cdi-hook)
        case "$b" in */site-packages/ldcache_hook/__pycache__/bundle.*.bin) ;; *) exit 3;; esac
        test -s "$b"
        echo '{{"ociVersion": "1.0.2", "id": "q", "status": "creating", "pid": 1,
               "root": "/srv/rootfs"}}' \
            | env -i /usr/local/bin/cdi-hook update-ldcache --folder /opt/none
        /usr/local/bin/cdi-hook --version
    """)
    assert check.returncode == 0, (check.stdout[-3000:], check.stderr[-3000:])
    assert "cdi-hook version" in check.stdout
