"""cdi-hook's command line: argv shapes, flag forms, environment, unknown hooks and flags,
container state errors — and the isolation of the process from what it inherits."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldcache_hook.helptext import build_parser
from ldcache_hook.main import boot_code, isolated_sys_path, run
from ldcache_hook.oci import MAX_STATE_BYTES
from ldcache_hook.parser import env_bool, parse, parse_bool, shape_of
from ldcache_hook.table import HOOKS
from support.hookroots import PROJECT, glibc_rootfs, hook_launcher, run_hook, state, write_bundle  # noqa: F401

# ------------------------------------------------------------------------------ parsing


def test_flag_forms_and_repeats():
    inv = parse(["update-ldcache", "--folder", "/a", "--folder=/b", "-folder", "/c",
                 "-folder=/d,/e", "--ldconfig-path", "/x", "--ldconfig-path=/y"])
    assert inv.action == "run" and inv.hook is not None and inv.hook.name == "update-ldcache"
    assert inv.options["folder"] == ["/a", "/b", "/c", "/d", "/e"]
    assert inv.options["ldconfig-path"] == "/y"  # a string flag keeps the last value
    assert inv.options["container-spec"] == ""


def test_defaults():
    inv = parse(["update-ldcache"])
    assert inv.options == {"folder": [], "ldconfig-path": "/sbin/ldconfig",
                           "container-spec": ""}
    inv = parse(["enable-cuda-compat"])
    assert inv.options["cuda-compat-container-root"] == "/usr/local/cuda/compat"
    assert inv.options["host-driver-version"] == "" and inv.options["host-cuda-version"] == ""


def test_every_nvidia_flag_is_accepted():
    """The flags NVIDIA's hooks define (names and aliases, current and removed ones)."""
    cases = {
        "update-ldcache": ["--folder", "/a", "--ldconfig-path", "/sbin/ldconfig",
                           "--container-spec", "-", "--folders", "/b", "--containerSpec", "-"],
        "create-symlinks": ["--link", "a::/b", "--container-spec", "-", "--host-root", "/",
                            "--csv-filename", "x.csv", "--csv-filenames", "y.csv", "-f", "z"],
        "chmod": ["--path", "/dev/dri", "--mode", "755", "--container-spec", "-"],
        "enable-cuda-compat": ["--host-driver-version", "535.1", "--host-cuda-version", "12.2",
                               "--cuda-compat-container-root", "/c", "--container-spec", "-"],
        "disable-device-node-modification": ["--container-spec", "-"],
        "update-application-profile": ["--container-spec", "-"],
        "noop": [],
    }
    assert set(cases) == {h.name for h in HOOKS}
    for name, args in cases.items():
        inv = parse([name, *args])
        assert inv.action == "run", (name, inv.message)
    inv = parse(["update-ldcache", "--folder", "/a", "--folders", "/b"])
    assert inv.options["folder"] == ["/a", "/b"]
    inv = parse(["create-symlinks", "--host-root", "/h", "--csv-filename", "a.csv",
                 "--link", "t::/l"])
    assert len(inv.deprecations) == 2 and inv.options["link"] == ["t::/l"]


def test_global_flags_before_and_after_the_hook():
    assert parse(["--debug", "noop"]).globals == {"debug": True}
    assert parse(["-d", "noop"]).globals == {"debug": True}
    assert parse(["noop", "-d"]).globals == {"debug": True}
    assert parse(["noop", "--quiet"]).globals == {"quiet": True}
    assert parse(["--debug=false", "noop"]).globals == {"debug": False}
    assert parse(["--debug=T", "noop"]).globals == {"debug": True}
    inv = parse(["--debug=maybe", "noop"])
    assert inv.action == "usage" and "parse error" in inv.message


def test_flags_after_positionals_and_double_dash():
    inv = parse(["chmod", "extra", "--mode", "644", "--path", "/p", "more"])
    assert inv.action == "run" and inv.options["mode"] == "644"
    assert inv.extra == ["extra", "more"]
    inv = parse(["chmod", "--mode", "644", "--", "--path", "/p"])
    assert inv.options["path"] == [] and inv.extra == ["--path", "/p"]
    inv = parse(["--", "noop"])
    assert inv.action == "run" and inv.hook is not None and inv.hook.name == "noop"
    inv = parse(["chmod", "-", "--mode", "644"])  # a lone '-' ends parsing
    assert inv.options["mode"] == "" and inv.extra == ["-"]


def test_no_hook_and_unknown_hooks_are_warnings():
    assert (parse([]).action, parse([]).message) == ("unsupported", "No CDI hook specified")
    inv = parse(["future-hook", "--some-new-flag", "x"])
    assert (inv.action, inv.message) == ("unsupported", "Unsupported CDI hook: future-hook")
    # NVIDIA's two newest hooks are known now: an unknown flag to them is a usage error.
    for name in ("disable-device-node-modification", "update-application-profile"):
        inv = parse([name, "--some-new-flag", "x"])
        assert (inv.action, inv.message) == (
            "usage", f"{name}: flag provided but not defined: -some-new-flag")
    assert parse(["--bogus", "future-hook"]).action == "unsupported"
    assert parse(["--bogus"]).message == "No CDI hook specified"
    assert parse(["--debug"]).action == "unsupported"
    # The first positional argument names the hook, even when a later one is known.
    inv = parse(["future-hook", "update-ldcache"])
    assert inv.message == "Unsupported CDI hook: future-hook"


def test_unknown_flags_to_known_hooks_are_errors():
    inv = parse(["update-ldcache", "--bogus", "x"])
    assert inv.action == "usage"
    assert inv.message == "update-ldcache: flag provided but not defined: -bogus"
    inv = parse(["--bogus", "update-ldcache", "--folder", "/x"])
    assert inv.action == "usage" and "flag provided but not defined: -bogus" in inv.message
    inv = parse(["update-ldcache", "--folder"])
    assert inv.action == "usage" and "flag needs an argument" in inv.message
    inv = parse(["update-ldcache", "--version"])  # --version is root-only
    assert inv.action == "usage"


def test_help_and_version():
    for args in (["--help"], ["-h"], ["help"], ["update-ldcache", "--help"],
                 ["help", "chmod"], ["chmod", "-h"]):
        assert parse(args).action == "help", args
    assert parse(["help", "chmod"]).help_for is not None
    assert parse(["--version"]).action == "version"
    assert parse(["-v"]).action == "version"


def test_nvidia_ctk_shape():
    assert shape_of("/usr/bin/nvidia-ctk") == "nvidia-ctk"
    assert shape_of("nvidia-cdi-hook") == "cdi-hook"
    assert shape_of("/usr/local/bin/cdi-hook") == "cdi-hook"
    inv = parse(["hook", "update-ldcache", "--folder", "/x"], "nvidia-ctk")
    assert inv.action == "run" and inv.options["folder"] == ["/x"]
    inv = parse(["--debug", "--config", "/etc/nvidia-container-toolkit/config.toml", "hook",
                 "--quiet", "chmod", "--mode", "755", "--path", "/dev/dri"], "nvidia-ctk")
    assert inv.action == "run" and inv.globals["debug"] is True and inv.globals["quiet"]
    assert parse(["hook"], "nvidia-ctk").action == "unsupported"
    assert parse(["hook", "new-hook", "--x"], "nvidia-ctk").action == "unsupported"
    assert parse(["cdi", "generate"], "nvidia-ctk").action == "usage"
    assert parse(["update-ldcache"], "nvidia-ctk").action == "usage"
    assert parse(["--bogus", "hook", "noop"], "nvidia-ctk").action == "usage"
    assert parse(["hook", "noop", "--bogus"], "nvidia-ctk").action == "usage"


def test_argv0_lost_to_a_shebang():
    """A CDI spec's ``path`` is the launcher (a "#!" script) and its ``args`` start with the
    name NVIDIA's binary runs under: the kernel drops that argv[0], so the hook is handed
    ``hook HOOK …`` (nvidia-ctk's form) or ``HOOK …`` (nvidia-cdi-hook's)."""
    inv = parse(["hook", "update-ldcache", "--folder", "/x"], "cdi-hook")
    assert (inv.action, inv.hook.name, inv.options["folder"]) == ("run", "update-ldcache",
                                                                 ["/x"])
    inv = parse(["--debug", "--config", "/c.toml", "hook", "chmod", "--mode", "755",
                 "--path", "/dev/dri"], "cdi-hook")
    assert inv.action == "run" and inv.hook.name == "chmod" and inv.globals["debug"] is True
    assert parse(["hook", "a-hook-from-2030"], "cdi-hook").message == \
        "Unsupported CDI hook: a-hook-from-2030"
    assert parse(["hook"], "cdi-hook").action == "unsupported"


def test_hook_flags_before_the_hook_name():
    """``cdi-hook --container-spec X update-ldcache``: a hook's flag given before its name."""
    for args in (["--container-spec", "/s.json", "update-ldcache", "--folder", "/x"],
                 ["--containerSpec=/s.json", "update-ldcache", "--folder", "/x"],
                 ["--debug", "--container-spec", "/s.json", "update-ldcache", "--folder", "/x"]):
        inv = parse(args, "cdi-hook")
        assert inv.action == "run", (args, inv.message)
        assert inv.hook.name == "update-ldcache"
        assert inv.options["container-spec"] == "/s.json" and inv.options["folder"] == ["/x"]
    inv = parse(["--debug", "--container-spec", "/s.json", "update-ldcache"], "cdi-hook")
    assert inv.globals["debug"] is True
    # A flag no hook has is still an error of the hook it precedes.
    inv = parse(["--bogus", "update-ldcache"], "cdi-hook")
    assert inv.action == "usage" and "-bogus" in inv.message


def test_spec_shapes_through_the_launcher(hook_launcher, tmp_path):
    """The two forms above, end to end: the launcher itself as the spec's ``path``."""
    bundle = write_bundle(tmp_path / "b")
    rootfs = glibc_rootfs(bundle / "rootfs")
    statefile = tmp_path / "state.json"
    statefile.write_bytes(state(bundle))
    p = run_hook(hook_launcher, ["hook", "update-ldcache", "--folder", "/opt/a"], state(bundle))
    assert p.returncode == 0, p.stderr
    assert b"Unsupported" not in p.stderr
    assert (rootfs / "etc/ld.so.cache").exists()
    (rootfs / "etc/ld.so.cache").unlink()
    p = run_hook(hook_launcher, ["--container-spec", str(statefile), "update-ldcache",
                                 "--folder", "/opt/b"], b"")
    assert p.returncode == 0, p.stderr
    assert (rootfs / "etc/ld.so.cache").exists()


def test_parse_bool_and_env():
    assert [parse_bool(v) for v in ("1", "t", "TRUE", "True", "0", "f", "false")] == \
        [True, True, True, True, False, False, False]
    with pytest.raises(ValueError):
        parse_bool("yes")
    names = ("NVIDIA_CTK_DEBUG", "NVIDIA_CDI_DEBUG")
    assert env_bool({}, names) == (None, "")
    assert env_bool({"NVIDIA_CDI_DEBUG": "1"}, names) == (True, "")
    assert env_bool({"NVIDIA_CTK_DEBUG": "", "NVIDIA_CDI_DEBUG": "true"}, names) == (True, "")
    assert env_bool({"NVIDIA_CTK_DEBUG": "false", "NVIDIA_CDI_DEBUG": "true"},
                    names) == (False, "")
    value, problem = env_bool({"NVIDIA_CTK_DEBUG": "yes"}, names)
    assert value is None and "NVIDIA_CTK_DEBUG" in problem


def test_build_parser_describes_the_same_surface():
    p = build_parser()
    ns = p.parse_args(["--debug", "update-ldcache", "--folder", "/a", "--folder", "/b"])
    assert ns.hook == "update-ldcache" and ns.folder == ["/a", "/b"] and ns.debug
    ns = p.parse_args(["enable-cuda-compat", "--host-driver-version", "535.104.05"])
    assert ns.cuda_compat_container_root if hasattr(ns, "cuda_compat_container_root") else \
        getattr(ns, "cuda-compat-container-root") == "/usr/local/cuda/compat"
    text = p.format_help()
    for spec in HOOKS:
        if not spec.hidden:
            assert spec.name in text
    sub = next(a for a in p._actions if a.dest == "hook")
    for spec in HOOKS:
        if spec.hidden:
            continue
        helptext = sub.choices[spec.name].format_help()  # type: ignore[union-attr]
        for flag in spec.flags:
            if not flag.hidden:
                assert f"--{flag.name}" in helptext, (spec.name, flag.name)


# ------------------------------------------------------------------------------ running in-process


def _run(args, stdin=b"", env=None, argv0="cdi-hook"):
    return run(argv0, list(args), stdin=io.BytesIO(stdin), env=env or {})


@pytest.fixture
def chmod_root(tmp_path):
    rootfs = tmp_path / "bundle/rootfs"
    (rootfs / "dev/dri").mkdir(parents=True)
    os.chmod(rootfs / "dev/dri", 0o700)
    write_bundle(tmp_path / "bundle")
    return tmp_path / "bundle"


def test_exit_codes_and_one_line(capsys, chmod_root):
    assert _run([]) == 0
    assert capsys.readouterr().err == "cdi-hook: warning: No CDI hook specified\n"
    assert _run(["brand-new-hook", "--flag-of-the-future"]) == 0
    assert capsys.readouterr().err == "cdi-hook: warning: Unsupported CDI hook: brand-new-hook\n"
    assert _run(["chmod", "--bogus"]) == 1
    err = capsys.readouterr().err
    assert err == "cdi-hook: error: chmod: flag provided but not defined: -bogus\n"
    assert _run(["noop"]) == 0
    assert capsys.readouterr().err == ""
    assert _run(["chmod", "--mode", "755", "--path", "/dev/dri"], state(chmod_root)) == 0
    assert oct(os.stat(chmod_root / "rootfs/dev/dri").st_mode & 0o7777) == "0o755"
    assert _run(["chmod", "--mode", "9", "--path", "/dev/dri"], state(chmod_root)) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_argv0_prefix(capsys):
    assert _run(["hook", "nope"], argv0="/usr/bin/nvidia-ctk") == 0
    assert capsys.readouterr().err == "nvidia-ctk: warning: Unsupported CDI hook: nope\n"
    assert _run(["nope"], argv0="/usr/bin/nvidia-cdi-hook") == 0
    assert capsys.readouterr().err.startswith("nvidia-cdi-hook: warning:")


def test_help_and_version_output(capsys):
    assert _run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "update-ldcache" in out and "create-symlinks" in out
    assert _run(["help", "update-ldcache"]) == 0
    assert "--folder" in capsys.readouterr().out
    assert _run(["--version"]) == 0
    assert "version" in capsys.readouterr().out


def test_debug_and_quiet_from_the_environment(capsys, chmod_root):
    args = ["chmod", "--mode", "755", "--path", "/dev/dri", "extra-arg"]
    for env, shown in ((None, False), ({"NVIDIA_CTK_DEBUG": "true"}, True),
                       ({"NVIDIA_CDI_DEBUG": "1"}, True),
                       ({"NVIDIA_CTK_DEBUG": "1", "NVIDIA_CTK_QUIET": "1"}, False),
                       ({"NVIDIA_CDI_DEBUG": "1", "NVIDIA_CDI_QUIET": "true"}, False),
                       ({"NVIDIA_CTK_DEBUG": "false", "NVIDIA_CDI_DEBUG": "1"}, False)):
        assert _run(args, state(chmod_root), env) == 0
        err = capsys.readouterr().err
        assert ("debug: chmod: ignoring extra arguments" in err) is shown, (env, err)
    # The command line wins over the environment.
    assert _run(["--debug=false", *args], state(chmod_root), {"NVIDIA_CTK_DEBUG": "1"}) == 0
    assert "debug:" not in capsys.readouterr().err
    assert _run(["--debug", *args], state(chmod_root), {"NVIDIA_CTK_QUIET": "0"}) == 0
    assert "debug:" in capsys.readouterr().err
    # Quiet hides warnings too; an unusable value is a warning, not a failure.
    assert _run(["--quiet", "no-such-hook"]) == 0
    assert capsys.readouterr().err == ""
    assert _run(["noop"], env={"NVIDIA_CTK_DEBUG": "yes"}) == 0
    assert "warning: ignoring NVIDIA_CTK_DEBUG='yes'" in capsys.readouterr().err


@pytest.mark.parametrize("stdin,message", [
    (b"", "no JSON data"),
    (b"   \n", "no JSON data"),
    (b"[1, 2]", "not a JSON object"),
    (b"null", "not a JSON object"),
    (b"{\"id\": ", "failed to decode container state"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"id": "x", "root": 5}', "field 'root' is not a string"),
    (b'{"id": "x", "bundle": ["a"]}', "field 'bundle' is not a string"),
    (b'{"id": "x"}', "neither a 'root' nor a 'bundle'"),
    (b'{"id": "x", "bundle": "/nonexistent/bundle"}', "failed to open OCI spec file"),
    (b'{"id": "x", "root": "relative/rootfs"}', "relative root path"),
    (b'{"id": "x", "root": "/nonexistent/rootfs"}', "/nonexistent/rootfs"),
    (b"[" * 100000, "failed to decode container state"),
])
def test_state_errors(capsys, stdin, message):
    assert _run(["create-symlinks", "--link", "a::/b"], stdin) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cdi-hook: error: create-symlinks: ")
    assert message in err, err


def test_state_size_is_bounded(capsys):
    big = b'{"id": "x", "pad": "' + b"a" * MAX_STATE_BYTES + b'"}'
    assert _run(["create-symlinks", "--link", "a::/b"], big) == 1
    assert "larger than" in capsys.readouterr().err


def test_config_json_errors(capsys, tmp_path):
    bundle = tmp_path / "b"
    bundle.mkdir()
    cases = [({"ociVersion": "1"}, "has no 'root'"),
             ({"root": "rootfs"}, "'root' is not an object"),
             ({"root": {"readonly": True}}, "has no 'root.path'"),
             ({"root": {"path": ""}}, "has no 'root.path'")]
    for config, message in cases:
        (bundle / "config.json").write_text(json.dumps(config))
        assert _run(["create-symlinks", "--link", "a::/b"], state(bundle)) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    (bundle / "config.json").unlink()
    os.mkfifo(bundle / "config.json")  # never opened for reading (would block)
    assert _run(["create-symlinks", "--link", "a::/b"], state(bundle)) == 1
    assert "not a regular file" in capsys.readouterr().err


def test_state_sources(capsys, tmp_path):
    """The state's own 'root' wins; a relative root.path is relative to the bundle;
    --container-spec reads a file; trailing data after the JSON value is ignored."""
    bundle = write_bundle(tmp_path / "b", "rootfs")
    (bundle / "rootfs").mkdir()
    other = tmp_path / "other"
    other.mkdir()
    assert _run(["create-symlinks", "--link", "t::/l"], state(bundle, root=str(other))) == 0
    assert os.readlink(other / "l") == "t" and not (bundle / "rootfs/l").exists()
    assert _run(["create-symlinks", "--link", "t::/m"], state(bundle) + b"\ntrailing") == 0
    assert os.readlink(bundle / "rootfs/m") == "t"
    spec = tmp_path / "state.json"
    spec.write_bytes(state(bundle))
    assert _run(["create-symlinks", "--link", "t::/n", "--container-spec", str(spec)]) == 0
    assert os.readlink(bundle / "rootfs/n") == "t"
    assert _run(["create-symlinks", "--link", "t::/o", "--container-spec", "-"],
                state(bundle)) == 0
    assert os.readlink(bundle / "rootfs/o") == "t"
    assert _run(["create-symlinks", "--link", "t::/p", "--container-spec",
                 str(tmp_path / "missing.json")]) == 1
    assert "failed to open container state" in capsys.readouterr().err


HOOK_LINES = {
    "update-ldcache": ["update-ldcache", "--folder", "/x"],
    "create-symlinks": ["create-symlinks", "--link", "t::/x"],
    "chmod": ["chmod", "--mode", "755", "--path", "/tmp"],
    "enable-cuda-compat": ["enable-cuda-compat", "--host-driver-version", "999.1.1"],
}


@pytest.mark.parametrize("hook", sorted(HOOK_LINES))
def test_every_hook_refuses_the_host_root(capsys, tmp_path, hook):
    """No hook works on the host's ``/``: named so, spelled otherwise, or reached through a
    symlink (checked on the directory the hook has opened)."""
    line = HOOK_LINES[hook]
    before = os.stat("/tmp").st_mode
    for root in ("/", "//", "/.", "/usr/.."):
        assert _run(line, state(root=root)) == 1
        assert "refusing" in capsys.readouterr().err
    bundle = write_bundle(tmp_path / "b", "/")
    assert _run(line, state(bundle)) == 1
    assert "refusing" in capsys.readouterr().err
    os.symlink("/", tmp_path / "slash")
    assert _run(line, state(root=str(tmp_path / "slash"))) == 1
    assert "it is the host's /" in capsys.readouterr().err
    assert not os.path.lexists("/x") and os.stat("/tmp").st_mode == before


def test_update_ldcache_bad_flags(capsys, tmp_path):
    assert _run(["update-ldcache", "--ldconfig-path="], state(root=str(tmp_path))) == 1
    assert "ldconfig-path must be specified" in capsys.readouterr().err
    for folder in ("relative/dir", "/a\nb", "/a#b", "/x,rel"):
        assert _run(["update-ldcache", "--folder", folder], state(root=str(tmp_path))) == 1
        assert "invalid folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------ as a program


def test_program_argv_shapes(hook_launcher, tmp_path):
    """The launcher under the names CDI specs use (a symlink replacing NVIDIA's binary)."""
    ctk = tmp_path / "nvidia-ctk"
    cdi = tmp_path / "nvidia-cdi-hook"
    ctk.symlink_to(hook_launcher)
    cdi.symlink_to(hook_launcher)
    bundle = write_bundle(tmp_path / "b")
    (bundle / "rootfs").mkdir()
    p = run_hook(cdi, ["create-symlinks", "--link", "t::/x"], state(bundle))
    assert p.returncode == 0, p.stderr
    p = run_hook(ctk, ["hook", "create-symlinks", "--link=t::/y"], state(bundle))
    assert p.returncode == 0, p.stderr
    assert os.readlink(bundle / "rootfs/x") == "t" and os.readlink(bundle / "rootfs/y") == "t"
    p = run_hook(ctk, ["hook", "a-hook-from-2030", "--x=1"], b"")
    assert (p.returncode, p.stderr) == (0, b"nvidia-ctk: warning: Unsupported CDI hook: "
                                           b"a-hook-from-2030\n")
    p = run_hook(cdi, ["update-ldcache", "--no-such-flag"], b"")
    assert p.returncode == 1 and p.stderr.count(b"\n") == 1
    p = run_hook(hook_launcher, [], b"")
    assert (p.returncode, p.stderr) == (0, b"cdi-hook: warning: No CDI hook specified\n")


def test_ldconfig_path_is_never_executed(hook_launcher, tmp_path):
    trip = tmp_path / "tripwire"
    evil = tmp_path / "evil-ldconfig"
    evil.write_text(f"#!/bin/sh\ntouch {trip}\n")
    evil.chmod(0o755)
    rootfs = glibc_rootfs(tmp_path / "b/rootfs")
    shutil.copy(evil, rootfs / "sbin-ldconfig")
    bundle = write_bundle(tmp_path / "b")
    for path in (str(evil), "/sbin-ldconfig"):
        p = run_hook(hook_launcher, ["--debug", "update-ldcache", "--ldconfig-path", path],
                     state(bundle))
        assert p.returncode == 0, p.stderr
        assert b"accepted, not executed" in p.stderr
    assert not trip.exists()
    assert (rootfs / "etc/ld.so.cache").exists()


# ------------------------------------------------------------------------------ isolation


def _evil_tree(top: Path, trip: Path, names=("sitecustomize", "usercustomize", "ldcache",
                                             "construct", "elftools", "json", "hook",
                                             "ldcache_hook", "re", "argparse", "secrets",
                                             "site")) -> Path:
    """Modules that, if imported, create the tripwire ``trip/<name>``."""
    top.mkdir(parents=True, exist_ok=True)
    trip.mkdir(parents=True, exist_ok=True)
    for name in names:
        code = (f"import os\nopen(os.path.join({str(trip)!r}, {name!r}), 'w').close()\n")
        if name in ("ldcache", "construct", "elftools", "json", "hook", "ldcache_hook"):
            (top / name).mkdir(exist_ok=True)
            (top / name / "__init__.py").write_text(code)
        else:
            (top / f"{name}.py").write_text(code)
    (top / "startup.py").write_text(code.replace(repr("site"), repr("startup")))
    return top


def _hostile_env(evil: Path) -> dict:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(evil),
            "PYTHONSTARTUP": str(evil / "startup.py"), "PYTHONINSPECT": "1",
            "PYTHONHOME": str(evil), "PYTHONPYCACHEPREFIX": str(evil / "pycache"),
            "PYTHONUSERBASE": str(evil), "HOME": str(evil), "PYTHONWARNINGS": "error",
            "PYTHONSAFEPATH": "", "PYTHONNOUSERSITE": ""}


def test_launcher_ignores_a_hostile_environment_and_cwd(hook_launcher, tmp_path):
    trip = tmp_path / "trip"
    evil = _evil_tree(tmp_path / "evil", trip)
    rootfs = glibc_rootfs(tmp_path / "b/rootfs")
    _evil_tree(rootfs, trip)  # the container root as working directory, full of bait
    bundle = write_bundle(tmp_path / "b")
    p = run_hook(hook_launcher, ["update-ldcache", "--folder", "/opt/x"], state(bundle),
                 env=_hostile_env(evil), cwd=rootfs)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(trip)) == []
    assert not (evil / "pycache").exists()
    assert (rootfs / "etc/ld.so.cache").exists()


def test_reexec_isolates_a_non_isolated_start(tmp_path):
    """``python -m hook`` from a directory holding a hostile ``ldcache`` package: -m puts the
    working directory first on sys.path, so only the isolated re-exec keeps it out."""
    trip = tmp_path / "trip"
    cwd = _evil_tree(tmp_path / "cwd", trip, names=("ldcache", "construct", "json"))
    rootfs = glibc_rootfs(tmp_path / "b/rootfs")
    bundle = write_bundle(tmp_path / "b")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT),
           "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache"), "NVIDIA_CTK_DEBUG": "1"}
    p = subprocess.run([sys.executable, "-m", "ldcache_hook", "update-ldcache", "--folder",
                        "/opt/x"], input=state(bundle), capture_output=True, env=env, cwd=cwd)
    assert p.returncode == 0, p.stderr
    assert os.listdir(trip) == []
    # Only start-up and the hook package's entry modules (before the re-exec) met the
    # variable: nothing the hook imports afterwards.
    assert _late_imports_cached(tmp_path / "pycache") == []
    assert b"debug:" in p.stderr  # NVIDIA_CTK_DEBUG survives the re-exec
    assert (rootfs / "etc/ld.so.conf.d").exists()


def test_installed_console_script(tmp_path):
    """The console script pip generates (when this package is installed): everything after
    start-up runs isolated (a hostile PYTHONPATH cannot replace ldcache, construct, json)."""
    # Next to this interpreter first (a pyenv shim on PATH is a shell script).
    beside = os.path.join(os.path.dirname(sys.executable), "cdi-hook")
    script = beside if os.access(beside, os.X_OK) else shutil.which("cdi-hook")
    if script is None:
        pytest.skip("cdi-hook is not installed (pip install -e .)")
    with open(script, "rb") as f:
        first = f.readline()
    if not first.startswith(b"#!") or b"python" not in first:
        pytest.skip(f"{script} is not a Python console script")
    python = first[2:].split()[0].decode()
    where = subprocess.run([python, "-c", "import ldcache_hook; print(ldcache_hook.__file__)"],
                           cwd="/",
                           env={}, capture_output=True, text=True).stdout.strip()
    if os.path.dirname(where) != str(PROJECT / "hook"):
        pytest.skip(f"the installed cdi-hook is another checkout's ({where or 'broken'})")
    trip = tmp_path / "trip"
    evil = _evil_tree(tmp_path / "evil", trip, names=("ldcache", "construct", "elftools",
                                                      "json", "argparse", "secrets"))
    rootfs = glibc_rootfs(tmp_path / "b/rootfs")
    bundle = write_bundle(tmp_path / "b")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(evil),
           "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}
    p = subprocess.run([script, "update-ldcache", "--folder", "/opt/x"], input=state(bundle),
                       capture_output=True, env=env, cwd=evil)
    assert p.returncode == 0, p.stderr
    assert os.listdir(trip) == []
    assert _late_imports_cached(tmp_path / "pycache") == []
    assert (rootfs / "etc/ld.so.cache").exists()


def _late_imports_cached(prefix: Path) -> list:
    """Byte code written under a PYTHONPYCACHEPREFIX for modules only imported after the
    isolation point (ldcache, construct, elftools, json, the hooks).

    Each file is named by its module's path below the directory it was imported from (this
    checkout, or a sys.path entry), so the checkout's own location never matches."""
    late = ("ldcache/", "construct/", "elftools/", "json/", "hook/update_ldcache",
            "hook/table.", "hook/parser.")
    bases = sorted({str(PROJECT), *(p for p in sys.path if p)}, key=len, reverse=True)
    out = []
    for d, _ds, fs in os.walk(prefix):
        for n in fs:
            full = os.path.join(d, n)
            source = "/" + os.path.relpath(full, prefix)
            base = next((b for b in bases if source.startswith(b.rstrip("/") + "/")), "")
            module = source[len(base.rstrip("/")) + 1:] if base else source.lstrip("/")
            if module.startswith(late):
                out.append(full)
    return sorted(out)


def test_launcher_flags(hook_launcher, tmp_path):
    """The launcher's interpreter runs isolated, without site, in UTF-8 mode, whatever the
    environment says."""
    first = hook_launcher.read_text().splitlines()[0]
    assert first == f"#!{sys.executable} -ISXutf8"
    probe = tmp_path / "probe"
    probe.write_text(first + "\nimport sys\nprint(sys.flags.isolated, sys.flags.no_site, "
                     "sys.flags.utf8_mode, sys.flags.ignore_environment, sys.path[0])\n")
    probe.chmod(0o755)
    out = subprocess.run([str(probe)], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path), "LC_ALL": "C", "PYTHONUTF8": "0",
                              "PYTHONNOUSERSITE": ""}).stdout.split()
    assert out[:4] == ["1", "1", "1", "1"] and out[4] != str(tmp_path)


def test_boot_code_and_sys_path():
    paths = isolated_sys_path()
    assert paths[0] == str(PROJECT)
    code = boot_code(paths)
    compile(code, "<boot>", "exec")
    p = subprocess.run([sys.executable, "-I", "-S", "-X", "utf8", "-c", code, "cdi-hook", "noop"],
                       capture_output=True, cwd="/", env={})
    assert (p.returncode, p.stderr) == (0, b"")
    p = subprocess.run([sys.executable, "-I", "-S", "-c", code, "/x/nvidia-ctk", "hook", "y"],
                       capture_output=True, cwd="/", env={})
    assert (p.returncode, p.stderr) == (0, b"nvidia-ctk: warning: Unsupported CDI hook: y\n")


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=_JSON_VALUES, tail=st.sampled_from(["", " ", "\n{}", " trailing", "]"]),
       cut=st.integers(min_value=0, max_value=40))
def test_state_decoder_is_json_s(value, tail, cut):
    """The state is decoded with json's own C scanner, without importing json: the same
    value as ``json.JSONDecoder().raw_decode`` for every text, and for a text json rejects,
    json's own message (the scanner's failure falls back to json)."""
    import json

    from ldcache_hook.oci import StateError, _decode_first

    text = json.dumps(value) + tail
    for candidate in (text, text[:max(1, len(text) - cut)]):
        try:
            want = ("value", json.JSONDecoder().raw_decode(candidate.lstrip(" \t\r\n"))[0])
        except json.JSONDecodeError as e:
            want = ("error", f"failed to decode x: {e.msg} at line {e.lineno} column {e.colno}")
        try:
            got = ("value", _decode_first(candidate.encode(), "x"))
        except StateError as e:
            got = ("error", str(e))
        assert got == want, candidate


def test_state_decoder_constants():
    """NaN and the infinities, which json accepts, decode as json decodes them."""
    import math

    from ldcache_hook.oci import _decode_first

    got = _decode_first(b'[NaN, Infinity, -Infinity, 1e400, -0.0, 12345678901234567890]', "x")
    assert math.isnan(got[0]) and got[1:4] == [math.inf, -math.inf, math.inf]
    assert str(got[4]) == "-0.0" and got[5] == 12345678901234567890
