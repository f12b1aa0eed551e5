"""Syncs the worker takes off the queue: healing provisional records, a user's memberships, job steps, and the
delayed second pass of a user delete's cascade.

A queued sync may spend on Clerk what is left of the invocation, less a reserve for the batch's other records,
and at most a little more than one rate window: a 429 storm delays it instead of failing it. A job step that
failed on its last delivery (it goes to the DLQ next) marks its job failed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from clerk_sync.items import WriteContext
from clerk_sync.messages import QueuedSync, SyncTarget
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.reports import ChangeOutcome, SyncReport
from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.sync.deps import SyncDeps
from clerk_sync.sync.history import CASCADE
from clerk_sync.sync.memberships import MembershipSync
from clerk_sync.sync.organizations import OrganizationSync
from clerk_sync.sync.runs import BulkRuns
from clerk_sync.sync.users import UserSync
from clerk_sync.sync.writes import membership_id
from clerk_sync.vocabulary import Entity, SyncSource

# Left for the batch's other records and for answering SQS when a sync waits out Clerk's rate limit.
SYNC_TIME_RESERVE_SECONDS: Final = 3.0
# Clerk's rate window is 10 s; a sync may wait it out once (Retry-After) within this much of the invocation.
SYNC_BUDGET_SECONDS: Final = 20.0
_MIN_BUDGET_SECONDS: Final = 0.5
_JOB_STEPS: Final = frozenset({SyncTarget.ORGANIZATION_MEMBERS, SyncTarget.USER_MEMBERSHIPS})
_RUN_STEPS: Final = frozenset({SyncTarget.BACKFILL, SyncTarget.RECONCILE})


@dataclass(frozen=True)
class Delivery:
    """How the worker got a queued sync: its receive count and the invocation's remaining time (None: unknown)."""

    receive_count: int = 1
    remaining_ms: int | None = None

    @property
    def last(self) -> bool:
        """The queue's last delivery: a failure now sends the message to the DLQ."""
        return self.receive_count >= EVENT_QUEUE.max_receive_count

    @property
    def budget_seconds(self) -> float:
        """Seconds the sync may spend on Clerk: never past the invocation's end, at most one rate window and more."""
        if self.remaining_ms is None:
            return SYNC_BUDGET_SECONDS
        remaining = self.remaining_ms / 1000 - SYNC_TIME_RESERVE_SECONDS
        return max(_MIN_BUDGET_SECONDS, min(SYNC_BUDGET_SECONDS, remaining))


class QueuedSyncs:
    def __init__(
        self,
        deps: SyncDeps,
        users: UserSync,
        organizations: OrganizationSync,
        memberships: MembershipSync,
        runs: BulkRuns,
    ) -> None:
        self._deps = deps
        self._runs = runs
        self._users = users
        self._organizations = organizations
        self._memberships = memberships

    def run(self, request: QueuedSync, delivery: Delivery | None = None) -> SyncReport:
        if request.target in _RUN_STEPS:
            return self._run_step(request, delivery)
        return self._sync(request, delivery)

    def _run_step(self, request: QueuedSync, delivery: Delivery | None) -> SyncReport:
        budget = SYNC_BUDGET_SECONDS if delivery is None else delivery.budget_seconds
        try:
            return self._runs.queued_step(
                request, self._deps.deadline_in(budget), last=delivery is None or delivery.last
            )
        except Exception as error:
            if request.job_id and (delivery is None or delivery.last):
                self._runs.fail(request.target, request.job_id, f"{type(error).__name__}: {error}")
            raise

    def _sync(self, request: QueuedSync, delivery: Delivery | None) -> SyncReport:
        """Carries out one queued sync; without a `delivery` its Clerk calls get the client's default budget."""
        try:
            return self._run(request, None if delivery is None else delivery.budget_seconds)
        except Exception as error:
            if delivery is not None and delivery.last and request.job_id:
                self._organizations.fail_job(request.job_id, request.offset, f"{type(error).__name__}: {error}")
            raise

    def _run(self, request: QueuedSync, budget_seconds: float | None) -> SyncReport:
        needs_clerk = request.target is not SyncTarget.USER_CASCADE
        deadline = self._deps.deadline_in(budget_seconds) if budget_seconds is not None and needs_clerk else None
        source = SyncSource.JOB if request.target in _JOB_STEPS else SyncSource.WEBHOOK
        if request.trigger is SyncSource.LOGIN:
            source = SyncSource.LOGIN
        match request.target:
            # A user's memberships: the first page here, any further pages as a job of their own messages (the
            # user is its requester), so one message never carries thousands of writes.
            case SyncTarget.USER:
                user_id = _required(request.user_id, "user_id")
                return self._users.start_full_user_sync(user_id, user_id, source=source, deadline=deadline).report
            case SyncTarget.USER_ORGANIZATIONS:
                user_id = _required(request.user_id, "user_id")
                started = self._users.start_user_organizations_sync(user_id, user_id, source=source, deadline=deadline)
                return started.report
            case SyncTarget.ORGANIZATION:
                org_id = _required(request.org_id, "org_id")
                return self._organizations.sync_organization(org_id, source=source, deadline=deadline)
            case SyncTarget.MEMBERSHIP:
                org_id, user_id = _required(request.org_id, "org_id"), _required(request.user_id, "user_id")
                return self._memberships.sync_membership(org_id, user_id, source=source, deadline=deadline)
            case SyncTarget.ORGANIZATION_MEMBERS:
                job_id = _required(request.job_id, "job_id")
                return self._organizations.continue_members_job(job_id, request.offset, deadline=deadline)
            case SyncTarget.USER_MEMBERSHIPS:
                job_id = _required(request.job_id, "job_id")
                return self._users.continue_memberships_job(job_id, request.offset, deadline=deadline)
            case SyncTarget.USER_CASCADE:
                return self._user_cascade(_required(request.user_id, "user_id"), source)
            case SyncTarget.BACKFILL | SyncTarget.RECONCILE:  # pragma: no cover - taken by run()
                raise ValueError("bulk run steps go through run()")
        raise ValueError(f"unknown sync target {request.target!r}")  # pragma: no cover - exhaustive match

    def _user_cascade(self, user_id: str, source: SyncSource) -> SyncReport:
        """The second pass of a user delete's cascade: removes what GSI1 lists for a deleted user now; no Clerk call."""
        started = time.perf_counter()
        report = SyncReport(trigger=source, user_id=user_id)
        removed = self._deps.store.cascade_user(user_id)
        for org_id in removed:
            report.add("membership", membership_id(org_id, user_id), ChangeOutcome.REMOVED)
        if removed:  # on the user's entry, as its delete's cascade is: one entry, not one per membership
            result = WriteResult(Outcome.APPLIED, Entity.USER, user_id, cascaded=len(removed))
            self._deps.history.synced(result, WriteContext(source, self._deps.clock_ms()), change=CASCADE)
        report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return report


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"queued sync is missing {name}")
    return value
