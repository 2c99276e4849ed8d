"""Bad invocations: every one is a single line naming the path and the problem, with the
documented exit status (README: "Errors and exit codes"), and never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from common import PROJECT, VECTORS

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
