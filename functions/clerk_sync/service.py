"""SyncService: the one place that turns Clerk data into table writes, for worker, API, authorizer and CLI.

It receives its store (and, later, its Clerk client) as arguments, builds no clients and reads no
environment, so tests pass moto-backed or fake collaborators.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from clerk_sync.items import SyncSource, WriteContext
from clerk_sync.models import (
    Change,
    Envelope,
    MembershipDeleted,
    MembershipUpserted,
    OrganizationDeleted,
    OrganizationUpserted,
    UserDeleted,
    UserUpserted,
    change_from_envelope,
)
from clerk_sync.store import SyncStore, WriteResult


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SyncService:
    def __init__(self, store: SyncStore, *, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._store = store
        self._clock_ms = clock_ms

    @property
    def store(self) -> SyncStore:
        return self._store

    def apply_event(self, envelope: Envelope, event_id: str | None = None) -> WriteResult:
        """Applies one Clerk webhook event; raises pydantic's `ValidationError` for data that does not fit."""
        change = change_from_envelope(envelope)
        ctx = WriteContext(SyncSource.WEBHOOK, self._clock_ms(), event_id)
        return self.apply_change(change, ctx)

    def apply_change(self, change: Change, ctx: WriteContext) -> WriteResult:
        store = self._store
        match change:
            case UserUpserted(user=user):
                return store.put_user(user, ctx)
            case UserDeleted(user_id=user_id):
                return store.delete_user(user_id, ctx)
            case OrganizationUpserted(organization=org):
                return store.put_organization(org, ctx)
            case OrganizationDeleted(org_id=org_id):
                return store.delete_organization(org_id, ctx)
            case MembershipUpserted(membership=membership):
                return store.put_membership(membership, ctx)
            case MembershipDeleted(membership=membership):
                return store.delete_membership(membership, ctx)
        raise TypeError(f"unknown change {type(change).__name__}")  # pragma: no cover - exhaustive match
