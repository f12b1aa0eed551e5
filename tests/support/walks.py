"""Membership walks over a `FakeClerk` and a real (moto) store: the use cases wired by hand, small pages, and a
follow-ups port that keeps job steps in a list the test drains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clerk_sync.items import WriteContext
from clerk_sync.jobs import Job
from clerk_sync.models import Membership
from clerk_sync.reports import SyncReport
from clerk_sync.store import JobStore, MembershipSyncClaims, SyncStore
from clerk_sync.sync.deps import SyncDeps, now_ms
from clerk_sync.sync.instance import InstanceGuard
from clerk_sync.sync.walks import Scope, Walks
from clerk_sync.sync.writes import Writes
from clerk_sync.vocabulary import SyncSource
from tests.support.fake_clerk import FakeClerk

# When the records planted "on record before" were written: a minute before the walk.
EARLIER_MS = 60_000


@dataclass
class StepQueue:
    """The follow-ups port: job steps are kept for the test to run; everything else is dropped."""

    steps: list[tuple[Job, int]] = field(default_factory=list)

    @property
    def delivered(self) -> bool:
        return True

    def sync_user(self, *_: Any) -> None: ...

    def sync_memberships(self, *_: Any) -> None: ...

    def sync_membership(self, *_: Any) -> None: ...

    def cascade_pass(self, *_: Any, required: bool = False) -> None: ...

    def job_page(self, job: Job, offset: int, requested_at: int) -> None:
        self.steps.append((job, offset))

    def run_step(self, *_: Any) -> None: ...


@dataclass
class WalkWorld:
    store: SyncStore
    clerk: FakeClerk
    queue: StepQueue
    walks: Walks
    deps: SyncDeps

    def on_record(self, membership: Membership) -> None:
        """Plants `membership` as an earlier sync left it: live, confirmed a minute ago."""
        ctx = WriteContext(SyncSource.API, now_ms() - EARLIER_MS)
        self.store.put_membership(membership, ctx, fetched=True)

    def walk(self, scope: Scope) -> SyncReport:
        with self.deps.run(SyncSource.API, deadline=None) as run:
            self.walks.walk(run, scope)
        return run.report

    def start(self, scope: Scope, *, deadline: float | None = None) -> Job | None:
        with self.deps.run(SyncSource.API, deadline=deadline) as run:
            job = self.walks.start(run, scope, "user_requester")
        return self.walks.started(run.report, job).job

    def drain(self, *, on_step: Any = None, deadline: float | None = None) -> list[SyncReport]:
        """Runs queued job steps until none is left; `on_step(job, offset)` runs before each."""
        reports = []
        while self.queue.steps:
            job, offset = self.queue.steps.pop(0)
            if on_step is not None:
                on_step(job, offset)
            reports.append(self.walks.continue_job(job.job_id, offset, job.kind, deadline=deadline))
        return reports

    def live(self, scope: Scope) -> set[str]:
        """The scope's keys (user ids of an organization, organization ids of a user) live on record."""
        if scope.of_organization:
            return {str(m["user_id"]) for m in self.store.organization_memberships(scope.id)}
        return {str(m["org_id"]) for m in self.store.user_memberships(scope.id)}


def walk_world(store: SyncStore, *, page_size: int = 3, confirm_requests: int = 2, write_chunk: int = 100) -> WalkWorld:
    clerk = FakeClerk()
    queue = StepQueue()
    deps = SyncDeps(
        store=store,
        jobs=JobStore(store.table),
        claims=MembershipSyncClaims(store.table),
        follow_ups=queue,
        clerk_provider=lambda: clerk,  # duck-typed: the part of ClerkClient walks call
        instance=InstanceGuard(lambda: clerk),  # the fake's key is its own instance's: removals go ahead
    )
    walks = Walks(deps, Writes(deps), page_size=page_size, confirm_requests=confirm_requests, write_chunk=write_chunk)
    return WalkWorld(store, clerk, queue, walks, deps)
