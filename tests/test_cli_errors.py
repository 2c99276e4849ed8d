"""Bad invocations: every one is a single line naming the path and the problem, with the
documented exit status (README: "Errors and exit codes"), and never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.common import PROJECT, VECTORS

from ldcache.cli import main

CACHE = str(VECTORS / "bookworm-s390x-new.cache")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "text").write_text("hello, I am not a cache\n" * 4)
    (tmp_path / "dir").mkdir()
    # A root with a libc, so that ldcache knows what it is (no notices on stderr).
    libdir = tmp_path / "root/lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if os.path.exists(libc):
        shutil.copyfile(libc, libdir / "libc.so.6")
    return {"empty": str(tmp_path / "empty"), "text": str(tmp_path / "text"),
            "dir": str(tmp_path / "dir"), "missing": str(tmp_path / "missing"),
            "root": str(tmp_path / "root"), "tmp": str(tmp_path)}


# (argv with {placeholders}, exit status, expected stderr line with {placeholders})
CASES = [
    # missing cache
    ("print -C {missing}", 1, "ldcache: {missing}: No such file or directory"),
    ("info -C {missing}", 1, "ldcache: {missing}: No such file or directory"),
    ("lookup -C {missing} libc.so.6", 2, "ldcache: {missing}: No such file or directory"),
    ("diff {missing} " + CACHE, 2, "ldcache: {missing}: No such file or directory"),
    ("convert {missing} {tmp}/out", 1, "ldcache: {missing}: No such file or directory"),
    ("print -r {root}", 1, "ldcache: {root}/etc/ld.so.cache: No such file or directory"),
    # a directory instead of a file
    ("print -C {dir}", 1, "ldcache: {dir}: not a regular file"),
    ("diff " + CACHE + " {dir}", 2, "ldcache: {dir}: not a regular file"),
    ("verify -r {root} -C /", 2, "ldcache: {root}/: Is a directory"),
    # an empty file
    ("info -C {empty}", 1, "ldcache: {empty}: empty file at offset 0x0"),
    ("diff {empty} " + CACHE, 2, "ldcache: {empty}: empty file, not a cache"),
    # a file that is not a cache
    ("print -C {text}", 1, "ldcache: {text}: not a cache file (bad magic) at offset 0x0"),
    ("info -C {text}", 1, "ldcache: {text}: not a cache file (bad magic) at offset 0x0"),
    ("lookup -C {text} libc.so.6", 2, "ldcache: {text}: not a cache file (bad magic) at offset "
                                      "0x0"),
    # a nonexistent root
    ("print -r {missing}", 1, "ldcache: {missing}: No such file or directory"),
    ("build -r {missing}", 1, "ldcache: {missing}: No such file or directory"),
    ("lookup -r {missing} libc.so.6", 2, "ldcache: {missing}: No such file or directory"),
    ("verify -r {missing}", 2, "ldcache: {missing}: No such file or directory"),
    ("explain -r {missing} libc.so.6", 2, "ldcache: {missing}: No such file or directory"),
    ("verify -r {text}", 2, "ldcache: {text}: Not a directory"),
    # values ldcache cannot use
    ("lookup -C " + CACHE + " --arch vax libc.so.6", 2, "ldcache: unknown architecture 'vax'"),
    ("explain -r {root} lib/relative.so", 2,
     "ldcache: lib/relative.so: PATH must be absolute (inside the root)"),
    ("build -r {root} --arch vax", 1, "ldcache: unknown architecture 'vax'"),
    # glibc versions outside the supported range
    ("build -r {root} --glibc 2.20", 1,
     "ldcache: glibc 2.20 is not supported (ldcache knows glibc 2.31 to 2.43)"),
    ("build -r {root} --glibc 2.99", 1,
     "ldcache: glibc 2.99 is not supported (ldcache knows glibc 2.31 to 2.43)"),
    ("build -r {root} --glibc 3.0", 1,
     "ldcache: glibc 3.0 is not supported (ldcache knows glibc 2.31 to 2.43)"),
    ("build -r {root} --glibc banana", 1, "ldcache: not a glibc version: 'banana'"),
    ("print -C " + CACHE + " --glibc 2.99", 1,
     "ldcache: glibc 2.99 is not supported (ldcache knows glibc 2.31 to 2.43)"),
    ("lookup -C " + CACHE + " --glibc 2.30 libc.so.6", 2,
     "ldcache: glibc 2.30 is not supported (ldcache knows glibc 2.31 to 2.43)"),
]


def _fill(text: str, files: dict[str, str]) -> str:
    for key, value in files.items():
        text = text.replace("{" + key + "}", value)
    return text


@pytest.mark.parametrize("argv,status,message", CASES, ids=[c[0] for c in CASES])
def test_bad_invocation(files, capsys, argv, status, message):
    args = _fill(argv, files).split()
    assert main(args) == status
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1, err
    line = err.rstrip("\n")
    expected = _fill(message, files)
    if "unknown architecture" in expected:
        assert line.startswith(expected)
    else:
        assert line == expected
    assert "Traceback" not in err


USAGE = [
    "build -c banana",
    "build -c NEW",
    "print --bogus",
    "lookup",
    "diff onlyone",
    "lookup --isa-level 9 libc.so.6",
    "nosuchcommand",
]


@pytest.mark.parametrize("argv", USAGE)
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv.split())
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("ldcache")
    assert "error:" in err.splitlines()[-1]


def test_permission_denied(tmp_path):
    """Root reads any file, so the capability that lets it (CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH) is dropped from the bounding set for the subprocess: uid 0 without
    them is refused a mode-000 file like anyone else."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv (util-linux) to drop the DAC capabilities")
    secret = tmp_path / "secret.cache"
    secret.write_bytes(Path(CACHE).read_bytes())
    secret.chmod(0)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(PROJECT),
           "LC_ALL": "C"}
    for argv, status in ((["print", "-C", str(secret)], 1),
                         (["diff", str(secret), CACHE], 2),
                         (["lookup", "-C", str(secret), "libc.so.6"], 2)):
        proc = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search",
                               sys.executable, "-m", "ldcache", *argv],
                              capture_output=True, text=True, env=env, check=False)
        assert proc.returncode == status, proc.stderr
        assert proc.stderr == f"ldcache: {secret}: Permission denied\n"
        assert proc.stdout == ""


def _tree_state(top: Path) -> dict:
    out = {}
    for d, ds, fs in os.walk(top):
        for n in ds + fs:
            p = os.path.join(d, n)
            st = os.lstat(p)
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_ino, st.st_mtime_ns,
                                            os.readlink(p) if os.path.islink(p) else None)
    return out


@pytest.mark.parametrize("args,message", [
    (["-c", "banana"], "unknown cache format 'banana' (new, compat or old)"),
    (["--glibc", "2.99"], "glibc 2.99 is not supported"),
    (["--arch", "vax"], "unknown architecture 'vax'"),
])
def test_build_checks_options_before_writing(tmp_path, args, message):
    """The library refuses a bad option before the first write: no link, no cache, no aux
    cache (the CLI's argparse refuses -c itself; run_build is what other callers use)."""
    from ldcache.build import BuildOptions, run_build
    from ldcache.errors import LdcacheError

    root = tmp_path / "root"
    libdir = root / "lib/x86_64-linux-gnu"
    libdir.mkdir(parents=True)
    shutil.copyfile(os.path.realpath("/lib/x86_64-linux-gnu/libc.so.6"),
                    libdir / "libc.so.6.real")
    (root / "etc").mkdir()
    before = _tree_state(root)
    opts = {"-c": "layout", "--glibc": "glibc", "--arch": "arch"}
    with pytest.raises(LdcacheError) as exc:
        run_build(BuildOptions(root=str(root), **{opts[args[0]]: args[1]}))
    assert message in str(exc.value)
    assert _tree_state(root) == before


def test_arch_override_contradicting_the_root(tmp_path):
    """``--arch`` naming another port than the root's libc: no library matches, so the run
    is refused with what was found, before anything is written."""
    from support import debroots

    debroots.require_root("bookworm", "s390x")
    root = debroots.working_copy("bookworm", "s390x", tmp_path / "s390x", hardlink=True)
    before = _tree_state(root)
    proc = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(root),
                           "--arch", "x86_64"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == (f"ldcache: --arch x86_64 matches no library in {root}: the root "
                           "is s390x (its libc /lib/s390x-linux-gnu/libc.so.6 is s390x)\n")
    assert _tree_state(root) == before
    # The root's own architecture, named explicitly, is fine.
    proc = subprocess.run([sys.executable, "-m", "ldcache", "build", "-r", str(root),
                           "--arch", "s390x", "-s"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "glibc 2.36 s390x;" in proc.stdout and "entries, new layout" in proc.stdout


def test_print_into_a_closed_pipe_is_quiet(tmp_path, ldconfig):
    """``ldcache print | head -1``: the reader leaves early; like ldconfig -p, the writer
    ends by SIGPIPE (status 141 in the shell), without a message."""
    big = tmp_path / "big.cache"
    from ldcache.format import build, parse

    cache = parse((VECTORS / "bookworm-amd64-new.cache").read_bytes())
    entries = [e._replace(soname=e.soname + b".%d" % i) for i in range(60)
               for e in cache.entries]
    big.write_bytes(build(cache.replace(entries=tuple(sorted(
        entries, key=lambda e: e.soname, reverse=True)))))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT)}
    for writer in (f"{ldconfig} -p -C {big}", f"{sys.executable} -m ldcache print -C {big}",
                   f"{sys.executable} -m ldcache info -C {big} --json"):
        # head takes the first bytes and leaves; the writer has 180 KB more to write.
        proc = subprocess.run(writer + " | head -c 1 >/dev/null; "
                              "echo status=${PIPESTATUS[0]}", shell=True,
                              executable="/bin/bash", capture_output=True, text=True, env=env)
        if "info" in writer:  # one short line: written before the pipe is seen closed
            assert proc.stdout.split()[-1] in ("status=0", "status=141"), (writer, proc)
        else:
            assert proc.stdout.split()[-1] == "status=141", (writer, proc)
        assert proc.stderr == "", (writer, proc.stderr)
