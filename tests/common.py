"""Shared test helpers (importable by tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

LDCONFIG = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig")
                                         else None)
VECTORS = Path(__file__).resolve().parent.parent / "vectors"
PROJECT = Path(__file__).resolve().parent.parent


def requires_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (ldconfig -r only chroots as root)")
