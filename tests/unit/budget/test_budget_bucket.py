"""The token bucket's arithmetic: capacity and rate from Clerk's limit, floors per priority, the bulk sub-bucket,
the login debt, waits, and the 429 penalty."""

from __future__ import annotations

import math

import pytest

from clerk_sync.budget import bucket
from clerk_sync.budget.bucket import BucketLimits, BucketState
from clerk_sync.vocabulary import ClerkPriority, SyncSource

DEV = BucketLimits(100)  # Clerk's development limit: 100 requests / 10 s
PROD = BucketLimits(1000)
T0 = 1_800_000_000.0


def empty(limits: BucketLimits = DEV, *, tokens: float = 0.0, bulk: float = 0.0) -> BucketState:
    return BucketState(tokens=tokens, bulk_tokens=bulk, updated_at=T0)


def test_limits_from_clerk_limit_keep_any_10_s_window_within_it() -> None:
    assert (DEV.capacity, DEV.rate, DEV.bulk_capacity) == (20.0, 8.0, 10.0)
    assert (PROD.capacity, PROD.rate) == (200.0, 80.0)
    # A full bucket plus one window's refill is exactly Clerk's limit.
    assert DEV.capacity + DEV.rate * bucket.WINDOW_SECONDS == 100
    # Bulk's sub-bucket plus its window's refill is its share of the limit.
    assert DEV.bulk_capacity + DEV.rate * DEV.bulk_share * bucket.WINDOW_SECONDS == 50


def test_floors_order_the_priorities_login_first_bulk_last() -> None:
    floors = [
        DEV.floor(p) for p in (ClerkPriority.LOGIN, ClerkPriority.MANUAL, ClerkPriority.QUEUED, ClerkPriority.BULK)
    ]
    assert floors == [-4.0, 0.0, 4.0, 10.0]


def test_lease_sizes_are_one_at_the_development_limit_and_ten_in_production() -> None:
    assert {DEV.lease_size(p) for p in ClerkPriority} == {1}
    assert {PROD.lease_size(p) for p in ClerkPriority} == {10}


@pytest.mark.parametrize(
    ("rate_limit", "share", "message"),
    [(9, 0.5, "at least 10"), (100, 0.0, "above 0"), (100, 1.5, "at most 1"), (100, 0.04, "less than one request")],
)
def test_limits_refuse_what_could_never_serve_a_request(rate_limit: int, share: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BucketLimits(rate_limit, share)


def test_refill_adds_the_rate_and_stops_at_capacity() -> None:
    refilled = bucket.refill(empty(), DEV, T0 + 1.0)
    assert (refilled.tokens, refilled.bulk_tokens, refilled.updated_at) == (8.0, 4.0, T0 + 1.0)
    assert bucket.refill(empty(), DEV, T0 + 3600).tokens == DEV.capacity
    assert bucket.refill(empty(), DEV, T0 + 3600).bulk_tokens == DEV.bulk_capacity


def test_refill_with_a_clock_behind_the_stored_time_adds_nothing_and_keeps_the_time() -> None:
    refilled = bucket.refill(empty(tokens=3), DEV, T0 - 5)
    assert (refilled.tokens, refilled.updated_at) == (3.0, T0)


def test_manual_takes_down_to_zero_then_waits_for_the_refill() -> None:
    state = empty(tokens=2)
    first = bucket.take(state, DEV, T0, ClerkPriority.MANUAL, want=5)
    assert (first.granted, first.state.tokens) == (2, 0.0)
    refused = bucket.take(first.state, DEV, T0, ClerkPriority.MANUAL)
    assert refused.granted == 0
    assert refused.wait == pytest.approx(1 / 8)


def test_queued_leaves_a_reserve_that_manual_and_login_may_use() -> None:
    state = empty(tokens=4.5)
    assert bucket.take(state, DEV, T0, ClerkPriority.QUEUED).granted == 0
    assert bucket.take(state, DEV, T0, ClerkPriority.QUEUED).wait == pytest.approx(0.5 / 8)
    assert bucket.take(state, DEV, T0, ClerkPriority.MANUAL, want=4).granted == 4


def test_login_borrows_a_small_debt_and_says_so() -> None:
    state = empty(tokens=0)
    taken = bucket.take(state, DEV, T0, ClerkPriority.LOGIN, want=10)
    assert (taken.granted, taken.debt, taken.state.tokens) == (4, True, -4.0)
    beyond = bucket.take(taken.state, DEV, T0, ClerkPriority.LOGIN)
    assert beyond.granted == 0
    assert beyond.wait == pytest.approx(1 / 8)
    # Everyone else waits until the debt is paid back.
    assert bucket.take(taken.state, DEV, T0, ClerkPriority.MANUAL).wait == pytest.approx(5 / 8)


def test_bulk_takes_only_above_its_reserve_and_from_its_own_sub_bucket() -> None:
    full = BucketState.full(DEV, T0)
    taken = bucket.take(full, DEV, T0, ClerkPriority.BULK, want=100)
    # 20 in the bucket, reserve 10: bulk may take 10, and its sub-bucket holds 10.
    assert (taken.granted, taken.state.tokens, taken.state.bulk_tokens) == (10, 10.0, 0.0)
    # The main bucket refills at 8/s but bulk's share of it at 4/s.
    again = bucket.take(taken.state, DEV, T0, ClerkPriority.BULK)
    assert again.wait == pytest.approx(1 / 4)  # the reserve is back in 1/8 s, the sub-bucket's token in 1/4 s
    later = bucket.take(taken.state, DEV, T0 + 0.25, ClerkPriority.BULK, want=100)
    assert later.granted == 1


def test_bulk_wait_is_the_longer_of_its_reserve_and_its_sub_bucket() -> None:
    state = BucketState(tokens=20, bulk_tokens=0, updated_at=T0)  # main full, bulk spent
    assert bucket.wait_for(state, DEV, T0, ClerkPriority.BULK) == pytest.approx(1 / 4)
    state = BucketState(tokens=10, bulk_tokens=10, updated_at=T0)  # at the reserve, bulk full
    assert bucket.wait_for(state, DEV, T0, ClerkPriority.BULK) == pytest.approx(1 / 8)


def test_other_priorities_do_not_spend_bulks_sub_bucket() -> None:
    taken = bucket.take(BucketState.full(DEV, T0), DEV, T0, ClerkPriority.MANUAL, want=5)
    assert taken.state.bulk_tokens == DEV.bulk_capacity


def test_a_take_larger_than_the_bucket_can_hold_above_its_floor_waits_forever() -> None:
    assert bucket.wait_for(empty(), DEV, T0, ClerkPriority.BULK, amount=11) == math.inf
    assert bucket.wait_for(empty(), DEV, T0, ClerkPriority.MANUAL, amount=21) == math.inf


def test_penalise_empties_the_bucket_and_halves_the_rate_for_ten_seconds_at_least() -> None:
    penalised = bucket.penalise(BucketState.full(DEV, T0), DEV, T0, retry_after=2)
    assert (penalised.tokens, penalised.bulk_tokens) == (0.0, 0.0)
    assert (penalised.penalty_until, penalised.penalty_factor) == (T0 + 10, 0.5)
    assert bucket.rate_at(penalised, DEV, T0 + 1) == 4.0
    assert bucket.refill(penalised, DEV, T0 + 1).tokens == pytest.approx(4.0)
    # 10 s at half rate, then full rate: 40 + 8 after 11 s, capped at capacity 20.
    assert bucket.refill(penalised, DEV, T0 + 11).tokens == DEV.capacity
    assert bucket.refill(penalised, DEV, T0 + 2.5).tokens == pytest.approx(10.0)
    over = bucket.refill(penalised, DEV, T0 + 10)
    assert (over.penalty_until, over.penalty_factor) == (0.0, 1.0)


def test_penalise_honours_a_longer_retry_after_and_keeps_a_login_debt() -> None:
    in_debt = empty(tokens=-3)
    penalised = bucket.penalise(in_debt, DEV, T0, retry_after=30)
    assert (penalised.tokens, penalised.penalty_until) == (-3.0, T0 + 30)
    assert bucket.penalise(in_debt, DEV, T0, retry_after=3600).penalty_until == T0 + bucket.PENALTY_MAX_SECONDS


def test_a_second_penalty_extends_the_first_and_never_shortens_it() -> None:
    first = bucket.penalise(empty(), DEV, T0, retry_after=30)
    second = bucket.penalise(first, DEV, T0 + 1, retry_after=None)
    assert second.penalty_until == T0 + 30


def test_waits_account_for_a_penalty_ending_before_the_bucket_is_refilled() -> None:
    penalised = bucket.penalise(empty(), DEV, T0, retry_after=None)  # 4/s until T0 + 10, then 8/s
    assert bucket.wait_for(penalised, DEV, T0, ClerkPriority.MANUAL, amount=2) == pytest.approx(0.5)
    # Queued needs 4 + 1 = 5 tokens: 1.25 s at the penalised rate.
    assert bucket.wait_for(penalised, DEV, T0, ClerkPriority.QUEUED) == pytest.approx(1.25)
    deep = BucketState(tokens=-40, bulk_tokens=0, updated_at=T0, penalty_until=T0 + 5, penalty_factor=0.5)
    # 5 s at 4/s gives 20, the other 21 for a manual take of 1 come at 8/s.
    assert bucket.wait_for(deep, DEV, T0, ClerkPriority.MANUAL) == pytest.approx(5 + 21 / 8)


def test_sync_sources_take_their_turn() -> None:
    assert {source: source.priority for source in SyncSource} == {
        SyncSource.LOGIN: ClerkPriority.LOGIN,
        SyncSource.API: ClerkPriority.MANUAL,
        SyncSource.WEBHOOK: ClerkPriority.QUEUED,
        SyncSource.JOB: ClerkPriority.QUEUED,
        SyncSource.FALLBACK: ClerkPriority.QUEUED,
        SyncSource.BACKFILL: ClerkPriority.BULK,
        SyncSource.RECONCILE: ClerkPriority.BULK,
    }
