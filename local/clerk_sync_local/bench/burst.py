"""Webhook → table for a burst of emulator changes, clerk-sync against the baseline, and what it costs on AWS.

One local stack: moto, the Clerk emulator, the gateway and the worker pollers. clerk-sync takes the burst first
(`workers` pollers at once, as Lambda's SQS event source runs up to the function's concurrency); then the emulator
is reset and the same seeded burst goes to the baseline (`bench.baseline`), deployed on the same moto with its own
table, queue, webhook route and worker. Each side is timed from the change (the event's `timestamp`, the
emulator's clock) to the moment its worker finished applying it, compared with Clerk at the end ("lost": events
never applied, and records unlike Clerk's), and its AWS requests, payloads and invocations are recorded for the
cost model. All of it twice, each time on a fresh stack: with the emulator answering Clerk's API at once, and with
its `latency_ms` knob at `clerk_latency_ms`, a round trip to Clerk as a deployed worker waits for it (the baseline
calls Clerk on every user webhook, clerk-sync on none; docs/decisions/0032). The cost is priced from the second.
"""

from __future__ import annotations

import contextlib
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from clerk_sync_local.bench.cost import (
    CostBreakdown,
    CostInputs,
    FunctionUse,
    cost_per_million,
    dynamodb_capacity,
    item_size,
    sqs_sends,
)
from clerk_sync_local.bench.figures import Figure, Goal, Section, percentile
from clerk_sync_local.bench.meter import AwsMeter, AwsRequest, belongs_to
from clerk_sync_local.bench.webhooks import make_changes
from clerk_sync_local.cli.views import store_for
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.stack import LocalStack
from clerk_sync_local.stack.console import MessageReport
from clerk_sync_local.stack.poller import SqsPoller

Handler = Callable[[dict[str, Any], Any], Any]

# Memory of the deployed functions (infra/functions.py; tests/infra checks these against it). The baseline is
# priced at the same sizes.
WEBHOOK_MEMORY_MB: Final = 512
WORKER_MEMORY_MB: Final = 512
CLERK_SYNC_IMPORTS: Final = {
    "webhook": "import clerk_sync.handlers.webhook",
    "worker": "import clerk_sync.handlers.worker",
}
# The recipe's modules import at the top what the baseline's handlers import inside them.
BASELINE_IMPORTS: Final = "import boto3, httpx, svix.webhooks, bench.baseline.handlers"
_POINTS: Final = 200  # at most this many points per plotted series


@dataclass
class SideRun:
    """One side's burst: what it measured."""

    side: str
    events: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    applied_at_s: list[float] = field(default_factory=list)  # seconds after the first change, per applied event
    wall_seconds: float = 0.0
    lost: int = 0  # events never applied within the timeout
    differences: list[str] = field(default_factory=list)
    webhook_ms: list[float] = field(default_factory=list)
    batch_ms: list[float] = field(default_factory=list)
    batch_records: list[int] = field(default_factory=list)
    api_requests: int = 0
    api_bytes: int = 0
    requests: list[AwsRequest] = field(default_factory=list)
    stored: dict[tuple[str, str], int] = field(default_factory=dict)
    indexed: frozenset[tuple[str, str]] = frozenset()
    init_ms: dict[str, float] = field(default_factory=dict)
    cost: CostBreakdown | None = None

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0


class _Finished:
    """When each svix id was first applied (Unix ms), waited on by the bench."""

    def __init__(self) -> None:
        self.at: dict[str, int] = {}
        self._cv = threading.Condition()

    def applied(self, svix_id: str, finished_ms: int) -> None:
        with self._cv:
            self.at.setdefault(svix_id, finished_ms)
            self._cv.notify_all()

    def report(self, report: MessageReport) -> None:
        if report.kind == "event" and report.ok and report.svix_id is not None:
            self.applied(report.svix_id, report.finished_ms)

    def wait_for(self, ids: set[str], deadline: float) -> None:
        with self._cv:
            while not ids <= self.at.keys() and time.monotonic() < deadline:
                self._cv.wait(0.5)


def _timed(durations: list[float]) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        def timed(event: dict[str, Any], context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                durations.append((time.perf_counter() - started) * 1000)

        return timed

    return wrap


def cold_import_ms(code: str, runs: int = 3) -> float:
    """Median wall time of `code` (imports) in fresh interpreters: the INIT phase's share that is ours."""
    timer = f"import time; t = time.perf_counter(); {code}; print((time.perf_counter() - t) * 1000)"
    samples = [
        float(subprocess.run([sys.executable, "-c", timer], capture_output=True, text=True, check=True).stdout)  # noqa: S603
        for _ in range(runs)
    ]
    return statistics.median(samples)


def _stored_sizes(moto_client: Any, table_name: str) -> tuple[dict[tuple[str, str], int], frozenset[tuple[str, str]]]:
    sizes: dict[tuple[str, str], int] = {}
    indexed: set[tuple[str, str]] = set()
    for page in moto_client.get_paginator("scan").paginate(TableName=table_name):
        for item in page["Items"]:
            key = (item["PK"]["S"], item["SK"]["S"])
            sizes[key] = item_size(item)
            if "GSI1PK" in item:
                indexed.add(key)
    return sizes, frozenset(indexed)


@dataclass(frozen=True)
class Burst:
    """One side's burst, the same for both."""

    events: int
    seed: int
    timeout: float
    deliveries: int
    clerk_latency_ms: int = 0

    def run(self, side: SideRun, clerk: ClerkEmulator, finished: _Finished, settled: Callable[[], bool]) -> None:
        """Makes the burst and waits until the side applied it (or the timeout passed) and its queue is empty."""
        # Clerk's Backend API answers the side's calls after `clerk_latency_ms`; the changes are made in-process.
        clerk.set_knobs(webhook_concurrency=self.deliveries, latency_ms=self.clerk_latency_ms)
        before = {event["msg_id"] for event in clerk.events}
        started_ms = time.time_ns() // 1_000_000
        make_changes(clerk, self.events, random.Random(self.seed))
        made = [event for event in clerk.events if event["msg_id"] not in before]
        ids = {event["msg_id"] for event in made}
        deadline = time.monotonic() + self.timeout
        finished.wait_for(ids, deadline)
        side.events = len(made)
        done = [event for event in made if event["msg_id"] in finished.at]
        side.lost = len(made) - len(done)
        side.latencies_ms = [float(finished.at[e["msg_id"]] - e["timestamp_ms"]) for e in done]
        side.applied_at_s = sorted((finished.at[e["msg_id"]] - started_ms) / 1000 for e in done)
        side.wall_seconds = side.applied_at_s[-1] if side.applied_at_s else 0.0
        with contextlib.suppress(TimeoutError):
            clerk.wait_for_deliveries(max(1.0, deadline - time.monotonic()))
        sent = [d for d in clerk.deliveries if d["msg_id"] not in before]
        side.api_requests = sum(len(d["attempts"]) for d in sent)
        bodies = {e["msg_id"]: len(str(e["payload"])) for e in made}
        side.api_bytes = sum(bodies.get(d["msg_id"], 0) * len(d["attempts"]) for d in sent)
        # Follow-up work (membership syncs clerk-sync's worker queued) settles before the table is compared.
        while not settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        clerk.set_knobs(latency_ms=0)


def _metered(meter: AwsMeter, resources: Any, run: Callable[[], None]) -> list[AwsRequest]:
    """The side's own AWS requests (its table and queue) made while `run` ran."""
    meter.take()
    meter.recording = True
    try:
        run()
    finally:
        meter.recording = False
    return [r for r in meter.take() if belongs_to(r, resources.table_name, resources.queue_url)]


def _poller_use(pollers: list[SqsPoller], since: list[int]) -> tuple[list[float], list[int]]:
    durations: list[float] = []
    records: list[int] = []
    for poller, start in zip(pollers, since, strict=True):
        durations += poller.stats.batch_ms[start:]
        records += poller.stats.batch_records[start:]
    return durations, records


def measure_clerk_sync(stack: LocalStack, meter: AwsMeter, burst: Burst) -> SideRun:
    clerk, gateway, ready, resources, moto = stack.emulator, stack.gateway, stack.ready, stack.resources, stack.moto
    assert clerk is not None
    assert gateway is not None
    assert ready is not None
    assert resources is not None
    assert moto is not None
    side = SideRun("clerk-sync")
    finished = _Finished()
    stack.console.subscribe(finished.report)
    gateway.invoker.wrap("webhook", _timed(side.webhook_ms))
    since = [len(p.stats.batch_ms) for p in stack.pollers]
    clerk.reset_stats()
    side.requests = _metered(
        meter, resources, lambda: burst.run(side, clerk, finished, lambda: not stack.queue_depth())
    )
    side.batch_ms, side.batch_records = _poller_use(stack.pollers, since)
    side.differences = differences(store_for(ready), clerk.state_snapshot())
    side.stored, side.indexed = _stored_sizes(moto.client("dynamodb"), resources.table_name)
    return side


def measure_baseline(stack: LocalStack, meter: AwsMeter, burst: Burst, *, workers: int, window: float) -> SideRun:
    from bench.baseline.check import differences as baseline_differences
    from bench.baseline.deployment import BaselineDeployment

    clerk, moto = stack.emulator, stack.moto
    assert clerk is not None
    assert moto is not None
    side = SideRun("baseline")
    finished = _Finished()
    webhook_wrap = _timed(side.webhook_ms)
    clerk.reset()  # the same burst from an empty Clerk, as clerk-sync had it
    deployment = BaselineDeployment(
        moto,
        clerk.url,
        clerk.secret_key,
        clerk.webhook_secret,
        applied=finished.applied,
        workers=workers,
        batching_window_seconds=window,
        timed=lambda name, handler: webhook_wrap(handler) if name == "webhook" else handler,
    )
    with deployment:
        clerk.set_webhook(deployment.webhook_url)
        resources = deployment.resources
        side.requests = _metered(
            meter, resources, lambda: burst.run(side, clerk, finished, lambda: not deployment.queue_depth())
        )
        side.batch_ms, side.batch_records = _poller_use(deployment.pollers, [0] * len(deployment.pollers))
        side.differences = baseline_differences(deployment.table, clerk.state_snapshot())
        side.stored, side.indexed = _stored_sizes(moto.client("dynamodb"), resources.table_name)
    return side


def price(side: SideRun, *, cold_share: float) -> CostBreakdown:
    """The side's measured use on AWS, per million webhook events."""
    billed_sends, _, sent_bytes = sqs_sends(side.requests)
    webhook_init = side.init_ms.get("webhook", 0.0)
    worker_init = side.init_ms.get("worker", 0.0)
    inputs = CostInputs(
        events=side.events,
        api_requests=side.api_requests,
        api_bytes=side.api_bytes,
        functions=(
            FunctionUse("webhook", WEBHOOK_MEMORY_MB, side.webhook_ms, webhook_init, cold_share),
            FunctionUse("worker", WORKER_MEMORY_MB, side.batch_ms, worker_init, cold_share),
        ),
        sqs_send_requests=billed_sends,
        worker_batches=len(side.batch_ms),
        worker_batch_bytes=sent_bytes,
        dynamodb=dynamodb_capacity(side.requests, side.stored, side.indexed),
    )
    side.cost = cost_per_million(inputs)
    return side.cost


def _downsample(points: list[float]) -> list[list[float]]:
    """(seconds, events applied so far) at most `_POINTS` times."""
    if not points:
        return []
    step = max(1, len(points) // _POINTS)
    series = [[round(t, 3), float(n + 1)] for n, t in enumerate(points) if n % step == 0]
    if series[-1][1] != len(points):
        series.append([round(points[-1], 3), float(len(points))])
    return series


def _requests_per_event(side: SideRun) -> dict[str, float]:
    counts: dict[str, float] = {}
    for request in side.requests:
        name = f"{request.service}:{request.operation}"
        counts[name] = counts.get(name, 0.0) + 1
    return {name: round(count / max(1, side.events), 3) for name, count in sorted(counts.items())}


def _throughput(ours: SideRun, baseline: SideRun, name: str, setting: str) -> Figure:
    return Figure(
        name, round(ours.throughput, 2), "events/s", Goal.vs_baseline(3.0), round(baseline.throughput, 2), setting
    )


def sections(
    ours: SideRun,
    baseline: SideRun,
    *,
    workers: int,
    baseline_workers: int,
    deliveries: int,
    cold_share: float,
    clerk_latency_ms: int = 0,
    instant: tuple[SideRun, SideRun] | None = None,
) -> list[Section]:
    """The webhook section (item 4) and the cost section (item 7) from the two runs: `ours` and `baseline` with
    Clerk's API answering in `clerk_latency_ms`, and (`instant`) the same burst with the emulator answering at once."""
    window = Section("webhooks", "Webhook → table, a burst of emulator changes")
    p50, p95 = percentile(ours.latencies_ms, 0.5), percentile(ours.latencies_ms, 0.95)
    setting = (
        f"{ours.events} events, {deliveries} deliveries at once; clerk-sync {workers} workers at "
        f"once, the baseline {baseline_workers}"
    )
    runs = [(ours, baseline), *([instant] if instant is not None else [])]
    window.figures = [
        _throughput(ours, baseline, f"events/s applied, Clerk answering in {clerk_latency_ms} ms", setting),
        *(
            [_throughput(*instant, "events/s applied, Clerk answering at once (the emulator)", setting)]
            if instant is not None
            else []
        ),
        Figure(
            "latency p50",
            round(p50),
            "ms",
            baseline=round(percentile(baseline.latencies_ms, 0.5)),
            note="change → table",
        ),
        Figure("latency p95", round(p95), "ms", baseline=round(percentile(baseline.latencies_ms, 0.95))),
        Figure(
            "latency max",
            round(max(ours.latencies_ms, default=0.0)),
            "ms",
            baseline=round(max(baseline.latencies_ms, default=0.0)),
        ),
        Figure(
            "events lost",
            sum(mine.lost for mine, _ in runs),
            "events",
            Goal.bound(0),
            sum(theirs.lost for _, theirs in runs),
            f"never applied within the timeout, in {len(runs)} bursts",
        ),
        Figure(
            "records unlike Clerk",
            sum(len(mine.differences) for mine, _ in runs),
            "records",
            Goal.bound(0),
            sum(len(theirs.differences) for _, theirs in runs),
            "; ".join(ours.differences[:3]),
        ),
    ]
    window.series = {
        "latency_ms": {ours.side: ours.latencies_ms, baseline.side: baseline.latencies_ms},
        "applied_over_time": {
            ours.side: _downsample(ours.applied_at_s),
            baseline.side: _downsample(baseline.applied_at_s),
        },
        "requests_per_event": {ours.side: _requests_per_event(ours), baseline.side: _requests_per_event(baseline)},
    }
    window.notes = [
        f"baseline differences (first 3): {baseline.differences[:3]}" if baseline.differences else "",
    ]
    window.notes = [note for note in window.notes if note]

    cost = Section("cost", "Cost per million webhook events on AWS (us-east-1 list prices)")
    ours_cost, their_cost = price(ours, cold_share=cold_share), price(baseline, cold_share=cold_share)
    cost.figures = [
        Figure(
            "cost per million events", round(ours_cost.total, 3), "USD", Goal.bound(2.50), round(their_cost.total, 3)
        ),
        Figure(
            "cost vs baseline",
            round(ours_cost.total, 3),
            "USD",
            Goal.vs_baseline(0.5, "lower"),
            round(their_cost.total, 3),
            "well below = at most half",
        ),
        Figure(
            "DynamoDB request units per event",
            round(_units(ours) / max(1, ours.events), 2),
            "RU",
            baseline=round(_units(baseline) / max(1, baseline.events), 2),
            note="WRU + GSI WRU + RRU",
        ),
    ]
    cost.series = {
        "cost_breakdown": {ours.side: ours_cost.as_json(), baseline.side: their_cost.as_json()},
        "init_ms": {ours.side: ours.init_ms, baseline.side: baseline.init_ms},
        "invocations": {
            side.side: {
                "webhook": len(side.webhook_ms),
                "worker_batches": len(side.batch_ms),
                "records_per_batch": round(sum(side.batch_records) / max(1, len(side.batch_records)), 2),
                "webhook_ms_median": round(statistics.median(side.webhook_ms), 1) if side.webhook_ms else 0.0,
                "batch_ms_median": round(statistics.median(side.batch_ms), 1) if side.batch_ms else 0.0,
            }
            for side in (ours, baseline)
        },
    }
    cost.notes = [
        f"from the burst with Clerk's API answering in {clerk_latency_ms} ms (a worker waiting on Clerk is billed)",
        f"cold starts: {cold_share:.1%} of invocations (AWS: INIT in under 1% of production invocations), each billed "
        "its INIT phase = the handler modules' cold import measured here",
        f"memory: webhook {WEBHOOK_MEMORY_MB} MB, worker {WORKER_MEMORY_MB} MB (infra/functions.py), both sides",
        "durations are this machine's, against moto over HTTP on a shared 2-core host: Lambda's would differ",
    ]
    return [window, cost]


def _units(side: SideRun) -> float:
    used = dynamodb_capacity(side.requests, side.stored, side.indexed)
    return used.write_units + used.index_write_units + used.read_units


def _both_sides(burst: Burst, *, workers: int, baseline_workers: int, window: float) -> tuple[SideRun, SideRun]:
    """clerk-sync, then the baseline, on one fresh local stack."""
    with AwsMeter() as meter:
        meter.recording = False
        with LocalStack(
            seed=False,
            quiet=True,
            batching_window_seconds=window,
            worker_concurrency=workers,
        ) as stack:
            ours = measure_clerk_sync(stack, meter, burst)
            theirs = measure_baseline(stack, meter, burst, workers=baseline_workers, window=window)
    return ours, theirs


def run_burst_sections(
    *,
    events: int,
    workers: int,
    baseline_workers: int = 1,
    deliveries: int = 10,
    batching_window: float = 1.0,
    seed: int = 7,
    timeout: float = 900.0,
    cold_share: float = 0.01,
    clerk_latency_ms: int = 0,
) -> list[Section]:
    """Both sides on one local stack, priced; see the module docstring. With `clerk_latency_ms`, the burst runs
    twice (on a fresh stack each time): Clerk answering at once, then after that latency."""
    started = time.perf_counter()

    def both(burst: Burst) -> tuple[SideRun, SideRun]:
        return _both_sides(burst, workers=workers, baseline_workers=baseline_workers, window=batching_window)

    burst = Burst(events=events, seed=seed, timeout=timeout, deliveries=deliveries)
    instant = both(burst)
    ours, theirs = both(replace(burst, clerk_latency_ms=clerk_latency_ms)) if clerk_latency_ms else instant
    ours.init_ms = {name: round(cold_import_ms(code), 1) for name, code in CLERK_SYNC_IMPORTS.items()}
    baseline_init = round(cold_import_ms(BASELINE_IMPORTS), 1)
    theirs.init_ms = {"webhook": baseline_init, "worker": baseline_init}
    found = sections(
        ours,
        theirs,
        workers=workers,
        baseline_workers=baseline_workers,
        deliveries=deliveries,
        cold_share=cold_share,
        clerk_latency_ms=clerk_latency_ms,
        instant=instant if clerk_latency_ms else None,
    )
    found[0].seconds = time.perf_counter() - started
    return found
