"""The table behind clerk-sync: Clerk records (`SyncStore`), member-sync jobs (`JobStore`), membership-sync
claims (`MembershipSyncClaims`), per-caller sync limits (`CallerLimits`), the shared Clerk budget
(`ClerkBudgetItem`), bulk runs (`store.runs.RunStore`) and the worker's notes (`FailureNotes`,
`WebhookFreshness`), all on one `Table`. They raise only the store's own errors (`store.errors`)."""

from __future__ import annotations

from clerk_sync.store.budget import ClerkBudgetItem
from clerk_sync.store.claims import MembershipSyncClaims
from clerk_sync.store.errors import StoreConflictError, StoreError, StoreUnavailableError
from clerk_sync.store.failures import FailureNotes
from clerk_sync.store.freshness import WebhookFreshness, WebhookSeen
from clerk_sync.store.jobs import JobStore
from clerk_sync.store.limits import CallerLimits, LimitDecision
from clerk_sync.store.records import ParentCascade, SyncStore
from clerk_sync.store.table import Table

__all__ = [
    "CallerLimits",
    "ClerkBudgetItem",
    "FailureNotes",
    "JobStore",
    "LimitDecision",
    "MembershipSyncClaims",
    "ParentCascade",
    "StoreConflictError",
    "StoreError",
    "StoreUnavailableError",
    "SyncStore",
    "Table",
    "WebhookFreshness",
    "WebhookSeen",
]
