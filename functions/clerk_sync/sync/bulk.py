"""What backfill and reconcile share: a run started or resumed, advanced one Clerk page per step, checkpointed in
the table after each step, whether the CLI runs it or the worker (a step per queue message).

A step reads one page of a list (sync/listings.py says which and whether it can be trusted), hands what it had
not read before to the use case, and saves the run over the step it began from. Killed at any point, the run
continues from its last saved step: at most the page in flight is read (and written, idempotently) again.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Final, Protocol

from clerk_sync.clerk.errors import ClerkError
from clerk_sync.models import Organization, User
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.runs import Counts, Cursor, ListName, Run, RunKind, RunStatus, new_run_id
from clerk_sync.store.errors import StoreError
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.listings import next_request, read_page
from clerk_sync.sync.writes import Listed
from clerk_sync.vocabulary import SyncSource

PAGE_SIZE: Final = 500  # Clerk's largest page
# The three lists, then organizations and users once more from where they stopped: what Clerk created while the
# memberships were walked (a membership's user or organization among them) is read too.
PHASES: Final[tuple[ListName, ...]] = ("organizations", "users", "memberships", "organizations", "users")
_CATCH_UP_FROM: Final = 3
ENTITY_OF: Final[dict[ListName, str]] = {"organizations": "organization", "users": "user", "memberships": "membership"}


class RunLedger(Protocol):
    """Where runs keep their checkpoints: the table (`store.runs.RunStore`), or memory for a dry run."""

    def create(self, run: Run) -> None: ...
    def get(self, run_id: str) -> Run | None: ...
    def current(self, kind: RunKind) -> Run | None: ...
    def save(self, run: Run, *, expected_step: int) -> bool: ...
    def keep_seen(self, run_id: str, page: int, ids: Sequence[str]) -> None: ...
    def seen(self, run_id: str) -> set[str]: ...


class MemoryRuns:
    """A ledger in memory: a dry run changes nothing in the table, its checkpoints included."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._current: dict[RunKind, str] = {}
        self._seen: dict[tuple[str, int], set[str]] = {}

    def create(self, run: Run) -> None:
        self._runs[run.run_id] = run.model_copy(deep=True)
        self._current[run.kind] = run.run_id

    def get(self, run_id: str) -> Run | None:
        found = self._runs.get(run_id)
        return found.model_copy(deep=True) if found else None

    def current(self, kind: RunKind) -> Run | None:
        return self.get(self._current[kind]) if kind in self._current else None

    def save(self, run: Run, *, expected_step: int) -> bool:
        if self._runs[run.run_id].step != expected_step:
            return False
        self._runs[run.run_id] = run.model_copy(deep=True)
        return True

    def keep_seen(self, run_id: str, page: int, ids: Sequence[str]) -> None:
        self._seen[(run_id, page)] = set(ids)

    def seen(self, run_id: str) -> set[str]:
        return {one for (owner, _), ids in self._seen.items() if owner == run_id for one in ids}


class RunRacedError(RuntimeError):
    """Another runner saved this run's step first (a resumed CLI and a queued step, or a redelivery)."""


class RunNotFoundError(LookupError):
    pass


def count_write(counts: Counts, result: WriteResult) -> None:
    match result.outcome:
        case Outcome.APPLIED:
            if result.created:
                counts.created += 1
            else:
                counts.updated += 1
        case Outcome.DUPLICATE:
            counts.unchanged += 1
        case Outcome.TOMBSTONED:
            counts.tombstoned += 1
        case Outcome.STALE | Outcome.NEEDS_REFETCH:
            counts.stale += 1


def entity_name(entity: Listed) -> str:
    if isinstance(entity, User):
        return "user"
    return "organization" if isinstance(entity, Organization) else "membership"


class BulkRun(ABC):
    """A backfill or a reconcile; subclasses say what a listed page does and what follows the lists."""

    kind: RunKind
    source: SyncSource
    _has_after_lists: bool = False  # steps follow the lists (reconcile's checks by id)

    def __init__(self, deps: SyncDeps, runs: RunLedger) -> None:
        self._deps = deps
        self._runs = runs

    @property
    def runs(self) -> RunLedger:
        return self._runs

    def start(
        self,
        *,
        restart: bool = False,
        as_job: bool = False,
        share: float | None = None,
        dry_run: bool = False,
        page_size: int = PAGE_SIZE,
    ) -> Run:
        """The current run of this kind continued where it stopped, or a new one (`restart`, or none unfinished).

        Only with the expected instance's key (0014): another instance's would import its users, and its lists
        would make ours look gone. Raises ClerkInstanceMismatchError then, before anything is read or written.
        """
        self._deps.trust_not_found()
        current = None if restart else self._runs.current(self.kind)
        now = self._deps.clock_ms()
        if current is not None and not current.done and current.dry_run == dry_run:
            resumed = current.model_copy(deep=True)
            resumed.status, resumed.error, resumed.updated_at = RunStatus.RUNNING, None, now
            resumed.resumed += 1
            resumed.as_job, resumed.share = as_job, share if share is not None else current.share
            for counts in resumed.counts.values():
                counts.failed = 0  # what the stop left unwritten is written now
            if not self._runs.save(resumed, expected_step=current.step):
                raise RunRacedError(f"run {current.run_id} moved on while resuming")
            return resumed
        run = Run(
            run_id=new_run_id(),
            kind=self.kind,
            started_at=now,
            updated_at=now,
            as_job=as_job,
            dry_run=dry_run,
            share=share,
            page_size=page_size,
        )
        self._runs.create(run)
        return run

    def get(self, run_id: str) -> Run:
        found = self._runs.get(run_id)
        if found is None:
            raise RunNotFoundError(run_id)
        return found

    def step(self, run: Run, *, deadline: float | None = None, stop_on_error: bool = True) -> Run:
        """One step (a Clerk page, or a round of checks by id), saved over `run.step`. On a Clerk or table error the
        error is raised and, with `stop_on_error` (not for a queued step that will be delivered again), the run
        saved as failed at its last checkpoint; running it again resumes there."""
        if run.status is not RunStatus.RUNNING:
            return run
        with self._deps.run(self.source, deadline=deadline) as sync_run:
            advanced = run.model_copy(deep=True)
            try:
                self._advance(advanced, sync_run)
            except (ClerkError, StoreError) as error:
                if stop_on_error:
                    self._stopped(run, advanced, sync_run, error)
                raise
        advanced.step = run.step + 1
        self._spent(advanced, sync_run)
        if not self._runs.save(advanced, expected_step=run.step):
            raise RunRacedError(f"run {run.run_id} step {run.step} was saved by another runner")
        return advanced

    def fail(self, run: Run, reason: str) -> None:
        """Marks the run failed at its checkpoint (a queued step's last delivery failed)."""
        failed = run.model_copy(
            update={"status": RunStatus.FAILED, "error": reason, "updated_at": self._deps.clock_ms()}
        )
        self._runs.save(failed, expected_step=run.step)

    # ---- the lists ------------------------------------------------------------------------------

    def _advance(self, run: Run, sync_run: SyncRun) -> None:
        if run.phase >= len(PHASES):
            self._after_lists(run, sync_run)
            return
        name = PHASES[run.phase]
        cursor = run.cursors[name]
        keyed = name == "users"
        if cursor.total is None and keyed:
            cursor.total = sync_run.clerk.count_users(deadline=sync_run.deadline)
        request = next_request(cursor, keyed=keyed)
        listed, total = self._list(name, run.page_size, request.offset, request.created_at_after, sync_run)
        read = read_page(cursor, [(e.id, e.created_at) for e in listed], run.page_size, keyed=keyed)
        updated: Cursor = read.cursor
        if total is not None:
            updated.total = total
        elif keyed and updated.total is not None:
            updated.total = max(updated.total, updated.read)
        run.cursors[name] = updated
        if read.fresh is not None:
            fresh = [listed[i] for i in read.fresh]
            try:
                self._listed(run, name, fresh, sync_run)
            except StoreError:
                run.counts[ENTITY_OF[name]].failed += len(fresh)
                raise
        if updated.done:
            run.phase += 1
            if _CATCH_UP_FROM <= run.phase < len(PHASES):
                run.cursors[PHASES[run.phase]].done = False
            if run.phase >= len(PHASES) and not self._has_after_lists:
                self._complete(run)

    def _list(
        self, name: ListName, limit: int, offset: int, after: int | None, sync_run: SyncRun
    ) -> tuple[Sequence[Listed], int | None]:
        clerk, deadline = sync_run.clerk, sync_run.deadline
        order = "+created_at"
        if name == "users":
            users = clerk.list_users(
                limit=limit, offset=offset, order_by=order, created_at_after=after, deadline=deadline
            )
            return users.items, None
        if name == "organizations":
            orgs = clerk.list_organizations(limit=limit, offset=offset, order_by=order, deadline=deadline)
            return orgs.items, orgs.total_count
        members = clerk.list_all_memberships(limit=limit, offset=offset, order_by=order, deadline=deadline)
        return members.items, members.total_count

    @abstractmethod
    def _listed(self, run: Run, name: ListName, fresh: Sequence[Listed], sync_run: SyncRun) -> None:
        """What the run does with entities of one list it had not read before."""

    def _after_lists(self, run: Run, sync_run: SyncRun) -> None:
        """One step once every list is walked (reconcile's checks by id); completes the run when done."""
        self._complete(run)

    def _complete(self, run: Run) -> None:
        run.status = RunStatus.COMPLETED
        run.finished_at = self._deps.clock_ms()

    # ---- bookkeeping ------------------------------------------------------------------------------

    def _spent(self, run: Run, sync_run: SyncRun) -> None:
        spent = sync_run.clerk.spent
        run.clerk_calls += spent.requests
        run.waited_seconds = round(run.waited_seconds + spent.backoff_seconds + spent.budget_wait_seconds, 3)
        run.updated_at = self._deps.clock_ms()

    def _stopped(self, run: Run, advanced: Run, sync_run: SyncRun, error: Exception) -> None:
        """Saves the run failed at the checkpoint it started the step from, with what the step left unwritten."""
        stopped = run.model_copy(deep=True)
        stopped.status, stopped.error = RunStatus.FAILED, f"{type(error).__name__}: {error}"
        for entity, counts in advanced.counts.items():
            stopped.counts[entity].failed = counts.failed
        self._spent(stopped, sync_run)
        with contextlib.suppress(StoreError):  # the table is what failed: the checkpoint before this step stands
            self._runs.save(stopped, expected_step=run.step)
