"""Driving a bulk run step by step in-process, as the CLI does inline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clerk_sync.runs import Run, RunStatus
from clerk_sync.sync.bulk import BulkRun


def walk_to_the_end(
    runner: BulkRun, run: Run, between: Callable[[Run], Any] = lambda run: None, limit: int = 10_000
) -> Run:
    """Steps the run until it stops, calling `between` after each step; fails if it never does."""
    for _ in range(limit):
        if run.status is not RunStatus.RUNNING:
            return run
        run = runner.step(run)
        between(run)
    raise AssertionError("the run did not end")
