"""Per-caller sync limits: at most `limit` manual syncs in a window that opens with the caller's first sync.

The window starts at the first counted sync (not on a clock boundary), so a repeat within it is refused whenever it
comes. A counted sync is one conditional write, a refused one the same write failing and changing nothing (the item
DynamoDB hands back says when the window ends); opening a new window is a second write. A caller looping a sync
route costs one DynamoDB write a request and no Clerk call. The item expires through the table's TTL
(docs/decisions/0018).
"""

from __future__ import annotations

from dataclasses import dataclass

from clerk_sync import keys
from clerk_sync.store.table import Item, Table, placeholders

SYNC_LIMIT_ENTITY = "sync_limit"
_IN_WINDOW_UNDER_LIMIT = "window_start > :cutoff AND hits < :limit"
_NO_OPEN_WINDOW = "attribute_not_exists(PK) OR window_start <= :cutoff"


@dataclass(frozen=True)
class LimitDecision:
    """`allowed`, or how many milliseconds until the caller's window ends."""

    allowed: bool
    retry_after_ms: int = 0


class CallerLimits:
    """The `USER#<id>` / `SYNC_LIMIT` items."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def take(self, user_id: str, now_ms: int, *, limit: int, window_ms: int) -> LimitDecision:
        """Counts one sync for the caller when under `limit` in their open window, else opens one if none is."""
        key = keys.sync_limit_key(user_id)
        cutoff = now_ms - window_ms
        counted = self._table.increment(key, "hits", _IN_WINDOW_UNDER_LIMIT, cutoff=cutoff, limit=limit)
        if counted.applied:
            return LimitDecision(True)
        seen = counted.old
        if seen is None or int(seen.get("window_start", 0)) <= cutoff:
            window = {
                **key,
                "entity": SYNC_LIMIT_ENTITY,
                "user_id": user_id,
                "window_start": now_ms,
                "hits": 1,
                keys.TTL_ATTRIBUTE: (now_ms + window_ms) // 1000 + 1,
            }
            opened = self._table.put(window, _NO_OPEN_WINDOW, placeholders(cutoff=cutoff))
            if opened.applied:
                return LimitDecision(True)
            # A concurrent request of the caller opened it first: count within it.
            counted = self._table.increment(key, "hits", _IN_WINDOW_UNDER_LIMIT, cutoff=cutoff, limit=limit)
            if counted.applied:
                return LimitDecision(True)
            seen = counted.old
        return LimitDecision(False, _window_end(seen, window_ms) - now_ms)


def _window_end(item: Item | None, window_ms: int) -> int:
    return int(item.get("window_start", 0) if item else 0) + window_ms
