"""What reconcile calls drift, from a stored item and Clerk's record as an item (sync/drift.py)."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync.runs import DriftKind
from clerk_sync.sync.drift import REPAIRED, drift_of

CLERK: dict[str, Any] = {"version": 200, "content_hash": "h2", "role": "org:member", "membership_id": "orgmem_1"}


def _stored(**changes: Any) -> dict[str, Any]:
    return {**CLERK, "deleted": False, "provisional": False, **changes}


@pytest.mark.parametrize(
    ("stored", "membership", "expected"),
    [
        (None, False, DriftKind.MISSING),
        (_stored(), False, None),
        (_stored(), True, None),
        (_stored(version=100, content_hash="h1"), False, DriftKind.STALE),
        (_stored(content_hash="h1"), False, DriftKind.STALE),  # same version, other content
        (_stored(version=300, content_hash="h3"), False, None),  # newer than the listing: a webhook landed
        (_stored(role="org:admin"), True, DriftKind.ROLE),
        (_stored(version=0, provisional=True), True, DriftKind.PROVISIONAL),
        (_stored(deleted=True), False, DriftKind.TOMBSTONED),  # a user or organization tombstone is final
        (_stored(deleted=True), True, DriftKind.TOMBSTONED),  # Clerk's delete of this membership: final
        (_stored(deleted=True, unlisted=True), True, DriftKind.MISSING),  # an inferred removal: repaired
    ],
)
def test_drift_of(stored: dict[str, Any] | None, membership: bool, expected: DriftKind | None) -> None:
    assert drift_of(stored, CLERK, membership=membership) is expected


def test_what_is_repaired() -> None:
    assert {DriftKind.GONE, DriftKind.TOMBSTONED}.isdisjoint(REPAIRED)
    assert {DriftKind.MISSING, DriftKind.STALE, DriftKind.ROLE, DriftKind.PROVISIONAL} == REPAIRED
