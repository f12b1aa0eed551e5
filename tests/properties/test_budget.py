"""The shared Clerk budget's bucket under any sequence of takes, pauses and 429 penalties.

- bulk work never gets more than its share of the rate over any window, plus its sub-bucket's burst;
- all work together never gets more than Clerk's limit in any 10 s window, plus the logins' debt;
- a login is never refused while the bucket holds a token's worth;
- refills never pass the capacity, and takes never go below a priority's floor;
- a higher priority is granted whenever a lower one would be;
- a wait the bucket names is exactly long enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from clerk_sync.budget import bucket
from clerk_sync.budget.bucket import BucketLimits, BucketState
from clerk_sync.vocabulary import ClerkPriority

T0 = 1_800_000_000.0
PRIORITIES = list(ClerkPriority)
ORDER = {p: i for i, p in enumerate(PRIORITIES)}  # LOGIN first
EPSILON = 1e-6

limits_strategy = (
    st.tuples(st.sampled_from([10, 37, 100, 250, 1000]), st.sampled_from([0.5, 0.3, 0.75, 1.0]))
    .filter(
        lambda pair: pair[0] * bucket.BURST_FRACTION * pair[1] >= 1  # what BucketLimits accepts
    )
    .map(lambda pair: BucketLimits(*pair))
)


@dataclass(frozen=True)
class Step:
    after: float  # seconds since the previous step
    priority: ClerkPriority
    want: int
    penalty: float | None  # a 429 with this Retry-After instead of a take (-1: none)


steps_strategy = st.lists(
    st.builds(
        Step,
        after=st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=3.0)),
        priority=st.sampled_from(PRIORITIES),
        want=st.integers(min_value=1, max_value=12),
        penalty=st.one_of(st.none(), st.none(), st.none(), st.none(), st.floats(min_value=0, max_value=30)),
    ),
    min_size=1,
    max_size=120,
)


def run(limits: BucketLimits, steps: list[Step]) -> list[tuple[float, ClerkPriority, int]]:
    """Applies the steps from a full bucket; every grant as (time, priority, tokens)."""
    state, now = BucketState.full(limits, T0), T0
    grants: list[tuple[float, ClerkPriority, int]] = []
    for step in steps:
        now += step.after
        if step.penalty is not None:
            state = bucket.penalise(state, limits, now, step.penalty)
            continue
        result = bucket.take(state, limits, now, step.priority, want=step.want)
        state = result.state
        if result.granted:
            grants.append((now, step.priority, result.granted))
    return grants


def windows(grants: list[tuple[float, ClerkPriority, int]]) -> list[tuple[float, float, int, int]]:
    """Every window [grant i, grant j]: its start, length, bulk tokens and all tokens granted in it."""
    found = []
    for i, (start, _, _) in enumerate(grants):
        bulk = total = 0
        for end, priority, granted in grants[i:]:
            total += granted
            bulk += granted if priority is ClerkPriority.BULK else 0
            found.append((start, end - start, bulk, total))
    return found


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy)
def test_bulk_never_gets_more_than_its_share_of_the_rate_over_any_window(
    limits: BucketLimits, steps: list[Step]
) -> None:
    for _, length, bulk, _ in windows(run(limits, steps)):
        assert bulk <= limits.bulk_share * limits.rate * length + limits.bulk_capacity + EPSILON


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy)
def test_no_window_of_clerks_length_sees_more_than_its_limit_and_the_login_debt(
    limits: BucketLimits, steps: list[Step]
) -> None:
    for _, length, _, total in windows(run(limits, steps)):
        if length < limits.window_seconds:
            assert total <= limits.rate_limit + limits.login_debt + EPSILON
        assert total <= limits.capacity + limits.rate * length + limits.login_debt + EPSILON


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy, ask_after=st.floats(min_value=0, max_value=2))
def test_a_login_is_never_refused_while_the_bucket_holds_tokens(
    limits: BucketLimits, steps: list[Step], ask_after: float
) -> None:
    state, now = BucketState.full(limits, T0), T0
    for step in steps:
        now += step.after
        if step.penalty is not None:
            state = bucket.penalise(state, limits, now, step.penalty)
        else:
            state = bucket.take(state, limits, now, step.priority, want=step.want).state
        asked = now + ask_after
        if bucket.refill(state, limits, asked).tokens >= 0:
            login = bucket.take(state, limits, asked, ClerkPriority.LOGIN)
            assert login.granted == 1
            assert login.wait == 0


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy)
def test_refills_stay_within_capacity_and_takes_within_their_floor(limits: BucketLimits, steps: list[Step]) -> None:
    state, now = BucketState.full(limits, T0), T0
    for step in steps:
        now += step.after
        refilled = bucket.refill(state, limits, now)
        assert refilled.tokens <= limits.capacity + EPSILON
        assert refilled.bulk_tokens <= limits.bulk_capacity + EPSILON
        assert refilled.tokens >= state.tokens - EPSILON  # a refill never takes
        if step.penalty is not None:
            state = bucket.penalise(state, limits, now, step.penalty)
            assert state.tokens <= 0
            continue
        result = bucket.take(state, limits, now, step.priority, want=step.want)
        if result.granted:
            assert result.granted <= step.want
            assert result.state.tokens >= limits.floor(step.priority) - EPSILON
            assert result.state.bulk_tokens >= -EPSILON or step.priority is not ClerkPriority.BULK
        else:
            assert result.state.tokens == refilled.tokens
        state = result.state
        assert state.tokens >= -limits.login_debt - EPSILON


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy, want=st.integers(min_value=1, max_value=5))
def test_a_higher_priority_is_granted_whenever_a_lower_one_would_be(
    limits: BucketLimits, steps: list[Step], want: int
) -> None:
    state, now = BucketState.full(limits, T0), T0
    for step in steps:
        now += step.after
        granted = {p: bucket.take(state, limits, now, p, want=want).granted for p in PRIORITIES}
        for higher in PRIORITIES:
            for lower in PRIORITIES[ORDER[higher] + 1 :]:
                assert granted[higher] >= granted[lower]
        if step.penalty is not None:
            state = bucket.penalise(state, limits, now, step.penalty)
        else:
            state = bucket.take(state, limits, now, step.priority, want=step.want).state


@settings(max_examples=300, deadline=None)
@given(limits=limits_strategy, steps=steps_strategy, priority=st.sampled_from(PRIORITIES))
def test_the_wait_a_refusal_names_is_exactly_long_enough(
    limits: BucketLimits, steps: list[Step], priority: ClerkPriority
) -> None:
    state, now = BucketState.full(limits, T0), T0
    for step in steps:
        now += step.after
        if step.penalty is not None:
            state = bucket.penalise(state, limits, now, step.penalty)
            continue
        state = bucket.take(state, limits, now, step.priority, want=step.want).state
    refused = bucket.take(state, limits, now, priority)
    if refused.granted:
        return
    assert refused.wait > 0
    assert bucket.take(state, limits, now + refused.wait + 1e-6, priority).granted == 1
    if refused.wait > 1e-3:
        assert bucket.take(state, limits, now + refused.wait - 1e-4, priority).granted == 0
