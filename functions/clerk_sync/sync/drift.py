"""How a stored record differs from Clerk's (pure): the drift kinds reconcile reports and repairs."""

from __future__ import annotations

from typing import Any

from clerk_sync.runs import DriftKind

# What a repair does about each kind; GONE is confirmed by id first, TOMBSTONED is never repaired (invariant 3).
REPAIRED = frozenset({DriftKind.MISSING, DriftKind.STALE, DriftKind.ROLE, DriftKind.PROVISIONAL})


def drift_of(stored: dict[str, Any] | None, clerk_item: dict[str, Any], *, membership: bool) -> DriftKind | None:
    """The drift between what the table holds (`stored`, None when absent) and Clerk's record as an item
    (`clerk_item`: what a write of it would store); None when they agree."""
    if stored is None:
        return DriftKind.MISSING
    if stored.get("deleted"):
        # A membership tombstone the sync inferred (not Clerk's word: conditions.IS_INFERRED_REMOVAL) is repaired
        # by a fresh read (decision 0013); a tombstone of Clerk's deletion, or any user or organization one, is final.
        inferred = bool(stored.get("unlisted")) or "membership_id" not in stored
        return DriftKind.MISSING if membership and inferred else DriftKind.TOMBSTONED
    if stored.get("provisional"):
        return DriftKind.PROVISIONAL
    if int(stored.get("version", 0)) > int(clerk_item["version"]):
        return None  # newer than this listing (a webhook landed meanwhile): not drift
    if membership and stored.get("role") != clerk_item.get("role"):
        return DriftKind.ROLE
    if int(stored.get("version", 0)) < int(clerk_item["version"]) or stored.get("content_hash") != clerk_item.get(
        "content_hash"
    ):
        return DriftKind.STALE
    return None
