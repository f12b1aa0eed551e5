"""Membership-sync claims: per user, when a sync of their memberships was last asked for and last completed.

User webhooks queue a membership sync only when the claim succeeds, so a burst of `user.updated` events queues
one sync, not one each (USER_EVENT_MEMBERSHIP_SYNC, docs/decisions/0006).
"""

from __future__ import annotations

from clerk_sync import items, keys
from clerk_sync.store import conditions as when
from clerk_sync.store.table import Item, Table


class MembershipSyncClaims:
    """The `USER#<id>` / `MEMBERSHIPS` items."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, user_id: str, now_ms: int, *, only_if_never_synced: bool, window_ms: int) -> bool:
        """Claims the right to queue a membership sync for the user; False when one is not needed or pending."""
        condition = when.SYNC_NEVER_DONE if only_if_never_synced else when.SYNC_NOT_REQUESTED_SINCE
        claim = {"requested_at": now_ms, "entity": items.SYNC_STATE_ENTITY, "user_id": user_id}
        return self._table.update(keys.membership_state_key(user_id), claim, condition, cutoff=now_ms - window_ms)

    def mark_synced(self, user_id: str, now_ms: int) -> None:
        self._table.update(
            keys.membership_state_key(user_id),
            {"synced_at": now_ms, "entity": items.SYNC_STATE_ENTITY, "user_id": user_id},
        )

    def state(self, user_id: str) -> Item | None:
        return self._table.get(keys.membership_state_key(user_id))
