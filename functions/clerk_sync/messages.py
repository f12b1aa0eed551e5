"""The messages on the event queue: verified webhooks, and sync requests the worker carries out later."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clerk_sync.vocabulary import SyncSource


class QueuedEvent(BaseModel):
    """A verified Clerk event: the payload as received plus the `svix-id` that correlates and dedups it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["event"] = "event"
    svix_id: str
    received_at: int  # Unix ms, when the webhook receiver accepted it
    event: dict[str, Any]


# How long a user delete's second cascade pass waits. GSI1 (a user's memberships) is eventually consistent:
# a membership written just before the user's tombstone can be missing from the first pass's query. Index
# lag is normally well under a second; a minute leaves a wide margin and still bounds how long such a
# membership can outlive its user (SQS allows up to 900 s).
USER_CASCADE_DELAY_SECONDS = 60


class SyncTarget(StrEnum):
    USER = "user"
    USER_ORGANIZATIONS = "user_organizations"
    ORGANIZATION = "organization"
    MEMBERSHIP = "membership"
    ORGANIZATION_MEMBERS = "organization_members"  # one step (a page or a confirmation round) of a member-sync job
    USER_MEMBERSHIPS = "user_memberships"  # one step of a job walking a user's memberships
    USER_CASCADE = "user_cascade"  # a deleted user's memberships again, sent delayed (GSI1 lag; no Clerk call)
    # One step of a bulk run (`job_id` the run, `offset` its step); without `job_id` (the schedule's message) the
    # worker starts a run or continues the unfinished one.
    BACKFILL = "backfill"
    RECONCILE = "reconcile"


class QueuedSync(BaseModel):
    """A sync to run in the worker: healing a provisional record, a user's memberships, a job's next step
    (`offset` is its checkpoint), or the delayed second pass of a user delete's cascade."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["sync"] = "sync"
    target: SyncTarget
    trigger: SyncSource  # who asked; a metric dimension
    requested_at: int  # Unix ms
    user_id: str | None = None
    org_id: str | None = None
    job_id: str | None = None
    offset: int = Field(default=0, ge=0)

    @property
    def correlation_id(self) -> str:
        return self.job_id or f"sync-{self.target}-{self.org_id or ''}-{self.user_id or ''}-{self.requested_at}"


QueuedMessage = QueuedEvent | QueuedSync


def decode_message(body: str) -> QueuedMessage:
    """The message in an SQS body; raises pydantic's ValidationError (or ValueError) for anything else."""
    data = json.loads(body)
    # Messages queued before sync requests existed carry no `kind`: they are events.
    if isinstance(data, dict) and data.get("kind", "event") == "sync":
        return QueuedSync.model_validate(data)
    return QueuedEvent.model_validate(data)
