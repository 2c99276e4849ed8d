from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from common import LDCONFIG  # noqa: E402


@pytest.fixture
def ldconfig() -> str:
    """The machine's own glibc ldconfig: the oracle."""
    if LDCONFIG is None:
        pytest.skip("no /sbin/ldconfig on this machine")
    return LDCONFIG


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    from common import write_skip_summary

    write_skip_summary(terminalreporter)
