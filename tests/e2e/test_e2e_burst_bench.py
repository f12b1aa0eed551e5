"""`make bench`'s webhook burst runs what it says: the same seeded burst on both sides, once with Clerk answering at
once and once after a round trip (docs/decisions/0032), both tables equal to Clerk. Rates are printed, never judged
here; what each run delivered and what each side asked Clerk are."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync_local.bench import burst
from clerk_sync_local.bench.burst import Burst, SideRun, run_burst_sections
from clerk_sync_local.stack import LocalStack

EVENTS = 30


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Burst, SideRun, SideRun]]:
    """Each `_both_sides` call with what it measured."""
    seen: list[tuple[Burst, SideRun, SideRun]] = []
    measure = burst._both_sides

    def recorded(one: Burst, **kwargs: Any) -> tuple[SideRun, SideRun]:
        ours, theirs = measure(one, **kwargs)
        seen.append((one, ours, theirs))
        return ours, theirs

    monkeypatch.setattr(burst, "_both_sides", recorded)
    return seen


def test_burst_runs_once_with_clerk_at_once_and_once_after_a_round_trip(
    runs: list[tuple[Burst, SideRun, SideRun]], monkeypatch: pytest.MonkeyPatch
) -> None:
    latencies: list[int] = []
    start = LocalStack.start

    def started(stack: LocalStack) -> Any:
        begun = start(stack)
        assert stack.emulator is not None
        emulator, set_knobs = stack.emulator, stack.emulator.set_knobs

        def noted(**changes: Any) -> Any:
            if "latency_ms" in changes:
                latencies.append(changes["latency_ms"])
            return set_knobs(**changes)

        monkeypatch.setattr(emulator, "set_knobs", noted)
        return begun

    monkeypatch.setattr(LocalStack, "start", started)

    window, cost = run_burst_sections(events=EVENTS, workers=2, deliveries=4, timeout=240, clerk_latency_ms=20)

    assert [one.clerk_latency_ms for one, _, _ in runs] == [0, 20]
    for _, ours, theirs in runs:
        for side in (ours, theirs):
            assert side.events >= EVENTS
            assert side.lost == 0
            assert side.differences == []
    # Each side's burst set the latency it ran at and put it back afterwards: 0, 0 | 20, 0 per side.
    assert latencies == [0, 0, 0, 0, 20, 0, 20, 0]
    figures = {figure.name: figure for figure in window.figures}
    rates = [figures["events/s applied, Clerk answering in 20 ms"], figures[_INSTANT]]
    assert all(rate.goal is not None and rate.baseline for rate in rates)
    assert figures["events lost"].value == 0
    assert figures["records unlike Clerk"].value == 0
    assert cost.figures[0].name == "cost per million events"
    assert any("20 ms" in note for note in cost.notes)


_INSTANT = "events/s applied, Clerk answering at once (the emulator)"
