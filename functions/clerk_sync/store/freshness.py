"""Webhook freshness: when the worker last processed a webhook event, and which type it was.

The worker calls `record` after each event it processed (applied, or judged stale or a duplicate: either way Clerk's
webhooks are arriving); each container writes at most once a minute, remembering its last write in memory, so a
burst of events costs one put. The item only moves forward (a slower container's older time never replaces a newer
one). `GET /api/sync/status` reads it as `last_webhook_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from clerk_sync import keys
from clerk_sync.store import conditions as when
from clerk_sync.store.table import Table, placeholders

FRESHNESS_ENTITY = "freshness"
# A container writes the item at most this often; the time it holds is at most this much behind.
WRITE_INTERVAL_MS: Final = 60_000


@dataclass(frozen=True)
class WebhookSeen:
    at: int  # Unix ms, when the worker processed it
    event_type: str


class WebhookFreshness:
    """The `FRESHNESS#webhooks` / `LAST` item, written at most once per `interval_ms` by this container."""

    def __init__(self, table: Table, *, interval_ms: int = WRITE_INTERVAL_MS) -> None:
        self._table = table
        self._interval_ms = interval_ms
        self._written_at: int | None = None

    def record(self, event_type: str, now_ms: int) -> bool:
        """Notes a webhook processed at `now_ms`; False (no request) when this container wrote within the interval."""
        if self._written_at is not None and now_ms - self._written_at < self._interval_ms:
            return False
        # Set before the write: a failing table is tried once per interval, not on every event.
        self._written_at = now_ms
        item = {
            **keys.webhook_freshness_key(),
            "entity": FRESHNESS_ENTITY,
            "event_type": event_type,
            "noted_at": now_ms,
        }
        self._table.put(item, when.NOTE_NOT_NEWER, placeholders(noted_at=now_ms))
        return True

    def last(self) -> WebhookSeen | None:
        """The last webhook any container noted, or None before the first."""
        item = self._table.get(keys.webhook_freshness_key(), consistent=False)
        if item is None:
            return None
        return WebhookSeen(int(item["noted_at"]), str(item.get("event_type", "")))
