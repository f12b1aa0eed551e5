"""SyncService: the one place that turns Clerk data into table writes, for worker, API, authorizer and CLI.

It receives its store, its Clerk client (as a provider, so paths that never call Clerk never build one) and
its queue as arguments, builds no clients and reads no environment, so tests pass moto-backed or fake
collaborators. Every write goes through the version-guarded store, so a manual sync racing a webhook never
loses the newer data (invariant 2). Deadlines are absolute times on the Clerk client's clock.

Clerk request costs: `full_user_sync` is 1 + ceil(M/500) (M memberships; an empty list is one request),
`sync_organization_members` 1 + ceil(N/500), `sync_membership` 1, `sync_user` / `sync_organization` 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from clerk_sync.clerk.errors import (
    ClerkNotFoundError,
    ClerkRateLimitedError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
)
from clerk_sync.items import SyncSource, WriteContext
from clerk_sync.jobs import Job, JobStatus, new_job_id
from clerk_sync.messages import USER_CASCADE_DELAY_SECONDS, QueuedSync, SyncTarget
from clerk_sync.models import (
    Change,
    Envelope,
    Membership,
    MembershipDeleted,
    MembershipUpserted,
    Organization,
    OrganizationDeleted,
    OrganizationUpserted,
    UserDeleted,
    UserUpserted,
    change_from_envelope,
)
from clerk_sync.observability import child_logger
from clerk_sync.queue import EventQueue, QueueUnavailableError
from clerk_sync.reports import ChangeOutcome, Fallback, RoleMismatch, SyncReport, SyncTrigger, change_outcome
from clerk_sync.store import Outcome, SyncStore, WriteResult

if TYPE_CHECKING:
    from clerk_sync.clerk.client import ClerkClient

logger = child_logger()

# What "Clerk cannot be reached" means for the fallbacks: down, slow, rate limiting, or refusing our key.
CLERK_UNREACHABLE = (ClerkUnavailableError, ClerkRateLimitedError, ClerkUnauthorizedError)

MembershipSyncMode = Literal["always", "missing", "never"]

# After Clerk fails a login, the container's next logins go straight to the fallbacks for this long: in an
# outage each would otherwise spend its whole budget waiting. A 429's Retry-After, when longer, wins.
LOGIN_CLERK_PAUSE_SECONDS = 10.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def normalise_role(role: str) -> str:
    """Clerk's role keys carry an `org:` prefix; tokens (v2 `o.rol`) and people often leave it out."""
    return role if role.startswith("org:") else f"org:{role}"


class ClerkNotConfiguredError(RuntimeError):
    """A sync needs Clerk but this service was built without a Clerk client."""


@dataclass(frozen=True)
class SyncOptions:
    """The knobs of SyncSettings that shape the service's decisions."""

    user_freshness_ms: int = 300_000
    membership_sync_on_user_event: MembershipSyncMode = "missing"
    # `always`: at most one queued membership sync per user in this window. `missing`: a request that never
    # completed (lost, or still in the DLQ) may be made again after it.
    membership_sync_window_ms: int = 60_000
    membership_sync_retry_ms: int = 15 * 60_000


@dataclass(frozen=True)
class LoginUser:
    """What `get_or_create_user` found or made: the stored item and where it came from."""

    item: dict[str, Any] | None
    source: Literal["store", "clerk", "stale", "provisional", "deleted"]
    clerk_calls: int = 0

    @property
    def deleted(self) -> bool:
        return self.source == "deleted"

    @property
    def provisional(self) -> bool:
        return bool(self.item and self.item.get("provisional"))


@dataclass(frozen=True)
class MembersSync:
    """The inline part of a member sync; `job` is set when more pages were left to the worker."""

    report: SyncReport
    job: Job | None = None


_SOURCE_BY_TRIGGER = {
    SyncTrigger.API: SyncSource.API,
    SyncTrigger.JOB: SyncSource.API,
    SyncTrigger.CLI: SyncSource.API,
    SyncTrigger.LOGIN: SyncSource.LOGIN,
    SyncTrigger.WEBHOOK: SyncSource.WEBHOOK,
}


class SyncService:
    def __init__(
        self,
        store: SyncStore,
        *,
        clerk: Callable[[], ClerkClient] | None = None,
        queue: EventQueue | None = None,
        options: SyncOptions | None = None,
        clock_ms: Callable[[], int] = _now_ms,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._clerk_provider = clerk
        self._queue = queue
        self._options = options or SyncOptions()
        self._clock_ms = clock_ms
        self._monotonic = monotonic
        self._login_clerk_paused_until = 0.0

    @property
    def store(self) -> SyncStore:
        return self._store

    @property
    def options(self) -> SyncOptions:
        return self._options

    @property
    def clerk(self) -> ClerkClient:
        if self._clerk_provider is None:
            raise ClerkNotConfiguredError("this SyncService has no Clerk client")
        return self._clerk_provider()

    def deadline_in(self, seconds: float) -> float:
        """An absolute deadline `seconds` from now on the Clerk client's clock."""
        return self.clerk.clock() + seconds

    # ---- webhooks (the worker's path) --------------------------------------------------------------

    def apply_event(self, envelope: Envelope, event_id: str | None = None) -> WriteResult:
        """Applies one Clerk webhook event; raises pydantic's `ValidationError` for data that does not fit.

        A tie (same version, different content) is settled by fetching the entity from Clerk; a Clerk error
        there propagates so the queue retries the event.
        """
        change = change_from_envelope(envelope)
        ctx = WriteContext(SyncSource.WEBHOOK, self._clock_ms(), event_id)
        result = self.apply_change(change, ctx)
        if isinstance(change, UserDeleted):
            # Raises if SQS refuses: the retried event cascades again and queues the pass again.
            self._queue_user_cascade(change.user_id, SyncTrigger.WEBHOOK, ctx.now_ms, required=True)
        if result.outcome is Outcome.NEEDS_REFETCH:
            self._refetch(change)
        if isinstance(change, UserUpserted) and result.outcome is Outcome.APPLIED:
            self._request_membership_sync(change.user.id)
        return result

    def apply_change(self, change: Change, ctx: WriteContext) -> WriteResult:
        store = self._store
        match change:
            case UserUpserted(user=user):
                return store.put_user(user, ctx)
            case UserDeleted(user_id=user_id):
                return store.delete_user(user_id, ctx)
            case OrganizationUpserted(organization=org):
                return store.put_organization(org, ctx)
            case OrganizationDeleted(org_id=org_id):
                return store.delete_organization(org_id, ctx)
            case MembershipUpserted(membership=membership):
                return store.put_membership(membership, ctx)
            case MembershipDeleted(membership=membership):
                return store.delete_membership(membership, ctx)
        raise TypeError(f"unknown change {type(change).__name__}")  # pragma: no cover - exhaustive match

    def _refetch(self, change: Change) -> None:
        logger.info("refetching after a version tie", extra={"change": change.kind})
        trigger = SyncTrigger.WEBHOOK
        match change:
            case UserUpserted(user=user):
                self.sync_user(user.id, trigger=trigger)
            case OrganizationUpserted(organization=org):
                self.sync_organization(org.id, trigger=trigger)
            case MembershipUpserted(membership=m) | MembershipDeleted(membership=m):
                self.sync_membership(m.org_id, m.user_id, trigger=trigger)

    def _request_membership_sync(self, user_id: str) -> None:
        """Queues a sync of the user's memberships when the configured mode asks for one, coalesced per user."""
        mode = self._options.membership_sync_on_user_event
        if mode == "never" or self._queue is None:
            return
        missing = mode == "missing"
        window = self._options.membership_sync_retry_ms if missing else self._options.membership_sync_window_ms
        now = self._clock_ms()
        if self._store.request_membership_sync(user_id, now, only_if_never_synced=missing, window_ms=window):
            self._enqueue(
                QueuedSync(target=SyncTarget.USER_ORGANIZATIONS, user_id=user_id, trigger="webhook", requested_at=now)
            )

    # ---- queued syncs (the worker's other path) ---------------------------------------------------------

    def run_queued(self, request: QueuedSync, *, budget_seconds: float | None = None) -> SyncReport:
        """Carries out a sync taken off the queue; `budget_seconds` bounds its Clerk calls (the worker's time)."""
        needs_clerk = request.target is not SyncTarget.USER_CASCADE
        deadline = self.deadline_in(budget_seconds) if budget_seconds is not None and needs_clerk else None
        trigger = SyncTrigger.JOB if request.target is SyncTarget.ORGANIZATION_MEMBERS else SyncTrigger.WEBHOOK
        if request.trigger == SyncTrigger.LOGIN.value:
            trigger = SyncTrigger.LOGIN
        match request.target:
            case SyncTarget.USER:
                return self.full_user_sync(_required(request.user_id, "user_id"), trigger=trigger, deadline=deadline)
            case SyncTarget.USER_ORGANIZATIONS:
                user_id = _required(request.user_id, "user_id")
                return self.sync_user_organizations(user_id, trigger=trigger, deadline=deadline)
            case SyncTarget.ORGANIZATION:
                return self.sync_organization(_required(request.org_id, "org_id"), trigger=trigger, deadline=deadline)
            case SyncTarget.MEMBERSHIP:
                org_id, user_id = _required(request.org_id, "org_id"), _required(request.user_id, "user_id")
                return self.sync_membership(org_id, user_id, trigger=trigger, deadline=deadline)
            case SyncTarget.ORGANIZATION_MEMBERS:
                return self.continue_members_job(_required(request.job_id, "job_id"), request.offset, deadline=deadline)
            case SyncTarget.USER_CASCADE:
                return self._run_user_cascade(_required(request.user_id, "user_id"), trigger)
        raise ValueError(f"unknown sync target {request.target!r}")  # pragma: no cover - exhaustive match

    # ---- users -------------------------------------------------------------------------------------------

    def sync_user(
        self, user_id: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> SyncReport:
        """Fetches the user and stores it; a 404 means Clerk deleted the user: tombstone and cascade."""
        with self._reporting(trigger, user_id=user_id) as (report, ctx):
            self._sync_user_into(report, user_id, ctx, deadline)
        return report

    def get_or_create_user(
        self,
        user_id: str,
        claims: dict[str, Any] | None = None,
        *,
        deadline: float | None = None,
        trigger: SyncTrigger = SyncTrigger.LOGIN,
    ) -> LoginUser:
        """The login path: a fresh stored record costs one read; else Clerk; Clerk unreachable → fallbacks.

        Fallbacks, each logged at WARN: the record on file however old (`stale`), else a provisional record
        from the verified token `claims` (version 0, replaced by any real version) and a queued real sync.
        A user Clerk or the table says is deleted comes back with source `deleted`.
        """
        stored = self._store.get_user(user_id)
        if stored and stored.get("deleted"):
            return LoginUser(stored, "deleted")
        if stored and self._is_fresh(stored):
            return LoginUser(stored, "store")
        ctx = WriteContext(_SOURCE_BY_TRIGGER[trigger], self._clock_ms())
        if (paused := self._login_clerk_pause()) is not None:
            return self._login_fallback(user_id, stored, claims or {}, ctx, error=paused, calls=0)
        clerk = self.clerk
        with clerk.counting() as calls:
            try:
                user = clerk.get_user(user_id, deadline=deadline)
            except ClerkNotFoundError:
                self._delete_user(user_id, ctx, trigger)
                return LoginUser(self._store.get_user(user_id), "deleted", calls.requests)
            except CLERK_UNREACHABLE as error:
                self._pause_login_clerk(error)
                return self._login_fallback(user_id, stored, claims or {}, ctx, error=error, calls=calls.requests)
            result = self._store.put_user(user, ctx, fetched=True)
            if result.outcome is Outcome.TOMBSTONED:
                return LoginUser(self._store.get_user(user_id), "deleted", calls.requests)
            if stored is None or stored.get("provisional"):
                self._first_login_organizations(user_id, ctx, deadline)
        return LoginUser(self._store.get_user(user_id), "clerk", calls.requests)

    def _first_login_organizations(self, user_id: str, ctx: WriteContext, deadline: float | None) -> None:
        """A first login brings the user's organizations along, within the same deadline; else a queued sync."""
        report = SyncReport(trigger=SyncTrigger.LOGIN, user_id=user_id)
        try:
            self._sync_user_organizations_into(report, user_id, ctx, deadline)
        except CLERK_UNREACHABLE as error:
            logger.warning(
                "clerk unreachable at first login: memberships queued", extra={"error": type(error).__name__}
            )
            self._enqueue(
                QueuedSync(
                    target=SyncTarget.USER_ORGANIZATIONS, user_id=user_id, trigger="login", requested_at=ctx.now_ms
                )
            )

    def _login_clerk_pause(self) -> ClerkUnavailableError | None:
        """The error to fall back on at once while logins leave Clerk alone after a failure; None when they may call."""
        if self._monotonic() >= self._login_clerk_paused_until:
            return None
        return ClerkUnavailableError("not called: Clerk failed a login moments ago", operation="Login")

    def _pause_login_clerk(self, error: Exception) -> None:
        retry_after = error.retry_after if isinstance(error, ClerkRateLimitedError) else None
        pause = max(LOGIN_CLERK_PAUSE_SECONDS, retry_after or 0.0)
        self._login_clerk_paused_until = max(self._login_clerk_paused_until, self._monotonic() + pause)

    def _login_fallback(
        self,
        user_id: str,
        stored: dict[str, Any] | None,
        claims: dict[str, Any],
        ctx: WriteContext,
        *,
        error: Exception,
        calls: int,
    ) -> LoginUser:
        reason = type(error).__name__
        if stored is not None:
            logger.warning(
                "clerk unreachable at login: using the stored record", extra={"user_id": user_id, "error": reason}
            )
            return LoginUser(stored, "stale", calls)
        logger.warning(
            "clerk unreachable at login: writing a provisional user", extra={"user_id": user_id, "error": reason}
        )
        fallback_ctx = WriteContext(SyncSource.FALLBACK, ctx.now_ms)
        result = self._store.put_provisional_user(user_id, claims, fallback_ctx)
        if result.outcome is Outcome.TOMBSTONED:
            return LoginUser(self._store.get_user(user_id), "deleted", calls)
        self._enqueue(QueuedSync(target=SyncTarget.USER, user_id=user_id, trigger="login", requested_at=ctx.now_ms))
        return LoginUser(self._store.get_user(user_id), "provisional", calls)

    def _is_fresh(self, item: dict[str, Any]) -> bool:
        if item.get("provisional") or item.get("refetch_requested_at"):
            return False
        synced_at = int(item.get("synced_at", 0))
        return self._clock_ms() - synced_at <= self._options.user_freshness_ms

    def is_fresh(self, item: dict[str, Any]) -> bool:
        """Confirmed recently enough (and not provisional) that a login needs no Clerk call."""
        return self._is_fresh(item)

    def sync_user_organizations(
        self, user_id: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> SyncReport:
        """All of the user's memberships and their organizations from Clerk's embedded pages.

        Memberships on record that Clerk no longer lists are removed. No per-organization fetch.
        """
        with self._reporting(trigger, user_id=user_id) as (report, ctx):
            self._sync_user_organizations_into(report, user_id, ctx, deadline)
        return report

    def full_user_sync(
        self, user_id: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> SyncReport:
        """The user, their organizations and memberships: 1 + ceil(M/500) Clerk requests."""
        with self._reporting(trigger, user_id=user_id) as (report, ctx):
            if self._sync_user_into(report, user_id, ctx, deadline):
                self._sync_user_organizations_into(report, user_id, ctx, deadline)
        return report

    def _sync_user_into(self, report: SyncReport, user_id: str, ctx: WriteContext, deadline: float | None) -> bool:
        """True when the user exists in Clerk (and so has memberships worth syncing)."""
        try:
            user = self.clerk.get_user(user_id, deadline=deadline)
        except ClerkNotFoundError:
            self._user_gone(report, user_id, ctx)
            return False
        result = self._store.put_user(user, ctx, fetched=True)
        report.add("user", user_id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def _sync_user_organizations_into(
        self, report: SyncReport, user_id: str, ctx: WriteContext, deadline: float | None
    ) -> None:
        listed_at = ctx.now_ms
        try:
            listing = self.clerk.list_user_memberships(user_id, deadline=deadline)
        except ClerkNotFoundError:
            if report.found:
                self._user_gone(report, user_id, ctx)
            return
        self._write_memberships(report, listing.items, ctx)
        listed = {m.org_id for m in listing.items}
        for item in self._store.user_memberships(user_id):
            org_id = str(item["org_id"])
            if org_id not in listed and _unrefreshed_since(item, listed_at):
                self._remove_unlisted(report, org_id, user_id, listed_at, ctx)
        self._store.mark_memberships_synced(user_id, ctx.now_ms)

    # ---- organizations -----------------------------------------------------------------------------------

    def sync_organization(
        self, org_id: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> SyncReport:
        """Fetches the organization (by id or slug) and stores it; not found → WARN, tombstone, report."""
        with self._reporting(trigger, org_id=org_id) as (report, ctx):
            self._sync_organization_into(report, org_id, ctx, deadline)
        return report

    def _sync_organization_into(
        self, report: SyncReport, org_id: str, ctx: WriteContext, deadline: float | None
    ) -> bool:
        try:
            org = self.clerk.get_organization(org_id, deadline=deadline)
        except ClerkNotFoundError:
            self._organization_gone(report, org_id, ctx)
            return False
        report.org_id = org.id
        result = self._store.put_organization(org, ctx, fetched=True)
        report.add("organization", org.id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def sync_organization_members(
        self, org_id: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> SyncReport:
        """The organization and all its members, every page inline: 1 + ceil(N/500) Clerk requests."""
        with self._reporting(trigger, org_id=org_id) as (report, ctx):
            if self._sync_organization_into(report, org_id, ctx, deadline):
                listing = self.clerk.list_organization_memberships(org_id, deadline=deadline)
                listed = {m.user_id for m in listing.items}
                self._write_memberships(report, listing.items, ctx)
                self._remove_unlisted_members(report, org_id, ctx.now_ms, ctx, keep=listed)
        return report

    def start_members_sync(
        self, org_id: str, requested_by: str, *, trigger: SyncTrigger = SyncTrigger.API, deadline: float | None = None
    ) -> MembersSync:
        """The organization and its first page of members inline; further pages become a queued job."""
        with self._reporting(trigger, org_id=org_id) as (report, ctx):
            job = None
            if self._sync_organization_into(report, org_id, ctx, deadline):
                org_id = report.org_id or org_id
                page = self.clerk.list_organization_memberships_page(org_id, deadline=deadline)
                self._write_memberships(report, page.items, ctx)
                if page.next_offset is None:
                    listed = {m.user_id for m in page.items}
                    self._remove_unlisted_members(report, org_id, ctx.now_ms, ctx, keep=listed)
                else:
                    job = self._start_job(
                        org_id,
                        requested_by,
                        ctx.now_ms,
                        offset=page.next_offset,
                        synced=len(page.items),
                        total=page.total_count,
                    )
        if job is not None and (checkpoint := job.next_offset) is not None:
            # The first page's requests, known once the report is closed; lost if the worker got there first.
            job = job.model_copy(update={"clerk_calls": report.clerk_calls})
            self._store.save_job(job, expected_offset=checkpoint)
        return MembersSync(report, job)

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
        self._store.create_job(job)
        self._send_job_page(job, offset)
        return job

    def continue_members_job(self, job_id: str, offset: int, *, deadline: float | None = None) -> SyncReport:
        """One page of a member-sync job; a redelivered or out-of-date page message changes nothing."""
        job = self._store.get_job(job_id)
        report = SyncReport(trigger=SyncTrigger.JOB, org_id=job.org_id if job else None)
        if job is None or job.done or job.next_offset != offset:
            logger.info("job page skipped", extra={"job_id": job_id, "offset": offset})
            return report
        with self._reporting(SyncTrigger.JOB, org_id=job.org_id) as (report, ctx):
            page = self.clerk.list_organization_memberships_page(job.org_id, offset=offset, deadline=deadline)
            self._write_memberships(report, page.items, ctx)
            progress: dict[str, Any] = {
                "pages": job.pages + 1,
                "synced": job.synced + len(page.items),
                "total": page.total_count,
                "next_offset": page.next_offset,
                "updated_at": ctx.now_ms,
            }
            if page.next_offset is None:
                self._remove_unlisted_members(report, job.org_id, job.listed_at, ctx, keep=set())
                progress.update(status=JobStatus.SUCCEEDED, removed=job.removed + report.count(ChangeOutcome.REMOVED))
            else:
                # Queue the next page before saving the checkpoint: a lost save re-runs this page (idempotent),
                # a lost message would strand the job.
                self._send_job_page(job, page.next_offset)
        updated = job.model_copy(update={**progress, "clerk_calls": job.clerk_calls + report.clerk_calls})
        self._store.save_job(updated, expected_offset=offset)
        return report

    def fail_job(self, job_id: str, offset: int, reason: str) -> None:
        """Marks a job failed when its page message has used up its deliveries (it waits in the DLQ)."""
        job = self._store.get_job(job_id)
        if job is None or job.done or job.next_offset != offset:
            return
        failed = job.model_copy(update={"status": JobStatus.FAILED, "error": reason, "updated_at": self._clock_ms()})
        self._store.save_job(failed, expected_offset=offset)

    def get_job(self, job_id: str) -> Job | None:
        return self._store.get_job(job_id)

    def _send_job_page(self, job: Job, offset: int) -> None:
        message = QueuedSync(
            target=SyncTarget.ORGANIZATION_MEMBERS,
            org_id=job.org_id,
            job_id=job.job_id,
            offset=offset,
            trigger="job",
            requested_at=self._clock_ms(),
        )
        if self._queue is None:
            raise QueueUnavailableError("no event queue configured for member-sync jobs")
        self._queue.send(message)

    def _remove_unlisted_members(
        self, report: SyncReport, org_id: str, listed_at: int, ctx: WriteContext, *, keep: set[str]
    ) -> None:
        for item in self._store.organization_memberships(org_id):
            user_id = str(item["user_id"])
            if user_id not in keep and _unrefreshed_since(item, listed_at):
                self._remove_unlisted(report, org_id, user_id, listed_at, ctx)

    # ---- memberships ---------------------------------------------------------------------------------------

    def sync_membership(
        self,
        org_id: str,
        user_id: str,
        role: str | None = None,
        *,
        trigger: SyncTrigger = SyncTrigger.API,
        deadline: float | None = None,
    ) -> SyncReport:
        """One membership from Clerk (1 request, organization embedded); Clerk is the source of truth.

        A given `role` that differs from Clerk's is reported as a mismatch; it is stored, provisionally, only
        when Clerk cannot be reached (else the Clerk error propagates).
        """
        wanted = normalise_role(role) if role else None
        with self._reporting(trigger, user_id=user_id, org_id=org_id) as (report, ctx):
            try:
                membership = self.clerk.find_organization_membership(org_id, user_id, deadline=deadline)
            except ClerkNotFoundError:
                self._organization_gone(report, org_id, ctx)
                membership = None
            except CLERK_UNREACHABLE as error:
                if wanted is None:
                    raise
                self._provisional_membership(report, org_id, user_id, ctx, role=wanted, slug=None, error=error)
                return report
            if membership is None:
                report.found = False
                stored = self._store.get_membership(org_id, user_id)
                if stored and not stored.get("deleted"):
                    self._remove_unlisted(report, org_id, user_id, ctx.now_ms, ctx)
            else:
                self._write_memberships(report, [membership], ctx)
            if wanted and wanted != (membership.role if membership else None):
                report.role_mismatch = RoleMismatch(requested=wanted, clerk=membership.role if membership else None)
        return report

    def get_or_create_membership(
        self,
        org_id: str,
        user_id: str,
        *,
        role: str,
        slug: str | None = None,
        deadline: float | None = None,
    ) -> SyncReport | None:
        """The login path for the token's active organization: None when membership and org are on record.

        Otherwise the membership is synced within `deadline`; Clerk unreachable → a provisional membership
        (and organization, if unknown) from the verified token's claims and a queued real sync.
        """
        membership = self._store.get_membership(org_id, user_id)
        if membership and not membership.get("deleted") and self._is_fresh(membership):
            return None
        wanted = normalise_role(role)
        with self._reporting(SyncTrigger.LOGIN, user_id=user_id, org_id=org_id) as (report, ctx):
            try:
                if (paused := self._login_clerk_pause()) is not None:
                    raise paused
                found = self.clerk.find_organization_membership(org_id, user_id, deadline=deadline)
            except CLERK_UNREACHABLE as error:
                self._pause_login_clerk(error)
                if membership is not None and not membership.get("deleted"):
                    logger.warning("clerk unreachable at login: using the stored membership", extra={"org_id": org_id})
                    report.fallbacks.append(Fallback.STALE_RECORD)
                else:
                    self._provisional_membership(report, org_id, user_id, ctx, role=wanted, slug=slug, error=error)
                return report
            except ClerkNotFoundError:
                found = None
            if found is None:
                # The token is a minute old at most; Clerk's word now wins. Leave removal to a real sync.
                report.found = False
            else:
                self._write_memberships(report, [found], ctx)
        return report

    def _provisional_membership(
        self,
        report: SyncReport,
        org_id: str,
        user_id: str,
        ctx: WriteContext,
        *,
        role: str,
        slug: str | None,
        error: Exception,
    ) -> None:
        logger.warning(
            "clerk unreachable: writing a provisional membership",
            extra={"org_id": org_id, "user_id": user_id, "error": type(error).__name__},
        )
        fallback_ctx = WriteContext(SyncSource.FALLBACK, ctx.now_ms)
        org = self._store.put_provisional_organization(org_id, slug, fallback_ctx)
        if org.outcome is Outcome.APPLIED:
            report.add("organization", org_id, ChangeOutcome.PROVISIONAL)
        result = self._store.put_provisional_membership(org_id, user_id, role, fallback_ctx)
        outcome = ChangeOutcome.PROVISIONAL if result.outcome is Outcome.APPLIED else change_outcome(result.outcome)
        report.add("membership", f"{org_id}/{user_id}", outcome)
        report.fallbacks.append(Fallback.PROVISIONAL_MEMBERSHIP)
        if result.outcome is Outcome.APPLIED:
            self._enqueue(
                QueuedSync(
                    target=SyncTarget.MEMBERSHIP, org_id=org_id, user_id=user_id, trigger=report.trigger.value,
                    requested_at=ctx.now_ms,
                )
            )  # fmt: skip

    # ---- shared steps ----------------------------------------------------------------------------------------

    def _user_gone(self, report: SyncReport, user_id: str, ctx: WriteContext) -> None:
        """Clerk has no such user: tombstone ours (and cascade) if we hold any of it; an unknown id is not written."""
        report.found = False
        if self._store.get_user(user_id) is None and not self._store.user_memberships(user_id):
            logger.info("user not found in clerk and not on record", extra={"user_id": user_id})
            return
        logger.warning("user not found in clerk: marking deleted", extra={"user_id": user_id})
        self._delete_user(user_id, ctx, report.trigger)
        report.add("user", user_id, ChangeOutcome.DELETED)

    def _organization_gone(self, report: SyncReport, org_id: str, ctx: WriteContext) -> None:
        """Clerk has no such organization: tombstone ours (and cascade) if we hold anything of it."""
        report.found = False
        known = self._store.get_organization(org_id) is not None or bool(self._store.organization_memberships(org_id))
        if not known:  # a mistyped id or a slug: nothing of ours to mark
            logger.info("organization not found in clerk and not on record", extra={"org_id": org_id})
            return
        logger.warning("organization not found in clerk: marking deleted", extra={"org_id": org_id})
        self._store.delete_organization(org_id, ctx)
        report.add("organization", org_id, ChangeOutcome.DELETED)

    def _write_memberships(self, report: SyncReport, memberships: Sequence[Membership], ctx: WriteContext) -> None:
        """Stores the embedded organizations, then the memberships.

        These writes skip the parents' transaction (too slow for 1,200 memberships), so the parents are checked
        afterwards: anything written under a user or organization deleted meanwhile is cascaded away.
        """
        orgs: dict[str, Organization] = {m.org_id: m.organization for m in memberships}
        deleted_orgs: set[str] = set()
        for org in orgs.values():
            result = self._store.put_organization(org, ctx, fetched=True)
            report.add("organization", org.id, change_outcome(result.outcome))
            if result.outcome is Outcome.TOMBSTONED:
                deleted_orgs.add(org.id)
        for membership in memberships:
            entity_id = f"{membership.org_id}/{membership.user_id}"
            if membership.org_id in deleted_orgs:
                report.add("membership", entity_id, ChangeOutcome.TOMBSTONED)
                continue
            result = self._store.put_membership(membership, ctx, fetched=True)
            report.add("membership", entity_id, change_outcome(result.outcome))
        self._cascade_deleted_parents(report, {m.user_id for m in memberships}, set(orgs), ctx)

    def _remove_unlisted(
        self, report: SyncReport, org_id: str, user_id: str, listed_at: int, ctx: WriteContext
    ) -> None:
        result = self._store.remove_unlisted_membership(org_id, user_id, listed_at, ctx)
        if result.outcome is Outcome.APPLIED:
            report.add("membership", f"{org_id}/{user_id}", ChangeOutcome.REMOVED)

    def _enqueue(self, message: QueuedSync) -> None:
        """Queues a sync for the worker; a refused send is logged, not raised (the caller's answer stands)."""
        if self._queue is None:
            logger.error("no event queue configured: sync not queued", extra={"target": message.target.value})
            return
        try:
            self._queue.send(message)
        except QueueUnavailableError:
            logger.error("sync could not be queued", extra={"target": message.target.value})

    @contextmanager
    def _reporting(
        self, trigger: SyncTrigger, *, user_id: str | None = None, org_id: str | None = None
    ) -> Iterator[tuple[SyncReport, WriteContext]]:
        """A report and write context for one sync; counts its Clerk requests and its duration."""
        started = time.perf_counter()
        report = SyncReport(trigger=trigger, user_id=user_id, org_id=org_id)
        ctx = WriteContext(_SOURCE_BY_TRIGGER[trigger], self._clock_ms())
        with self.clerk.counting() as calls:
            try:
                yield report, ctx
            finally:
                report.clerk_calls = calls.requests
                report.duration_ms = round((time.perf_counter() - started) * 1000, 1)

    # ---- user cascade, second pass (invariant 4; docs/decisions/0004) ------------------------------------------

    def _delete_user(self, user_id: str, ctx: WriteContext, trigger: SyncTrigger) -> WriteResult:
        """Tombstones the user (cascading at once) and queues the delayed second pass of the cascade."""
        result = self._store.delete_user(user_id, ctx)
        self._queue_user_cascade(user_id, trigger, ctx.now_ms)
        return result

    def _cascade_deleted_parents(
        self, report: SyncReport, user_ids: set[str], org_ids: set[str], ctx: WriteContext
    ) -> None:
        """After writes without the parents' transaction: cascade deleted parents now, deleted users again later.

        The memberships just written under a deleted user may not be in GSI1 yet, so the pass now can miss them.
        """
        cascade = self._store.cascade_deleted_parents(user_ids, org_ids)
        for user_id in cascade.deleted_users:
            self._queue_user_cascade(user_id, report.trigger, ctx.now_ms)

    def _queue_user_cascade(self, user_id: str, trigger: SyncTrigger, now_ms: int, *, required: bool = False) -> None:
        """Queues the second pass, delayed past GSI1's lag; `required` raises if SQS refuses, else it is logged."""
        message = QueuedSync(
            target=SyncTarget.USER_CASCADE, user_id=user_id, trigger=trigger.value, requested_at=now_ms
        )
        if self._queue is None:
            logger.error("no event queue configured: cascade pass not queued", extra={"user_id": user_id})
            return
        try:
            self._queue.send(message, delay_seconds=USER_CASCADE_DELAY_SECONDS)
        except QueueUnavailableError:
            if required:
                raise
            logger.error("cascade pass could not be queued", extra={"user_id": user_id})

    def _run_user_cascade(self, user_id: str, trigger: SyncTrigger) -> SyncReport:
        """The queued second pass: removes what GSI1 lists for a deleted user now; no Clerk request."""
        started = time.perf_counter()
        report = SyncReport(trigger=trigger, user_id=user_id)
        for org_id in self._store.cascade_user(user_id):
            report.add("membership", f"{org_id}/{user_id}", ChangeOutcome.REMOVED)
        report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return report


def _unrefreshed_since(item: dict[str, Any], listed_at: int) -> bool:
    """A live record neither written nor confirmed since a listing began at `listed_at` (ms)."""
    return int(item.get("synced_at", 0)) < listed_at and int(item.get("version", 0)) < listed_at


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(f"queued sync is missing {name}")
    return value
