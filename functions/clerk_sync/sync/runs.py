"""Bulk runs as the CLI and the worker use them: start or resume a backfill or reconcile, step it inline, or queue
it to the worker a step per message (`--as-job`, and the scheduled reconcile).

The use cases themselves (sync/backfill.py, sync/reconcile.py) are imported on first use: the login and webhook
paths never pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clerk_sync.observability import child_logger
from clerk_sync.reports import SyncReport
from clerk_sync.vocabulary import SyncSource

if TYPE_CHECKING:
    from clerk_sync.messages import QueuedSync
    from clerk_sync.runs import Run, RunKind
    from clerk_sync.sync.bulk import BulkRun
    from clerk_sync.sync.deps import SyncDeps
    from clerk_sync.sync.writes import Writes

logger = child_logger()


class BulkRuns:
    def __init__(self, deps: SyncDeps, writes: Writes) -> None:
        self._deps = deps
        self._writes = writes

    def runner(self, kind: RunKind, *, dry_run: bool = False) -> BulkRun:
        """The use case running runs of `kind`; a dry run keeps its checkpoints in memory and writes nothing."""
        from clerk_sync.runs import RunKind
        from clerk_sync.store.runs import RunStore
        from clerk_sync.sync.bulk import MemoryRuns, RunLedger

        ledger: RunLedger = MemoryRuns() if dry_run else RunStore(self._deps.store.table)
        if kind is RunKind.BACKFILL:
            from clerk_sync.sync.backfill import Backfill

            return Backfill(self._deps, ledger)
        from clerk_sync.sync.reconcile import Reconcile

        return Reconcile(self._deps, ledger, self._writes)

    def start(
        self,
        kind: RunKind,
        *,
        restart: bool = False,
        as_job: bool = False,
        share: float | None = None,
        dry_run: bool = False,
        page_size: int | None = None,
    ) -> tuple[BulkRun, Run]:
        """Starts (or resumes) a run; `as_job` queues its next step to the worker (not for a dry run, whose
        checkpoints live in this process only)."""
        if as_job and dry_run:
            raise ValueError("a dry run cannot run as a job")
        runner = self.runner(kind, dry_run=dry_run)
        extra = {} if page_size is None else {"page_size": page_size}
        run = runner.start(restart=restart, as_job=as_job, share=share, dry_run=dry_run, **extra)
        if as_job:
            self._deps.follow_ups.run_step(kind.value, run.run_id, run.step, self._deps.clock_ms())
        return runner, run

    def queued_step(self, request: QueuedSync, deadline: float, *, last: bool) -> SyncReport:
        """One step of a run in the worker, then the next one queued. A message without a run (the schedule's)
        starts one or continues the unfinished one; a step already done (a redelivery, a raced runner) is dropped."""
        from clerk_sync.runs import RunKind, RunStatus
        from clerk_sync.sync.bulk import RunRacedError

        kind = RunKind(request.target.value)
        source = SyncSource(kind.value)
        report = SyncReport(trigger=source)
        runner = self.runner(kind)
        if request.job_id is None:
            run = runner.start(as_job=True)
            logger.info("bulk run started by the schedule", extra={"run_id": run.run_id, "kind": kind.value})
        else:
            found = runner.runs.get(request.job_id)
            if found is None or found.status is not RunStatus.RUNNING or found.step != request.offset:
                logger.info("bulk run step already done", extra={"run_id": request.job_id, "step": request.offset})
                return report
            run = found
        try:
            after = runner.step(run, deadline=deadline, stop_on_error=last)
        except RunRacedError:
            logger.info("bulk run step saved by another runner", extra={"run_id": run.run_id, "step": run.step})
            return report
        report.clerk_calls = after.clerk_calls - run.clerk_calls
        if after.status is RunStatus.RUNNING:
            self._deps.follow_ups.run_step(kind.value, after.run_id, after.step, self._deps.clock_ms())
        return report

    def fail(self, target: str, run_id: str, reason: str) -> None:
        """Marks the run failed at its checkpoint: its queued step failed on its last delivery."""
        from clerk_sync.runs import RunKind, RunStatus

        runner = self.runner(RunKind(target))
        found = runner.runs.get(run_id)
        if found is not None and found.status is RunStatus.RUNNING:
            runner.fail(found, reason)
