"""What the commands import at start-up: none of the standard-library modules that cost
them more time than their work (bench/ times the whole; this says which module came back).

Each command runs as it is started for real — ``ldcache`` with ``-I -S`` and this checkout
on ``sys.path``, ``cdi-hook`` through its isolated launcher — under ``-X importtime``, and
the modules it imported are read from that report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support.hookroots import (  # noqa: F401 (hook_launcher: a pytest fixture)
    glibc_rootfs,
    hook_launcher,
    nvidia_dir,
    state,
    write_bundle,
)

from ldcache.format import Cache, Entry, build

PROJECT = Path(__file__).resolve().parent.parent
#: Modules no command's start needs (each measured at 0.5-13 ms here; ``os``, 1.1 ms, is
#: ``ldcache._os``'s job).
HEAVY = ("typing", "re", "json", "enum", "argparse", "contextlib", "functools",
         "collections", "ctypes", "dataclasses", "inspect", "importlib.util", "uuid",
         "platform", "array", "types", "construct", "elftools", "os", "posixpath")


def _imported(cmd: list, stdin: bytes | None = None) -> set:
    p = subprocess.run(cmd, input=stdin, capture_output=True)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    names = set()
    for line in p.stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "ldcache" in names or "ldcache_hook" in names  # the report was read
    return names


def _ldcache(*args: str) -> list:
    code = (f"import sys\nsys.path.insert(0, {str(PROJECT)!r})\n"
            "from ldcache.cli import main\nmain()\n")
    return [sys.executable, "-I", "-S", "-X", "importtime", "-c", code, *args]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("startup")
    rootfs = glibc_rootfs(base / "bundle/rootfs")
    nvidia_dir(rootfs / "usr/lib/nvidia")
    (rootfs / "dev/dri").mkdir(parents=True)
    write_bundle(base / "bundle")
    cache = build(Cache(entries=(
        Entry(b"libc.so.6", b"/lib/x86_64-linux-gnu/libc.so.6", 0x303),)))
    (base / "cache").write_bytes(cache)
    # (print -r reads the root's own: there before any build test runs, or without one)
    (rootfs / "etc/ld.so.cache").write_bytes(cache)
    return base


@pytest.mark.parametrize("args", [
    ["build", "-r", "{root}", "-X"],
    ["build", "-r", "{root}", "-v", "-X", "--glibc", "2.36"],
    ["print", "-C", "{cache}"],
    ["print", "-r", "{root}"],
    ["info", "-C", "{cache}"],
], ids=lambda a: " ".join(a[:2]))
def test_ldcache_commands(root, args):
    if "{root}" in " ".join(args) and __import__("os").geteuid() != 0:
        pytest.skip("building a root's cache needs root (its files are root's)")
    argv = [a.format(root=root / "bundle/rootfs", cache=root / "cache") for a in args]
    heavy = set(HEAVY) & _imported(_ldcache(*argv))
    assert not heavy, f"ldcache {' '.join(args)} imports {sorted(heavy)}"


HOOKS = [
    ["update-ldcache", "--folder", "/usr/lib/nvidia"],
    ["create-symlinks", "--link", "libcuda.so.1::/usr/lib/nvidia/libcuda.so"],
    ["chmod", "--mode", "755", "--path", "/dev/dri"],
    ["enable-cuda-compat", "--host-driver-version", "535.104.05"],
    ["disable-device-node-modification"],
    ["update-application-profile"],
]


@pytest.mark.parametrize("hook", HOOKS, ids=lambda a: a[0])
def test_hooks(root, hook_launcher, hook):
    if __import__("os").geteuid() != 0:
        pytest.skip("the hooks write a root's files as root")
    cmd = [sys.executable, "-I", "-S", "-X", "importtime", str(hook_launcher), *hook]
    heavy = set(HEAVY) & _imported(cmd, state(root / "bundle"))
    assert not heavy, f"cdi-hook {hook[0]} imports {sorted(heavy)}"


#: Modules the launcher imports from their files, as it must: the interpreter's own start-up
#: (``encodings``), the hook package and the bundle's finder (before the bundle is in place).
FROM_FILES = {"__main__", "encodings", "encodings.aliases", "encodings.utf_8", "ldcache_hook",
              "ldcache_hook.bundle"}
_REPORT_AT_EXIT = """
import posix
_exit = posix._exit
def _report(code):
    print(sorted(n for n, m in sys.modules.items()
                 if type(getattr(m, "__loader__", None)).__name__ == "SourceFileLoader"),
          file=sys.stderr)
    _exit(code)
posix._exit = _report
"""


@pytest.mark.parametrize("hook", HOOKS, ids=lambda a: a[0])
def test_hooks_import_from_the_bundle(root, hook_launcher, hook):
    """Every module a hook imports comes from the start-up bundle (ldcache_hook.bundle):
    a standard-library module imported from its file belongs in ``bundle.STDLIB``."""
    if __import__("os").geteuid() != 0:
        pytest.skip("the hooks write a root's files as root")
    text = hook_launcher.read_text()
    assert "\ninstall(" in text
    code = text.replace("raise SystemExit(main())", _REPORT_AT_EXIT + "raise SystemExit(main())")
    p = subprocess.run([sys.executable, "-ISXutf8", "-c", code, *hook],
                       input=state(root / "bundle"), capture_output=True)
    assert p.returncode == 0, p.stderr.decode()
    from_files = set(eval(p.stderr.decode().strip().splitlines()[-1]))
    assert from_files <= FROM_FILES, sorted(from_files - FROM_FILES)
