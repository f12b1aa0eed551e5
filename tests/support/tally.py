"""Counts of what a suite tried, summed per label and shown in the terminal summary (works under xdist).

A test calls `record_property(TALLY_PROPERTY, "<label>")`; the property travels with the test's report from
any xdist worker to the controller, where `pytest_runtest_logreport` counts it by outcome. The bad-input suite
(tests/e2e/test_e2e_bad_input.py) labels each case with its surface, so a run ends with a line such as
`bad inputs tried per surface: authorizer 24 (24 passed), webhook 31 (31 passed), ...`.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

TALLY_PROPERTY = "bad_input_surface"

_tally: defaultdict[str, Counter[str]] = defaultdict(Counter)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == TALLY_PROPERTY:
            _tally[str(value)][report.outcome] += 1


def summary_line() -> str | None:
    if not _tally:
        return None
    parts = []
    for surface in sorted(_tally):
        outcomes = _tally[surface]
        detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        parts.append(f"{surface} {sum(outcomes.values())} ({detail})")
    total = sum(sum(outcomes.values()) for outcomes in _tally.values())
    return f"bad inputs tried per surface: {'; '.join(parts)}; {total} in all"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    line = summary_line()
    if line is not None:
        terminalreporter.write_sep("-", "bad-input suite")
        terminalreporter.write_line(line)
