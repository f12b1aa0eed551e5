"""Walks of one scope's memberships in Clerk (an organization's members, or a user's memberships), inline or as a
job of one page per queue message, and the removal of what a walk did not list (docs/decisions/0013).

Clerk pages these lists by offset. A membership that leaves between two pages moves every later one back by one
place, and the one that crosses the page boundary is never read; one that joins moves them forward (one is read
twice, which is harmless). So after a walk of more than one page "not listed" proves nothing. A walk of one page
is one response: what it does not list, Clerk did not have when it answered. After a longer walk each live
membership on record that the walk neither listed nor refreshed (a candidate) is asked about by id: the ones Clerk
still has are written, the others removed. A job asks a bounded number per message, in the order of their key
(the user id in an organization, the organization id for a user), so its rounds always move on.

Clerk requests: 1 per page; confirming an organization's candidates 1 per 100, a user's 1 each.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.clerk.limits import MAX_PAGE_SIZE, MAX_USER_IDS
from clerk_sync.jobs import Job, JobKind, JobStage, JobStatus, new_job_id
from clerk_sync.models import Membership
from clerk_sync.observability import child_logger
from clerk_sync.reports import ChangeOutcome, SyncReport
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.writes import Writes, unrefreshed_since
from clerk_sync.vocabulary import SyncSource

if TYPE_CHECKING:
    from clerk_sync.clerk.client import Page

logger = child_logger()

# What a removal decision reads of each membership on record: a fraction of the item (which carries the member's
# public_user_data), so a user's 1,200 come back in one small query.
MEMBERSHIP_MARKS: Final = ("org_id", "user_id", "membership_id", "version", "synced_at", "provisional")
# A page's memberships are written in chunks of this many, and no further chunk is begun once less than this
# share of the time the writes started with is left before the run's deadline: the rest of the page is left to
# the job (its next step reads from where the writes stopped). A route's deadline is 25 s after it began and the
# gateway cuts at 30 s, so the writes stop beginning chunks about 17 s in, and one more chunk (about 200 writes)
# and the answer fit; a queued step (at most 20 s) stops about 13 s in.
WRITE_CHUNK: Final = 100
WRITE_RESERVE_SHARE: Final = 1 / 3
# Clerk requests one job message may spend confirming candidates: 2,500 of an organization's, 25 of a user's.
# Within a queued sync's budget even at Clerk's development rate limit (100 requests / 10 s).
CONFIRM_REQUESTS_PER_MESSAGE: Final = 25


@dataclass(frozen=True)
class Scope:
    """Whose memberships a walk lists: an organization's (`kind` ORGANIZATION_MEMBERS) or a user's."""

    kind: JobKind
    id: str

    @classmethod
    def organization(cls, org_id: str) -> Scope:
        return cls(JobKind.ORGANIZATION_MEMBERS, org_id)

    @classmethod
    def user(cls, user_id: str) -> Scope:
        return cls(JobKind.USER_MEMBERSHIPS, user_id)

    @property
    def of_organization(self) -> bool:
        return self.kind is JobKind.ORGANIZATION_MEMBERS

    def key(self, org_id: str, user_id: str) -> str:
        """What tells the scope's memberships apart: the user in an organization, the organization for a user."""
        return user_id if self.of_organization else org_id

    def key_of(self, item: dict[str, Any]) -> str:
        return self.key(str(item["org_id"]), str(item["user_id"]))


@dataclass(frozen=True)
class StartedSync:
    """The inline part of a sync that walks memberships; `job` is set when more pages were left to the worker."""

    report: SyncReport
    job: Job | None = None


class Walks:
    def __init__(
        self,
        deps: SyncDeps,
        writes: Writes,
        *,
        page_size: int = MAX_PAGE_SIZE,
        confirm_requests: int = CONFIRM_REQUESTS_PER_MESSAGE,
        write_chunk: int = WRITE_CHUNK,
    ) -> None:
        self._deps = deps
        self._writes = writes
        self._page_size = page_size
        self._confirm_requests = confirm_requests
        self._write_chunk = write_chunk

    # ---- inline -------------------------------------------------------------------------------

    def walk(self, run: SyncRun, scope: Scope) -> None:
        """Every page inline, then the removal of what the walk did not list (confirmed after more than one page).

        ClerkNotFoundError from a page means the organization or user is gone; nothing is written then.
        """
        listed_at = run.ctx.now_ms
        seen: dict[str, Membership] = {}  # a membership read twice (a shift forward) is written once
        offset: int | None = 0
        pages = 0
        while offset is not None:
            page = self._page(run, scope, offset)
            pages += 1
            for membership in page.items:
                seen.setdefault(membership.id, membership)
            offset = page.next_offset
        listed = list(seen.values())
        self._writes.memberships(run, listed)
        if pages == 1:
            self._remove_unlisted(run, scope, listed, listed_at)
        else:
            # What the walk listed is no candidate, written or not (an unchanged one keeps its old synced_at).
            keys = {scope.key(m.org_id, m.user_id) for m in listed}
            self.confirm(run, scope, self.candidates(scope, listed_at, listed=keys), listed_at)
        self._finished(run, scope)

    # ---- as a job -----------------------------------------------------------------------------

    def start(self, run: SyncRun, scope: Scope, requested_by: str) -> Job | None:
        """The first page inline; done if it was the only one (and all of it was written before the deadline
        neared), else a job (returned) walks on from the queue."""
        listed_at = run.ctx.now_ms
        page = self._page(run, scope, 0)
        written, unchanged = self._write_page(run, page)
        next_offset = page.next_offset if written == len(page.items) else written
        if next_offset is None:
            self._remove_unlisted(run, scope, page.items, listed_at)
            self._finished(run, scope)
            return None
        job = Job(
            job_id=new_job_id(),
            kind=scope.kind,
            org_id=scope.id if scope.of_organization else None,
            user_id=None if scope.of_organization else scope.id,
            requested_by=requested_by,
            created_at=listed_at,
            updated_at=listed_at,
            listed_at=listed_at,
            next_offset=next_offset,
            pages=1,
            synced=written,
            total=page.total_count,
        )
        self._deps.jobs.create(job)
        self._keep_listed(job, 0, scope, unchanged)
        self._deps.follow_ups.job_page(job, next_offset, self._deps.clock_ms())
        return job

    def started(self, report: SyncReport, job: Job | None) -> StartedSync:
        """The answer of a started sync, once its run is closed: the first page's Clerk requests join the job."""
        if job is not None and (checkpoint := job.next_offset) is not None:
            # Lost if the worker got there first; the job's count then misses the first page.
            job = job.model_copy(update={"clerk_calls": report.clerk_calls})
            self._deps.jobs.save(job, expected_offset=checkpoint)
        return StartedSync(report, job)

    def continue_job(self, job_id: str, offset: int, kind: JobKind, *, deadline: float | None = None) -> SyncReport:
        """One step of a job: a page, or a round of confirmations. A redelivered or out-of-date message changes
        nothing: the job's checkpoint has moved on."""
        job = self._deps.jobs.get(job_id)
        if job is None or job.done or job.next_offset != offset or job.kind is not kind:
            logger.info("job step skipped", extra={"job_id": job_id, "offset": offset})
            ids = {"org_id": job.org_id, "user_id": job.user_id} if job else {}
            return SyncReport(trigger=SyncSource.JOB, **ids)
        scope = Scope(job.kind, job.scope_id)
        with self._deps.run(SyncSource.JOB, org_id=job.org_id, user_id=job.user_id, deadline=deadline) as run:
            if job.stage is JobStage.LISTING:
                progress = self._list(run, scope, job, offset)
            else:
                progress = self._confirm_round(run, scope, job, offset)
        updated = job.model_copy(
            update={
                **progress,
                "removed": job.removed + run.report.count(ChangeOutcome.REMOVED, "membership"),
                "updated_at": run.ctx.now_ms,
                "clerk_calls": job.clerk_calls + run.report.clerk_calls,
            }
        )
        self._deps.jobs.save(updated, expected_offset=offset)
        return run.report

    def fail_job(self, job_id: str, offset: int, reason: str) -> None:
        """Marks a job failed when its step's message has used up its deliveries (it waits in the DLQ)."""
        job = self._deps.jobs.get(job_id)
        if job is None or job.done or job.next_offset != offset:
            return
        failed = job.model_copy(
            update={"status": JobStatus.FAILED, "error": reason, "updated_at": self._deps.clock_ms()}
        )
        self._deps.jobs.save(failed, expected_offset=offset)

    def _list(self, run: SyncRun, scope: Scope, job: Job, offset: int) -> dict[str, Any]:
        try:
            page = self._page(run, scope, offset)
        except ClerkNotFoundError:
            self._gone(run, scope)
            return {"status": JobStatus.SUCCEEDED, "next_offset": None}
        written, unchanged = self._write_page(run, page)
        self._keep_listed(job, offset, scope, unchanged)
        progress: dict[str, Any] = {
            "pages": job.pages + 1,
            "synced": job.synced + written,
            "total": page.total_count,
        }
        if written < len(page.items):  # out of time: the next step reads on from the first one not written
            return {**progress, "next_offset": self._queue_step(job, offset + written)}
        if page.next_offset is not None:
            return {**progress, "next_offset": self._queue_step(job, page.next_offset)}
        if not self.candidates(scope, job.listed_at, listed=self._deps.jobs.listed(job.job_id)):
            self._finished(run, scope)
            return {**progress, "status": JobStatus.SUCCEEDED, "next_offset": None}
        # Past every page's offset, so a redelivered page message finds the checkpoint moved.
        return {**progress, "stage": JobStage.CONFIRMING, "next_offset": self._queue_step(job, offset + 1)}

    def _confirm_round(self, run: SyncRun, scope: Scope, job: Job, offset: int) -> dict[str, Any]:
        listed = self._deps.jobs.listed(job.job_id)
        left = self.candidates(scope, job.listed_at, after=job.checked_through, listed=listed)
        batch = left[: self._round_size(scope)]
        if not batch:
            self._finished(run, scope)
            return {"status": JobStatus.SUCCEEDED, "next_offset": None}
        try:
            kept = self.confirm(run, scope, batch, job.listed_at)
        except ClerkNotFoundError:  # the organization is gone
            self._gone(run, scope)
            return {"status": JobStatus.SUCCEEDED, "next_offset": None}
        progress: dict[str, Any] = {
            "checked": job.checked + len(batch),
            "kept": job.kept + kept,
            "checked_through": scope.key_of(batch[-1]),
        }
        if len(left) > len(batch):
            return {**progress, "next_offset": self._queue_step(job, offset + len(batch))}
        self._finished(run, scope)
        return {**progress, "status": JobStatus.SUCCEEDED, "next_offset": None}

    def _write_page(self, run: SyncRun, page: Page[Membership]) -> tuple[int, list[Membership]]:
        """Writes the page's memberships in chunks while the run's deadline allows (at least one chunk, so every
        step moves on); returns how many, from the start of the page, it stored (written, or held unchanged), and
        the ones held unchanged."""
        written = 0
        unchanged: list[Membership] = []
        cut = None
        if run.deadline is not None:
            cut = run.deadline - (run.deadline - run.clerk.clock()) * WRITE_RESERVE_SHARE
        while written < len(page.items):
            if written and cut is not None and run.clerk.clock() > cut:
                break
            chunk = page.items[written : written + self._write_chunk]
            unchanged += self._writes.memberships(run, chunk)
            written += len(chunk)
        return written, unchanged

    def _keep_listed(self, job: Job, offset: int, scope: Scope, unchanged: Sequence[Membership]) -> None:
        """Notes the memberships a job's step listed but did not write (unchanged: their synced_at did not move), so
        that the removal check after the last page does not take them for unlisted ones."""
        if unchanged:
            self._deps.jobs.keep_listed(job.job_id, offset, [scope.key(m.org_id, m.user_id) for m in unchanged])

    def _queue_step(self, job: Job, checkpoint: int) -> int:
        # Queued before the checkpoint is saved: a lost save re-runs an idempotent step, a lost message would
        # strand the job.
        self._deps.follow_ups.job_page(job, checkpoint, self._deps.clock_ms())
        return checkpoint

    def _round_size(self, scope: Scope) -> int:
        return self._confirm_requests * (MAX_USER_IDS if scope.of_organization else 1)

    # ---- removals ---------------------------------------------------------------------------

    def candidates(
        self, scope: Scope, listed_at: int, *, after: str | None = None, listed: Set[str] = frozenset()
    ) -> list[dict[str, Any]]:
        """Live memberships on record that a walk begun at `listed_at` neither listed (`listed`: the scope keys of
        those it did not write) nor refreshed, by key."""
        found = [
            item
            for item in self._on_record(scope)
            if unrefreshed_since(item, listed_at)
            and scope.key_of(item) not in listed
            and (after is None or scope.key_of(item) > after)
        ]
        return sorted(found, key=scope.key_of)

    def confirm(self, run: SyncRun, scope: Scope, candidates: Sequence[dict[str, Any]], listed_at: int) -> int:
        """Asks Clerk about each candidate: writes those it has, removes the others; returns how many it had."""
        kept: list[Membership] = []
        if scope.of_organization:
            for start in range(0, len(candidates), MAX_USER_IDS):
                chunk = candidates[start : start + MAX_USER_IDS]
                user_ids = [str(item["user_id"]) for item in chunk]
                found = run.clerk.find_organization_memberships(scope.id, user_ids, deadline=run.deadline)
                kept += self._settle(run, scope, chunk, found, listed_at)
        else:
            for item in candidates:
                try:
                    one = run.clerk.find_organization_membership(str(item["org_id"]), scope.id, deadline=run.deadline)
                except ClerkNotFoundError:  # the organization is gone, and the membership with it
                    one = None
                kept += self._settle(run, scope, [item], [one] if one else [], listed_at)
        if kept:
            self._writes.memberships(run, kept)
        return len(kept)

    def _settle(
        self,
        run: SyncRun,
        scope: Scope,
        asked: Sequence[dict[str, Any]],
        found: Sequence[Membership],
        listed_at: int,
    ) -> list[Membership]:
        """Removes the asked-about memberships Clerk did not return; returns the ones it did."""
        present = {scope.key(m.org_id, m.user_id): m for m in found}
        for item in asked:
            if scope.key_of(item) not in present:
                self._remove(run, item, listed_at)
        return list(present.values())

    def _remove_unlisted(self, run: SyncRun, scope: Scope, listed: Sequence[Membership], listed_at: int) -> None:
        """After a walk of one page (one response): what it did not list, Clerk did not have."""
        keep = {scope.key(m.org_id, m.user_id) for m in listed}
        for item in self._on_record(scope):
            if scope.key_of(item) not in keep and unrefreshed_since(item, listed_at):
                self._remove(run, item, listed_at)

    def _remove(self, run: SyncRun, item: dict[str, Any], listed_at: int) -> None:
        membership_id = item.get("membership_id")
        self._writes.remove_unlisted(
            run,
            str(item["org_id"]),
            str(item["user_id"]),
            listed_at,
            incarnation=str(membership_id) if membership_id else None,
        )

    # ---- the scope ------------------------------------------------------------------------------

    def _page(self, run: SyncRun, scope: Scope, offset: int) -> Page[Membership]:
        clerk, size, deadline = run.clerk, self._page_size, run.deadline
        if scope.of_organization:
            return clerk.list_organization_memberships_page(scope.id, limit=size, offset=offset, deadline=deadline)
        return clerk.list_user_memberships_page(scope.id, limit=size, offset=offset, deadline=deadline)

    def _on_record(self, scope: Scope) -> list[dict[str, Any]]:
        store = self._deps.store
        if scope.of_organization:
            return store.organization_memberships(scope.id, fields=MEMBERSHIP_MARKS)
        return store.user_memberships(scope.id, fields=MEMBERSHIP_MARKS)

    def _gone(self, run: SyncRun, scope: Scope) -> None:
        """Clerk has no such organization or user any more (404 during a job): tombstone and cascade ours."""
        if scope.of_organization:
            self._writes.organization_gone(run, scope.id)
        else:
            self._writes.user_gone(run, scope.id)

    def _finished(self, run: SyncRun, scope: Scope) -> None:
        if not scope.of_organization:
            # The user's memberships are synced: user webhooks need not queue another listing (0006).
            self._deps.claims.mark_synced(scope.id, run.ctx.now_ms)
