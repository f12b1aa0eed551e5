"""`clerk-sync bench webhooks`: how long a Clerk change takes to reach the table, for a burst of changes.

Starts its own local stack (no seed, quiet), makes `changes` changes in the emulator as fast as its Python
API allows (users created and renamed, organizations created, members added and removed), and times every
resulting event from the change (the event's `timestamp`, the emulator's clock in ms when the change was
made) to the moment the worker finished applying it (the stack's per-message report, same clock). Then the
table is compared with the emulator's state.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from clerk_sync_local.cli.views import store_for
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.stack import LocalStack
from clerk_sync_local.stack.console import MessageReport

_WARM_UP_USERS: Final = 5


@dataclass(frozen=True)
class BenchResult:
    changes: int
    latencies_ms: list[float]  # change → applied by the worker
    enqueued_ms: list[float]  # change → the webhook's 2xx (verified and on the queue)
    wall_seconds: float  # first change → last event applied
    burst_seconds: float  # how long making the changes took
    batching_window_seconds: float
    outcomes: Counter[str] = field(default_factory=Counter)
    differences: list[str] = field(default_factory=list)

    def percentile(self, share: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies_ms if values is None else values)
        return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.wall_seconds if self.wall_seconds else 0.0

    def summary_lines(self) -> list[str]:
        return [
            f"{self.changes} changes → {len(self.latencies_ms)} webhook events, made in {self.burst_seconds:.2f} s "
            f"(batching window {self.batching_window_seconds:g} s)",
            f"webhook-to-table latency: p50 {self.percentile(0.50):.0f} ms, p95 {self.percentile(0.95):.0f} ms, "
            f"max {max(self.latencies_ms):.0f} ms",
            f"  of which change → webhook accepted (2xx, queued): p50 {self.percentile(0.5, self.enqueued_ms):.0f} ms,"
            f" p95 {self.percentile(0.95, self.enqueued_ms):.0f} ms",
            f"throughput: {self.throughput:.1f} events/s ({self.wall_seconds:.2f} s from first change to last applied)",
            f"worker outcomes: {dict(self.outcomes)}",
            "table equals the emulator's state" if not self.differences else f"{len(self.differences)} differences",
        ]


class _Reports:
    """The first successful report per svix id, waited on by the bench."""

    def __init__(self) -> None:
        self.finished: dict[str, int] = {}
        self.outcomes: Counter[str] = Counter()
        self._cv = threading.Condition()

    def __call__(self, report: MessageReport) -> None:
        if report.kind != "event" or not report.ok or report.svix_id is None:
            return
        with self._cv:
            if report.svix_id not in self.finished:
                self.finished[report.svix_id] = report.finished_ms
                self.outcomes[report.outcome.split(",", 1)[0]] += 1
            self._cv.notify_all()

    def wait_for(self, ids: set[str], deadline: float) -> None:
        with self._cv:
            while not ids <= self.finished.keys():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"only {len(ids & self.finished.keys())} of {len(ids)} events were applied")
                self._cv.wait(min(remaining, 0.5))


def _accepted_ms(clerk: ClerkEmulator) -> dict[str, int]:
    """When each event's first delivery got its 2xx: sent + duration of the successful attempt."""
    accepted: dict[str, int] = {}
    for delivery in clerk.deliveries:
        for attempt in delivery["attempts"]:
            status = attempt["status_code"]
            if status is not None and 200 <= status < 300:
                done = attempt["sent_at_ms"] + attempt["duration_ms"]
                accepted[delivery["msg_id"]] = min(done, accepted.get(delivery["msg_id"], done))
    return accepted


def make_changes(clerk: ClerkEmulator, changes: int, rng: random.Random, interval_seconds: float = 0.0) -> int:
    """A realistic mix until `changes` events exist (paced by `interval_seconds`); returns the events produced."""
    users: list[str] = []
    orgs: list[str] = []
    members: list[tuple[str, str]] = []
    made = 0
    while made < changes:
        if made and interval_seconds:
            time.sleep(interval_seconds)
        roll = rng.random()
        if len(users) < _WARM_UP_USERS or roll < 0.40:
            users.append(clerk.create_user(first_name="Bench", last_name=f"User {made}")["id"])
            made += 1
        elif roll < 0.50 or not orgs:
            creator = rng.choice(users)
            orgs.append(clerk.create_organization(f"Bench Org {made}", created_by=creator)["id"])
            members.append((orgs[-1], creator))
            made += 2  # organization.created and the creator's membership
        elif roll < 0.75:
            org, user = rng.choice(orgs), rng.choice(users)
            if (org, user) in members:
                continue
            clerk.add_membership(org, user)
            members.append((org, user))
            made += 1
        elif roll < 0.95:
            clerk.update_user(rng.choice(users), first_name=f"Renamed {made}")
            made += 1
        elif members:
            org, user = members.pop(rng.randrange(len(members)))
            clerk.remove_membership(org, user)
            made += 1
    return made


def run_webhook_bench(
    changes: int = 500,
    *,
    batching_window_seconds: float = 1.0,
    interval_seconds: float = 0.0,
    timeout: float = 600.0,
    seed: int = 7,
    worker_concurrency: int = 1,
) -> BenchResult:
    """A burst (interval 0) or a paced series of changes through a fresh stack; see the module docstring."""
    reports = _Reports()
    with LocalStack(
        seed=False,
        quiet=True,
        batching_window_seconds=batching_window_seconds,
        worker_concurrency=worker_concurrency,
    ) as stack:
        clerk = stack.emulator
        assert clerk is not None
        stack.console.subscribe(reports)
        before = {event["msg_id"] for event in clerk.events}
        started_ms = time.time_ns() // 1_000_000
        burst_started = time.perf_counter()
        make_changes(clerk, changes, random.Random(seed), interval_seconds)
        burst_seconds = time.perf_counter() - burst_started
        events = [event for event in clerk.events if event["msg_id"] not in before]
        reports.wait_for({event["msg_id"] for event in events}, time.monotonic() + timeout)
        latencies = [float(reports.finished[event["msg_id"]] - event["timestamp_ms"]) for event in events]
        last_ms = max(reports.finished[event["msg_id"]] for event in events)
        assert stack.ready is not None
        clerk.wait_for_deliveries(timeout)
        accepted = _accepted_ms(clerk)
        enqueued = [float(accepted[e["msg_id"]] - e["timestamp_ms"]) for e in events if e["msg_id"] in accepted]
        # Follow-up work (membership syncs the worker queued) settles before the table is compared.
        deadline = time.monotonic() + timeout
        while stack.queue_depth() and time.monotonic() < deadline:
            time.sleep(0.1)
        found = differences(store_for(stack.ready), clerk.state_snapshot())
        return BenchResult(
            changes=changes,
            latencies_ms=latencies,
            enqueued_ms=enqueued,
            wall_seconds=(last_ms - started_ms) / 1000,
            burst_seconds=burst_seconds,
            batching_window_seconds=batching_window_seconds,
            outcomes=reports.outcomes,
            differences=found,
        )
