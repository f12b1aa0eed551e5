"""`clerk-sync bench all` (`make bench`): every section in one run, each figure against its goal, then the report.

A section is a function `(options: BenchOptions) -> list[Section]`: it measures on a fresh local stack, returns its
figures and the raw series its plots need, and never fails a run on timing. Sections of their own modules join
by name in `PLUGGED`: `clerk_sync_local.bench.<module>.sections(options)`; a module not there yet is skipped.
"""

from __future__ import annotations

import importlib
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from clerk_sync_local.bench.figures import Figure, Goal, Section, percentile

SectionFunction = Callable[["BenchOptions"], list[Section]]


@dataclass(frozen=True)
class BenchOptions:
    """What scales a run; the defaults finish in under 10 minutes on 2 shared cores."""

    events: int = 1000  # webhook burst (item 4); --events 2000 is the full-size burst
    workers: int = 5  # clerk-sync's worker batches at once: the stage default worker_max_concurrency
    baseline_workers: int = 1  # the baseline's read-modify-write is only correct serially
    deliveries: int = 10  # webhook deliveries in flight at once, both sides (Svix sends an endpoint's concurrently)
    clerk_latency_ms: int = 50  # Clerk's Backend API round trip in the burst's second run (docs/decisions/0032)
    batching_window: float = 1.0  # the deployed MaximumBatchingWindowInSeconds
    cold_share: float = 0.01  # invocations that start cold (billed INIT), for the cost model
    users: int = 1000  # backfill size (item 5)
    organizations: int = 200
    per_org: int = 10
    storm_syncs: int = 300
    memberships: tuple[int, ...] = (3, 1200)  # full user sync sizes
    seed: int = 7
    timeout: float = 900.0  # per burst side
    params: dict[str, str] = field(default_factory=dict)  # --set key=value, for plugged sections

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "memberships": list(self.memberships)}


# --- the sections measured here ---


def webhook_sections(options: BenchOptions) -> list[Section]:
    """Items 4 and 7: the burst on both sides, and its cost."""
    from clerk_sync_local.bench.burst import run_burst_sections

    return run_burst_sections(
        events=options.events,
        workers=options.workers,
        baseline_workers=options.baseline_workers,
        deliveries=options.deliveries,
        batching_window=options.batching_window,
        seed=options.seed,
        timeout=options.timeout,
        cold_share=options.cold_share,
        clerk_latency_ms=options.clerk_latency_ms,
    )


def _full_sync_comparison(sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Clerk calls and seconds of one full user sync per membership count, clerk-sync and the baseline."""
    from bench.baseline.clerk import NaiveClerk
    from bench.baseline.deployment import table_resource
    from bench.baseline.store import NaiveTable
    from bench.baseline.sync import full_user_sync
    from clerk_sync import wiring
    from clerk_sync_local.bench.sync import _user_with_memberships, bench_stack
    from clerk_sync_local.stack.moto import create_resources

    rows = []
    with bench_stack() as bench:
        baseline = create_resources(bench.moto.client("dynamodb"), bench.moto.client("sqs"), "clerk-sync-baseline")
        naive = NaiveClerk(bench.clerk.url, bench.clerk.secret_key)
        table = NaiveTable(table_resource(bench.moto, baseline.table_name))
        for size in sizes:
            user_id = _user_with_memberships(bench.clerk, size)
            bench.clerk.reset_stats()
            started = time.perf_counter()
            wiring.sync_service().full_user_sync(user_id)
            ours = (bench.clerk.request_count(), time.perf_counter() - started)
            bench.clerk.reset_stats()
            started = time.perf_counter()
            full_user_sync(naive, table, user_id)
            theirs = (bench.clerk.request_count(), time.perf_counter() - started)
            rows.append({"memberships": size, "clerk-sync": ours, "baseline": theirs})
        naive.close()
    return rows


# The design's bound on DynamoDB requests per event as first applied: one write for every complete upsert
# (decision 0026); deletes cascade.
_REQUESTS_BOUND: Final = {
    "user.created": 1,
    "user.updated": 1,
    "user.deleted": 2,
    "organization.created": 1,
    "organization.updated": 1,
    "organization.deleted": 3,
    "organizationMembership.created": 1,
    "organizationMembership.updated": 1,
    "organizationMembership.deleted": 1,
}


def sync_sections(options: BenchOptions) -> list[Section]:
    """Requests per event and per full user sync, the 429 storm, and the authorizer (item 6)."""
    from clerk_sync_local.bench import sync as measure

    requests = Section("requests", "Requests per event and per full user sync")
    rows = _full_sync_comparison(options.memberships)
    for row in rows:
        size = row["memberships"]
        calls, seconds = row["clerk-sync"]
        requests.figures.append(
            Figure(
                f"Clerk calls, full user sync, {size:,} memberships",
                calls,
                "calls",
                Goal.bound(1 + max(1, -(-size // 500))),
                row["baseline"][0],
                f"{seconds:.1f} s (baseline {row['baseline'][1]:.1f} s); bound 1 + ceil(M/500)",
            )
        )
    requests.series["bulk_sync_calls"] = {
        "memberships": [row["memberships"] for row in rows],
        "clerk-sync": [row["clerk-sync"][0] for row in rows],
        "baseline": [row["baseline"][0] for row in rows],
    }
    per_event = measure.dynamodb_requests_per_event()
    for event_type, row in per_event.items():
        requests.figures.append(
            Figure(
                f"DynamoDB requests, {event_type}",
                row["requests"],
                "requests",
                Goal.bound(_REQUESTS_BOUND.get(event_type, row["requests"])),
                note=f"{row['operations']} ({row['outcome']})",
            )
        )
    applied = [row["history_requests"] for row in per_event.values() if row["outcome"] == "applied"]
    requests.figures.append(
        Figure(
            "History writes per applied event",
            round(sum(applied) / max(1, len(applied)), 2),
            "requests",
            Goal.bound(1),
            note="measured with history on, apart from the rows above (history off); the hourly sums add one "
            "write per worker batch",
        )
    )
    requests.series["dynamodb_requests_per_event"] = per_event
    storm = measure.rate_limit_storm(options.storm_syncs)
    requests.figures += [
        Figure(
            "429 storm: syncs that succeeded",
            storm["succeeded"],
            "syncs",
            Goal.floor(storm["syncs"]),
            note=f"{storm['syncs']} syncs from {storm['threads']} threads against 100 requests / 10 s, "
            f"{storm['wall_seconds']} s",
        ),
        Figure("429 storm: answers 429", storm["rate_limited_429"], "answers", Goal.bound(0)),
    ]
    requests.series["storm"] = storm

    login = Section("authorizer", "Authorizer, a fresh user's request (warm, in-process)")
    cost = measure.authorizer_cost()
    login.figures = [
        Figure("authorizer p50", cost["p50_ms"], "ms", note=f"{cost['requests']} requests"),
        Figure("authorizer p99", cost["p99_ms"], "ms"),
        Figure(
            "authorizer DynamoDB requests",
            cost["dynamodb_requests_per_call"],
            "requests",
            Goal.bound(1),
            note=str(cost["dynamodb_operations"]),
        ),
        Figure("authorizer Clerk calls", cost["clerk_calls"], "calls", Goal.bound(0)),
    ]
    login.series["authorizer"] = cost
    return [requests, login]


def startup_sections(options: BenchOptions) -> list[Section]:
    from clerk_sync_local.bench.startup import measure_startup

    timings = measure_startup(3)
    section = Section("startup", "`clerk-sync local up`, process start → ready file (bytecode cached)")
    section.figures = [Figure("local up start-up, median", round(sorted(timings)[1], 2), "s")]
    section.series["startup_seconds"] = timings
    return [section]


def backfill_sections(options: BenchOptions) -> list[Section]:
    """Item 5 at the options' size: calls and time against the rate-limit bound, resume, logins meanwhile."""
    from clerk_sync_local.bench.backfill import run_backfill_bench

    with tempfile.TemporaryDirectory() as workdir:
        bench = run_backfill_bench(
            options.users, options.organizations, options.per_org, share=0.5, login_interval=1.0, workdir=Path(workdir)
        )
    result = bench.as_json()
    entities = bench.users + bench.organizations + bench.memberships
    section = Section(
        "backfill",
        f"Backfill of {bench.users:,} users, {bench.organizations:,} organizations, {bench.memberships:,} memberships "
        "at the development rate limit (share 0.5)",
    )
    busy = result["logins_ms"].get("during_backfill", {})
    idle = result["logins_ms"].get("idle", {})
    section.figures = [
        Figure("backfill Clerk calls", result["clean"]["emulator_requests"], "calls", note=f"{entities:,} entities"),
        Figure(
            "backfill time",
            result["clean"]["elapsed_seconds"],
            "s",
            note=f"rate-limit bound {result['bound_seconds']} s (ratio {result['ratio_to_bound']})",
        ),
        Figure(
            "backfill speed, share of the tighter bound",
            result["share_of_tighter_bound"],
            "",
            Goal.floor(0.9),
            note=(
                f"tighter of the rate-limit bound {result['bound_seconds']} s and a raw write loop of the same "
                f"{result['raw_write_loop']['items']:,} records on the same moto, "
                f"{result['raw_write_loop']['seconds']} s"
            ),
        ),
        Figure("extra Clerk calls after SIGKILL + resume", result["resume"]["extra_requests"], "calls", Goal.bound(0)),
        Figure("pages read twice after resume", result["resume"]["pages_reread"], "pages", Goal.bound(0)),
        Figure("records unlike Clerk", result["differences"], "records", Goal.bound(0)),
        Figure(
            "fresh login p95 during the backfill",
            busy.get("p95", 0.0),
            "ms",
            note=f"idle p95 {idle.get('p95', 0.0)} ms; {result['logins_ms']['failed']} failed",
        ),
    ]
    section.series["backfill_progress"] = {"entities": entities, "points": [list(p) for p in bench.progress]}
    section.series["backfill"] = result
    return [section]


BUILT_IN: Final[dict[str, SectionFunction]] = {
    "webhooks": webhook_sections,
    "sync": sync_sections,
    "startup": startup_sections,
    "backfill": backfill_sections,
}
# Sections in modules of their own: `clerk_sync_local.bench.<module>.sections(options) -> list[Section]`.
PLUGGED: Final = ("coldstart", "bulk")
ORDER: Final = ("coldstart", "webhooks", "bulk", "sync", "backfill", "startup")


def section_functions(names: Sequence[str] | None = None) -> dict[str, SectionFunction]:
    """The sections to run, in report order; a plugged module that does not exist yet is left out."""
    found: dict[str, SectionFunction] = {}
    for name in ORDER:
        if names and name not in names:
            continue
        if name in BUILT_IN:
            found[name] = BUILT_IN[name]
            continue
        try:
            module = importlib.import_module(f"clerk_sync_local.bench.{name}")
        except ModuleNotFoundError:
            continue
        function = getattr(module, "sections", None)
        if callable(function):
            found[name] = function
    return found


def run_sections(
    functions: dict[str, SectionFunction], options: BenchOptions, progress: Callable[[str], None] = lambda _: None
) -> list[Section]:
    """Each section in turn (each starts its own moto server process, so each starts empty); one that raises becomes
    a section with its error, and the run goes on."""
    results: list[Section] = []
    for name, function in functions.items():
        progress(name)
        started = time.perf_counter()
        try:
            found = function(options)
        except Exception as error:  # noqa: BLE001 - a broken section is reported, the others still run
            found = [Section(name, name, error=f"{type(error).__name__}: {error}", notes=[traceback.format_exc()])]
        took = time.perf_counter() - started
        if found and not found[0].seconds:
            found[0].seconds = took
        results += found
    return results


def summary_figures(sections: Sequence[Section]) -> list[Figure]:
    return [figure for section in sections for figure in section.figures]


__all__ = ["BenchOptions", "Figure", "Goal", "Section", "percentile", "run_sections", "section_functions"]
