"""What a write of one record did: the outcome the store returns and the worker counts (`EventProcessed`).

Expected outcomes (stale, duplicate, ...) are values, never exceptions; only failures of the table raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from clerk_sync.vocabulary import Entity


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # a newer version (or a delete at the same version) is on record
    DUPLICATE = "duplicate"  # the same version with the same content is on record
    TOMBSTONED = "tombstoned"  # the user, organization, a parent or this membership id is deleted: never resurrected
    NEEDS_REFETCH = "needs_refetch"  # the same version with different content: only Clerk can tell


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    entity: Entity
    entity_id: str
    cascaded: int = 0  # memberships removed because their user or organization was deleted
    created: bool = False  # applied where no record (not even a provisional one or a tombstone) was
    # A user's profile only: the membership-sync state it held before this write (docs/decisions/0026).
    prior_sync: MembershipSyncState | None = None


@dataclass(frozen=True)
class MembershipSyncState:
    """What a user's profile said about syncs of their memberships before a write: when one was last asked for and
    when one last completed (Unix ms, None for never); `on_record` False when there was no profile at all."""

    on_record: bool = False
    requested_at: int | None = None
    synced_at: int | None = None
