"""`backfill` and `reconcile`: bulk runs on a target, inline (in this process) or as a job in its worker.

Progress goes to stderr (a task per list: entities read, rate, ETA), the summary table to stdout, and with
`--json` one JSON summary as the last line. The exit code is 0 only when the run completed; a partial or failed
run says what is left and how to resume.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING, Any, Final

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from clerk_sync_local.cli.common import (
    DEFAULT_READY_FILE,
    CdkJsonOption,
    ReadyFileOption,
    StageOption,
    console,
    errors,
    fail,
    find_target,
)
from clerk_sync_local.cli.records import DEFAULT_CDK_JSON

if TYPE_CHECKING:
    from clerk_sync.runs import Run, RunKind
    from clerk_sync.sync.bulk import BulkRun
    from clerk_sync_local.cli.targets import Target

# An as-job run whose step has not moved for this long is reported stalled (it goes on in the worker).
STALLED_AFTER_SECONDS: Final = 300.0
_POLL_SECONDS: Final = 1.0
_PLAN_SHOWN: Final = 20


def backfill(  # noqa: PLR0917 - typer maps each option to a parameter
    restart: bool = typer.Option(False, "--restart", help="Start over instead of resuming the unfinished run."),
    share: float | None = typer.Option(
        None,
        "--share",
        min=0.05,
        max=1.0,
        help="Most of Clerk's rate limit an inline run may use (default: the stage's CLERK_BULK_SHARE).",
    ),
    as_job: bool = typer.Option(False, "--as-job", help="Run it in the worker, a page per queue message; follow it."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
) -> None:
    """Import every organization, user and membership from Clerk (500 a page), resuming an unfinished run."""
    from clerk_sync.runs import RunKind

    if share is not None and as_job:
        fail("--share applies to an inline run: the worker takes the stage's CLERK_BULK_SHARE; drop one of them")
    target = find_target(ready_file, stage, cdk_json)
    _run(target, RunKind.BACKFILL, restart=restart, share=share, as_job=as_job, dry_run=False, as_json=as_json)


def reconcile(  # noqa: PLR0917 - typer maps each option to a parameter
    dry_run: bool = typer.Option(False, "--dry-run", help="Change nothing; print the drift and the repairs planned."),
    restart: bool = typer.Option(False, "--restart", help="Start over instead of resuming the unfinished run."),
    as_job: bool = typer.Option(False, "--as-job", help="Run it in the worker, a page per queue message; follow it."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary as the last line."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
) -> None:
    """Compare the table with Clerk, report drift by kind and repair it (tombstones only what Clerk confirms gone)."""
    from clerk_sync.runs import RunKind

    if dry_run and as_job:
        fail("--dry-run runs in this process only: drop --as-job")
    target = find_target(ready_file, stage, cdk_json)
    _run(target, RunKind.RECONCILE, restart=restart, share=None, as_job=as_job, dry_run=dry_run, as_json=as_json)


def _run(
    target: Target,
    kind: RunKind,
    *,
    restart: bool,
    share: float | None,
    as_job: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    import logging

    from clerk_sync.clerk.errors import ClerkError
    from clerk_sync.queue import QueueUnavailableError
    from clerk_sync.store import StoreError
    from clerk_sync.sync.bulk import RunRacedError
    from clerk_sync_local.cli.targets import TargetError

    # The runtime's INFO lines would drown the progress display; warnings and errors still show. Its metrics
    # (reconcile's Drift) are the worker's to emit: printed here they would only garble stdout.
    logging.disable(logging.INFO)
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    began = time.monotonic()
    try:
        service = target.sync_service(bulk_share=share)
        runner, run = service.runs.start(kind, restart=restart, as_job=as_job, share=share, dry_run=dry_run)
    except TargetError as error:
        fail(str(error))
    except ClerkError as error:
        fail(f"Clerk refused to start the {kind.value}: {error}")
    except (StoreError, QueueUnavailableError) as error:
        fail(f"could not start the {kind.value} on {target.description}: {error}")
    except RunRacedError as error:
        fail(f"{error}: another runner (the worker, or a second CLI) has it; follow it with --as-job")
    if run.resumed and not as_json:
        errors.print(f"resuming {kind.value} {run.run_id} at step {run.step}", highlight=False)
    stopped_by: str | None = None
    try:
        run, stopped_by = _follow(runner, run, as_job=as_job)
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    finally:
        service.flush_history()  # the run's hourly outcome sums, however it stopped
    summary = _summary(runner, run, time.monotonic() - began, stopped_by)
    _print_summary(summary, kind)
    if as_json:
        typer.echo(json.dumps(summary, sort_keys=True))
    if not summary["complete"]:
        raise typer.Exit(code=1)


def _follow(runner: BulkRun, run: Run, *, as_job: bool) -> tuple[Run, str | None]:
    """Steps the run here (or watches the worker step it) with a progress display; returns why it stopped early."""
    from clerk_sync.clerk.errors import ClerkError
    from clerk_sync.runs import RunStatus
    from clerk_sync.store import StoreError
    from clerk_sync.sync.bulk import RunRacedError

    with Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=errors,
        transient=False,
    ) as progress:
        tasks = {name: progress.add_task(name, total=None, note="") for name in _task_names(run)}
        _show(progress, tasks, run)
        moved_at = time.monotonic()
        while run.status is RunStatus.RUNNING:
            if as_job:
                time.sleep(_POLL_SECONDS)
                latest = runner.get(run.run_id)
                if latest.step != run.step:
                    moved_at = time.monotonic()
                elif time.monotonic() - moved_at > STALLED_AFTER_SECONDS:
                    return latest, f"the worker has not moved the run for {STALLED_AFTER_SECONDS:.0f} s"
                run = latest
            else:
                try:
                    run = runner.step(run)
                except (ClerkError, StoreError) as error:
                    return runner.get(run.run_id) if not run.dry_run else run, f"{type(error).__name__}: {error}"
                except RunRacedError as error:
                    return runner.get(run.run_id), str(error)
            _show(progress, tasks, run)
    return run, None


def _task_names(run: Run) -> list[str]:
    from clerk_sync.runs import LIST_NAMES, RunKind

    return [*LIST_NAMES, "check by id"] if run.kind is RunKind.RECONCILE else list(LIST_NAMES)


def _show(progress: Progress, tasks: dict[str, Any], run: Run) -> None:
    from clerk_sync.sync.bulk import PHASES

    for name, cursor in run.cursors.items():
        total = max(cursor.total, cursor.read) if cursor.total is not None else None
        note = "done" if cursor.done and run.phase > PHASES.index(name) else ""
        progress.update(tasks[name], completed=cursor.read, total=total, note=note)
    if "check by id" in tasks:
        progress.update(tasks["check by id"], completed=run.checked, note="done" if run.done else "")


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


def _summary(runner: BulkRun, run: Run, elapsed: float, stopped_by: str | None) -> dict[str, Any]:
    from clerk_sync.runs import RunStatus
    from clerk_sync.sync.reconcile import Reconcile

    complete = run.status is RunStatus.COMPLETED
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "status": run.status.value,
        "complete": complete,
        "dry_run": run.dry_run,
        "as_job": run.as_job,
        "counts": {entity: counts.model_dump() for entity, counts in run.counts.items()},
        "totals": run.totals().model_dump(),
        "clerk_calls": run.clerk_calls,
        "elapsed_seconds": round(elapsed, 2),
        "run_seconds": round(((run.finished_at or run.updated_at) - run.started_at) / 1000, 2),
        "waited_seconds": run.waited_seconds,
        "pages": sum(c.pages for c in run.cursors.values()),
        "pages_reread": sum(c.reread for c in run.cursors.values()),
        "resumed": run.resumed,
        "step": run.step,
        "error": run.error or stopped_by,
    }
    if isinstance(runner, Reconcile):
        summary["drift"] = dict(run.drift)
        summary["repaired"] = run.repaired
        summary["checked_by_id"] = run.checked
        summary["plan"] = [
            {"kind": p.kind.value, "entity": p.entity, "id": p.id, "action": p.action} for p in runner.plan[:100]
        ]
    if not complete:
        summary["missing"] = _left(run)
    return summary


def _left(run: Run) -> str:
    """What an unfinished run has not done yet, in words."""
    from clerk_sync.sync.bulk import PHASES

    parts = []
    for name, cursor in run.cursors.items():
        if run.phase > PHASES.index(name) and cursor.done:
            continue
        total = f" of {cursor.total:,}" if cursor.total is not None else ""
        parts.append(f"{name} {cursor.read:,}{total} read" if cursor.pages else f"{name} not started")
    if run.kind.value == "reconcile" and not run.done:
        parts.append("the check by id of what the walk did not list" + (" (begun)" if run.scan_key else ""))
    return "; ".join(parts) or "the last step"


def _print_summary(summary: dict[str, Any], kind: RunKind) -> None:
    table = Table(title=f"{kind.value} {summary['run_id']}: {summary['status']}")
    columns = ["created", "updated", "unchanged", "stale", "tombstoned", "failed"]
    if "drift" in summary:
        columns.append("removed")
    table.add_column("records")
    for column in columns:
        table.add_column(column, justify="right")
    for entity, counts in [*summary["counts"].items(), ("total", summary["totals"])]:
        table.add_row(entity, *(f"{counts[c]:,}" for c in columns), style="bold" if entity == "total" else None)
    console.print(table)
    facts = Table(show_header=False, box=None)
    facts.add_row("Clerk calls", f"{summary['clerk_calls']:,}")
    facts.add_row("elapsed", f"{summary['elapsed_seconds']:.1f} s (run {summary['run_seconds']:.1f} s)")
    facts.add_row("waited for Clerk's rate", f"{summary['waited_seconds']:.1f} s")
    facts.add_row(
        "pages", f"{summary['pages']:,} ({summary['pages_reread']} read again), resumed {summary['resumed']}x"
    )
    if "drift" in summary:
        drift = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["drift"].items())) or "none"
        facts.add_row("drift", drift)
        facts.add_row("repaired" if not summary["dry_run"] else "would repair", f"{_planned(summary):,}")
    console.print(facts)
    if summary.get("dry_run") and summary.get("plan"):
        plan = Table(title=f"plan (first {min(_PLAN_SHOWN, len(summary['plan']))})")
        for column in ("drift", "record", "id", "action"):
            plan.add_column(column)
        for entry in summary["plan"][:_PLAN_SHOWN]:
            plan.add_row(entry["kind"], entry["entity"], entry["id"], entry["action"])
        console.print(plan)
    if not summary["complete"]:
        errors.print(f"[bold red]{kind.value} incomplete:[/] {summary['error'] or 'stopped'}", highlight=False)
        errors.print(f"left: {summary['missing']}", highlight=False)
        if not summary["dry_run"]:
            errors.print(f"run `clerk-sync {kind.value}` again to resume it (--restart starts over)", highlight=False)


def _planned(summary: dict[str, Any]) -> int:
    if not summary["dry_run"]:
        return int(summary["repaired"])
    return sum(1 for entry in summary["plan"] if entry["action"] != "report")
