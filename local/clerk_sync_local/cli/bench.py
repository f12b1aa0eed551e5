"""`clerk-sync bench ...`: measurements on a fresh local stack; they print numbers, never fail on timing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clerk_sync_local.cli.common import console, fail

app = typer.Typer(help="Measurements on the local stack.")


@app.command("webhooks")
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
    from clerk_sync_local.bench.webhooks import run_webhook_bench

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


@app.command("startup")
def bench_startup(
    runs: int = typer.Option(3, min=1, max=20, help="How many starts to time."),
    cold: bool = typer.Option(False, "--cold", help="Each start with an empty bytecode cache, as on a fresh clone."),
) -> None:
    """Time `clerk-sync local up` from process start to the ready file, in fresh processes."""
    from clerk_sync_local.bench.startup import measure_startup

    try:
        timings = measure_startup(runs, cold=cold)
    except (TimeoutError, RuntimeError) as error:
        fail(str(error))
    shown = ", ".join(f"{t:.2f}" for t in timings)
    label = "cold" if cold else "warm"
    console.print(f"local up start-up ({label}, process start → ready file): {shown} s", highlight=False)


@app.command("sync")
def bench_sync(
    storm_syncs: int = typer.Option(300, min=1, help="User syncs in the 429 storm (development limit: 100/10 s)."),
) -> None:
    """Clerk calls per full user sync, a 429 storm, the authorizer's cost for a fresh user, handler imports."""
    from clerk_sync_local.bench import sync as measure

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
        f"{storm['backoff_seconds_total']} s in all ({storm['backoff_seconds_per_retry']} s per retry); "
        f"{storm['budget_waits']} waits for the shared budget, {storm['budget_wait_seconds_total']} s in all; "
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


@app.command("backfill")
def bench_backfill(  # noqa: PLR0917 - typer maps each option to a parameter
    users: int = typer.Option(10_000, min=1, max=100_000, help="Users in the emulator."),
    organizations: int = typer.Option(2_000, min=1, max=20_000, help="Organizations in the emulator."),
    per_org: int = typer.Option(10, min=1, max=100, help="Memberships per organization."),
    share: float = typer.Option(0.5, min=0.05, max=1.0, help="The backfill's share of the development rate limit."),
    login_interval: float = typer.Option(1.0, min=0.05, help="Seconds between fresh logins during the backfill."),
    output: Annotated[Path | None, typer.Option("--output", help="Also write the results as JSON here.")] = None,
) -> None:
    """A backfill at the development rate limit: calls, time against the rate-limit bound, resume overhead after a
    SIGKILL at half, and login latency while it runs."""
    import json
    import tempfile

    from clerk_sync_local.bench.backfill import run_backfill_bench

    console.print(
        f"Starting a local stack with {users:,} users, {organizations:,} organizations, {per_org} members each…",
        highlight=False,
    )
    with tempfile.TemporaryDirectory() as workdir:
        try:
            bench = run_backfill_bench(
                users, organizations, per_org, share=share, login_interval=login_interval, workdir=Path(workdir)
            )
        except RuntimeError as error:
            fail(str(error))
    results = bench.as_json()
    console.print_json(json.dumps(results))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if bench.differences:
        fail(f"the table does not equal the emulator: {bench.differences[:5]}")


@app.command("coldstart")
def bench_coldstart(
    runs: int = typer.Option(10, min=1, max=100, help="Fresh interpreters per handler (and per floor)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON instead of a table."),
    functions_dir: Annotated[
        Path | None, typer.Option("--functions-dir", help="Measure this functions/ tree (e.g. an older revision's).")
    ] = None,
) -> None:
    """Each handler's cold start (import + first event, against moto and the emulator) against the floor of
    `import boto3` and the clients it needs: medians of fresh interpreters."""
    import json

    from clerk_sync_local.bench.coldstart import measure_cold_starts

    console.print(f"Timing {runs} cold starts per handler and per floor on a local stack…", highlight=False)
    try:
        figures = measure_cold_starts(runs, functions_dir)
    except RuntimeError as error:
        fail(str(error))
    if as_json:
        console.print_json(json.dumps(figures))
        return
    console.print(f"{'handler':<11} {'median ms':>9} {'floor ms':>8} {'ratio':>6}  goal", highlight=False)
    for name, row in figures["handlers"].items():
        verdict = "met" if row["met"] else "not met"
        console.print(
            f"{name:<11} {row['median_ms']:>9.1f} {row['floor_ms']:>8.1f} {row['ratio']:>6.2f}  "
            f"{row['goal']} {verdict}",
            highlight=False,
        )
    for name, row in figures["handlers"].items():
        loaded = ", ".join(row["loaded"]) or "none of the watched"
        console.print(f"  {name}: floor = {row['floor']}; its cold start loaded {loaded}", highlight=False)
    console.print(f"Python {figures['python']}, median of {figures['runs']} fresh interpreters each", highlight=False)
