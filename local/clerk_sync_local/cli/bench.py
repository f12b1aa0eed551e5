"""`clerk-sync bench ...`: measurements on a fresh local stack; they print numbers, never fail on timing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clerk_sync_local.cli.common import console, fail

app = typer.Typer(help="Measurements on the local stack.")
DEFAULT_RESULTS = Path("bench/results")


@app.command("all")
def bench_all(  # noqa: PLR0917 - typer maps each option to a parameter
    events: int = typer.Option(1000, min=10, max=100_000, help="Emulator changes in the webhook burst (each side)."),
    workers: int = typer.Option(5, min=1, max=32, help="clerk-sync's worker batches at once (the stage default)."),
    baseline_workers: int = typer.Option(1, min=1, max=32, help="The baseline's workers (it is only correct with 1)."),
    deliveries: int = typer.Option(
        10, min=1, max=32, help="Webhook deliveries the emulator has in flight at once (Svix sends concurrently)."
    ),
    clerk_latency_ms: int = typer.Option(
        50, min=0, max=2000, help="Clerk's API round trip in the burst's second run (0: one run, Clerk instant)."
    ),
    users: int = typer.Option(1000, min=30, max=100_000, help="Users in the backfill."),
    organizations: int = typer.Option(200, min=1, max=20_000, help="Organizations in the backfill."),
    per_org: int = typer.Option(10, min=1, max=100, help="Memberships per organization in the backfill."),
    storm_syncs: int = typer.Option(300, min=1, help="User syncs in the 429 storm."),
    cold_share: float = typer.Option(0.01, min=0, max=1, help="Share of invocations that start cold (cost model)."),
    only: Annotated[str, typer.Option(help="Comma-separated sections to run (default: all).")] = "",
    set_: Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE for plugged sections.")] = None,
    output: Annotated[Path, typer.Option(help="Where latest.json, report.md and the PNGs go.")] = DEFAULT_RESULTS,
) -> None:
    """Every measurement in one run, each figure against its goal (a ratio to the baseline, a floor or a bound):
    a table here, latest.json and a Markdown report with plots. Never fails on timing."""
    import time

    from clerk_sync_local.bench.harness import BenchOptions, run_sections, section_functions
    from clerk_sync_local.bench.report import print_table, write_report

    params = dict(item.split("=", 1) for item in set_ or [] if "=" in item)
    options = BenchOptions(
        events=events,
        workers=workers,
        baseline_workers=baseline_workers,
        deliveries=deliveries,
        clerk_latency_ms=clerk_latency_ms,
        users=users,
        organizations=organizations,
        per_org=per_org,
        storm_syncs=storm_syncs,
        cold_share=cold_share,
        params=params,
    )
    names = [name.strip() for name in only.split(",") if name.strip()]
    functions = section_functions(names or None)
    if not functions:
        fail(f"no such section: {only}")
    started = time.time()
    sections = run_sections(
        functions, options, progress=lambda name: console.print(f"[bold]bench {name}[/bold]…", highlight=False)
    )
    print_table(console, sections)
    report = write_report(sections, output, options.as_json(), started)
    console.print(f"Report: {report} ({time.time() - started:.0f} s)", highlight=False)


@app.command("webhooks")
def bench_webhooks(
    changes: int = typer.Option(500, min=1, max=100_000, help="Emulator changes (webhook events) in the burst."),
    batching_window: float | None = typer.Option(
        None, min=0, max=300, help="The worker's batching window in seconds (default: the deployed 1 s)."
    ),
    interval_ms: int = typer.Option(0, min=0, help="Pause between changes; 0 makes them one burst."),
    timeout: float = typer.Option(600, min=1, help="Give up after this many seconds."),
    workers: int = typer.Option(1, min=1, max=32, help="Worker batches at once (the local stack's concurrency)."),
) -> None:
    """Webhook-to-table latency (p50/p95/max) and throughput for a burst of emulator changes."""
    from clerk_sync.resources import EVENT_QUEUE
    from clerk_sync_local.bench.webhooks import run_webhook_bench

    window = EVENT_QUEUE.batching_window_seconds if batching_window is None else batching_window
    console.print(f"Starting a local stack and making {changes} changes in the emulator…", highlight=False)
    try:
        result = run_webhook_bench(
            changes,
            batching_window_seconds=window,
            interval_seconds=interval_ms / 1000,
            timeout=timeout,
            worker_concurrency=workers,
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
    console.print("DynamoDB requests per webhook event, as the worker applies it (history off; + history on):",
                  highlight=False)  # fmt: skip
    for event_type, row in measure.dynamodb_requests_per_event().items():
        console.print(
            f"  {event_type}: {row['requests']} {row['operations']} ({row['outcome']}) + {row['history_requests']}",
            highlight=False,
        )
    imports = ", ".join(f"{name.rsplit('.', 1)[-1]} {ms:.0f} ms" for name, ms in measure.cold_imports().items())
    console.print(f"Cold import of the handler modules (median of 7 fresh interpreters): {imports}", highlight=False)


@app.command("moto")
def bench_moto(
    sizes: str = typer.Option("0,10000,50000", help="Table sizes (items), comma-separated."),
    repeats: int = typer.Option(15, min=1, max=200, help="Requests of each shape per size (the median is shown)."),
    plain: bool = typer.Option(True, "--plain/--no-plain", help="Also measure moto's own, unindexed code."),
    output: Annotated[Path | None, typer.Option("--output", help="Also write the results as JSON here.")] = None,
) -> None:
    """What one DynamoDB request of each shape the product makes costs on the local stack's moto as its table
    grows, against moto's own code."""
    import json

    from rich.table import Table

    from clerk_sync_local.bench.moto_growth import SHAPES, measure_growth

    try:
        wanted = sorted({int(size) for size in sizes.split(",") if size.strip()})
    except ValueError:
        fail(f"--sizes takes whole numbers separated by commas, not {sizes!r}")
    if not wanted or min(wanted) < 0 or max(wanted) > 200_000:
        fail("--sizes takes 1 to n sizes between 0 and 200,000")
    engines = ("indexed", "plain") if plain else ("indexed",)
    growth = measure_growth(
        wanted, repeats=repeats, engines=engines, progress=lambda line: console.print(line, highlight=False)
    )
    table = Table(title=f"median ms per request (of {repeats})")
    table.add_column("request")
    for size in growth.sizes:
        for engine in engines:
            table.add_column(f"{engine} {size:,}", justify="right")
    for shape in SHAPES:
        table.add_row(
            shape.name,
            *(f"{growth.medians[engine][size][shape.name]:.1f}" for size in growth.sizes for engine in engines),
        )
    console.print(table)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(growth.as_json(), indent=2, sort_keys=True) + "\n")


@app.command("bulk")
def bench_bulk(
    memberships: int = typer.Option(1200, min=1, help="Memberships of the user whose full sync is measured."),
    members: Annotated[
        list[int] | None, typer.Option("--members", min=1, help="Members of an organization to sync (repeatable).")
    ] = None,
) -> None:
    """DynamoDB requests, capacity units and seconds of bulk syncs, first and again unchanged."""
    from rich.table import Table

    from clerk_sync_local.bench.bulk import measure_bulk_syncs

    sizes = tuple(members) if members else (600, 5000)
    console.print(f"Starting moto and the emulator; a user with {memberships} memberships, organizations of {sizes}…")
    rows = measure_bulk_syncs(memberships, sizes)
    table = Table(title="bulk syncs (capacity units estimated from item sizes)")
    for column in ("sync", "requests", "writes", "operations", "RCU", "WCU", "seconds", "Clerk", "outcomes"):
        table.add_column(column)
    for label, row in rows.items():
        operations = ", ".join(f"{name} {count}" for name, count in row["operations"].items())
        outcomes = row["error"] or ", ".join(f"{name} {count}" for name, count in row["summary"].items())
        table.add_row(
            label,
            str(row["requests"]),
            str(row["write_requests"]),
            operations,
            f"{row['read_units']:g}",
            f"{row['write_units']:g}",
            f"{row['seconds']:.2f}",
            str(row["clerk_calls"]),
            outcomes,
        )
    console.print(table)


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
    header = f"{'handler':<11} {'median ms':>9} {'floor ms':>8} {'ratio':>6} {'botocore ms':>11} {'share':>6}  goal"
    console.print(header, highlight=False)
    for name, row in figures["handlers"].items():
        verdict = "met" if row["met"] else "not met"
        console.print(
            f"{name:<11} {row['median_ms']:>9.1f} {row['floor_ms']:>8.1f} {row['ratio']:>6.2f} "
            f"{row['botocore_ms']:>11.1f} {row['botocore_share']:>6.2f}  {row['goal']} {verdict}",
            highlight=False,
        )
    for name, row in figures["handlers"].items():
        loaded = ", ".join(row["loaded"]) or "none of the watched"
        console.print(f"  {name}: floor = {row['floor']}; its cold start loaded {loaded}", highlight=False)
    console.print(
        f"Python {figures['python']}, median of {figures['runs']} fresh interpreters each; botocore: the same clients "
        "from botocore alone, share: its part of the floor",
        highlight=False,
    )
