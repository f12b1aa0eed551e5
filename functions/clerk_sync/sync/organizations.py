"""Organization syncs from Clerk: the organization (by id or slug), all its members inline, or a member-sync job.

A job walks the members one Clerk page (500) per queue message, checkpointing the next offset in its item, so it
survives Lambda timeouts and redeliveries; a redelivered or out-of-date page message changes nothing. Clerk
requests: `sync_organization` 1, `sync_organization_members` 1 + ceil(N/500), a job page 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.jobs import Job, JobStatus, new_job_id
from clerk_sync.observability import child_logger
from clerk_sync.outcomes import Outcome
from clerk_sync.reports import ChangeOutcome, SyncReport, change_outcome
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.writes import Writes
from clerk_sync.vocabulary import SyncSource

logger = child_logger()


@dataclass(frozen=True)
class MembersSync:
    """The inline part of a member sync; `job` is set when more pages were left to the worker."""

    report: SyncReport
    job: Job | None = None


class OrganizationSync:
    def __init__(self, deps: SyncDeps, writes: Writes) -> None:
        self._deps = deps
        self._writes = writes

    def sync_organization(
        self, org_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """Fetches the organization (by id or slug) and stores it; not found → WARN, tombstone, report."""
        with self._deps.run(source, org_id=org_id, deadline=deadline) as run:
            self.organization_into(run, org_id)
        return run.report

    def organization_into(self, run: SyncRun, org_id: str) -> bool:
        """Stores the organization as Clerk has it; True when it exists and is not deleted on our side."""
        try:
            org = run.clerk.get_organization(org_id, deadline=run.deadline)
        except ClerkNotFoundError:
            self._writes.organization_gone(run, org_id)
            return False
        run.report.org_id = org.id
        result = self._deps.store.put_organization(org, run.ctx, fetched=True)
        run.report.add("organization", org.id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def sync_organization_members(
        self, org_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """The organization and all its members, every page inline: 1 + ceil(N/500) Clerk requests."""
        with self._deps.run(source, org_id=org_id, deadline=deadline) as run:
            if self.organization_into(run, org_id):
                listing = run.clerk.list_organization_memberships(org_id, deadline=deadline)
                listed = {m.user_id for m in listing.items}
                self._writes.memberships(run, listing.items)
                self._writes.remove_unlisted_members(run, org_id, run.ctx.now_ms, keep=listed)
        return run.report

    def start_members_sync(
        self, org_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> MembersSync:
        """The organization and its first page of members inline; further pages become a queued job."""
        with self._deps.run(source, org_id=org_id, deadline=deadline) as run:
            job = None
            if self.organization_into(run, org_id):
                org_id = run.report.org_id or org_id
                page = run.clerk.list_organization_memberships_page(org_id, deadline=deadline)
                self._writes.memberships(run, page.items)
                if page.next_offset is None:
                    listed = {m.user_id for m in page.items}
                    self._writes.remove_unlisted_members(run, org_id, run.ctx.now_ms, keep=listed)
                else:
                    job = self._start_job(
                        org_id,
                        requested_by,
                        run.ctx.now_ms,
                        offset=page.next_offset,
                        synced=len(page.items),
                        total=page.total_count,
                    )
        if job is not None and (checkpoint := job.next_offset) is not None:
            # The first page's requests, known once the report is closed; lost if the worker got there first.
            job = job.model_copy(update={"clerk_calls": run.report.clerk_calls})
            self._deps.jobs.save(job, expected_offset=checkpoint)
        return MembersSync(run.report, job)

    def continue_members_job(self, job_id: str, offset: int, *, deadline: float | None = None) -> SyncReport:
        """One page of a member-sync job; a redelivered or out-of-date page message changes nothing."""
        job = self._deps.jobs.get(job_id)
        if job is None or job.done or job.next_offset != offset:
            logger.info("job page skipped", extra={"job_id": job_id, "offset": offset})
            return SyncReport(trigger=SyncSource.JOB, org_id=job.org_id if job else None)
        with self._deps.run(SyncSource.JOB, org_id=job.org_id, deadline=deadline) as run:
            page = run.clerk.list_organization_memberships_page(job.org_id, offset=offset, deadline=deadline)
            self._writes.memberships(run, page.items)
            progress: dict[str, Any] = {
                "pages": job.pages + 1,
                "synced": job.synced + len(page.items),
                "total": page.total_count,
                "next_offset": page.next_offset,
                "updated_at": run.ctx.now_ms,
            }
            if page.next_offset is None:
                self._writes.remove_unlisted_members(run, job.org_id, job.listed_at, keep=set())
                removed = job.removed + run.report.count(ChangeOutcome.REMOVED)
                progress.update(status=JobStatus.SUCCEEDED, removed=removed)
            else:
                # Queue the next page before saving the checkpoint: a lost save re-runs this page (idempotent),
                # a lost message would strand the job.
                self._deps.follow_ups.job_page(job.job_id, job.org_id, page.next_offset, self._deps.clock_ms())
        updated = job.model_copy(update={**progress, "clerk_calls": job.clerk_calls + run.report.clerk_calls})
        self._deps.jobs.save(updated, expected_offset=offset)
        return run.report

    def fail_job(self, job_id: str, offset: int, reason: str) -> None:
        """Marks a job failed when its page message has used up its deliveries (it waits in the DLQ)."""
        job = self._deps.jobs.get(job_id)
        if job is None or job.done or job.next_offset != offset:
            return
        failed = job.model_copy(
            update={"status": JobStatus.FAILED, "error": reason, "updated_at": self._deps.clock_ms()}
        )
        self._deps.jobs.save(failed, expected_offset=offset)

    def get_job(self, job_id: str) -> Job | None:
        return self._deps.jobs.get(job_id)

    def _start_job(
        self, org_id: str, requested_by: str, now: int, *, offset: int, synced: int, total: int | None
    ) -> Job:
        job = Job(
            job_id=new_job_id(),
            org_id=org_id,
            requested_by=requested_by,
            created_at=now,
            updated_at=now,
            listed_at=now,
            next_offset=offset,
            pages=1,
            synced=synced,
            total=total,
        )
        self._deps.jobs.create(job)
        self._deps.follow_ups.job_page(job.job_id, org_id, offset, self._deps.clock_ms())
        return job
