"""Figures against their goals: ratios to the baseline, floors and bounds, and what the JSON says."""

from __future__ import annotations

import pytest

from clerk_sync_local.bench.figures import Figure, Goal, percentile


def test_baseline_goal_higher_is_better_compares_the_ratio() -> None:
    fast = Figure("events/s", 30.0, "events/s", Goal.vs_baseline(3.0), baseline=10.0)
    slow = Figure("events/s", 29.0, "events/s", Goal.vs_baseline(3.0), baseline=10.0)
    assert (fast.ratio, fast.met) == (3.0, True)
    assert slow.ratio == pytest.approx(2.9)
    assert slow.met is False


def test_baseline_goal_lower_is_better_compares_the_ratio() -> None:
    cheap = Figure("cost", 1.0, "USD", Goal.vs_baseline(0.5, "lower"), baseline=4.0)
    dear = Figure("cost", 3.0, "USD", Goal.vs_baseline(0.5, "lower"), baseline=4.0)
    assert (cheap.ratio, cheap.met) == (0.25, True)
    assert (dear.ratio, dear.met) == (0.75, False)


def test_bound_and_floor_hold_the_value_itself_and_ratio_to_the_target() -> None:
    bound = Figure("cost", 2.0, "USD", Goal.bound(2.5), baseline=9.0)
    over = Figure("cost", 3.0, "USD", Goal.bound(2.5))
    floor = Figure("succeeded", 300, "syncs", Goal.floor(300))
    assert (bound.ratio, bound.met) == (0.8, True)
    assert over.met is False
    assert (floor.ratio, floor.met) == (1.0, True)


def test_zero_baseline_or_bound_gives_an_infinite_ratio_written_as_text() -> None:
    lost = Figure("lost", 2, "events", Goal.bound(0))
    assert lost.ratio == float("inf")
    assert lost.met is False
    assert lost.as_json()["ratio"] == "inf"
    assert Figure("lost", 0, "events", Goal.bound(0)).ratio is None


def test_figure_without_goal_is_context_with_a_ratio_when_a_baseline_was_measured() -> None:
    latency = Figure("p50", 200.0, "ms", baseline=400.0)
    assert (latency.ratio, latency.met) == (0.5, None)
    assert Figure("p50", 200.0, "ms").as_json()["ratio"] is None


def test_json_holds_goal_and_ratio() -> None:
    data = Figure("events/s", 30.0, "events/s", Goal.vs_baseline(3.0), baseline=10.0, note="n").as_json()
    assert data["goal"] == {"reference": "baseline", "target": 3.0, "better": "higher", "text": "≥ 3 × baseline"}  # noqa: RUF001
    assert (data["ratio"], data["met"], data["baseline"], data["note"]) == (3.0, True, 10.0, "n")


def test_goal_directions_are_fixed_for_floors_and_bounds() -> None:
    with pytest.raises(ValueError, match="floor"):
        Goal("floor", 1.0, "lower")
    with pytest.raises(ValueError, match="bound"):
        Goal("bound", 1.0, "higher")


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (50.0, 95.0, 100.0)
    assert percentile([], 0.5) == 0.0
