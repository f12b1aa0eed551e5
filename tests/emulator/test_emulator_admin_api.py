"""The `/_emulator` admin HTTP API: the same operations as the Python API, for the local stack and scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from clerk_sync_local.emulator import ClerkEmulator

if TYPE_CHECKING:
    from tests.emulator.conftest import WebhookReceiver


def test_admin_user_lifecycle_changes_state_and_events(
    clerk: ClerkEmulator, admin: httpx.Client, api: httpx.Client
) -> None:
    created = admin.post(
        "/users", json={"first_name": "Jane", "email": "jane@example.com", "public_metadata": {"plan": "pro"}}
    )
    assert created.status_code == 200
    user = created.json()
    assert api.get(f"/users/{user['id']}").json() == user
    patched = admin.patch(f"/users/{user['id']}", json={"last_name": "Doe", "banned": True}).json()
    assert (patched["last_name"], patched["banned"], patched["public_metadata"]) == ("Doe", True, {"plan": "pro"})
    deleted = admin.delete(f"/users/{user['id']}").json()
    assert deleted["deleted"] is True
    assert api.get(f"/users/{user['id']}").status_code == 404
    assert [e["type"] for e in admin.get("/events").json()] == ["user.created", "user.updated", "user.deleted"]


def test_admin_organization_and_membership_lifecycle(clerk: ClerkEmulator, admin: httpx.Client) -> None:
    user = admin.post("/users", json={"first_name": "Jane"}).json()
    other = admin.post("/users", json={"first_name": "John"}).json()
    org = admin.post("/organizations", json={"name": "Acme", "created_by": user["id"]}).json()
    assert org["members_count"] == 1
    added = admin.post(f"/organizations/{org['id']}/memberships", json={"user_id": other["id"], "role": "org:member"})
    assert added.status_code == 200
    promoted = admin.patch(f"/organizations/{org['id']}/memberships/{other['id']}", json={"role": "org:admin"})
    assert promoted.json()["role"] == "org:admin"
    assert admin.delete(f"/organizations/{org['id']}/memberships/{other['id']}").json()["id"] == added.json()["id"]
    assert admin.patch(f"/organizations/{org['id']}", json={"name": "Acme 2"}).json()["name"] == "Acme 2"
    assert admin.delete(f"/organizations/{org['id']}").json() == {
        "object": "organization",
        "id": org["id"],
        "slug": "acme",
        "deleted": True,
    }
    state = admin.get("/state").json()
    assert (state["organizations"], state["memberships"], state["deleted_organization_ids"]) == ([], [], [org["id"]])


def test_admin_bad_body_returns_422_in_clerk_shape(admin: httpx.Client) -> None:
    for response in (
        admin.post("/users", json={"nickname": "x"}),
        admin.post("/organizations", json={}),
        admin.post("/users", content=b"{not json"),
        admin.put("/knobs", json={"error_rate": 5}),
    ):
        assert response.status_code == 422
        assert set(response.json()["errors"][0]) >= {"message", "long_message", "code"}


def test_admin_unknown_ids_return_404(admin: httpx.Client) -> None:
    assert admin.patch("/users/user_missing", json={"first_name": "x"}).status_code == 404
    assert admin.delete("/organizations/org_missing").status_code == 404
    assert admin.delete("/organizations/org_missing/memberships/user_missing").status_code == 404


def test_admin_seed_then_reset_empties_everything(clerk: ClerkEmulator, admin: httpx.Client) -> None:
    summary = admin.post("/seed", json={"users": 6, "organizations": 2, "memberships_per_org": 3, "seed": 3}).json()
    assert (len(summary["users"]), len(summary["organizations"]), summary["memberships"]) == (6, 2, 6)
    assert len(admin.get("/state").json()["memberships"]) == 6
    admin.put("/knobs", json={"latency_ms": 5})
    assert admin.post("/reset").json() == {"ok": True}
    state = admin.get("/state").json()
    assert state["users"] == state["organizations"] == state["memberships"] == []
    assert admin.get("/events").json() == []
    assert admin.get("/knobs").json()["latency_ms"] == 0


def test_admin_knobs_put_merges_and_get_returns_all(admin: httpx.Client) -> None:
    assert admin.put("/knobs", json={"rate_limit": "development"}).json()["rate_limit"] == 100
    knobs = admin.put("/knobs", json={"latency_ms": 10}).json()
    assert (knobs["rate_limit"], knobs["latency_ms"], knobs["outage"]) == (100, 10, False)
    assert admin.get("/knobs").json() == knobs


def test_admin_webhook_target_then_flush_delivers(
    clerk: ClerkEmulator, admin: httpx.Client, receiver: WebhookReceiver
) -> None:
    assert admin.put("/webhook", json={"url": receiver.url}).json()["url"] == receiver.url
    admin.post("/users", json={"first_name": "Jane"})
    flushed = admin.post("/flush", json={"timeout": 5})
    assert (flushed.status_code, flushed.json()) == (200, {"idle": True})
    assert len(receiver.requests) == 1
    (delivery,) = admin.get("/deliveries").json()
    assert delivery["status"] == "delivered"
    assert delivery["msg_id"] == receiver.requests[0].headers["svix-id"]


def test_admin_flush_paused_deliveries_returns_504(
    clerk: ClerkEmulator, admin: httpx.Client, receiver: WebhookReceiver
) -> None:
    admin.put("/webhook", json={"url": receiver.url})
    admin.put("/knobs", json={"webhooks_paused": True})
    admin.post("/users", json={})
    assert admin.post("/flush", json={"timeout": 0.1}).status_code == 504


def test_admin_stats_reports_and_resets_backend_calls(
    clerk: ClerkEmulator, admin: httpx.Client, api: httpx.Client
) -> None:
    api.get("/users")
    assert admin.get("/stats").json()["routes"]["GET /v1/users"]["count"] == 1
    assert admin.delete("/stats").json() == {"total": 0, "routes": {}}


def test_admin_health_reports_url(clerk: ClerkEmulator, admin: httpx.Client) -> None:
    assert admin.get("/health").json() == {"ok": True, "url": clerk.url}
