"""Request and response bodies of the sync routes; the OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from clerk_sync.jobs import Job
from clerk_sync.reports import SyncReport

# Clerk's id forms; anything else is a 400 before any Clerk call or table read.
USER_ID_PATTERN: Final = r"^user_[A-Za-z0-9]{1,64}$"
ORG_ID_PATTERN: Final = r"^org_[A-Za-z0-9]{1,64}$"
JOB_ID_PATTERN: Final = r"^job_[A-Za-z0-9]{1,64}$"
# A role key as Clerk writes it (`org:admin`), or without the prefix as session tokens carry it.
ROLE_PATTERN: Final = r"^(org:)?[A-Za-z0-9_-]{1,64}$"


class MembershipSyncRequest(BaseModel):
    """POST /api/sync/membership: the membership to sync, and the role the caller believes it has (compared with
    Clerk's and reported as a mismatch; never stored)."""

    model_config = ConfigDict(extra="forbid")

    clerkOrgId: str = Field(pattern=ORG_ID_PATTERN)  # noqa: N815 - the API's documented field names
    clerkUserId: str = Field(pattern=USER_ID_PATTERN)  # noqa: N815
    role: str | None = Field(default=None, pattern=ROLE_PATTERN)


class MembersSyncResult(BaseModel):
    """The inline first page of a member sync; `job` is set (and the status 202) when more pages follow."""

    report: SyncReport
    job: Job | None = None
    status_url: str | None = None


class UserSyncResult(SyncReport):
    """A user sync's inline part: the report's fields, and `job` / `status_url` (status 202) when the user's
    memberships span more than one Clerk page and a job reads the rest."""

    job: Job | None = None
    status_url: str | None = None


class MembershipStatus(BaseModel):
    org_id: str
    role: str | None = None
    stale: bool
    provisional: bool
    membership: dict[str, Any]
    organization: dict[str, Any] | None = None


class SyncStatus(BaseModel):
    """GET /api/sync/status: the caller's record, their organizations and memberships, and their pending jobs."""

    user_id: str
    user: dict[str, Any] | None = None  # synced_at, sync_source, version, last_event_id, ... and the Clerk fields
    stale: bool
    provisional: bool
    memberships: list[MembershipStatus] = Field(default_factory=list)
    pending_jobs: list[Job] = Field(default_factory=list)
    # When the worker last processed a Clerk webhook (Unix ms; each container notes it at most once a minute), and
    # how long ago that was; both null before the first.
    last_webhook_at: int | None = None
    seconds_since_last_webhook: int | None = None


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail
