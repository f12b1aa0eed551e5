"""RetryPolicy, deadlines and Retry-After parsing, without HTTP."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_sync.clerk.retry import RetryPolicy, is_retryable_status, parse_retry_after, resolve_deadline


def test_retry_policy_ceiling_doubles_then_caps() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=3.0)

    assert [policy.ceiling(n) for n in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_policy_wait_with_seeded_random_is_full_jitter_sequence() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=3.0)
    reference = random.Random(42)

    rng = random.Random(42)
    waits = [policy.wait(n, rng) for n in range(5)]

    assert waits == [reference.uniform(0, ceiling) for ceiling in (0.5, 1.0, 2.0, 3.0, 3.0)]


def test_retry_policy_wait_with_retry_after_adds_jitter_on_top() -> None:
    policy = RetryPolicy(base_seconds=0.5, cap_seconds=3.0)

    wait = policy.wait(1, random.Random(3), retry_after=4.0)

    assert wait == 4.0 + random.Random(3).uniform(0, 1.0)


@given(
    retry=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=0.001, max_value=10),
    cap=st.floats(min_value=0.001, max_value=120),
    retry_after=st.none() | st.floats(min_value=0, max_value=3600),
    seed=st.integers(min_value=0),
)
def test_retry_policy_wait_any_inputs_stays_within_bounds(
    retry: int, base: float, cap: float, retry_after: float | None, seed: int
) -> None:
    policy = RetryPolicy(base_seconds=base, cap_seconds=cap)

    wait = policy.wait(retry, random.Random(seed), retry_after)

    floor = retry_after or 0.0
    assert floor <= wait <= floor + min(cap, base * 2.0 ** min(retry, 64))


def test_retry_policy_decide_out_of_attempts_gives_up() -> None:
    decision = RetryPolicy(max_attempts=3).decide(attempts=3, now=0, deadline=100, rng=random.Random(1))

    assert (decision.action, decision.reason) == ("give_up", "attempts")


def test_retry_policy_decide_wait_crossing_deadline_gives_up() -> None:
    policy = RetryPolicy(max_attempts=5)

    decision = policy.decide(attempts=1, now=10.0, deadline=11.0, rng=random.Random(1), retry_after=1.0)

    assert (decision.action, decision.reason) == ("give_up", "deadline")


def test_retry_policy_decide_wait_within_deadline_retries() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=0.5)

    decision = policy.decide(attempts=2, now=10.0, deadline=20.0, rng=random.Random(1))

    assert decision.action == "retry"
    assert decision.wait == random.Random(1).uniform(0, 1.0)


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_seconds": 0}, {"cap_seconds": -1}], ids=["attempts", "base", "cap"]
)
def test_retry_policy_invalid_values_raise_value_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (503, True), (404, False), (422, False)])
def test_is_retryable_status_only_429_and_5xx(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 1.5 ", 1.5), ("0", 0.0), ("-4", 0.0), (None, None), ("", None), ("soon", None), ("nan", None)],
)
def test_parse_retry_after_delta_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_http_date_is_seconds_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC), usegmt=True)

    assert parse_retry_after(header, now=now.timestamp()) == 30.0


def test_resolve_deadline_budget_or_default_counts_from_clock() -> None:
    def clock() -> float:
        return 100.0

    assert resolve_deadline(clock, deadline=None, timeout_budget=1.5, default_budget=10) == 101.5
    assert resolve_deadline(clock, deadline=None, timeout_budget=None, default_budget=10) == 110.0
    assert resolve_deadline(clock, deadline=105.0, timeout_budget=None, default_budget=10) == 105.0
