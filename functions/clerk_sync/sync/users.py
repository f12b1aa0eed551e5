"""User syncs from Clerk: the user alone (1 request), their memberships (ceil(M/500)), or both.

A user Clerk no longer has (404) is tombstoned with its memberships; a membership on record that Clerk no longer
lists is removed (after a walk of several pages, only once a lookup confirms it: sync/walks.py). No
per-organization fetch: Clerk embeds the organization in each membership. Inline, every page is read in the call;
`start_*` reads the first page and leaves the rest to a job of one page per queue message, which is what the API
and the worker use, so that a user with thousands of memberships never holds a request past its budget.
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


class UserSync:
    def __init__(self, deps: SyncDeps, writes: Writes, walks: Walks | None = None) -> None:
        self._deps = deps
        self._writes = writes
        self._walks = walks or Walks(deps, writes)

    def sync_user(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """Fetches the user and stores it; a 404 means Clerk deleted the user: tombstone and cascade."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            self.user_into(run, user_id)
        return run.report

    def sync_user_organizations(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """All of the user's memberships and their organizations from Clerk's embedded pages."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            self.organizations_into(run, user_id)
        return run.report

    def full_user_sync(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """The user, their organizations and memberships: 1 + ceil(M/500) Clerk requests."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            if self.user_into(run, user_id):
                self.organizations_into(run, user_id)
        return run.report

    def start_full_user_sync(
        self, user_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        """The user and the first page of their memberships inline; further pages become a queued job."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            job = self._start_organizations(run, user_id, requested_by) if self.user_into(run, user_id) else None
        return self._walks.started(run.report, job)

    def start_user_organizations_sync(
        self, user_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        """The first page of the user's memberships inline; further pages become a queued job."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            job = self._start_organizations(run, user_id, requested_by)
        return self._walks.started(run.report, job)

    def continue_memberships_job(self, job_id: str, offset: int, *, deadline: float | None = None) -> SyncReport:
        """One step of a user-memberships job; a redelivered or out-of-date message changes nothing."""
        return self._walks.continue_job(job_id, offset, JobKind.USER_MEMBERSHIPS, deadline=deadline)

    def user_into(self, run: SyncRun, user_id: str) -> bool:
        """Stores the user as Clerk has it; True when it exists (and so has memberships worth syncing)."""
        try:
            user = run.clerk.get_user(user_id, deadline=run.deadline)
        except ClerkNotFoundError:
            self._writes.user_gone(run, user_id)
            return False
        result = self._deps.store.put_user(user, run.ctx, fetched=True)
        self._deps.history.synced(result, run.ctx, version=user.updated_at)
        run.report.add("user", user_id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def organizations_into(self, run: SyncRun, user_id: str) -> None:
        """Stores the user's memberships as Clerk lists them, every page inline, and removes those Clerk no
        longer has."""
        try:
            self._walks.walk(run, Scope.user(user_id))
        except ClerkNotFoundError:
            if run.report.found:
                self._writes.user_gone(run, user_id)

    def _start_organizations(self, run: SyncRun, user_id: str, requested_by: str) -> Job | None:
        try:
            return self._walks.start(run, Scope.user(user_id), requested_by)
        except ClerkNotFoundError:
            if run.report.found:
                self._writes.user_gone(run, user_id)
            return None
