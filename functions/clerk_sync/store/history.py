"""Each record's history: what touched it, when, from where, with what outcome (docs/decisions/0028).

An applied write (and a refused one: tombstoned, needs_refetch) leaves one compact entry under the entity's own
history partition: ids, source, outcome, version, the Svix message id. No PII: the record holds that. Stale and
duplicate deliveries are the common case under redelivery, so they are only counted, on the entity's `COUNTS` item.
Every item expires `keep_days` after it was written (the table's TTL); `keep_days` 0 turns history off and then no
request is made at all.

Outcomes of every write are also summed per UTC hour (`OUTCOMES#<hour>`), in memory first: `flush` writes them,
one UpdateItem per hour touched, at the end of a worker batch or an API request, so a burst costs one write, not
one per event.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from clerk_sync import keys
from clerk_sync.items import WriteContext
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store.table import Item, Table, placeholders

HISTORY_ENTITY: Final = "history"
HISTORY_COUNTS_ENTITY: Final = "history_counts"
OUTCOMES_ENTITY: Final = "outcomes"
# Every item of the history: not records, so comparisons with Clerk's state leave them out.
HISTORY_ENTITIES: Final = frozenset({HISTORY_ENTITY, HISTORY_COUNTS_ENTITY, OUTCOMES_ENTITY})
DEFAULT_KEEP_DAYS: Final = 30
# Counted on the entity, not stored one by one.
COUNTED: Final = frozenset({Outcome.STALE, Outcome.DUPLICATE})
_DAY_SECONDS: Final = 86_400
_BATCH_WRITE_LIMIT: Final = 25


@dataclass(frozen=True)
class HistoryEntry:
    """One write that touched an entity (Unix ms, the `SyncSource` value, the `Outcome` value)."""

    at: int
    entity: str
    entity_id: str
    source: str
    outcome: str
    version: int | None = None
    event_id: str | None = None  # the Svix message id of a webhook event
    change: str | None = None  # the event type (`user.updated`) or the sync's kind (`sync`)
    cascaded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryCounts:
    """Deliveries judged stale or duplicate for one entity, and when the last of each was."""

    stale: int = 0
    duplicate: int = 0
    last_stale_at: int | None = None
    last_duplicate_at: int | None = None


def hour_of(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%dT%H")


class History:
    """Writes and reads the history items of one table; `keep_days` 0: off (records nothing, reads nothing)."""

    def __init__(self, table: Table, *, keep_days: int = DEFAULT_KEEP_DAYS) -> None:
        self._table = table
        self._keep_days = keep_days
        self._pending: dict[str, Counter[str]] = {}
        # The local stack serves requests on threads sharing one History: the sums must not lose a count.
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._keep_days > 0

    @property
    def keep_days(self) -> int:
        return self._keep_days

    # ---- writes ------------------------------------------------------------------------------

    def record(
        self, result: WriteResult, ctx: WriteContext, *, change: str | None = None, version: int | None = None
    ) -> None:
        """Notes one write's result: an entry, or a count for stale and duplicate ones (one request either way)."""
        self._count(result.outcome, ctx.now_ms)
        if not self.enabled:
            return
        if result.outcome in COUNTED:
            self._add_count(result, ctx.now_ms)
            return
        entry = self._entry(result, ctx, change, version)
        self._table.put(self._entry_item(entry, ctx), "attribute_not_exists(PK)", {})

    def record_many(
        self, results: Iterable[tuple[WriteResult, int | None]], ctx: WriteContext, *, change: str | None = None
    ) -> int:
        """Notes a bulk sync's writes (result, version): entries 25 a request; stale and duplicate ones counted.

        Returns the entries written."""
        entries: list[Item] = []
        for result, version in results:
            self._count(result.outcome, ctx.now_ms)
            if not self.enabled:
                continue
            if result.outcome in COUNTED:
                self._add_count(result, ctx.now_ms)
                continue
            entries.append(self._entry_item(self._entry(result, ctx, change, version), ctx))
        for start in range(0, len(entries), _BATCH_WRITE_LIMIT):
            self._table.put_many(entries[start : start + _BATCH_WRITE_LIMIT])
        return len(entries)

    def tally(self, results: Iterable[WriteResult], now_ms: int) -> None:
        """Adds results to the hourly sums only (no request, no entry): what a sync found unchanged."""
        for result in results:
            self._count(result.outcome, now_ms)

    def flush(self) -> int:
        """Adds the outcomes counted since the last flush to their hours' items; returns the requests made.

        A failed request raises (the store's error) and keeps the sums it did not write for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        written = 0
        try:
            for hour, counted in pending.items():
                at = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
                expires = int((at + timedelta(days=max(self._keep_days, 1) + 1)).timestamp())
                self._table.add(
                    keys.outcomes_key(hour),
                    dict(counted),
                    {"entity": OUTCOMES_ENTITY, "hour": hour, keys.TTL_ATTRIBUTE: expires},
                )
                written += 1
        except Exception:
            with self._lock:
                for hour, counted in list(pending.items())[written:]:
                    self._pending.setdefault(hour, Counter()).update(counted)
            raise
        return written

    # ---- reads -------------------------------------------------------------------------------

    def entries(
        self, entity: str, entity_id: str, *, limit: int = 50, before_ms: int | None = None
    ) -> list[HistoryEntry]:
        """The entity's newest entries first, at most `limit`, older than `before_ms` when given."""
        if not self.enabled:
            return []
        partition = keys.history_partition(entity, entity_id)
        condition = f"{keys.PK} = :pk AND begins_with({keys.SK}, :prefix)"
        bound: dict[str, Any] = {"pk": partition, "prefix": keys.HISTORY_AT_PREFIX}
        if before_ms is not None:
            condition = f"{keys.PK} = :pk AND {keys.SK} BETWEEN :prefix AND :before"
            bound["before"] = f"{keys.HISTORY_AT_PREFIX}{before_ms:013d}"
        found = self._table.query_page(
            KeyConditionExpression=condition,
            ExpressionAttributeValues=placeholders(**bound),
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_entry_of(item) for item in found]

    def counts(self, entity: str, entity_id: str) -> HistoryCounts:
        item = self._table.get(keys.history_counts_key(entity, entity_id), consistent=False) if self.enabled else None
        if item is None:
            return HistoryCounts()
        return HistoryCounts(
            stale=int(item.get(Outcome.STALE.value, 0)),
            duplicate=int(item.get(Outcome.DUPLICATE.value, 0)),
            last_stale_at=_int_or_none(item.get("last_stale_at")),
            last_duplicate_at=_int_or_none(item.get("last_duplicate_at")),
        )

    def outcomes(self, hours: Sequence[str]) -> dict[str, dict[str, int]]:
        """Summed outcomes per hour (`hour_of`) for the given hours; an hour with no writes is `{}`."""
        found = self._table.get_many([keys.outcomes_key(hour) for hour in hours])
        by_hour = {str(item["hour"]): item for item in found}
        outcome_names = {outcome.value for outcome in Outcome}
        return {
            hour: {name: int(value) for name, value in by_hour.get(hour, {}).items() if name in outcome_names}
            for hour in hours
        }

    # ---- internals ---------------------------------------------------------------------------

    def _count(self, outcome: Outcome, now_ms: int) -> None:
        with self._lock:
            self._pending.setdefault(hour_of(now_ms), Counter())[outcome.value] += 1

    def _expires_at(self, now_ms: int) -> int:
        return now_ms // 1000 + self._keep_days * _DAY_SECONDS

    def _add_count(self, result: WriteResult, now_ms: int) -> None:
        self._table.add(
            keys.history_counts_key(result.entity.value, result.entity_id),
            {result.outcome.value: 1},
            {
                "entity": HISTORY_COUNTS_ENTITY,
                f"last_{result.outcome.value}_at": now_ms,
                keys.TTL_ATTRIBUTE: self._expires_at(now_ms),
            },
        )

    @staticmethod
    def _entry(result: WriteResult, ctx: WriteContext, change: str | None, version: int | None) -> HistoryEntry:
        return HistoryEntry(
            at=ctx.now_ms,
            entity=result.entity.value,
            entity_id=result.entity_id,
            source=ctx.source.value,
            outcome=result.outcome.value,
            version=version,
            event_id=ctx.event_id,
            change=change,
            cascaded=result.cascaded,
        )

    def _entry_item(self, entry: HistoryEntry, ctx: WriteContext) -> Item:
        # A webhook's entry is keyed by its message id: a redelivered event that applies again keeps one entry.
        ref = ctx.event_id or secrets.token_hex(4)
        item: Item = {
            **keys.history_entry_key(entry.entity, entry.entity_id, entry.at, ref),
            "entity": HISTORY_ENTITY,
            keys.TTL_ATTRIBUTE: self._expires_at(entry.at),
        }
        item.update({name: value for name, value in entry.as_dict().items() if value is not None and name != "entity"})
        item["subject"] = entry.entity
        return item


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _entry_of(item: Item) -> HistoryEntry:
    return HistoryEntry(
        at=int(item["at"]),
        entity=str(item["subject"]),
        entity_id=str(item["entity_id"]),
        source=str(item["source"]),
        outcome=str(item["outcome"]),
        version=_int_or_none(item.get("version")),
        event_id=item.get("event_id"),
        change=item.get("change"),
        cascaded=int(item.get("cascaded", 0)),
    )
