"""The `clerk-sync` command line: local tooling around the product (never shipped to Lambda).

Commands are thin: they parse options, call one function of the local tooling, and turn its errors into
a clear message and exit code 1. Heavy imports happen inside the commands, so `--help` stays fast.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from clerk_sync_local.ready import DEFAULT_READY_FILE, ReadyFileError, ReadyInfo, read_ready_file

app = typer.Typer(help="clerk-sync: keep a DynamoDB copy of a Clerk instance correct and fresh.", no_args_is_help=True)
local_app = typer.Typer(help="The local stack: moto, the Clerk emulator, the API gateway and the worker.")
bench_app = typer.Typer(help="Measurements on the local stack.")
app.add_typer(local_app, name="local", no_args_is_help=True)
app.add_typer(bench_app, name="bench", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)

ReadyFileOption = Annotated[Path, typer.Option("--ready-file", help="The running stack's ready file.")]


def fail(message: str) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def _ready(path: Path) -> ReadyInfo:
    try:
        return read_ready_file(path)
    except ReadyFileError as error:
        fail(str(error))


@app.callback()
def main() -> None:
    """Local tooling for clerk-sync."""


@app.command()
def demo(
    duplicates: float = typer.Option(0.3, min=0.0, max=1.0, help="Share of webhooks delivered twice."),
    shuffle_ms: int = typer.Option(150, min=0, help="Window within which webhook deliveries are shuffled."),
    members: int = typer.Option(520, min=501, max=5000, help="Members of the bulk-synced organization."),
) -> None:
    """A scripted tour on a fresh local stack: webhooks, first login, outage, bulk sync; checked against Clerk."""
    from clerk_sync_local.demo import run_demo

    if not run_demo(console, duplicate_probability=duplicates, shuffle_ms=shuffle_ms, members=members):
        raise typer.Exit(code=1)


@local_app.command("up")
def local_up(  # noqa: PLR0917 - typer maps each option to a parameter
    port: int = typer.Option(8787, min=0, max=65535, help="The API gateway's port; 0 picks a free one."),
    clerk_port: int = typer.Option(0, min=0, max=65535, help="The Clerk emulator's port; 0 picks a free one."),
    aws_port: int = typer.Option(0, min=0, max=65535, help="moto's port; 0 picks a free one."),
    seed: bool = typer.Option(True, "--seed/--no-seed", help="Create demo users and organizations."),
    users: int = typer.Option(5, min=0, max=10_000, help="Demo users to seed."),
    orgs: int = typer.Option(2, min=0, max=1_000, help="Demo organizations to seed."),
    ready_file: Annotated[Path, typer.Option(help="Where to write the ready file (JSON).")] = DEFAULT_READY_FILE,
    quiet: bool = typer.Option(False, "--quiet", help="No per-request and per-event lines; warnings only."),
    authorizer_cache_ttl: float | None = typer.Option(
        None, min=0, max=3600, help="Authorizer result cache in seconds (default: the dev stage's 60; 0 = off)."
    ),
    batching_window: float | None = typer.Option(
        None, min=0, max=300, help="The worker's batching window in seconds (default: the deployed 1 s)."
    ),
    retry_delay: int = typer.Option(1, min=0, max=43_200, help="Seconds before a failed message is retried."),
) -> None:
    """Run clerk-sync locally: API, authorizer, webhooks, queue, worker and table, fed by the Clerk emulator."""
    from clerk_sync.resources import EVENT_QUEUE
    from clerk_sync_local.clerk_target import ClerkTargetError, real_clerk_from_environment
    from clerk_sync_local.stack import DEFAULT_AUTHORIZER_CACHE_TTL, LocalStack, StackError
    from clerk_sync_local.stack_banner import print_banner

    try:
        real_clerk = real_clerk_from_environment(os.environ)
    except ClerkTargetError as error:
        fail(str(error))
    stack = LocalStack(
        port=port,
        clerk_port=clerk_port,
        aws_port=aws_port,
        seed=seed,
        users=users,
        orgs=orgs,
        ready_file=ready_file,
        real_clerk=real_clerk,
        quiet=quiet,
        authorizer_cache_ttl=DEFAULT_AUTHORIZER_CACHE_TTL if authorizer_cache_ttl is None else authorizer_cache_ttl,
        batching_window_seconds=EVENT_QUEUE.batching_window_seconds if batching_window is None else batching_window,
        retry_delay_seconds=retry_delay,
    )
    console.print("Starting the local stack…", highlight=False)
    try:
        stack.start()
    except StackError as error:
        fail(str(error))
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print_banner(console, stack, ready_file)
        while not stop.wait(0.5):
            pass
        console.print("Stopping…", highlight=False)
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("Stopped.", highlight=False)


@app.command()
def token(
    user_id: str = typer.Argument(..., help="The Clerk user id (user_...)."),
    org: str | None = typer.Option(None, "--org", help="Active organization (id or slug) for the org claim."),
    expires_in: int = typer.Option(3600, "--expires-in", min=1, help="Lifetime in seconds."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
) -> None:
    """Mint a dev session token from the running Clerk emulator (found via the ready file or CLERK_API_URL)."""
    import httpx

    if ready_file.exists():
        ready = _ready(ready_file)
        if ready.clerk_mode != "emulator" or not ready.emulator_admin_url:
            fail("the stack talks to real Clerk: take a session token from your frontend (getToken())")
        admin_url = ready.emulator_admin_url
    elif os.environ.get("CLERK_API_URL"):
        admin_url = os.environ["CLERK_API_URL"].rstrip("/") + "/_emulator"
    else:
        fail(f"{ready_file} not found and CLERK_API_URL unset: start the stack with `clerk-sync local up`")
    body: dict[str, Any] = {"user_id": user_id, "expires_in": expires_in}
    if org:
        body["org_id"] = org
    try:
        response = httpx.post(f"{admin_url}/tokens", json=body, timeout=5)
    except httpx.HTTPError as error:
        fail(f"the Clerk emulator at {admin_url} did not answer ({type(error).__name__})")
    if response.status_code != 200:
        fail(f"the emulator refused: {_clerk_error(response)}")
    typer.echo(response.json()["jwt"])


def _clerk_error(response: Any) -> str:
    try:
        first = response.json()["errors"][0]
        return f"{first.get('long_message') or first.get('message')} ({first.get('code')}, HTTP {response.status_code})"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


@app.command()
def export(
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")] = None,
) -> None:
    """The stored users, organizations and memberships as JSON lines (sorted by key; tombstones have deleted=true)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from clerk_sync_local.table_views import export_lines, store_for

    store = store_for(_ready(ready_file))
    try:
        lines = list(export_lines(store.scan()))
    except (BotoCoreError, ClientError) as error:
        fail(f"could not read the table: {error}")
    text = "".join(f"{line}\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        errors.print(f"{len(lines)} records written to {output}", highlight=False)


@app.command()
def status(
    user_id: str = typer.Argument(..., help="The Clerk user id (user_...)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """A user's stored record, live memberships and their organizations."""
    from botocore.exceptions import BotoCoreError, ClientError

    from clerk_sync_local.table_views import store_for, user_status

    try:
        found = user_status(store_for(_ready(ready_file)), user_id)
    except (BotoCoreError, ClientError) as error:
        fail(f"could not read the table: {error}")
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, sort_keys=True))
        return
    if found.user is None:
        fail(f"{user_id} is not in the table")
    user = found.user
    state = "[red]deleted (tombstone)[/]" if user.get("deleted") else "[green]live[/]"
    if user.get("provisional"):
        state += " [yellow]provisional[/]"
    summary = Table(title=f"user {user_id}", show_header=False)
    name = " ".join(filter(None, [user.get("first_name"), user.get("last_name")])) or "-"
    for label, value in (
        ("name", name),
        ("email", user.get("primary_email") or "-"),
        ("state", state),
        ("version", str(user.get("version"))),
        ("synced_at", str(user.get("synced_at"))),
        ("sync_source", str(user.get("sync_source"))),
    ):
        summary.add_row(label, value)
    console.print(summary)
    memberships = Table(title=f"{len(found.memberships)} live memberships")
    for column in ("organization", "name", "role", "version", "org state"):
        memberships.add_column(column)
    for item in found.memberships:
        org_id = str(item.get("org_id"))
        org = found.organizations.get(org_id)
        org_state = "missing" if org is None else ("deleted" if org.get("deleted") else "live")
        memberships.add_row(
            org_id, str((org or {}).get("name", "-")), str(item.get("role")), str(item.get("version")), org_state
        )
    console.print(memberships)


@bench_app.command("webhooks")
def bench_webhooks(
    changes: int = typer.Option(500, min=1, max=100_000, help="Emulator changes (webhook events) in the burst."),
    batching_window: float | None = typer.Option(
        None, min=0, max=300, help="The worker's batching window in seconds (default: the deployed 1 s)."
    ),
    interval_ms: int = typer.Option(0, min=0, help="Pause between changes; 0 makes them one burst."),
    timeout: float = typer.Option(600, min=1, help="Give up after this many seconds."),
) -> None:
    """Webhook-to-table latency (p50/p95/max) and throughput for a burst of emulator changes."""
    from clerk_sync.resources import EVENT_QUEUE
    from clerk_sync_local.bench_webhooks import run_webhook_bench

    window = EVENT_QUEUE.batching_window_seconds if batching_window is None else batching_window
    console.print(f"Starting a local stack and making {changes} changes in the emulator…", highlight=False)
    try:
        result = run_webhook_bench(
            changes, batching_window_seconds=window, interval_seconds=interval_ms / 1000, timeout=timeout
        )
    except TimeoutError as error:
        fail(str(error))
    for line in result.summary_lines():
        console.print(line, highlight=False)
    if result.differences:
        fail(f"the table did not converge: {len(result.differences)} differences, first: {result.differences[0]}")


@bench_app.command("startup")
def bench_startup(
    runs: int = typer.Option(3, min=1, max=20, help="How many starts to time."),
    cold: bool = typer.Option(False, "--cold", help="Each start with an empty bytecode cache, as on a fresh clone."),
) -> None:
    """Time `clerk-sync local up` from process start to the ready file, in fresh processes."""
    from clerk_sync_local.bench_startup import measure_startup

    try:
        timings = measure_startup(runs, cold=cold)
    except (TimeoutError, RuntimeError) as error:
        fail(str(error))
    shown = ", ".join(f"{t:.2f}" for t in timings)
    label = "cold" if cold else "warm"
    console.print(f"local up start-up ({label}, process start → ready file): {shown} s", highlight=False)


@bench_app.command("sync")
def bench_sync(
    storm_syncs: int = typer.Option(300, min=1, help="User syncs in the 429 storm (development limit: 100/10 s)."),
) -> None:
    """Clerk calls per full user sync, a 429 storm, the authorizer's cost for a fresh user, handler imports."""
    from clerk_sync_local import bench_sync as measure

    console.print("Full user sync, Clerk requests by membership count:", highlight=False)
    for row in measure.full_sync_calls():
        console.print(
            f"  {row['memberships']:>5} memberships: {row['clerk_calls']} requests (1 + ceil(M/500) = "
            f"{row['expected']}), {row['stored']} stored, {row['seconds']} s",
            highlight=False,
        )
    storm = measure.rate_limit_storm(storm_syncs)
    console.print(
        f"429 storm: {storm['syncs']} syncs from {storm['threads']} threads, {storm['budget_seconds']:.0f} s each, "
        "against 100 requests / 10 s: "
        f"{storm['succeeded']} succeeded, {storm['gave_up']} gave up; {storm['requests']} requests, "
        f"{storm['rate_limited_429']} answered 429, {storm['retries']} retries; backing off "
        f"{storm['backoff_seconds_total']} s in all ({storm['backoff_seconds_per_retry']} s per retry) "
        f"over {storm['wall_seconds']} s",
        highlight=False,
    )
    cost = measure.authorizer_cost()
    console.print(
        f"Authorizer, fresh user, warm: {cost['dynamodb_requests_per_call']:.0f} DynamoDB request(s) "
        f"{cost['dynamodb_operations']}, {cost['clerk_calls']} Clerk calls, p50 {cost['p50_ms']} ms, "
        f"p95 {cost['p95_ms']} ms over {cost['requests']} requests",
        highlight=False,
    )
    console.print("DynamoDB requests per webhook event, as the worker applies it:", highlight=False)
    for event_type, row in measure.dynamodb_requests_per_event().items():
        console.print(f"  {event_type}: {row['requests']} {row['operations']} ({row['outcome']})", highlight=False)
    imports = ", ".join(f"{name.rsplit('.', 1)[-1]} {ms:.0f} ms" for name, ms in measure.cold_imports().items())
    console.print(f"Cold import of the handler modules (median of 7 fresh interpreters): {imports}", highlight=False)


if __name__ == "__main__":
    app()
