"""Emulator changes → Svix-signed webhooks → gateway → webhook λ → SQS → worker λ → table, over HTTP only."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from svix.webhooks import Webhook

from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from tests.e2e.conftest import Stack


def _records(stack: Stack) -> list[tuple[str, str, object]]:
    """Keys and versions of the table's items, but the shared Clerk budget's (bookkeeping other work touches) and
    history's."""
    items = (item for item in stack.store.scan() if item.get("entity") not in HISTORY_ENTITIES | {BUDGET_ENTITY})
    return sorted((item["PK"], item["SK"], item["version"]) for item in items)


def test_stack_ready_file_means_seed_is_in_the_table(stack: Stack) -> None:
    ready = stack.ready
    assert ready.demo_user_id
    assert ready.demo_org_id
    assert ready.admin_user_id
    assert ready.webhook_secret is not None
    assert ready.webhook_secret.startswith("whsec_")
    # Other tests may have synced the demo user since (sync_source api/login): only presence is stable.
    assert stack.user(ready.demo_user_id) is not None
    assert stack.user(ready.admin_user_id) is not None
    assert stack.store.get_membership(ready.demo_org_id, ready.demo_user_id) is not None
    stack.converge()


def test_user_created_updated_deleted_reach_the_table(stack: Stack) -> None:
    user_id = stack.clerk.post("/users", json={"first_name": "Grace", "last_name": "Hopper"}).json()["id"]
    stack.converge()
    created = stack.user(user_id)
    assert created is not None
    assert (created["first_name"], created["deleted"]) == ("Grace", False)

    assert stack.clerk.patch(f"/users/{user_id}", json={"last_name": "Brewster Hopper"}).status_code == 200
    stack.converge()
    updated = stack.user(user_id)
    assert updated is not None
    assert updated["last_name"] == "Brewster Hopper"
    assert updated["version"] > created["version"]

    assert stack.clerk.delete(f"/users/{user_id}").status_code == 200
    stack.converge()
    deleted = stack.user(user_id)
    assert deleted is not None
    assert deleted["deleted"] is True


def test_organization_and_membership_lifecycle_reaches_the_table(stack: Stack) -> None:
    ada = stack.clerk.post("/users", json={"first_name": "Ada"}).json()["id"]
    linus = stack.clerk.post("/users", json={"first_name": "Linus"}).json()["id"]
    org = stack.clerk.post("/organizations", json={"name": "Acme E2E", "created_by": ada}).json()["id"]
    assert stack.clerk.post(f"/organizations/{org}/memberships", json={"user_id": linus}).status_code == 200
    stack.converge()
    member = stack.store.get_membership(org, linus)
    assert member is not None
    assert member["role"] == "org:member"

    stack.clerk.patch(f"/organizations/{org}/memberships/{linus}", json={"role": "org:admin"})
    stack.clerk.patch(f"/organizations/{org}", json={"name": "Acme Corporation E2E"})
    stack.converge()
    promoted = stack.store.get_membership(org, linus)
    renamed = stack.store.get_organization(org)
    assert promoted is not None
    assert renamed is not None
    assert (promoted["role"], renamed["name"]) == ("org:admin", "Acme Corporation E2E")

    stack.clerk.delete(f"/organizations/{org}/memberships/{linus}")
    stack.converge()
    assert [m["org_id"] for m in stack.store.user_memberships(linus) if m.get("entity") == "membership"] == []

    stack.clerk.delete(f"/organizations/{org}")
    stack.converge()
    tombstone = stack.store.get_organization(org)
    assert tombstone is not None
    assert tombstone["deleted"] is True
    assert stack.store.organization_memberships(org) == []


def test_shuffled_and_duplicated_burst_converges(stack: Stack, knobs: httpx.Client) -> None:
    knobs.put("/knobs", json={"webhook_duplicate_probability": 0.5, "webhook_shuffle_window_ms": 100})
    users = [stack.clerk.post("/users", json={"first_name": f"Burst {i}"}).json()["id"] for i in range(8)]
    org = stack.clerk.post("/organizations", json={"name": "Burst Org", "created_by": users[0]}).json()["id"]
    for user_id in users[1:5]:
        stack.clerk.post(f"/organizations/{org}/memberships", json={"user_id": user_id})
    for user_id in users[:3]:
        stack.clerk.patch(f"/users/{user_id}", json={"first_name": "Renamed"})
    stack.clerk.delete(f"/users/{users[1]}")
    deliveries = stack.clerk.get("/deliveries").json()
    stack.converge()
    assert len({d["msg_id"] for d in deliveries}) < len(deliveries)  # duplicates were sent


def test_clerk_outage_then_recovery_still_converges(stack: Stack, knobs: httpx.Client) -> None:
    dlq_before = stack.queue_depth(stack.ready.dlq_url)
    knobs.put("/knobs", json={"outage": True})
    user_id = stack.clerk.post("/users", json={"first_name": "Offline"}).json()["id"]
    assert stack.clerk.post("/flush", json={"timeout": 10}).json() == {"idle": True}
    knobs.put("/knobs", json={"outage": False})
    stack.converge()
    assert stack.user(user_id) is not None
    assert stack.queue_depth(stack.ready.dlq_url) == dlq_before


def test_clerk_rate_limit_is_retried_and_converges(stack: Stack, knobs: httpx.Client) -> None:
    dlq_before = stack.queue_depth(stack.ready.dlq_url)
    knobs.put("/knobs", json={"rate_limit": 2, "rate_limit_window_s": 1.0})
    stack.clerk.delete("/stats")
    # Users from before the webhook endpoint (created without events): the first user.updated of each queues a
    # sync of its memberships, a Clerk call each.
    seeded = stack.clerk.post("/seed", json={"users": 6, "organizations": 0, "seed": 41, "webhooks": False})
    assert seeded.status_code == 200, seeded.text
    for user_id in seeded.json()["users"]:
        stack.clerk.patch(f"/users/{user_id}", json={"last_name": "Updated"})
    stack.converge()
    statuses = {s for route in stack.clerk.get("/stats").json()["routes"].values() for s in route["by_status"]}
    assert "429" in statuses
    assert stack.queue_depth(stack.ready.dlq_url) == dlq_before


def _signed(stack: Stack, body: str, msg_id: str = "msg_e2e_tampered") -> dict[str, str]:
    assert stack.ready.webhook_secret is not None
    now = datetime.now(tz=UTC)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": Webhook(stack.ready.webhook_secret).sign(msg_id, now, body),
        "content-type": "application/json",
    }


def test_tampered_webhook_is_401_and_writes_nothing(stack: Stack) -> None:
    stack.converge()
    before = _records(stack)
    data = {"id": "user_e2eTampered", "object": "user", "created_at": 1, "updated_at": 2, "first_name": "Mallory"}
    event = {"type": "user.created", "object": "event", "timestamp": 2, "data": data}
    body = json.dumps(event)
    headers = _signed(stack, body)
    tampered = body.replace("Mallory", "Mallorx")
    dead = stack.queue_depth(stack.ready.dlq_url)
    response = httpx.post(stack.ready.webhook_url, content=tampered, headers=headers)
    assert response.status_code == 401
    assert _records(stack) == before
    # Whatever else is in flight is drained; a queued tampered event would have been applied (or dead-lettered).
    stack.converge()
    assert stack.user("user_e2eTampered") is None
    assert stack.queue_depth(stack.ready.dlq_url) == dead


def test_webhook_over_handler_limit_is_413_from_the_handler(stack: Stack) -> None:
    dead = stack.queue_depth(stack.ready.dlq_url)
    body = json.dumps({"type": "user.created", "padding": "x" * (128 * 1024)})
    response = httpx.post(stack.ready.webhook_url, content=body, headers=_signed(stack, body, "msg_e2e_big"))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    # A queued copy of this unreadable event would end in the DLQ once the queue is drained.
    stack.converge()
    assert stack.queue_depth(stack.ready.dlq_url) == dead


def test_webhook_over_ten_megabytes_is_413_from_the_gateway(stack: Stack) -> None:
    response = httpx.post(stack.ready.webhook_url, content=b"x" * (10 * 1024 * 1024 + 1), timeout=30)
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
