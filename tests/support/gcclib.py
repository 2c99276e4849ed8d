"""Real shared libraries for tests, built with gcc and cached per test session."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

_CACHE = Path(tempfile.gettempdir()) / f"ldcache-gcclib-{os.getuid()}"


def have_gcc(*flags: str) -> bool:
    """Whether gcc can build a shared library with ``flags`` (e.g. ``-m32``)."""
    try:
        build_library(None, flags=flags)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def build_library(soname: str | None, *, flags: Sequence[str] = (), symbol: str = "f",
                  code: str | None = None) -> Path:
    """A gcc-built shared library with DT_SONAME ``soname`` (none if None); cached by recipe."""
    source = code if code is not None else f"int {symbol}(void) {{ return 42; }}\n"
    args = ["-shared", "-fPIC", "-O0", *flags]
    if soname is not None:
        args.append(f"-Wl,-soname,{soname}")
    return compile_c(source, args, suffix=".so")


def compile_c(source: str, args: Sequence[str] = ("-O1",), *, name: str = "",
              suffix: str = "") -> Path:
    """``source`` compiled by gcc with ``args``, cached by (source, args): the same recipe
    is built once per machine (into a temporary name, renamed into place)."""
    key = hashlib.sha256(repr((source, list(args))).encode()).hexdigest()[:16]
    stem = f"{name}-{key}" if name else key
    out = _CACHE / f"{stem}{suffix}"
    if not out.exists():
        _CACHE.mkdir(parents=True, exist_ok=True)
        src = _CACHE / f"{stem}.c"
        src.write_text(source)
        tmp = _CACHE / f"{stem}.{os.getpid()}.tmp"
        subprocess.run(["gcc", *args, "-o", str(tmp), str(src)], check=True,
                       capture_output=True)
        os.replace(tmp, out)
    return out


def install_library(dest: Path, soname: str | None, **kw: object) -> Path:
    """Copy a built library to ``dest`` (a file path), creating parent directories."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build_library(soname, **kw), dest)  # type: ignore[arg-type]
    return dest
