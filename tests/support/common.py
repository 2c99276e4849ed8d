"""Shared test helpers (importable by tests and benchmarks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

LDCONFIG = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig")
                                         else None)
VECTORS = Path(__file__).resolve().parent.parent.parent / "vectors"
PROJECT = Path(__file__).resolve().parent.parent.parent


def requires_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (ldconfig -r only chroots as root)")


def skip_reasons(terminalreporter) -> list:  # noqa: ANN001 - pytest's TerminalReporter
    """(count, reason) of the skipped tests of a run, most frequent first."""
    counts: dict = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
        counts[reason] = counts.get(reason, 0) + 1
    return sorted(((n, r) for r, n in counts.items()), key=lambda item: (-item[0], item[1]))


def write_skip_summary(terminalreporter) -> None:  # noqa: ANN001
    """The skip counts by reason, at the end of the run (CI prints them)."""
    rows = skip_reasons(terminalreporter)
    total = sum(n for n, _ in rows)
    terminalreporter.write_sep("-", f"skips by reason ({total})")
    for n, reason in rows:
        terminalreporter.write_line(f"{n:5d}  {reason}")
