"""How many users, organizations and memberships the table holds (live, tombstoned, provisional), for the admin
overview: a bounded Scan that reads only `entity`, `deleted` and `provisional` (eventually consistent, half the
read cost) until the table's end or a deadline, whichever comes first; `complete` says which. The answer is kept
on the `COUNTS#records` item and in memory for `max_age_ms` (60 s), so however often the console refreshes, a table
is scanned at most once a minute by all containers together, and never past a request's deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from clerk_sync import keys
from clerk_sync.store.table import Item, Table, placeholders
from clerk_sync.vocabulary import Entity

COUNTS_ENTITY: Final = "record_counts"
MAX_AGE_MS: Final = 60_000
# Items read per Scan request: small pages keep the deadline check close to the time spent.
SCAN_PAGE_ITEMS: Final = 1000
COUNTED: Final = (Entity.USER.value, Entity.ORGANIZATION.value, Entity.MEMBERSHIP.value)
_STATES: Final = ("live", "tombstoned", "provisional")


@dataclass
class RecordCounts:
    """Records per entity and state (`live` excludes provisional ones), when counted, and whether the scan ended."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {entity: dict.fromkeys(_STATES, 0) for entity in COUNTED}
    )
    counted_at: int = 0
    complete: bool = False
    items_read: int = 0

    def add(self, item: Item) -> None:
        entity = item.get("entity")
        if entity not in self.counts:
            return
        state = "tombstoned" if item.get("deleted") else "provisional" if item.get("provisional") else "live"
        self.counts[str(entity)][state] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.counts[Entity.USER.value],
            "organizations": self.counts[Entity.ORGANIZATION.value],
            "memberships": self.counts[Entity.MEMBERSHIP.value],
            "counted_at": self.counted_at,
            "complete": self.complete,
        }


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RecordCounter:
    """Counts the table's records, at most once per `max_age_ms` (the last count is cached in memory and the table)."""

    def __init__(
        self,
        table: Table,
        *,
        max_age_ms: int = MAX_AGE_MS,
        now_ms: Callable[[], int] = _now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._max_age_ms = max_age_ms
        self._now_ms = now_ms
        self._monotonic = monotonic
        self._last: RecordCounts | None = None

    def counts(self, *, deadline: float) -> RecordCounts:
        """The last count if younger than `max_age_ms`, else a new one that stops at `deadline` (time.monotonic)."""
        now = self._now_ms()
        if self._last is not None and now - self._last.counted_at < self._max_age_ms:
            return self._last
        stored = self._stored()
        if stored is not None and now - stored.counted_at < self._max_age_ms:
            self._last = stored
            return stored
        counted = self._count(deadline)
        self._last = counted
        self._save(counted)
        return counted

    def _count(self, deadline: float) -> RecordCounts:
        counts = RecordCounts(counted_at=self._now_ms())
        start: dict[str, str] | None = None
        while True:
            page, start = self._table.scan_page(
                start_key=start, limit=SCAN_PAGE_ITEMS, fields=("entity", "deleted", "provisional"), consistent=False
            )
            counts.items_read += len(page)
            for item in page:
                counts.add(item)
            if start is None:
                counts.complete = True
                return counts
            if self._monotonic() >= deadline:
                return counts

    def _stored(self) -> RecordCounts | None:
        item = self._table.get(keys.RECORD_COUNTS_KEY, consistent=False)
        if item is None:
            return None
        counts = RecordCounts(counted_at=int(item["counted_at"]), complete=bool(item.get("complete")))
        for entity in COUNTED:
            stored = item.get(entity) or {}
            counts.counts[entity] = {state: int(stored.get(state, 0)) for state in _STATES}
        return counts

    def _save(self, counts: RecordCounts) -> None:
        item = {
            **keys.RECORD_COUNTS_KEY,
            "entity": COUNTS_ENTITY,
            "counted_at": counts.counted_at,
            "complete": counts.complete,
            **counts.counts,
            keys.TTL_ATTRIBUTE: counts.counted_at // 1000 + 3600,
        }
        # Only a newer count replaces the stored one (two containers may count at once).
        self._table.put(item, "attribute_not_exists(PK) OR counted_at < :at", placeholders(at=counts.counted_at))
