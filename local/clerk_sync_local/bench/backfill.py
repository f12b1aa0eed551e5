"""`clerk-sync bench backfill`: a backfill of a large instance on a fresh local stack at Clerk's development rate
limit (100 requests / 10 s, enforced by the emulator), measured as an operator would run it.

1. `clerk-sync backfill` in its own process into the empty table: Clerk calls, time, the ratio to the bound.
2. `--restart`, SIGKILLed once half of the entities are read, then run again: its Clerk calls and time against
   the clean import's are the resume overhead.
3. `--restart` again while fresh users log in through the gateway every `login_interval` seconds: their
   latency (p50/p95) against the same logins with no backfill running.

The rate-limit bound is the least time Clerk's limit allows for the calls made: calls / (limit x share). The
raw write loop is the other bound: the imported records put again, as conditional puts WRITERS at a time, into an
empty table on the same moto, with no Clerk and no sync logic. The tighter (larger) of the two is what the clean
import is measured against.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx

from clerk_sync import keys
from clerk_sync import resources as definitions
from clerk_sync.runs import RunKind
from clerk_sync.store.runs import RunStore
from clerk_sync.sync.writes import WRITERS
from clerk_sync_local.cli.views import store_for
from clerk_sync_local.convergence import differences
from clerk_sync_local.stack import LocalStack

DEVELOPMENT_LIMIT: Final = 100  # requests per window
WINDOW_SECONDS: Final = 10.0
CLI: Final = [sys.executable, "-m", "clerk_sync_local.cli"]


@dataclass
class BackfillBench:
    users: int
    organizations: int
    memberships: int
    share: float
    clean: dict[str, Any] = field(default_factory=dict)  # the clean import's JSON summary
    during: dict[str, Any] = field(default_factory=dict)  # the run with logins meanwhile
    killed: dict[str, Any] = field(default_factory=dict)  # the resumed run's summary (its counts span the kill)
    killed_seconds: float = 0.0  # the killed process's time before the kill
    clean_calls: int = 0  # Clerk requests the emulator saw during the clean import
    resume_calls: int = 0  # ... during the killed run and its resumption
    idle_logins_ms: list[float] = field(default_factory=list)
    busy_logins_ms: list[float] = field(default_factory=list)
    failed_logins: int = 0
    differences: list[str] = field(default_factory=list)
    # The clean import's progress: (seconds since it started, entities read), sampled every half second.
    progress: list[tuple[float, int]] = field(default_factory=list)
    raw_write_seconds: float = 0.0  # the clean import's items put again into an empty table, nothing else
    raw_items: int = 0

    @property
    def bound_seconds(self) -> float:
        """The least time the development limit allows for the clean run's Clerk calls at this share."""
        return float(self.clean["clerk_calls"]) / (DEVELOPMENT_LIMIT / WINDOW_SECONDS * self.share)

    @property
    def tighter_bound_seconds(self) -> float:
        """The backfill can be no faster than Clerk's limit allows, nor than moto takes for its writes alone."""
        return max(self.bound_seconds, self.raw_write_seconds)

    @property
    def resume_seconds(self) -> float:
        """The killed run's time before the kill plus the resumed run's."""
        return self.killed_seconds + float(self.killed["elapsed_seconds"])

    def as_json(self) -> dict[str, Any]:
        return {
            "entities": {"users": self.users, "organizations": self.organizations, "memberships": self.memberships},
            "share": self.share,
            "clean": {
                **{k: self.clean[k] for k in ("clerk_calls", "elapsed_seconds", "waited_seconds", "pages")},
                "emulator_requests": self.clean_calls,
            },
            "bound_seconds": round(self.bound_seconds, 1),
            "ratio_to_bound": round(self.clean["elapsed_seconds"] / self.bound_seconds, 2),
            "raw_write_loop": {
                "items": self.raw_items,
                "seconds": round(self.raw_write_seconds, 1),
                "writers": WRITERS,
            },
            "tighter_bound_seconds": round(self.tighter_bound_seconds, 1),
            # The goal is >= 0.9: the run takes at most 1/0.9 of the tighter bound.
            "share_of_tighter_bound": round(self.tighter_bound_seconds / self.clean["elapsed_seconds"], 2),
            "resume": {
                "emulator_requests": self.resume_calls,
                "extra_requests": self.resume_calls - self.clean_calls,
                "seconds": round(self.resume_seconds, 1),
                "extra_seconds": round(
                    self.killed_seconds + self.killed["elapsed_seconds"] - self.clean["elapsed_seconds"], 1
                ),
                "pages_reread": self.killed["pages_reread"],
            },
            "with_logins": {k: self.during[k] for k in ("clerk_calls", "elapsed_seconds", "waited_seconds")},
            "logins_ms": {
                "idle": _percentiles(self.idle_logins_ms),
                "during_backfill": _percentiles(self.busy_logins_ms),
                "failed": self.failed_logins,
            },
            "differences": len(self.differences),
        }


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(p95, 1),
        "max": round(ordered[-1], 1),
    }


class _Logins:
    """Fresh logins through the gateway, one every `interval` seconds, each for a user the table does not hold."""

    def __init__(self, stack: LocalStack, user_ids: list[str], interval: float) -> None:
        assert stack.ready is not None
        assert stack.emulator is not None
        self._clerk = stack.emulator
        self._stack, self._users, self._interval = stack, list(user_ids), interval
        self._api = httpx.Client(base_url=stack.ready.api_url, timeout=40)
        self._store = store_for(stack.ready)
        self.latencies_ms: list[float] = []
        self.failed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def once(self) -> None:
        user_id = self._users.pop()
        self._store.table.delete_keys([keys.user_key(user_id)])
        token = self._clerk.mint_token(user_id, expires_in=300)
        started = time.perf_counter()
        reply = self._api.get("/api/sync/status", headers={"Authorization": f"Bearer {token}"})
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if reply.status_code != 200:
            self.failed += 1

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(self._interval) and self._users:
                self.once()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self._api.close()


def run_backfill_bench(
    users: int, organizations: int, per_org: int, *, share: float, login_interval: float, workdir: Path
) -> BackfillBench:
    # The stack's shared Clerk budget at the development limit too, as the emulator enforces it (the local stack
    # otherwise budgets a production instance's 1,000).
    previous = os.environ.get("CLERK_RATE_LIMIT")
    os.environ["CLERK_RATE_LIMIT"] = str(DEVELOPMENT_LIMIT)
    try:
        return _measure(users, organizations, per_org, share=share, login_interval=login_interval, workdir=workdir)
    finally:
        if previous is None:
            os.environ.pop("CLERK_RATE_LIMIT", None)
        else:
            os.environ["CLERK_RATE_LIMIT"] = previous


def _measure(
    users: int, organizations: int, per_org: int, *, share: float, login_interval: float, workdir: Path
) -> BackfillBench:
    with LocalStack(seed=False, quiet=True) as stack:
        assert stack.ready is not None
        clerk = stack.emulator
        assert clerk is not None
        clerk.seed_data(users=users, organizations=organizations, memberships_per_org=per_org, seed=11, webhooks=False)
        snapshot = clerk.state_snapshot()
        bench = BackfillBench(users, organizations, len(snapshot["memberships"]), share)
        clerk.set_knobs(rate_limit=DEVELOPMENT_LIMIT, rate_limit_window_s=WINDOW_SECONDS)
        ready_file = workdir / "ready.json"
        ready_file.write_text(stack.ready.model_dump_json())
        args = ["--ready-file", str(ready_file), "--share", str(share), "--json"]

        # The same logins with nothing else running, first.
        login_users = [u["id"] for u in snapshot["users"]]
        idle = _Logins(stack, login_users[:20], 0.0)
        for _ in range(20):
            idle.once()
        bench.idle_logins_ms = idle.latencies_ms

        # A clean import into the empty table. Clerk calls are the emulator's count: a killed process's last
        # call is in it, though the run never recorded it.
        runs = RunStore(store_for(stack.ready).table)
        clerk.reset_stats()
        with _Progress(runs, bench.progress):
            bench.clean = _backfill(args)
        bench.clean_calls = clerk.request_count()
        bench.differences = differences(store_for(stack.ready), clerk.state_snapshot())
        bench.raw_items, bench.raw_write_seconds = _raw_write_loop(stack)

        # The same again from the start, killed at half and resumed: each write the same conditional put.
        total = users + organizations + bench.memberships
        clerk.reset_stats()
        started = time.monotonic()
        command = [*CLI, "backfill", "--restart", *args]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        while process.poll() is None:
            current = runs.current(RunKind.BACKFILL)
            if current is not None and current.step and sum(c.read for c in current.cursors.values()) >= total / 2:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.1)
        process.wait()
        bench.killed_seconds = time.monotonic() - started
        bench.killed = _backfill(args)
        bench.resume_calls = clerk.request_count()

        # Once more, with fresh logins meanwhile.
        logins = _Logins(stack, login_users[20:], login_interval)
        logins.start()
        try:
            bench.during = _backfill(["--restart", *args])
        finally:
            logins.stop()
        bench.busy_logins_ms, bench.failed_logins = logins.latencies_ms, logins.failed
        bench.differences += differences(store_for(stack.ready), clerk.state_snapshot())
        return bench


class _Progress:
    """Samples the current backfill run's entities read, every `interval` seconds, while the block runs."""

    def __init__(self, runs: RunStore, into: list[tuple[float, int]], interval: float = 0.5) -> None:
        self._runs, self._into, self._interval = runs, into, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self._interval):
            current = self._runs.current(RunKind.BACKFILL)
            if current is not None:
                read = sum(cursor.read for cursor in current.cursors.values())
                self._into.append((round(time.monotonic() - started, 2), read))

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _raw_write_loop(stack: LocalStack) -> tuple[int, float]:
    """The imported records put again into an empty table on the same moto, each a conditional put, as many at a
    time as the backfill writes: what moto alone takes for the backfill's writes (items, seconds)."""
    assert stack.moto is not None
    assert stack.resources is not None
    client = stack.moto.client("dynamodb")
    source, target = stack.resources.table_name, f"{stack.resources.table_name}-raw"
    client.create_table(**definitions.table_create_kwargs(target))
    records: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=source):
        records += [item for item in page["Items"] if item[keys.SK]["S"] == keys.PROFILE_SK or item.get(keys.GSI1_PK)]

    def put(item: dict[str, Any]) -> None:
        client.put_item(TableName=target, Item=item, ConditionExpression=f"attribute_not_exists({keys.PK})")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(put, records))
    seconds = time.perf_counter() - started
    client.delete_table(TableName=target)
    return len(records), seconds


def _backfill(args: list[str]) -> dict[str, Any]:
    result = subprocess.run([*CLI, "backfill", *args], capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise RuntimeError(f"backfill failed: {result.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary
