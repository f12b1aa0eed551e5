"""sync/history.py's policy, against a fake History: what a sync found as stored is only summed, webhook deliveries
go to History whatever their outcome, a store error is swallowed and counted, and nothing is built before a write."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync.items import WriteContext
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store.errors import StoreUnavailableError
from clerk_sync.sync.history import HistoryRecorder
from clerk_sync.vocabulary import Entity, SyncSource

AT = 1_790_000_000_000


class FakeHistory:
    def __init__(self, *, failing: bool = False) -> None:
        self.recorded: list[tuple[str, str | None]] = []
        self.tallied: list[str] = []
        self.flushes = 0
        self._failing = failing

    def record(self, result: WriteResult, ctx: WriteContext, *, change: str | None = None, **_: Any) -> None:
        self._maybe_fail()
        self.recorded.append((result.outcome.value, change))

    def record_many(self, results: Any, ctx: WriteContext, *, change: str | None = None) -> int:
        self._maybe_fail()
        self.recorded += [(result.outcome.value, change) for result, _ in results]
        return len(self.recorded)

    def tally(self, results: Any, now_ms: int) -> None:
        self.tallied += [result.outcome.value for result in results]

    def flush(self) -> int:
        self._maybe_fail()
        self.flushes += 1
        return 0

    def _maybe_fail(self) -> None:
        if self._failing:
            raise StoreUnavailableError("throttled")


def _result(outcome: Outcome) -> WriteResult:
    return WriteResult(outcome, Entity.MEMBERSHIP, "org_1/user_1")


def _recorder(history: FakeHistory) -> HistoryRecorder:
    return HistoryRecorder(lambda: history)  # type: ignore[arg-type, return-value]


def test_a_sync_records_what_it_changed_and_only_sums_what_it_found_as_stored() -> None:
    history = FakeHistory()
    ctx = WriteContext(SyncSource.API, AT)
    results = [(_result(o), 1) for o in (Outcome.APPLIED, Outcome.DUPLICATE, Outcome.STALE, Outcome.TOMBSTONED)]
    _recorder(history).synced_many(results, ctx)
    assert history.recorded == [("applied", "sync"), ("tombstoned", "sync")]
    assert history.tallied == ["duplicate", "stale"]


def test_a_webhook_delivery_goes_to_history_whatever_its_outcome() -> None:
    history = FakeHistory()
    ctx = WriteContext(SyncSource.WEBHOOK, AT, "msg_1")
    _recorder(history).delivery(_result(Outcome.DUPLICATE), ctx, change="user.updated", version=5)
    assert history.recorded == [("duplicate", "user.updated")]


def test_a_store_error_is_logged_and_counted_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    failed: list[str] = []
    monkeypatch.setattr("clerk_sync.sync.history.count", lambda name, *_, **__: failed.append(name))
    recorder = _recorder(FakeHistory(failing=True))
    recorder.delivery(_result(Outcome.APPLIED), WriteContext(SyncSource.WEBHOOK, AT, "m"), change="x", version=None)
    recorder.synced(_result(Outcome.APPLIED), WriteContext(SyncSource.API, AT))
    recorder.flush()
    assert failed == ["HistoryWriteFailed"] * 3


def test_flush_before_any_write_builds_nothing() -> None:
    built: list[bool] = []

    def provider() -> Any:
        built.append(True)
        return FakeHistory()

    recorder = HistoryRecorder(provider)
    recorder.flush()
    assert built == []
    HistoryRecorder(None).synced(_result(Outcome.APPLIED), WriteContext(SyncSource.API, AT))  # no history: nothing
