from __future__ import annotations

import pytest
from support.common import LDCONFIG


@pytest.fixture
def ldconfig() -> str:
    """The machine's own glibc ldconfig: the oracle."""
    if LDCONFIG is None:
        pytest.skip("no /sbin/ldconfig on this machine")
    return LDCONFIG


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    from support.common import write_skip_summary

    write_skip_summary(terminalreporter)
