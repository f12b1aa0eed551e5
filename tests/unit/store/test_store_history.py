"""store/history.py against moto in-process: entries, counted stale/duplicate deliveries, hourly outcomes, off."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clerk_sync import keys, resources
from clerk_sync.items import WriteContext
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store.history import History, HistoryCounts, hour_of
from clerk_sync.store.table import Table
from clerk_sync.vocabulary import Entity, SyncSource

NAME = "clerk-sync-history"
AT = 1_790_000_000_000  # a fixed Unix ms


@pytest.fixture
def table() -> Iterator[Table]:
    with mock_aws():
        client: Any = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**resources.table_create_kwargs(NAME))
        yield Table(client, NAME)


def _result(outcome: Outcome, entity_id: str = "user_1", entity: Entity = Entity.USER) -> WriteResult:
    return WriteResult(outcome, entity, entity_id)


def _ctx(at: int = AT, event_id: str | None = "msg_1", source: SyncSource = SyncSource.WEBHOOK) -> WriteContext:
    return WriteContext(source, at, event_id)


def test_an_applied_write_leaves_one_entry_with_ids_and_no_record_fields(table: Table) -> None:
    history = History(table, keep_days=30)
    history.record(_result(Outcome.APPLIED), _ctx(), change="user.updated", version=7)
    [entry] = history.entries("user", "user_1")
    assert (entry.at, entry.source, entry.outcome, entry.version, entry.event_id, entry.change) == (
        AT,
        "webhook",
        "applied",
        7,
        "msg_1",
        "user.updated",
    )
    [item] = [i for i in _items(table) if i["PK"].startswith(keys.HISTORY_PREFIX)]
    assert item["expires_at"] == AT // 1000 + 30 * 86_400
    assert item["entity"] == "history"


def test_stale_and_duplicate_deliveries_are_counted_not_stored(table: Table) -> None:
    history = History(table, keep_days=30)
    for at, outcome in [(AT, Outcome.STALE), (AT + 1, Outcome.STALE), (AT + 2, Outcome.DUPLICATE)]:
        history.record(_result(outcome), _ctx(at))
    assert history.entries("user", "user_1") == []
    assert history.counts("user", "user_1") == HistoryCounts(2, 1, AT + 1, AT + 2)


def test_entries_come_newest_first_limited_and_before_a_time(table: Table) -> None:
    history = History(table, keep_days=30)
    for n in range(5):
        history.record(_result(Outcome.APPLIED), _ctx(AT + n, event_id=f"msg_{n}"), version=n)
    assert [e.version for e in history.entries("user", "user_1", limit=3)] == [4, 3, 2]
    assert [e.version for e in history.entries("user", "user_1", before_ms=AT + 2)] == [1, 0]
    assert history.entries("user", "user_2") == []


def test_a_bulk_sync_writes_its_entries_in_batches_and_counts_the_rest(table: Table) -> None:
    history = History(table, keep_days=30)
    results = [(_result(Outcome.APPLIED, f"org_1/user_{n}", Entity.MEMBERSHIP), n) for n in range(30)]
    results.append((_result(Outcome.DUPLICATE, "org_1/user_0", Entity.MEMBERSHIP), 0))
    written = history.record_many(results, _ctx(event_id=None, source=SyncSource.API), change="sync")
    assert written == 30
    assert [e.source for e in history.entries("membership", "org_1/user_7")] == ["api"]
    assert history.counts("membership", "org_1/user_0").duplicate == 1


def test_outcomes_are_summed_per_hour_on_flush(table: Table) -> None:
    history = History(table, keep_days=30)
    later = AT + 3_600_000
    for at, outcome in [(AT, Outcome.APPLIED), (AT, Outcome.STALE), (later, Outcome.APPLIED)]:
        history.record(_result(outcome), _ctx(at, event_id=f"m{at}{outcome}"))
    assert history.flush() == 2
    history.record(_result(Outcome.APPLIED), _ctx(AT, event_id="again"))
    assert history.flush() == 1
    assert history.flush() == 0
    hours = [hour_of(AT), hour_of(later), hour_of(later + 3_600_000)]
    assert history.outcomes(hours) == {hours[0]: {"applied": 2, "stale": 1}, hours[1]: {"applied": 1}, hours[2]: {}}


def test_keep_days_0_records_no_history_but_still_sums_outcomes(table: Table) -> None:
    history = History(table, keep_days=0)
    history.record(_result(Outcome.APPLIED), _ctx())
    history.record(_result(Outcome.STALE), _ctx())
    assert not [i for i in _items(table) if i["PK"].startswith(keys.HISTORY_PREFIX)]
    assert history.entries("user", "user_1") == []
    history.flush()
    assert history.outcomes([hour_of(AT)]) == {hour_of(AT): {"applied": 1, "stale": 1}}


def _items(table: Table) -> list[dict[str, Any]]:
    return list(table.scan())
