"""Bulk membership jobs: what is stored about one, and how it maps to its table item.

A job walks one scope's memberships in Clerk, an organization's members or a user's memberships, one Clerk page
(500) per queue message, checkpointing the next offset in its item, so it survives Lambda timeouts and
redeliveries. After the last page it confirms, a bounded number per message, each membership on record the walk
did not list before removing it (docs/decisions/0013). Its item expires a week after the end.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clerk_sync import keys
from clerk_sync.items import JOB_ENTITY, to_dynamo_value

JOB_TTL_SECONDS = 7 * 24 * 3600


class JobStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobKind(StrEnum):
    ORGANIZATION_MEMBERS = "organization_members"  # an organization's members (`org_id`)
    USER_MEMBERSHIPS = "user_memberships"  # a user's memberships, organizations embedded (`user_id`)


class JobStage(StrEnum):
    LISTING = "listing"  # paging through Clerk's list
    CONFIRMING = "confirming"  # asking Clerk about each membership on record the listing did not return


class Job(BaseModel):
    """Progress and checkpoint of one bulk membership sync."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: str = Field(pattern=r"^job_[A-Za-z0-9]+$")
    kind: JobKind = JobKind.ORGANIZATION_MEMBERS
    org_id: str | None = None  # the organization whose members it walks
    user_id: str | None = None  # the user whose memberships it walks
    requested_by: str
    status: JobStatus = JobStatus.RUNNING
    created_at: int  # Unix ms
    updated_at: int
    # When the Clerk listing began (ms): memberships on record that it neither listed nor refreshed are
    # confirmed with Clerk at the end and removed only if Clerk no longer has them.
    listed_at: int
    stage: JobStage = JobStage.LISTING
    # The checkpoint the next message must carry: the Clerk offset of the next page while listing; while
    # confirming, the listing's end plus the memberships checked so far, so it moves forward with every message.
    # None once the job is done.
    next_offset: int | None = 0
    # While confirming: the last scope key (user id or organization id) checked; the next round starts after it.
    checked_through: str | None = None
    pages: int = 0
    synced: int = 0  # memberships written or confirmed
    checked: int = 0  # memberships on record the listing missed, asked about one by one
    kept: int = 0  # of those, the ones Clerk still had (written, not removed)
    removed: int = 0
    total: int | None = None  # Clerk's total_count at the last page
    clerk_calls: int = 0
    error: str | None = None

    @model_validator(mode="after")
    def _scoped(self) -> Job:
        wanted = "org_id" if self.kind is JobKind.ORGANIZATION_MEMBERS else "user_id"
        if not getattr(self, wanted):
            raise ValueError(f"a {self.kind.value} job needs {wanted}")
        return self

    @property
    def done(self) -> bool:
        return self.status is not JobStatus.RUNNING

    @property
    def scope_id(self) -> str:
        """The organization or the user whose memberships the job walks."""
        found = self.org_id if self.kind is JobKind.ORGANIZATION_MEMBERS else self.user_id
        return str(found)


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


def job_item(job: Job) -> dict[str, Any]:
    item: dict[str, Any] = {
        **keys.job_key(job.job_id),
        **keys.job_index_key(job.requested_by, job.job_id),
        **to_dynamo_value(job.model_dump(mode="json")),
        "entity": JOB_ENTITY,
        keys.TTL_ATTRIBUTE: job.updated_at // 1000 + JOB_TTL_SECONDS,
    }
    return item


def job_from_item(item: dict[str, Any]) -> Job:
    return Job.model_validate({name: int(v) if _is_whole(v) else v for name, v in item.items()})


def _is_whole(value: Any) -> bool:
    # DynamoDB hands numbers back as Decimal.
    return isinstance(value, Decimal) and value == value.to_integral_value()
