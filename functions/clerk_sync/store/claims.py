"""The membership-sync state of a user: when a sync of their memberships was last asked for and when one last
completed, kept on the user's profile (`memberships_requested_at`, `memberships_synced_at`; docs/decisions/0026).

An applied user webhook asks for a sync in the same write that stores the profile (`SyncStore.put_user`'s
`request_memberships_at`, set only where none was asked for) and decides from the old item that write hands back, so
a burst of `user.updated` events queues one sync, not one each, at one DynamoDB write per event
(USER_EVENT_MEMBERSHIP_SYNC, docs/decisions/0006). Only a request old enough to have been lost is asked again here,
with a second write that one of several concurrent events wins. Before 0026 the state was a `USER#<id>`/
`MEMBERSHIPS` item; `legacy_synced` still reads it, once per user, so an upgrade does not list everyone again.
"""

from __future__ import annotations

from clerk_sync import items, keys
from clerk_sync.outcomes import MembershipSyncState
from clerk_sync.store import conditions as when
from clerk_sync.store.table import Item, Table


def prior_sync(old: Item | None) -> MembershipSyncState:
    """The membership-sync state a user's profile held (`old`, None when there was none)."""
    if old is None:
        return MembershipSyncState()
    requested, synced = old.get(items.MEMBERSHIPS_REQUESTED_AT), old.get(items.MEMBERSHIPS_SYNCED_AT)
    return MembershipSyncState(
        on_record=True,
        requested_at=None if requested is None else int(requested),
        synced_at=None if synced is None else int(synced),
    )


class MembershipSyncClaims:
    """The membership-sync state on the `USER#<id>` / `PROFILE` items."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_again(self, user_id: str, seen_requested_at: int, now_ms: int, *, only_if_never_synced: bool) -> bool:
        """Asks again for a sync of the user's memberships: `memberships_requested_at` moves from the value a write
        found (`seen_requested_at`: a request old enough to have been lost) to `now_ms`, so one of several concurrent
        events wins; with `only_if_never_synced` only while no sync ever completed. False when not needed or taken."""
        condition = f"{when.IS_LIVE} AND {items.MEMBERSHIPS_REQUESTED_AT} = :seen"
        if only_if_never_synced:
            condition += f" AND attribute_not_exists({items.MEMBERSHIPS_SYNCED_AT})"
        assignments = {items.MEMBERSHIPS_REQUESTED_AT: now_ms}
        return self._table.update(keys.user_key(user_id), assignments, condition, false=False, seen=seen_requested_at)

    def mark_synced(self, user_id: str, now_ms: int) -> bool:
        """Notes on the user's live profile that a sync of their memberships completed, unless it already says so
        (read first, so an unchanged re-sync writes nothing); no profile, nothing noted. True when written."""
        profile = self._table.get(keys.user_key(user_id))
        if profile is None or profile.get("deleted") or items.MEMBERSHIPS_SYNCED_AT in profile:
            return False
        return self._table.update(
            keys.user_key(user_id),
            {items.MEMBERSHIPS_SYNCED_AT: now_ms},
            f"attribute_exists(PK) AND {when.IS_LIVE}",
            false=False,
        )

    def state(self, user_id: str) -> MembershipSyncState:
        return prior_sync(self._table.get(keys.user_key(user_id)))

    def legacy_synced(self, user_id: str) -> bool:
        """Whether the item that held this state before 0026 (`USER#<id>`/`MEMBERSHIPS`) says a sync completed."""
        legacy = self._table.get(keys.membership_state_key(user_id))
        return legacy is not None and "synced_at" in legacy
