"""The shared Clerk budget on moto: the `BUDGET#clerk` / `STATE` item, its conditional writes, two processes
("containers") drawing from one bucket, a 429 one of them saw slowing the other, and failing open."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from botocore.stub import Stubber

from clerk_sync import keys
from clerk_sync.budget.bucket import BucketLimits, BucketState
from clerk_sync.budget.shared import SharedClerkBudget
from clerk_sync.clerk.errors import ClerkBudgetExhaustedError
from clerk_sync.store import ClerkBudgetItem, Table
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.vocabulary import ClerkPriority
from tests.integration.conftest import Aws

DEV = BucketLimits(100)
NOW = 1_800_000_000.0


class FrozenWall:
    """The wall clock every container reads; frozen, so no refill blurs what was taken."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def container(aws: Aws, wall: FrozenWall, limits: BucketLimits = DEV) -> SharedClerkBudget:
    """One process's budget: its own client and table object on the shared table."""
    table = Table(aws.dynamodb, aws.resources.table_name)
    return SharedClerkBudget(ClerkBudgetItem(table), limits, wall=wall, sleep=lambda _: None)


def stored(aws: Aws) -> dict[str, Any]:
    item = Table(aws.dynamodb, aws.resources.table_name).get(keys.budget_key())
    assert item is not None
    return item


def drain(budget: SharedClerkBudget, priority: ClerkPriority) -> int:
    """Takes at `priority` without waiting until refused; how many were granted."""
    granted = 0
    while True:
        try:
            budget.take(priority, 0.0)
        except ClerkBudgetExhaustedError:
            return granted
        granted += 1


def test_first_take_writes_the_budget_item_in_the_single_table(aws: Aws) -> None:
    container(aws, FrozenWall()).take(ClerkPriority.MANUAL, 1.0)

    item = stored(aws)
    assert (item["PK"], item["SK"], item["entity"]) == ("BUDGET#clerk", "STATE", BUDGET_ENTITY)
    assert (item["tokens"], item["bulk_tokens"], item["version"]) == (Decimal(19), Decimal(10), 1)
    assert (item["updated_at_ms"], item["penalty_until_ms"], item["rate_limit"]) == (NOW * 1000, 0, 100)


def test_a_put_on_a_version_already_replaced_changes_nothing_and_hands_back_the_item(aws: Aws) -> None:
    item = ClerkBudgetItem(Table(aws.dynamodb, aws.resources.table_name))
    first = item.save(BucketState.full(DEV, NOW), seen=None, limits=DEV)
    assert first.applied
    assert first.current is not None
    second = item.save(BucketState(5, 5, NOW), seen=first.current, limits=DEV)
    assert second.applied

    lost = item.save(BucketState(1, 1, NOW), seen=first.current, limits=DEV)
    created_twice = item.save(BucketState(1, 1, NOW), seen=None, limits=DEV)

    assert (lost.applied, created_twice.applied) == (False, False)
    assert lost.current == created_twice.current == BucketState(5.0, 5.0, NOW, version=2)
    assert item.load() == BucketState(5.0, 5.0, NOW, version=2)


def test_two_containers_share_one_bucket_and_never_spend_a_token_twice(aws: Aws) -> None:
    wall = FrozenWall()
    first, second = container(aws, wall), container(aws, wall)
    granted = {"first": 0, "second": 0}

    # Turn about: each take starts from a view the other container's write made stale, so every one of them
    # loses its first conditional put and is retried on the item DynamoDB hands back.
    for turn in range(30):
        name, budget = ("first", first) if turn % 2 == 0 else ("second", second)
        try:
            budget.take(ClerkPriority.MANUAL, 0.0)
        except ClerkBudgetExhaustedError:
            continue
        granted[name] += 1

    assert granted == {"first": 10, "second": 10}  # the bucket's 20, split, none twice
    assert stored(aws)["tokens"] == 0
    assert stored(aws)["version"] == 20
    assert first.stats.conflicts + second.stats.conflicts >= 18
    assert first.stats.refused + second.stats.refused == 10


def test_bulk_in_one_container_leaves_the_reserve_to_logins_in_another(aws: Aws) -> None:
    wall = FrozenWall()
    backfill, authorizer = container(aws, wall), container(aws, wall)

    bulk = drain(backfill, ClerkPriority.BULK)
    logins = drain(authorizer, ClerkPriority.LOGIN)

    assert bulk == DEV.bulk_capacity == 10  # its share of the burst, no more
    assert logins == 10 + 4  # the reserve and the login debt
    assert authorizer.stats.debt_takes == 4
    assert stored(aws)["tokens"] == -4


def test_a_429_seen_by_one_container_slows_the_other(aws: Aws) -> None:
    wall = FrozenWall()
    worker, sync_api = container(aws, wall), container(aws, wall)
    worker.take(ClerkPriority.QUEUED, 1.0)

    worker.penalise(5.0)

    item = stored(aws)
    assert (item["tokens"], item["penalty_factor"]) == (0, Decimal("0.5"))
    assert item["penalty_until_ms"] == (NOW + 10) * 1000
    with pytest.raises(ClerkBudgetExhaustedError) as refused:
        sync_api.take(ClerkPriority.MANUAL, 0.1)
    assert refused.value.retry_after == pytest.approx(1 / 4)  # one token at half of 8/s
    wall.now += 0.25
    assert sync_api.take(ClerkPriority.MANUAL, 0.0) == 0.0


def test_the_budget_fails_open_when_dynamodb_refuses(aws: Aws) -> None:
    table = Table(aws.dynamodb, aws.resources.table_name)
    stubber = Stubber(aws.dynamodb)
    for _ in range(2):
        stubber.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
    with stubber:
        budget = SharedClerkBudget(ClerkBudgetItem(table), DEV, wall=FrozenWall())
        assert budget.take(ClerkPriority.LOGIN, 0.0) == 0.0
        assert budget.take(ClerkPriority.BULK, 0.0) == 0.0  # paused: DynamoDB is not asked again
    assert (budget.stats.unavailable, budget.stats.unbudgeted) == (1, 2)
