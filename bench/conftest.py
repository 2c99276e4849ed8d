from __future__ import annotations

import os
import shutil
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from benchlib import RESULTS  # noqa: E402


@pytest.fixture(scope="session")
def ldconfig() -> str:
    path = shutil.which("ldconfig")
    if path is None:
        pytest.skip("no ldconfig on this machine to compare with")
    return path


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001
    from common import write_skip_summary

    write_skip_summary(terminalreporter)
    if RESULTS:
        terminalreporter.section("ldcache vs ldconfig (same run)")
        for line in RESULTS:
            terminalreporter.write_line(line)
