"""Organization syncs from Clerk: the organization (by id or slug), all its members inline, or a member-sync job.

A job walks the members one Clerk page (500) per queue message, checkpointing the next offset in its item, so it
survives Lambda timeouts and redeliveries; a redelivered or out-of-date page message changes nothing. Members on
record that a walk of several pages did not list are removed only once Clerk confirms they are gone (sync/walks.py).
Clerk requests: `sync_organization` 1, `sync_organization_members` 1 + ceil(N/500) (+ 1 per 100 to confirm), a
job page 1.
"""

from __future__ import annotations

from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.jobs import Job, JobKind
from clerk_sync.outcomes import Outcome
from clerk_sync.reports import SyncReport, change_outcome
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.walks import Scope, StartedSync, Walks
from clerk_sync.sync.writes import Writes
from clerk_sync.vocabulary import SyncSource


class OrganizationSync:
    def __init__(self, deps: SyncDeps, writes: Writes, walks: Walks | None = None) -> None:
        self._deps = deps
        self._writes = writes
        self._walks = walks or Walks(deps, writes)

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
        self._deps.history.synced(result, run.ctx, version=org.updated_at)
        run.report.add("organization", org.id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def sync_organization_members(
        self, org_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """The organization and all its members, every page inline: 1 + ceil(N/500) Clerk requests, plus the
        confirmation of members on record a walk of several pages did not list (1 per 100)."""
        with self._deps.run(source, org_id=org_id, deadline=deadline) as run:
            if self.organization_into(run, org_id):
                self._walks.walk(run, Scope.organization(run.report.org_id or org_id))
        return run.report

    def start_members_sync(
        self, org_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        """The organization and its first page of members inline; further pages become a queued job."""
        with self._deps.run(source, org_id=org_id, deadline=deadline) as run:
            job = None
            if self.organization_into(run, org_id):
                job = self._walks.start(run, Scope.organization(run.report.org_id or org_id), requested_by)
        return self._walks.started(run.report, job)

    def continue_members_job(self, job_id: str, offset: int, *, deadline: float | None = None) -> SyncReport:
        """One step of a member-sync job; a redelivered or out-of-date message changes nothing."""
        return self._walks.continue_job(job_id, offset, JobKind.ORGANIZATION_MEMBERS, deadline=deadline)

    def fail_job(self, job_id: str, offset: int, reason: str) -> None:
        """Marks a job (of any kind) failed when its step's message has used up its deliveries."""
        self._walks.fail_job(job_id, offset, reason)

    def get_job(self, job_id: str) -> Job | None:
        return self._deps.jobs.get(job_id)
