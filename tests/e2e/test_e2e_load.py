"""Load on a real `clerk-sync local up`: 1,000 signed webhook deliveries, then 200 concurrent API calls.

The stack is this module's own, so the table starts small and the numbers do not depend on what other tests
left behind. The emulator makes the changes but does not send them: this test sends them, signed with
`svix`'s own signer, 16 at a time, shuffled and with redeliveries, as Svix may. Then 200 API calls from
many distinct users go out at once. The test asserts:

- no 5xx other than documented back-pressure (429/503 with Retry-After); a webhook that gets back-pressure is
  sent again after Retry-After, as Svix would do;
- nothing is lost: the table ends equal to the emulator's state (`convergence.differences` empty) within a
  bounded wait, and the DLQ stays empty.

Counts, latency percentiles and the stack's CPU time are printed at the end (`pytest -s`, or `-rP`).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt

from clerk_sync_local.convergence import differences
from tests.e2e.conftest import Stack, running_stack
from tests.support.load import BacklogGate, Report, cpu_seconds, is_back_pressure
from tests.support.signing import svix_headers

DELIVERIES = 1_000
# The changes behind the deliveries (about 670 events; the rest of the 1,000 are redeliveries). Memberships
# are few: each membership write is a DynamoDB transaction, and moto copies the whole table for each one.
USERS = 120
ORGS = 4
MEMBERS_PER_ORG = 3
USER_UPDATES = 500
DELIVERY_THREADS = 16
BACKLOG_LIMIT = 50  # queued messages above which the senders wait (BacklogGate: a moto cost, not SQS's)
WEBHOOK_ATTEMPTS = 5  # per delivery, while the answer is back-pressure
API_CALLS = 200
API_IN_FLIGHT = API_CALLS  # all at once; the local gateway queues them (one call per function at a time)
SYNCS = 30  # of the API calls, POST /api/sync/user by distinct users; the others GET /api/sync/status
ORG_TOKEN_SHARE = 0.5  # of the callers who are members, how many carry their organization in the token
GATEWAY_CUT_SECONDS = 30.0
CONVERGE_SECONDS = 120.0
SEED = 20_261_214

Call = tuple[str, str, dict[str, str]]


@contextmanager
def sent_by_the_test(stack: Stack) -> Iterator[None]:
    """Inside, the emulator records its events but delivers none; its webhook target is restored after."""
    target = stack.clerk.get("/webhook").json()
    assert stack.clerk.put("/webhook", json={"url": None}).status_code == 200
    try:
        yield
    finally:
        restore = {"url": target["url"], "extra_secrets": target["extra_secrets"]}
        assert stack.clerk.put("/webhook", json=restore).status_code == 200


def make_changes(stack: Stack, rng: random.Random) -> None:
    """All nine event types: creates (seeded in bulk), updates, a removal, deletes with their cascades."""
    body = {"users": USERS, "organizations": ORGS, "memberships_per_org": MEMBERS_PER_ORG, "seed": 7}
    seeded = stack.clerk.post("/seed", json=body)
    assert seeded.status_code == 200, seeded.text
    users: list[str] = seeded.json()["users"]
    orgs: list[str] = seeded.json()["organizations"]
    for i, user_id in enumerate(rng.choices(users, k=USER_UPDATES)):
        changed = stack.clerk.patch(f"/users/{user_id}", json={"phone_number": f"+1555{i:07d}", "last_name": f"U{i}"})
        assert changed.status_code == 200, changed.text
    for org_id in orgs[:2]:
        assert stack.clerk.patch(f"/organizations/{org_id}", json={"name": f"Renamed {org_id[-6:]}"}).is_success
    memberships = stack.clerk.get("/state").json()["memberships"]
    pairs = sorted(
        (m["organization"]["id"], m["public_user_data"]["user_id"])
        for m in memberships
        if m["organization"]["id"] in orgs
    )
    promoted, removed = pairs[:ORGS], pairs[-1]
    for org_id, user_id in promoted:
        assert stack.clerk.patch(
            f"/organizations/{org_id}/memberships/{user_id}", json={"role": "org:admin"}
        ).is_success
    assert stack.clerk.delete(f"/organizations/{removed[0]}/memberships/{removed[1]}").is_success
    members = {user_id for _, user_id in pairs}
    for user_id in rng.sample(sorted(set(users) - members), 4) + rng.sample(sorted(members), 1):
        assert stack.clerk.delete(f"/users/{user_id}").is_success  # user.deleted, and its memberships' deletes
    assert stack.clerk.delete(f"/organizations/{orgs[-1]}").is_success


def planned_deliveries(events: list[dict[str, Any]], rng: random.Random) -> list[tuple[str, str]]:
    """(svix-id, body) of every event once plus redeliveries of random ones, DELIVERIES in all, shuffled."""
    assert len(events) <= DELIVERIES, f"{len(events)} events are more than {DELIVERIES} deliveries"
    unique = [(event["msg_id"], json.dumps(event["payload"])) for event in events]
    planned = unique + [rng.choice(unique) for _ in range(DELIVERIES - len(unique))]
    rng.shuffle(planned)
    return planned


def _cpu_note(stack: Stack, before: float | None) -> str:
    after = cpu_seconds(stack.ready.pid)
    return f"; stack CPU {after - before:.1f} s" if before is not None and after is not None else ""


def deliver_webhooks(stack: Stack, report: Report) -> None:
    """DELIVERIES signed deliveries of the emulator's changes; then the table must equal the emulator."""
    rng = random.Random(SEED)
    secret = stack.ready.webhook_secret
    assert secret is not None
    dlq_before = stack.queue_depth(stack.ready.dlq_url)
    made = time.perf_counter()
    with sent_by_the_test(stack):
        already = len(stack.clerk.get("/events").json())
        make_changes(stack, rng)
        events = stack.clerk.get("/events").json()[already:]
    report.notes.append(
        f"stack up in {stack.ready.started_in_seconds:.1f} s; changes made in {time.perf_counter() - made:.1f} s"
    )
    assert len({event["type"] for event in events}) == 9
    planned = planned_deliveries(events, rng)
    answers = report.sample("POST /api/webhooks/clerk (every attempt)")
    unexpected: list[str] = []

    def deliver(client: httpx.Client, msg_id: str, body: str) -> bool:
        gate.wait()
        for _ in range(WEBHOOK_ATTEMPTS):
            started = time.perf_counter()
            # Signed at each attempt with the attempt's time, as Svix does.
            headers = svix_headers(body, secret=secret, msg_id=msg_id)
            response = client.post(stack.ready.webhook_url, content=body, headers=headers)
            answers.add(response.status_code, (time.perf_counter() - started) * 1000)
            if response.is_success:
                return True
            if not is_back_pressure(response):
                unexpected.append(f"{msg_id}: {response.status_code} {response.text[:200]}")
                return False
            time.sleep(int(response.headers["retry-after"]))
        unexpected.append(f"{msg_id}: still back-pressure after {WEBHOOK_ATTEMPTS} attempts")
        return False

    cpu_before = cpu_seconds(stack.ready.pid)
    started = time.perf_counter()
    with (
        BacklogGate(stack.queue_depth, BACKLOG_LIMIT) as gate,
        httpx.Client(timeout=GATEWAY_CUT_SECONDS + 10) as client,
        ThreadPoolExecutor(DELIVERY_THREADS) as pool,
    ):
        accepted = list(pool.map(lambda item: deliver(client, *item), planned))
    sent_in = time.perf_counter() - started
    assert unexpected == []
    assert all(accepted)

    stack.converge(CONVERGE_SECONDS)
    applied_in = time.perf_counter() - started
    assert stack.queue_depth(stack.ready.dlq_url) == dlq_before
    report.notes += [
        f"webhooks: {len(planned)} deliveries = {len(events)} events of all 9 types + {len(planned) - len(events)} "
        f"redeliveries, {DELIVERY_THREADS} senders (held {gate.closed_seconds:.1f} s while the backlog was above "
        f"{BACKLOG_LIMIT}; peak {gate.peak}): all accepted in {sent_in:.1f} s ({len(planned) / sent_in:.1f}/s)",
        f"webhooks: table equal to the emulator {applied_in:.1f} s after the first delivery "
        f"({len(planned) / applied_in:.1f} deliveries/s applied){_cpu_note(stack, cpu_before)}; DLQ unchanged",
    ]


def api_calls(stack: Stack, rng: random.Random) -> list[Call]:
    """API_CALLS calls, each with its own fresh token: every live user once (SYNCS of them sync), then repeats."""
    state = stack.clerk.get("/state").json()
    org_of = {m["public_user_data"]["user_id"]: m["organization"]["id"] for m in state["memberships"]}
    users = sorted(user["id"] for user in state["users"])
    rng.shuffle(users)
    assert len(users) >= max(SYNCS, API_CALLS // 2), f"only {len(users)} live users"
    callers = (users * (API_CALLS // len(users) + 1))[:API_CALLS]

    def mint(user_id: str) -> dict[str, str]:
        body: dict[str, Any] = {"user_id": user_id, "expires_in": 300}
        if user_id in org_of and rng.random() < ORG_TOKEN_SHARE:
            body["org_id"] = org_of[user_id]
        response = stack.clerk.post("/tokens", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['jwt']}"}

    calls = [
        ("POST", "/api/sync/user", mint(user_id)) if i < SYNCS else ("GET", "/api/sync/status", mint(user_id))
        for i, user_id in enumerate(callers)
    ]
    rng.shuffle(calls)
    return calls


async def call_at_once(base_url: str, calls: list[Call], report: Report) -> list[str]:
    """API_IN_FLIGHT calls in flight at a time; returns the answers that are neither 2xx nor back-pressure."""
    unexpected: list[str] = []
    in_flight = asyncio.Semaphore(API_IN_FLIGHT)
    limits = httpx.Limits(max_connections=API_IN_FLIGHT, max_keepalive_connections=API_IN_FLIGHT)
    timeout = httpx.Timeout(GATEWAY_CUT_SECONDS + 10)
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as client:

        async def one(method: str, path: str, headers: dict[str, str]) -> None:
            async with in_flight:
                started = time.perf_counter()
                response = await client.request(method, path, headers=headers)
            report.sample(f"{method} {path}").add(response.status_code, (time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 202) and not is_back_pressure(response):
                unexpected.append(f"{method} {path}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(one(*call) for call in calls))
    return unexpected


def call_api(stack: Stack, report: Report) -> None:
    """API_CALLS calls at once, each with its own token; then the table must still equal the emulator."""
    rng = random.Random(SEED + 1)
    minted = time.perf_counter()
    calls = api_calls(stack, rng)
    report.notes.append(f"API: {len(calls)} tokens minted in {time.perf_counter() - minted:.1f} s")
    dlq_before = stack.queue_depth(stack.ready.dlq_url)
    cpu_before = cpu_seconds(stack.ready.pid)
    started = time.perf_counter()
    unexpected = asyncio.run(call_at_once(stack.ready.api_url, calls, report))
    answered_in = time.perf_counter() - started
    assert unexpected == []
    stack.converge(CONVERGE_SECONDS)
    settled_in = time.perf_counter() - started
    assert differences(stack.store, stack.clerk.get("/state").json()) == []
    assert stack.queue_depth(stack.ready.dlq_url) == dlq_before
    cpu = _cpu_note(stack, cpu_before)
    claims = [_claims(headers) for _, _, headers in calls]
    users, with_org = len({c["sub"] for c in claims}), sum("o" in c for c in claims)
    report.notes.append(
        f"API: {len(calls)} calls, {API_IN_FLIGHT} in flight at a time, each with its own token ({users} distinct "
        f"users, {with_org} with an active org, {SYNCS} syncs): all answered in {answered_in:.1f} s "
        f"(the gateway cuts at {GATEWAY_CUT_SECONDS:.0f} s){cpu}; table still equal to the emulator "
        f"{settled_in:.1f} s after the first call"
    )


def _claims(headers: dict[str, str]) -> dict[str, Any]:
    """A bearer token's claims, read without verifying (the stack verified them)."""
    claims: dict[str, Any] = jwt.decode(
        headers["Authorization"].removeprefix("Bearer "), options={"verify_signature": False}
    )
    return claims


def test_a_thousand_webhooks_then_two_hundred_concurrent_api_calls_lose_nothing(tmp_path: Path) -> None:
    # One test, two phases: the API callers are users the webhooks brought in (and two tests of one module may
    # run in different xdist workers, on different stacks).
    report = Report("load on the local stack (`clerk-sync local up`: gateway, handlers, moto, emulator in one process)")
    try:
        with running_stack(tmp_path) as stack:
            deliver_webhooks(stack, report)
            call_api(stack, report)
    finally:
        print("\n" + report.text())
