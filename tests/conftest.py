from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

LDCONFIG = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig")
                                         else None)
VECTORS = Path(__file__).resolve().parent.parent / "vectors"


@pytest.fixture
def ldconfig() -> str:
    """The machine's own glibc ldconfig: the oracle."""
    if LDCONFIG is None:
        pytest.skip("no /sbin/ldconfig on this machine")
    return LDCONFIG


def requires_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (ldconfig -r only chroots as root)")
