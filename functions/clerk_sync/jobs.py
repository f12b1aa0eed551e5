"""Bulk member-sync jobs: what is stored about one, and how it maps to its table item.

A job walks an organization's memberships one Clerk page (500) per queue message, checkpointing the next
offset in its item, so it survives Lambda timeouts and redeliveries; its item expires a week after the end.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clerk_sync import keys
from clerk_sync.items import JOB_ENTITY, to_dynamo_value

JOB_TTL_SECONDS = 7 * 24 * 3600


class JobStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Job(BaseModel):
    """Progress and checkpoint of one bulk member sync."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    job_id: str = Field(pattern=r"^job_[A-Za-z0-9]+$")
    kind: Literal["organization_members"] = "organization_members"
    org_id: str
    requested_by: str
    status: JobStatus = JobStatus.RUNNING
    created_at: int  # Unix ms
    updated_at: int
    # When the Clerk listing began (ms): members on record that it did not refresh are removed at the end.
    listed_at: int
    next_offset: int | None = 0
    pages: int = 0
    synced: int = 0  # memberships written or confirmed
    removed: int = 0
    total: int | None = None  # Clerk's total_count at the last page
    clerk_calls: int = 0
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status is not JobStatus.RUNNING


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
