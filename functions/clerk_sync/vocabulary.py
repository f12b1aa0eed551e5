"""The words clerk-sync shares across the runtime, the CDK stack, the local tooling and the tests, each said once.

Plain Python (no pydantic, no AWS SDK), so any module may import it, on any cold path.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal, get_args

SERVICE_NAME: Final = "clerk-sync"
# CloudWatch namespace of every metric the functions emit; the dashboard and alarms read it.
METRICS_NAMESPACE: Final = "ClerkSync"
# Clerk's Backend API base URL without the version: the client adds /v1, as Clerk's SDKs do with CLERK_API_URL.
CLERK_API_URL: Final = "https://api.clerk.com"

# The Clerk webhook events clerk-sync applies; any other type is answered 200 and ignored.
EventType = Literal[
    "user.created",
    "user.updated",
    "user.deleted",
    "organization.created",
    "organization.updated",
    "organization.deleted",
    "organizationMembership.created",
    "organizationMembership.updated",
    "organizationMembership.deleted",
]
EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)
USER_CREATED: Final[EventType] = "user.created"

# USER_EVENT_MEMBERSHIP_SYNC: whether a user.created/user.updated webhook queues a sync of the user's memberships.
#   always   at most one a minute per user
#   missing  only while no membership sync of the user was ever completed (once per user, in effect)
#   never    never; memberships then come from their own webhooks and syncs only
MembershipSyncMode = Literal["always", "missing", "never"]
MEMBERSHIP_SYNC_MODES: Final[tuple[MembershipSyncMode, ...]] = get_args(MembershipSyncMode)


class Entity(StrEnum):
    """The Clerk records clerk-sync keeps."""

    USER = "user"
    ORGANIZATION = "organization"
    MEMBERSHIP = "membership"


class SyncSource(StrEnum):
    """Who wrote a record or asked for a sync: a record's `sync_source` and a sync report's `trigger`.

    Records written by a member-sync `job`, which an API call started, carry `sync_source` `api`.
    """

    # Also a queued sync's `trigger` and the `Trigger` dimension of SyncCompleted/SyncFailed.

    WEBHOOK = "webhook"
    API = "api"  # a manual sync: the sync API (or the operator CLI)
    LOGIN = "login"
    JOB = "job"
    BACKFILL = "backfill"
    RECONCILE = "reconcile"
    FALLBACK = "fallback"  # a provisional record written while Clerk was unreachable

    @property
    def stamp(self) -> SyncSource:
        """The `sync_source` written on the records this source's syncs write."""
        return SyncSource.API if self is SyncSource.JOB else self

    @property
    def priority(self) -> ClerkPriority:
        """Its turn at the shared Clerk rate budget: a login first, bulk work last (docs/decisions/0020)."""
        return _PRIORITY_OF_SOURCE.get(self, ClerkPriority.QUEUED)


class ClerkPriority(StrEnum):
    """Whose request goes first at the one Clerk rate budget every writer shares, highest first."""

    LOGIN = "login"  # the authorizer: a user is waiting for their request
    MANUAL = "manual"  # a sync route or the operator CLI
    # Syncs the worker runs: webhook follow-ups, job steps (a queued heal of a login's provisional record keeps
    # its login source, and so the login's turn).
    QUEUED = "queued"
    BULK = "bulk"  # backfill and reconcile: never more than their share of the limit


_PRIORITY_OF_SOURCE: Final = {
    SyncSource.LOGIN: ClerkPriority.LOGIN,
    SyncSource.API: ClerkPriority.MANUAL,
    SyncSource.BACKFILL: ClerkPriority.BULK,
    SyncSource.RECONCILE: ClerkPriority.BULK,
}


# The sources that ask for syncs in Lambda: the `Trigger` values of SyncCompleted/SyncFailed.
SYNC_TRIGGERS: Final = (SyncSource.API, SyncSource.LOGIN, SyncSource.WEBHOOK, SyncSource.JOB)


class Fallback(StrEnum):
    """What a sync used in place of Clerk's answer when Clerk could not be reached."""

    # Also the login's source (the authorizer context's `loginSource`) and the `Tier` dimension of LoginFallback.

    STALE = "stale"  # the record on file, however old
    PROVISIONAL = "provisional"  # a provisional record from the verified session token, healed by a queued sync


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The body of every error clerk-sync answers over HTTP: `{"error": {"code", "message"}}` (in the OpenAPI
    document: `api.schemas.ErrorBody`)."""
    return {"error": {"code": code, "message": message}}
