from __future__ import annotations

import shutil

import pytest
from benchlib import RESULTS


@pytest.fixture(scope="session")
def ldconfig() -> str:
    path = shutil.which("ldconfig")
    if path is None:
        pytest.skip("no ldconfig on this machine to compare with")
    return path


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    from support.common import write_skip_summary

    write_skip_summary(terminalreporter)
    if RESULTS:
        terminalreporter.section("ldcache vs ldconfig (same run)")
        for line in RESULTS:
            terminalreporter.write_line(line)
