"""Benchmarks of the sync paths on a local moto stack and the Clerk emulator (`clerk-sync bench ...`).

- `calls`: Clerk requests a full user sync makes for users with a few and with many memberships.
- `storm`: many syncs against Clerk's development rate limit (100 requests / 10 s): successes, requests,
  429s, and the time the client spent backing off.
- `authorizer`: what a request from a fresh (already synced) user costs the authorizer: DynamoDB requests,
  Clerk requests, warm in-process latency.
- `imports`: cold import time of each handler module in fresh interpreters.
Numbers are measured here, on this machine, each time; nothing is hard-coded.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clerk_sync import wiring
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.stack.moto import LocalMoto

_stacks = itertools.count(1)

HANDLER_MODULES = (
    "clerk_sync.handlers.webhook",
    "clerk_sync.handlers.worker",
    "clerk_sync.handlers.authorizer",
    "clerk_sync.handlers.sync_api",
)


@dataclass
class Bench:
    clerk: ClerkEmulator
    moto: LocalMoto


@contextmanager
def bench_stack(**environment: str) -> Iterator[Bench]:
    """moto and the emulator, with the handlers' environment pointed at them; restored afterwards."""
    saved = dict(os.environ)
    # moto's backends are process-wide: each stack gets its own table and queue names.
    moto = LocalMoto(prefix=f"clerk-sync-bench-{next(_stacks)}")
    created = moto.start()
    clerk = ClerkEmulator()
    clerk.start()
    os.environ.update(
        {
            **moto.environment(),
            "TABLE_NAME": created.table_name,
            "EVENTS_QUEUE_URL": created.queue_url,
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_API_URL": clerk.url,
            "CLERK_WEBHOOK_SIGNING_SECRET": clerk.webhook_secret,
            "CLERK_ISSUER": clerk.issuer,
            "CLERK_JWT_KEY": clerk.public_key_pem,
            "CLERK_AUTHORIZED_PARTIES": clerk.authorized_party or "",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "USER_EVENT_MEMBERSHIP_SYNC": "never",
            **environment,
        }
    )
    wiring.reset()
    try:
        yield Bench(clerk, moto)
    finally:
        clerk.stop()
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()


def _user_with_memberships(clerk: ClerkEmulator, memberships: int) -> str:
    user_id: str = clerk.create_user(first_name="Bench")["id"]
    for number in range(memberships):
        clerk.add_membership(clerk.create_organization(f"Org {number}")["id"], user_id)
    return user_id


def full_sync_calls(sizes: tuple[int, ...] = (3, 1200)) -> list[dict[str, Any]]:
    """Clerk requests (as the emulator counted them) of one full user sync per membership count."""
    rows = []
    with bench_stack() as bench:
        for size in sizes:
            user_id = _user_with_memberships(bench.clerk, size)
            bench.clerk.reset_stats()
            started = time.perf_counter()
            report = wiring.sync_service().full_user_sync(user_id)
            rows.append(
                {
                    "memberships": size,
                    "clerk_calls": bench.clerk.request_count(),
                    "reported_calls": report.clerk_calls,
                    "expected": 1 + max(1, -(-size // 500)),
                    "stored": len(wiring.sync_store().user_memberships(user_id)),
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
    return rows


def rate_limit_storm(syncs: int = 300, threads: int = 8, budget_seconds: float = 20.0) -> dict[str, Any]:
    """`syncs` user syncs from `threads` threads against the development limit, default retry settings."""
    with bench_stack() as bench:
        users = [bench.clerk.create_user(first_name=f"U{n}")["id"] for n in range(syncs)]
        bench.clerk.set_knobs(rate_limit="development")
        bench.clerk.reset_stats()
        service = wiring.sync_service()
        client = service.clerk

        def one(user_id: str) -> bool:
            try:  # the budget a queued sync gets in the worker
                service.sync_user(user_id, deadline=service.deadline_in(budget_seconds))
            except Exception:  # noqa: BLE001 - a give-up is a result here, counted below
                return False
            return True

        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, users))
        elapsed = time.perf_counter() - started
        stats = client.stats
        return {
            "syncs": syncs,
            "threads": threads,
            "budget_seconds": budget_seconds,
            "succeeded": sum(results),
            "gave_up": syncs - sum(results),
            "requests": stats.requests,
            "rate_limited_429": stats.rate_limited,
            "retries": stats.retries,
            "backoff_seconds_total": round(stats.backoff_seconds, 1),
            "backoff_seconds_per_retry": round(stats.backoff_seconds / stats.retries, 2) if stats.retries else 0.0,
            # The shared Clerk budget (at CLERK_RATE_LIMIT's default, the development limit) paces the requests.
            "budget_waits": stats.budget_waits,
            "budget_wait_seconds_total": round(stats.budget_wait_seconds, 1),
            "wall_seconds": round(elapsed, 1),
        }


def authorizer_cost(requests: int = 200) -> dict[str, Any]:
    """A fresh user's request through the authorizer handler, warm, in-process."""
    from clerk_sync.handlers import authorizer
    from clerk_sync.wiring import dynamodb_meter
    from clerk_sync_local.lambda_events import LocalLambdaContext

    with bench_stack() as bench:
        user_id = bench.clerk.create_user(first_name="Fresh")["id"]
        event = {"type": "REQUEST", "headers": {"authorization": f"Bearer {bench.clerk.mint_token(user_id)}"}}
        context: Any = LocalLambdaContext()  # what the handlers read of Lambda's context
        first = authorizer.handler(event, context)  # first login: syncs the user
        bench.clerk.reset_stats()
        dynamodb_meter().reset()
        latencies = []
        for _ in range(requests):
            started = time.perf_counter()
            answer = authorizer.handler(event, context)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        return {
            "first_login_source": first["context"]["loginSource"],
            "login_source": answer["context"]["loginSource"],
            "requests": requests,
            "dynamodb_requests_per_call": dynamodb_meter().requests / requests,
            "dynamodb_operations": dict(dynamodb_meter().calls),
            "clerk_calls": bench.clerk.request_count(),
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(latencies[int(len(latencies) * 0.95) - 1], 2),
            "p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 2),
        }


def dynamodb_requests_per_event() -> dict[str, dict[str, Any]]:
    """DynamoDB requests the worker's apply_event makes for each of the nine event types, as first applied.

    `requests` is measured with history off (HISTORY_TTL_DAYS=0: the one-write-per-event goal is the record's own);
    `history_requests` is what the same events cost more with history on (its entry or count, docs/decisions/0028).
    """
    without = _requests_per_event(history_ttl_days=0)
    with_history = _requests_per_event(history_ttl_days=30)
    return {
        event_type: {**row, "history_requests": with_history[event_type]["requests"] - row["requests"]}
        for event_type, row in without.items()
    }


def _requests_per_event(*, history_ttl_days: int) -> dict[str, dict[str, Any]]:
    from clerk_sync.models import Envelope
    from clerk_sync.wiring import dynamodb_meter

    with bench_stack(USER_EVENT_MEMBERSHIP_SYNC="missing", HISTORY_TTL_DAYS=str(history_ttl_days)) as bench:
        clerk = bench.clerk
        ada = clerk.create_user(first_name="Ada")["id"]
        grace = clerk.create_user(first_name="Grace")["id"]
        clerk.update_user(grace, last_name="Hopper")
        org = clerk.create_organization("Acme", created_by=ada)["id"]
        clerk.update_organization(org, name="Acme Corporation")
        clerk.add_membership(org, grace)
        clerk.update_membership(org, grace, role="org:admin")
        clerk.remove_membership(org, grace)
        clerk.delete_user(ada)
        clerk.delete_organization(org)
        service = wiring.sync_service()  # its store's client is aws.dynamodb_client(), which the meter watches
        rows: dict[str, dict[str, Any]] = {}
        for event in clerk.events:
            dynamodb_meter().reset()
            result = service.apply_event(Envelope.model_validate(event["payload"]), event["msg_id"])
            measured = {"requests": dynamodb_meter().requests, "operations": dict(dynamodb_meter().calls)}
            rows.setdefault(event["type"], {**measured, "outcome": result.outcome.value})
        return rows


def cold_imports(runs: int = 7) -> dict[str, float]:
    """Median wall time of `import <handler module>` in `runs` fresh interpreters, in ms."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "functions")}
    medians = {}
    for module in HANDLER_MODULES:
        code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
        command = [sys.executable, "-c", code]  # our own interpreter and a fixed module list
        samples = [
            float(subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout)  # noqa: S603
            for _ in range(runs)
        ]
        medians[module] = round(statistics.median(samples), 1)
    return medians
