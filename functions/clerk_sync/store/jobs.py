"""Member-sync jobs in the table: created once, read, and saved only over the checkpoint they started from."""

from __future__ import annotations

import time
from collections.abc import Iterable

from clerk_sync import keys
from clerk_sync.jobs import JOB_TTL_SECONDS, Job, job_from_item, job_item
from clerk_sync.store import conditions as when
from clerk_sync.store.errors import StoreConflictError
from clerk_sync.store.seen import ids_under, keep_ids
from clerk_sync.store.table import Table, placeholders

JOB_LISTED_ENTITY = "job_listed"
RECENT_JOB_ENTITY = "recent_job"
MAX_RECENT_JOBS = 100


def _expiry() -> int:
    return int(time.time()) + JOB_TTL_SECONDS


class JobStore:
    """The `JOB#<id>` items, listed per requester through GSI1."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, job: Job) -> None:
        """Creates the job; a job id is new, so an item equal to this one in the way is this very write, whose answer
        was lost and which the SDK sent again. Any other item under the id is a conflict."""
        item = job_item(job)
        written = self._table.put(item, when.IS_NEW, {})
        if not written.applied and written.old != item:
            raise StoreConflictError(f"job {job.job_id} already exists")
        # After the job: a pointer without its job is never listed (recent() reads the jobs), a job whose pointer
        # failed is only missing from the admin list. Jobs are rare (beyond one page of memberships), so one write.
        pointer = {
            **keys.recent_job_key(job.created_at, job.job_id),
            "entity": RECENT_JOB_ENTITY,
            "job_id": job.job_id,
            keys.TTL_ATTRIBUTE: item[keys.TTL_ATTRIBUTE],
        }
        self._table.put_many([pointer], "recent job pointer")

    def get(self, job_id: str) -> Job | None:
        item = self._table.get(keys.job_key(job_id))
        return job_from_item(item) if item else None

    def save(self, job: Job, *, expected_offset: int) -> bool:
        """Stores the job's new progress if its checkpoint is still `expected_offset`; False if another got there."""
        return self._table.put(job_item(job), when.JOB_AT_CHECKPOINT, placeholders(expected=expected_offset)).applied

    def keep_listed(self, job_id: str, offset: int, listed: Iterable[str]) -> None:
        """The scope keys (user ids of an organization's members, organization ids of a user's memberships) a step
        read from `offset` and did not write; a redelivered step replaces its own. They expire with the job."""
        keep_ids(
            self._table, keys.job_listed_key(job_id, offset), listed, entity=JOB_LISTED_ENTITY, expires_at=_expiry()
        )

    def listed(self, job_id: str) -> set[str]:
        """Every scope key the job's steps noted with `keep_listed`."""
        return ids_under(self._table, keys.JOB_PREFIX + job_id)

    def recent(self, limit: int = 50) -> list[Job]:
        """The newest jobs first, at most `limit` (one Query of the pointers, one BatchGet of the jobs)."""
        pointers = self._table.query_page(
            KeyConditionExpression=f"{keys.PK} = :pk",
            ExpressionAttributeValues=placeholders(pk=keys.RECENT_JOBS_PK),
            ScanIndexForward=False,
            Limit=max(1, min(limit, MAX_RECENT_JOBS)),
        )
        ids = [str(pointer["job_id"]) for pointer in pointers]
        found = {str(item["job_id"]): item for item in self._table.get_many([keys.job_key(i) for i in ids])}
        return [job_from_item(found[i]) for i in ids if i in found]

    def started_by(self, user_id: str) -> list[Job]:
        """The jobs the user started (GSI1, eventually consistent)."""
        found = self._table.query(
            IndexName=keys.GSI1_NAME,
            KeyConditionExpression=f"{keys.GSI1_PK} = :pk AND begins_with({keys.GSI1_SK}, :prefix)",
            ExpressionAttributeValues=placeholders(pk=keys.USER_PREFIX + user_id, prefix=keys.JOB_PREFIX),
        )
        return [job_from_item(item) for item in found]
