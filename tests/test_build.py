"""`ldcache build` against the machine's own glibc ldconfig: same cache bytes, same links."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from support.common import requires_root
from support.synthroots import host_generator, image_root, tree

from ldcache.format import parse

LAYOUTS = ("new", "compat", "old")


def run_ldcache(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "ldcache", *args], capture_output=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"ldcache {args} failed: {proc.stderr.decode()}")
    return proc


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> bytes:
    import shutil
    ldconfig = shutil.which("ldconfig")
    if ldconfig is None:
        pytest.skip("no ldconfig on this machine")
    requires_root()
    return host_generator(ldconfig)


def twin_roots(tmp: Path) -> tuple[Path, Path]:
    return image_root(tmp / "glibc"), image_root(tmp / "ldcache")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_image_root_bytes_and_links(tmp_path, ldconfig, generator, layout):
    ours, theirs = twin_roots(tmp_path)
    ref = subprocess.run([ldconfig, "-r", str(ours), "-c", layout], capture_output=True)
    assert ref.returncode == 0, ref.stderr
    got = run_ldcache("build", "-r", str(theirs), "-c", layout, "--generator",
                      generator.decode())
    expected = (ours / "etc/ld.so.cache").read_bytes()
    actual = (theirs / "etc/ld.so.cache").read_bytes()
    assert parse(actual).entries == parse(expected).entries
    assert actual == expected
    assert tree(theirs) == tree(ours)
    assert oct((theirs / "etc/ld.so.cache").stat().st_mode & 0o777) == "0o644"
    # The same warnings, each once.
    ref_warnings = sorted(line.split(": ", 1)[1] for line in ref.stderr.decode().splitlines()
                          if line.startswith(ldconfig + ": "))
    our_warnings = sorted(line.split(": ", 1)[1] for line in got.stderr.decode().splitlines()
                          if line.startswith("ldcache: "))
    assert our_warnings == ref_warnings
    assert len(ref_warnings) >= 4


def test_default_layout_and_second_run(tmp_path, ldconfig, generator):
    """Default layout; a second run over the links the first made changes nothing more."""
    ours, theirs = twin_roots(tmp_path)
    for _ in range(2):
        subprocess.run([ldconfig, "-r", str(ours)], check=True, capture_output=True)
        run_ldcache("build", "-r", str(theirs), "--generator", generator.decode())
        assert (theirs / "etc/ld.so.cache").read_bytes() == \
            (ours / "etc/ld.so.cache").read_bytes()
        assert tree(theirs) == tree(ours)


@pytest.mark.parametrize("flags", [["-X"], ["-N"], ["-n", "/opt/lib1", "/opt/lib2"],
                                   ["-C", "/etc/other.cache"], ["-f", "/etc/ld.so.conf.d/a.conf"],
                                   ["-X", "/opt/nested", "/opt/lib2link"]],
                         ids=["X", "N", "n", "C", "f", "cmdline-dirs"])
def test_options(tmp_path, ldconfig, generator, flags):
    ours, theirs = twin_roots(tmp_path)
    subprocess.run([ldconfig, "-r", str(ours), *flags], check=True, capture_output=True)
    run_ldcache("build", "-r", str(theirs), "--generator", generator.decode(), *flags)
    assert tree(theirs) == tree(ours)
    for name in ("etc/ld.so.cache", "etc/other.cache"):
        assert (theirs / name).exists() == (ours / name).exists()
        if (ours / name).exists():
            assert (theirs / name).read_bytes() == (ours / name).read_bytes()


def test_verbose_output(tmp_path, ldconfig, generator):
    ours, theirs = twin_roots(tmp_path)
    ref = subprocess.run([ldconfig, "-r", str(ours), "-v"], capture_output=True, check=True)
    got = run_ldcache("build", "-r", str(theirs), "-v", "--generator", generator.decode())
    assert got.stdout.decode() == ref.stdout.decode()


def test_manual_link(tmp_path, ldconfig, generator):
    ours, theirs = twin_roots(tmp_path)
    args = ["-l", "/opt/lib1/libver.so.1.2.0", "/opt/lib2/libreal.so.3"]
    subprocess.run([ldconfig, "-r", str(ours), *args], check=True, capture_output=True)
    run_ldcache("build", "-r", str(theirs), *args)
    assert tree(theirs) == tree(ours)


def test_ldconfig_personality(tmp_path, ldconfig, generator):
    """Invoked as `ldconfig`, ldcache takes ldconfig's command line, -p included."""
    ours, theirs = twin_roots(tmp_path)
    subprocess.run([ldconfig, "-r", str(ours)], check=True, capture_output=True)
    link = tmp_path / "bin/ldconfig"
    link.parent.mkdir()
    link.write_text(f"#!{sys.executable}\nimport sys\nsys.argv[0] = 'ldconfig'\n"
                    "from ldcache.cli import main\nsys.exit(main())\n")
    link.chmod(0o755)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    subprocess.run([str(link), "-r", str(theirs), "--generator", generator.decode()],
                   check=True, env=env)
    assert (theirs / "etc/ld.so.cache").read_bytes() == (ours / "etc/ld.so.cache").read_bytes()
    p_ref = subprocess.run([ldconfig, "-r", str(ours), "-p"], capture_output=True, check=True)
    p_got = subprocess.run([str(link), "-r", str(theirs), "-p"], capture_output=True, env=env)
    assert p_got.stdout == p_ref.stdout


def test_aux_cache_same_output(tmp_path, generator):
    """Warm (aux cache) and cold (-i) builds write the same bytes."""
    root = image_root(tmp_path / "r")
    (root / "var/cache").mkdir(parents=True)
    run_ldcache("build", "-r", str(root), "--generator", generator.decode())
    cold = (root / "etc/ld.so.cache").read_bytes()
    assert (root / "var/cache/ldconfig/ldcache-aux").exists()
    from ldcache.build import BuildOptions, run_build
    warm = run_build(BuildOptions(root=str(root), generator=generator))
    assert warm.cache_bytes == cold and warm.plan is not None
    # Only the files that are no library (never remembered, as in ldconfig) are read again;
    # a SONAME link and its library are one file, taken from the aux cache once.
    assert warm.plan.reused >= 25 and warm.plan.probed <= 6
    again = run_build(BuildOptions(root=str(root), generator=generator, ignore_aux=True))
    assert again.cache_bytes == cold and again.plan is not None
    assert again.plan.reused == 0
    assert again.plan.probed == warm.plan.probed + warm.plan.reused
    # Each file is read once per run, whatever number of names reach it.
    from ldcache.inroot import Root

    files, names = set(), 0
    with Root(root) as r:
        for d in again.plan.directories:
            for name, _ in r.listdir(d) if r.exists(d) else ():
                try:
                    st = r.stat(d + b"/" + name)  # symlinks followed in the root
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode) and b".so" in name:
                    files.add((st.st_dev, st.st_ino))
                    names += 1
    assert again.plan.probed <= len(files) < names  # never more reads than files


def test_warm_run_stats_what_the_aux_cache_knows(tmp_path, monkeypatch, generator):
    """On a warm run a library the aux cache knows, or a SONAME link to a sibling it knows,
    is recognised by lstat alone: no in-root handle is made for it (cold: one per entry),
    and the bytes are the same."""
    from ldcache.build import BuildOptions, run_build
    from ldcache.inroot import Dir

    root = image_root(tmp_path / "r")
    (root / "var/cache").mkdir(parents=True)
    handles: list[bytes] = []
    real = Dir.handle

    def counting(self, name, **kw):
        handles.append(name)
        return real(self, name, **kw)

    monkeypatch.setattr(Dir, "handle", counting)
    cold = run_build(BuildOptions(root=str(root), generator=generator))
    cold_handles = len(handles)
    handles.clear()
    warm = run_build(BuildOptions(root=str(root), generator=generator))
    assert warm.cache_bytes == cold.cache_bytes and warm.plan is not None
    assert warm.plan.reused >= 25
    # (what is left: files that are no library, which nobody remembers, and odd links)
    assert len(handles) <= cold_handles - warm.plan.reused, (cold_handles, handles)


def test_aux_cache_keeps_any_file_time(tmp_path, generator):
    """A file dated past 2262 (its time in ns beyond a signed 64-bit field) is remembered
    and recognised like any other: no crash, the same bytes, taken from the aux cache."""
    from ldcache.build import BuildOptions, run_build

    root = image_root(tmp_path / "r")
    (root / "var/cache").mkdir(parents=True)
    lib = root / "opt/lib1/libfoo.so.1.0"
    far = 2 ** 63 + 10 ** 18  # (2292-ish, in ns)
    os.utime(lib, ns=(far, far))
    if lib.stat().st_mtime_ns != far:
        pytest.skip(f"this file system cannot hold an mtime of {far} ns "
                    f"(kept {lib.stat().st_mtime_ns})")
    cold = run_build(BuildOptions(root=str(root), generator=generator, ignore_aux=True))
    warm = run_build(BuildOptions(root=str(root), generator=generator))
    assert warm.cache_bytes == cold.cache_bytes and warm.plan is not None
    assert warm.plan.reused >= 25


def test_a_run_plans_settled_links_only_for_verbose(tmp_path):
    """A link that needs no change is a LinkOp with needed=False in a plan that asks for them
    (the default, explain's) and in a -v run, which prints it; a plain run leaves it out."""
    from ldcache.build import BuildOptions, plan_root, run_build
    from ldcache.inroot import Root
    from ldcache.scan import LinkOp

    root = image_root(tmp_path / "r")
    run_build(BuildOptions(root=str(root), ignore_aux=True))  # every link made
    with Root(root) as r:
        _, full = plan_root(r, BuildOptions(root=str(root), ignore_aux=True))
    settled = [op for op in full.events if isinstance(op, LinkOp)]
    assert settled and not any(op.needed for op in settled)
    plain = run_build(BuildOptions(root=str(root), ignore_aux=True))
    assert plain.plan is not None and not any(isinstance(e, LinkOp) for e in plain.plan.events)
    lines: list[bytes] = []
    verbose = run_build(BuildOptions(root=str(root), ignore_aux=True, verbose=True),
                        out=lines.append)
    assert verbose.plan is not None
    assert [e for e in verbose.plan.events if isinstance(e, LinkOp)] == settled
    assert plain.cache_bytes == verbose.cache_bytes
    for op in settled:
        assert b"\t%s -> %s\n" % (op.soname, op.target) in lines


def test_the_plan_is_frozen_once_returned(tmp_path):
    """A plan, once returned, cannot be changed: its lists are tuples and nothing can be set
    on it (the build used to attach the aux cache afterwards)."""
    from ldcache.build import BuildOptions, plan_root
    from ldcache.inroot import Root

    root = image_root(tmp_path / "r")
    with Root(root) as r:
        _, p = plan_root(r, BuildOptions(root=str(root), ignore_aux=True))
    assert p.entries and p.events and p.aux is not None
    assert all(isinstance(x, tuple) for x in (p.events, p.entries, p.directories,
                                             p.hwcaps_names))
    with pytest.raises(AttributeError, match="frozen"):
        p.aux = None
    with pytest.raises(AttributeError):
        p.entries.append(p.entries[0])  # type: ignore[attr-defined]
