"""`dlq list | show ID | replay [--all | ID...] | purge --yes`: the dead-letter queue of a local stack or a stage.

What each does to SQS is in `clerk_sync.dlq`, purge and move tasks in `clerk_sync_local.dlq` (looking consumes
nothing; a replay sends, then deletes). Each command prints a table, or with `--json` one JSON object as its last
line, and exits 0 only when it did all it was asked: a replay that left something behind exits 1 and says what is
left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, NoReturn

import typer
from rich.table import Table

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

if TYPE_CHECKING:
    from clerk_sync.dlq import DeadLetter, Progress, ReplayResult
    from clerk_sync_local.cli.targets import Target
    from clerk_sync_local.dlq import DeadLetterQueue

DEFAULT_CDK_JSON = Path("cdk.json")
# SQS message ids of standard queues are UUIDs.
MESSAGE_ID: Final = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object (the last line) instead of tables.")]

app = typer.Typer(help="The dead-letter queue: events and syncs that failed every retry, with the worker's last error.")


def _dead_letters(target: Target) -> DeadLetterQueue:
    from clerk_sync.store import FailureNotes
    from clerk_sync_local.dlq import DeadLetterQueue

    return DeadLetterQueue(
        target.aws.client("sqs"),
        dlq_url=target.dlq_url,
        queue_url=target.queue_url,
        notes=FailureNotes(target.table()),
        move_tasks=not target.local_aws,
    )


@contextmanager
def _sqs_errors(target: Target) -> Iterator[None]:
    from clerk_sync.dlq import DeadLetterError

    try:
        yield
    except DeadLetterError as error:
        fail(f"{target.description}: {error}")


def _checked_ids(message_ids: list[str]) -> list[str]:
    bad = [m for m in message_ids if not MESSAGE_ID.fullmatch(m)]
    if bad:
        fail(f"not an SQS message id: {', '.join(bad)} (ids look like 3f9c2a1e-...; `clerk-sync dlq list` shows them)")
    return message_ids


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") if ms else "-"


def _last_error(letter: DeadLetter) -> str:
    if letter.failure is None:
        return "-"
    return f"{letter.failure.reason.error_class}: {letter.failure.reason.message}".rstrip(": ")


def _warn_notes(queue: DeadLetterQueue) -> None:
    if queue.notes_problem:
        errors.print(f"[yellow]warning:[/] {queue.notes_problem}", highlight=False, soft_wrap=True)


@app.command("list")
def list_letters(
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    limit: int = typer.Option(1000, "--limit", min=1, help="Show at most this many."),
    as_json: JsonOption = False,
) -> None:
    """The dead letters, oldest first: type, entity, receives and the worker's last error. Consumes nothing."""
    target = find_target(ready_file, stage, cdk_json)
    queue = _dead_letters(target)
    with _sqs_errors(target):
        letters = queue.peek(limit)
        total = queue.count()
    _warn_notes(queue)
    if as_json:
        summary = {"target": target.description, "count": total, "dead_letters": [x.summary() for x in letters]}
        typer.echo(json.dumps(summary, sort_keys=True))
        return
    table = Table(title=f"{total} dead letter(s) on {target.description}")
    table.add_column("message id", no_wrap=True)
    for column in ("type / entity", "receives", "last error"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        kind = letter.read.what if letter.read.decodes else f"{letter.read.what} [yellow](does not decode)[/]"
        table.add_row(
            letter.message_id, f"{kind}\n{letter.read.entity_id or '-'}", str(letter.receive_count), _last_error(letter)
        )
    console.print(table)
    if len(letters) < total:
        console.print(f"showing {len(letters)} of {total}: pass --limit to see more", highlight=False)


@app.command("show")
def show(
    message_id: str = typer.Argument(..., help="The dead letter's SQS message id (from `dlq list`)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: JsonOption = False,
) -> None:
    """One dead letter: what it is about, the worker's last error, and its body (the Clerk payload: mind where you
    paste it). Consumes nothing."""
    _checked_ids([message_id])
    target = find_target(ready_file, stage, cdk_json)
    queue = _dead_letters(target)
    with _sqs_errors(target):
        found, _ = queue.find([message_id])
    _warn_notes(queue)
    if not found:
        fail(f"no dead letter {message_id} on {target.description} (replayed or purged already? `dlq list` shows all)")
    (letter,) = found
    body = _body(letter.body)
    if as_json:
        summary = {**letter.summary(), "body": body, "attributes": letter.attributes}
        typer.echo(json.dumps({"dead_letter": summary}, sort_keys=True))
        return
    table = Table(title=f"dead letter {letter.message_id}", show_header=False)
    for label, value in (
        ("type", letter.read.what),
        ("entity", letter.read.entity_id or "-"),
        ("svix id", letter.read.svix_id or "-"),
        ("receives", str(letter.receive_count)),
        ("last error", _last_error(letter)),
        ("failed at (UTC)", _when(letter.failure.noted_at if letter.failure else None)),
        ("sent (UTC)", _when(letter.sent_at)),
        ("decodes", "yes" if letter.read.decodes else f"no: {letter.read.problem}"),
    ):
        table.add_row(label, value)
    console.print(table)
    if isinstance(body, dict | list):
        console.print_json(data=body)
    else:
        console.print(body, highlight=False, markup=False)


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@contextmanager
def _progress(label: str) -> Iterator[Progress]:
    """A progress bar on stderr, fed by (done, total) calls."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=errors
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@app.command("replay")
def replay(  # noqa: PLR0917 - typer maps each option to a parameter
    message_ids: Annotated[list[str] | None, typer.Argument(help="Message ids to replay (from `dlq list`).")] = None,
    replay_all: bool = typer.Option(False, "--all", help="Every dead letter (a stage: SQS's StartMessageMoveTask)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: JsonOption = False,
) -> None:
    """Sends dead letters back to the event queue, then deletes them from the DLQ (a duplicate is harmless: events
    and syncs are idempotent). Exits 1 unless every one asked for was moved."""
    ids = _checked_ids(message_ids or [])
    if replay_all == bool(ids):
        fail("name the message ids to replay, or pass --all (not both)")
    target = find_target(ready_file, stage, cdk_json)
    queue = _dead_letters(target)
    with _sqs_errors(target), _progress("replaying") as progress:
        result = queue.replay_all(progress) if replay_all else queue.replay_ids(ids, progress)
    if as_json:
        typer.echo(json.dumps({"target": target.description, **result.summary()}, sort_keys=True))
    else:
        _print_replay(target, result)
    if not result.complete:
        _incomplete(result)


def _print_replay(target: Target, result: ReplayResult) -> None:
    table = Table(title=f"replay on {target.description}", show_header=False)
    table.add_row("method", result.method)
    table.add_row("replayed", f"{result.moved} of {result.requested}")
    if result.missing:
        table.add_row("not on the DLQ", ", ".join(result.missing))
    for message_id, reason in result.failed.items():
        table.add_row(f"failed {message_id}", reason)
    if result.problem:
        table.add_row("problem", result.problem)
    table.add_row("left on the DLQ", str(result.left))
    table.add_row("seconds", f"{result.seconds:.2f}")
    console.print(table)


def _incomplete(result: ReplayResult) -> NoReturn:
    left = []
    if result.missing:
        left.append(f"not on the DLQ: {', '.join(result.missing)}")
    if result.failed:
        left.append(f"not sent (still on the DLQ): {', '.join(result.failed)}")
    if result.problem:
        left.append(result.problem)
    if result.moved < result.requested and not (result.failed or result.missing):
        left.append(f"{result.requested - result.moved} of {result.requested} not moved")
    fail(f"replay incomplete: {'; '.join(left)}; {result.left} dead letter(s) left on the DLQ")


@app.command("purge")
def purge(
    yes: bool = typer.Option(False, "--yes", help="Confirm: the dead letters are deleted for good."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: JsonOption = False,
) -> None:
    """Deletes every dead letter for good (SQS PurgeQueue). Needs --yes; replay what you still need first."""
    if not yes:
        fail("purge deletes every dead letter for good: pass --yes (replay what you need first)")
    target = find_target(ready_file, stage, cdk_json)
    with _sqs_errors(target):
        purged = _dead_letters(target).purge()
    if as_json:
        typer.echo(json.dumps({"target": target.description, "purged": purged}, sort_keys=True))
    else:
        console.print(f"purged {purged} dead letter(s) from {target.description}", highlight=False)
