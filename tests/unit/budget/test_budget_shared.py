"""`SharedClerkBudget` over an in-memory item with the table's optimistic semantics and a fake clock: leases, waits
within the caller's bound, refusals, 429 penalties, lost races, and failing open when the item cannot be reached."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from clerk_sync.budget import shared
from clerk_sync.budget.bucket import BucketLimits, BucketState
from clerk_sync.budget.shared import SharedClerkBudget
from clerk_sync.clerk.errors import ClerkBudgetExhaustedError, ClerkRateLimitedError
from clerk_sync.store.budget import Saved
from clerk_sync.store.errors import StoreUnavailableError
from clerk_sync.vocabulary import ClerkPriority

DEV = BucketLimits(100)
PROD = BucketLimits(1000)
LOGIN, MANUAL, QUEUED, BULK = ClerkPriority.LOGIN, ClerkPriority.MANUAL, ClerkPriority.QUEUED, ClerkPriority.BULK


class Clock:
    """Wall and monotonic time in one, moved only by sleeps."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class MemoryItem:
    """The budget item with `ClerkBudgetItem`'s contract: a put conditional on the version seen."""

    state: BucketState | None = None
    loads: int = 0
    saves: int = 0
    failing: bool = False
    # Writes another process slips in before this one's next save: each is applied, then the save races it.
    rivals: list[BucketState] = field(default_factory=list)

    def load(self) -> BucketState | None:
        self._maybe_fail()
        self.loads += 1
        return self.state

    def save(self, state: BucketState, *, seen: BucketState | None, limits: BucketLimits) -> Saved:
        self._maybe_fail()
        self.saves += 1
        if self.rivals:
            self.state = replace(self.rivals.pop(0), version=(self.state.version if self.state else 0) + 1)
        current = self.state.version if self.state else None
        wanted = seen.version if seen else None
        if current != wanted:
            return Saved(False, self.state)
        self.state = replace(state, version=(wanted or 0) + 1)
        return Saved(True, self.state)

    def _maybe_fail(self) -> None:
        if self.failing:
            raise StoreUnavailableError("read failed: throttled")


class Metrics:
    def __init__(self) -> None:
        self.rows: list[tuple[str, MetricUnit, float]] = []

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        self.rows.append((name, unit, value))


def budget(item: MemoryItem, clock: Clock, limits: BucketLimits = DEV, **kwargs: Any) -> SharedClerkBudget:
    return SharedClerkBudget(item, limits, wall=clock, monotonic=clock, sleep=clock.sleep, **kwargs)


def test_first_take_creates_the_item_full_and_takes_one_token() -> None:
    item, clock = MemoryItem(), Clock()
    assert budget(item, clock).take(MANUAL, 1.0) == 0.0
    assert item.state is not None
    assert (item.state.tokens, item.state.version) == (DEV.capacity - 1, 1)
    assert (item.loads, item.saves) == (1, 1)


def test_a_take_is_one_conditional_write_once_the_item_is_known() -> None:
    item, clock = MemoryItem(), Clock()
    shared_budget = budget(item, clock)
    for _ in range(5):
        shared_budget.take(MANUAL, 1.0)
    assert (item.loads, item.saves) == (1, 5)


def test_production_limit_leases_ten_tokens_per_write_and_spends_them_locally() -> None:
    item, clock = MemoryItem(), Clock()
    shared_budget = budget(item, clock, PROD)
    for _ in range(25):
        shared_budget.take(QUEUED, 1.0)
    assert item.saves == 3
    assert shared_budget.stats.spent == 25
    assert shared_budget.stats.leased_tokens == 30


def test_a_lease_expires_after_a_second_so_unspent_tokens_never_make_a_burst_later() -> None:
    item, clock = MemoryItem(), Clock()
    shared_budget = budget(item, clock, PROD)
    shared_budget.take(QUEUED, 1.0)
    clock.now += shared.LEASE_SECONDS
    shared_budget.take(QUEUED, 1.0)
    assert item.saves == 2


def test_a_lease_taken_at_one_priority_is_not_spent_at_a_lower_one() -> None:
    item, clock = MemoryItem(), Clock()
    shared_budget = budget(item, clock, PROD)
    shared_budget.take(LOGIN, 1.0)
    shared_budget.take(BULK, 1.0)
    assert item.saves == 2


def test_an_empty_bucket_makes_the_caller_wait_for_the_refill_and_reports_the_wait() -> None:
    clock = Clock()
    item = MemoryItem(BucketState(tokens=0, bulk_tokens=0, updated_at=clock.now, version=7))
    waited = budget(item, clock).take(MANUAL, 1.0)
    assert 1 / 8 <= waited <= 1 / 8 + 0.05  # the refill's time, and a little jitter
    assert sum(clock.slept) == pytest.approx(waited)
    assert item.state is not None
    assert item.state.version == 8


def test_a_wait_longer_than_the_caller_may_wait_is_refused_at_once_with_retry_after() -> None:
    clock = Clock()
    item = MemoryItem(BucketState(tokens=-4, bulk_tokens=0, updated_at=clock.now))
    shared_budget = budget(item, clock)
    with pytest.raises(ClerkBudgetExhaustedError) as refused:
        shared_budget.take(QUEUED, 0.5)  # queued needs 4 + 1 - (-4) = 9 tokens: 1.125 s
    assert isinstance(refused.value, ClerkRateLimitedError)
    assert refused.value.retry_after == pytest.approx(9 / 8)
    assert (refused.value.waited, clock.slept) == (0.0, [])
    assert shared_budget.stats.refused == 1


def test_login_is_served_from_its_debt_while_queued_work_waits() -> None:
    clock = Clock()
    item = MemoryItem(BucketState(tokens=0.5, bulk_tokens=0, updated_at=clock.now))
    shared_budget = budget(item, clock)
    assert [shared_budget.take(LOGIN, 0.0) for _ in range(4)] == [0.0] * 4
    assert shared_budget.stats.debt_takes == 4
    with pytest.raises(ClerkBudgetExhaustedError):
        shared_budget.take(QUEUED, 0.0)


def test_a_stale_own_view_is_read_again_before_a_caller_is_made_to_wait() -> None:
    clock = Clock()
    item = MemoryItem()
    shared_budget = budget(item, clock)
    for _ in range(20):
        shared_budget.take(MANUAL, 0.0)  # this process emptied the bucket
    item.state = replace(BucketState.full(DEV, clock.now), version=item.state.version + 5 if item.state else 1)
    loads = item.loads
    assert shared_budget.take(MANUAL, 0.0) == 0.0  # another process refilled it: the item says so
    assert item.loads == loads + 1


def test_a_race_lost_to_another_process_is_retried_on_the_item_it_handed_back() -> None:
    clock = Clock()
    item = MemoryItem()
    shared_budget = budget(item, clock)
    shared_budget.take(MANUAL, 1.0)
    item.rivals = [BucketState(tokens=5, bulk_tokens=0, updated_at=clock.now)]
    shared_budget.take(MANUAL, 1.0)
    assert shared_budget.stats.conflicts == 1
    assert item.state is not None
    assert item.state.tokens == 4  # taken from the rival's bucket, not its own view


def test_penalise_drops_the_leases_and_empties_the_shared_bucket() -> None:
    item, clock = MemoryItem(), Clock()
    shared_budget = budget(item, clock, PROD)
    shared_budget.take(MANUAL, 1.0)
    shared_budget.penalise(3.0)
    assert item.state is not None
    assert (item.state.tokens, item.state.penalty_factor, item.state.penalty_until) == (0.0, 0.5, clock.now + 10)
    assert shared_budget.take(MANUAL, 1.0) > 0  # the lease's nine tokens are gone; the refill is half as fast


def test_store_unavailable_fails_open_warns_once_and_pauses_the_budget() -> None:
    item, clock, metrics = MemoryItem(failing=True), Clock(), Metrics()
    shared_budget = budget(item, clock, metrics=metrics)
    assert shared_budget.take(QUEUED, 0.0) == 0.0  # goes ahead unbudgeted
    shared_budget.penalise(10)
    assert [shared_budget.take(BULK, 0.0) for _ in range(3)] == [0.0] * 3
    assert shared_budget.stats.unavailable == 1  # paused: the item is not asked again for 30 s
    assert shared_budget.stats.unbudgeted == 4
    assert metrics.rows == [("ClerkBudgetUnavailable", MetricUnit.Count, 1)]

    clock.now += shared.UNAVAILABLE_PAUSE_SECONDS
    item.failing = False
    shared_budget.take(QUEUED, 0.0)
    assert (item.saves, shared_budget.stats.unavailable) == (1, 1)


def test_store_unavailable_warns_once_per_process(log_records: Any) -> None:
    item, clock = MemoryItem(failing=True), Clock()
    shared_budget = budget(item, clock, metrics=Metrics())
    shared_budget.take(MANUAL, 0.0)
    clock.now += shared.UNAVAILABLE_PAUSE_SECONDS
    shared_budget.take(MANUAL, 0.0)
    warnings = [r for r in log_records() if r["message"].startswith("clerk budget unavailable")]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert warnings[0]["error"] == "StoreUnavailableError"
    assert shared_budget.stats.unavailable == 2
