"""/api/sync/* through the gateway, the real session authorizer and the real sync API, with minted tokens.

Written after `clerk_sync.handlers.authorizer` and `clerk_sync.handlers.sync_api` landed: these tests pin
the local stack's behaviour with them (status codes as clients see them), not the routes' internals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from infra.endpoints import ROUTES
from tests.e2e.conftest import Stack

Mint = Callable[..., dict[str, str]]


@pytest.fixture
def bearer(stack: Stack) -> Mint:
    """Authorization headers with a freshly minted session token (a new token misses the authorizer cache)."""

    def mint(user_id: str, org_id: str | None = None, **claims: Any) -> dict[str, str]:
        body: dict[str, Any] = {"user_id": user_id, "expires_in": 300, "claims": claims}
        if org_id:
            body["org_id"] = org_id
        response = stack.clerk.post("/tokens", json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['jwt']}"}

    return mint


def _ids(stack: Stack) -> tuple[str, str, str]:
    ready = stack.ready
    assert ready.demo_user_id is not None
    assert ready.demo_org_id is not None
    assert ready.admin_user_id is not None
    return ready.demo_user_id, ready.demo_org_id, ready.admin_user_id


def test_sync_routes_each_answer_their_allowed_caller(stack: Stack, bearer: Mint) -> None:
    demo, org, admin = _ids(stack)
    as_demo, as_admin = bearer(demo, org), bearer(admin)
    membership = {"clerkOrgId": org, "clerkUserId": demo}
    org_path = f"/api/sync/organization/{org}"
    # route template → (headers, JSON body, path with this stack's ids)
    calls: dict[tuple[str, str], tuple[dict[str, str], dict[str, Any] | None, str]] = {
        ("POST", "/api/sync/user"): (as_demo, None, "/api/sync/user"),
        ("POST", "/api/sync/user/organizations"): (as_demo, None, "/api/sync/user/organizations"),
        ("POST", "/api/sync/user/full"): (as_demo, None, "/api/sync/user/full"),
        ("POST", "/api/sync/user/{clerkUserId}"): (as_admin, None, f"/api/sync/user/{demo}"),
        ("POST", "/api/sync/organization/{clerkOrgId}"): (as_demo, None, org_path),
        ("POST", "/api/sync/organization/{clerkOrgId}/members"): (as_demo, None, f"{org_path}/members"),
        ("POST", "/api/sync/membership"): (as_demo, membership, "/api/sync/membership"),
        ("GET", "/api/sync/status"): (as_demo, None, "/api/sync/status"),
        # The operator console's: platform admins only.
        ("GET", "/api/admin/overview"): (as_admin, None, "/api/admin/overview"),
        ("GET", "/api/admin/find"): (as_admin, None, f"/api/admin/find?q={demo}"),
        ("GET", "/api/admin/users/{clerkUserId}"): (as_admin, None, f"/api/admin/users/{demo}"),
        ("GET", "/api/admin/organizations/{clerkOrgId}"): (as_admin, None, f"/api/admin/organizations/{org}"),
        ("GET", "/api/admin/history/{entity}/{entityId}"): (as_admin, None, f"/api/admin/history/user/{demo}"),
        ("GET", "/api/admin/dlq"): (as_admin, None, "/api/admin/dlq"),
        ("POST", "/api/admin/dlq/replay"): (as_admin, {"all": True}, "/api/admin/dlq/replay"),
        ("GET", "/api/admin/jobs"): (as_admin, None, "/api/admin/jobs"),
    }
    authorized = {(route.method, route.path) for route in ROUTES if route.authorized}
    # Every authorized route is exercised here (jobs need a job: see the members test below).
    assert authorized - set(calls) == {("GET", "/api/sync/jobs/{jobId}")}
    for (method, _), (headers, body, path) in calls.items():
        response = stack.api.request(method, path, headers=headers, json=body)
        assert response.status_code in (200, 202), f"{method} {path}: {response.status_code} {response.text}"
    status = stack.api.get("/api/sync/status", headers=as_demo).json()
    assert status["user_id"] == demo
    assert org in [m["org_id"] for m in status["memberships"]]
    stack.converge()


def test_sync_any_user_is_403_for_a_non_admin(stack: Stack, bearer: Mint) -> None:
    demo, org, _ = _ids(stack)
    response = stack.api.post(f"/api/sync/user/{demo}", headers=bearer(demo, org))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_members_sync_and_job_status(stack: Stack, bearer: Mint) -> None:
    demo, org, _ = _ids(stack)
    headers = bearer(demo, org)
    response = stack.api.post(f"/api/sync/organization/{org}/members", headers=headers)
    assert response.status_code in (200, 202)
    result = response.json()
    if response.status_code == 202:  # more than one page of members: a job carries on
        job = stack.api.get(result["status_url"], headers=headers)
        assert job.status_code == 200
    else:
        assert result["job"] is None
    missing = stack.api.get("/api/sync/jobs/job_doesNotExist", headers=headers)
    assert missing.status_code == 404


def test_sync_route_with_garbage_token_is_401_from_the_sync_api(stack: Stack) -> None:
    # The authorizer allows it with an unauthenticated context; the sync API answers 401 with the reason.
    response = stack.api.post("/api/sync/user", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_malformed"


def test_sync_route_with_expired_token_is_401_token_expired(stack: Stack, bearer: Mint) -> None:
    demo, _, _ = _ids(stack)
    past = int(time.time()) - 600
    response = stack.api.get("/api/sync/status", headers=bearer(demo, exp=past, iat=past - 60, nbf=past - 65))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_sync_route_for_deleted_user_is_403_from_the_gateway(stack: Stack, bearer: Mint) -> None:
    user_id = stack.clerk.post("/users", json={"first_name": "Leaving"}).json()["id"]
    stack.clerk.delete(f"/users/{user_id}")
    stack.converge()
    response = stack.api.get("/api/sync/status", headers=bearer(user_id))
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_login_syncs_a_user_the_table_has_not_seen(stack: Stack, bearer: Mint, knobs: httpx.Client) -> None:
    knobs.put("/knobs", json={"webhooks_paused": True})
    user_id = stack.clerk.post("/users", json={"first_name": "Newcomer"}).json()["id"]
    assert stack.user(user_id) is None
    response = stack.api.get("/api/sync/status", headers=bearer(user_id))
    assert response.status_code == 200
    body = response.json()
    user = body["user"]
    assert (user["first_name"], user["sync_source"], body["provisional"]) == ("Newcomer", "login", False)
    knobs.put("/knobs", json={"webhooks_paused": False})
    stack.converge()


def test_clerk_outage_login_falls_back_to_provisional_then_heals(
    stack: Stack, bearer: Mint, knobs: httpx.Client
) -> None:
    knobs.put("/knobs", json={"webhooks_paused": True})
    user_id = stack.clerk.post("/users", json={"first_name": "Offline"}).json()["id"]
    headers = bearer(user_id)
    knobs.put("/knobs", json={"outage": True})
    status = stack.api.get("/api/sync/status", headers=headers)
    assert status.status_code == 200
    assert status.json()["provisional"] is True
    sync = stack.api.post("/api/sync/user", headers=headers)
    assert sync.status_code == 503
    assert sync.json()["error"]["code"] == "clerk_unavailable"
    assert sync.headers["retry-after"]
    knobs.put("/knobs", json={"outage": False, "webhooks_paused": False})
    stack.converge()
    healed = stack.user(user_id)
    assert healed is not None
    assert healed["provisional"] is False
    assert healed["first_name"] == "Offline"


def test_clerk_rate_limit_reaches_the_client_as_429_with_retry_after(
    stack: Stack, bearer: Mint, knobs: httpx.Client
) -> None:
    demo, org, _ = _ids(stack)
    headers = bearer(demo, org)
    knobs.put("/knobs", json={"rate_limit": 1, "rate_limit_window_s": 30})
    answers = [stack.api.post("/api/sync/user", headers=headers) for _ in range(2)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert limited[0].json()["error"]["code"] == "clerk_rate_limited"
    assert int(limited[0].headers["retry-after"]) > 0
