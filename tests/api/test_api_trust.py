"""What a signed-in caller can make the system believe: only Clerk and verified session tokens are sources of roles,
and answers never carry private metadata. Each request goes through the gateway: authorizer, route, handler."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest

from clerk_sync import wiring
from clerk_sync.items import WriteContext
from clerk_sync.vocabulary import SyncSource
from clerk_sync_local.gateway import Gateway
from tests.api.conftest import Api, Reply


def _claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


@pytest.fixture
def victim_org(api: Api) -> str:
    owner = api.clerk.create_user(first_name="Owner")["id"]
    org_id: str = api.clerk.create_organization("Victim", created_by=owner)["id"]
    return org_id


def test_a_stated_role_during_an_outage_plants_nothing(api: Api, victim_org: str) -> None:
    """Point 1: `role` in POST /api/sync/membership never becomes a role the permission checks read.

    Fails before the fix: with Clerk unreachable the route stored a provisional `org:admin` membership for the
    caller in any organization, and the members route then let the caller in (200 instead of 403).
    """
    attacker = api.clerk.create_user(first_name="Mallory")["id"]
    token = api.token(attacker)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # on record before the outage
    api.clerk.set_knobs(outage=True)
    body = {"clerkOrgId": victim_org, "clerkUserId": attacker, "role": "org:admin"}
    planted = api.call("POST", "/api/sync/membership", token=token, body=body)
    assert planted.status in (429, 503), planted.body
    assert "retry-after" in planted.headers
    assert api.store.get_membership(victim_org, attacker) is None
    api.clerk.set_knobs(outage=False)
    members = api.call("POST", f"/api/sync/organization/{victim_org}/members", token=token)
    assert members.status == 403, members.body


def test_a_provisional_membership_on_record_grants_nothing(api: Api, victim_org: str) -> None:
    """Point 1: a provisional row is no source of a role outside the token that wrote it (rows planted by the old
    route stay harmless). Fails before the fix: the stored provisional `org:admin` made the caller an org admin."""
    attacker = api.clerk.create_user(first_name="Mallory")["id"]
    token = api.token(attacker)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # the first login's sync is behind us
    ctx = WriteContext(SyncSource.FALLBACK, 1)
    api.store.put_provisional_membership(victim_org, attacker, "org:admin", ctx)
    for method, path in (
        ("POST", f"/api/sync/organization/{victim_org}/members"),
        ("POST", f"/api/sync/organization/{victim_org}"),
    ):
        reply = api.call(method, path, token=token)
        assert reply.status == 403, (path, reply.body)


def test_a_fresher_token_wins_over_a_stale_stored_admin_role(api: Api) -> None:
    """Point 3: the token's active organization says `org:member`, the stored row still says `org:admin`: the
    caller is a member (a demoted admin loses admin routes at once).

    Fails before the fix: the stored `org:admin` let the demoted caller run the admin-only members sync (200).
    """
    admin = api.clerk.create_user(first_name="Ada")["id"]
    org_id = api.clerk.create_organization("Acme", created_by=admin)["id"]
    assert api.call("POST", "/api/sync/user", token=api.token(admin, org_id)).status == 200
    api.clerk.update_membership(org_id, admin, role="org:member")  # its webhook is not delivered here
    stored = api.store.get_membership(org_id, admin)
    assert stored is not None
    assert stored["role"] == "org:admin"
    token = api.token(admin, org_id)
    assert _claims(token)["o"]["rol"] == "member"
    reply = api.call("POST", f"/api/sync/organization/{org_id}/members", token=token)
    assert reply.status == 403, reply.body
    # Another organization's admin rights still come from the table.
    other = api.clerk.create_organization("Other", created_by=admin)["id"]
    api.call("POST", "/api/sync/user", token=api.token(admin))
    assert api.call("POST", f"/api/sync/organization/{other}/members", token=token).status == 200


def test_private_metadata_never_reaches_an_answer(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 4: whatever STORE_PRIVATE_METADATA says, no answer carries private_metadata.

    Fails before the fix: with STORE_PRIVATE_METADATA=true, GET /api/sync/status returned the user's,
    organization's and membership's private_metadata.
    """
    monkeypatch.setenv("STORE_PRIVATE_METADATA", "true")
    wiring.reset()
    secret = {"stripe_customer": "cus_hidden_value"}
    user = api.clerk.create_user(first_name="Ada", private_metadata=secret)["id"]
    org_id = api.clerk.create_organization("Acme", private_metadata=secret)["id"]
    api.clerk.add_membership(org_id, user, "org:member", private_metadata=secret)
    token = api.token(user)
    synced = api.call("POST", "/api/sync/user", token=token)
    assert synced.status == 200
    stored = api.store.get_user(user)
    assert stored is not None
    assert "private_metadata" in stored
    for reply in (synced, api.call("GET", "/api/sync/status", token=token)):
        text = json.dumps(reply.body)
        assert "private_metadata" not in text
        assert "cus_hidden_value" not in text
    status = api.call("GET", "/api/sync/status", token=token).body
    assert status["memberships"][0]["organization"]["name"] == "Acme"


@pytest.mark.parametrize("authorization", ["Basic c3RhZ2luZzpzaXRl", "Bearer "])
def test_a_cached_verdict_never_comes_from_the_cookie(api: Api, authorization: str) -> None:
    """Point 2: with the authorizer cache on (keyed by the Authorization header), a request whose Authorization is
    not a bearer token is never authenticated from its `__session` cookie, so no identity is cached under a header
    anyone else can send.

    Fails before the fix: the victim's cookie authenticated the request, and a second caller sending only the same
    Basic header was served the victim's identity from the cache (200 with the victim's records).
    """
    cached = Gateway(authorizer_cache_ttl=60)
    victim = api.clerk.create_user(first_name="Victim")["id"]
    cookie = {"authorization": authorization, "cookie": f"__session={api.token(victim)}"}
    first = _through(cached, "GET", "/api/sync/status", cookie)
    assert first.status == 401, first.body
    second = _through(cached, "GET", "/api/sync/status", {"authorization": authorization})
    assert second.status == 401, second.body
    assert victim not in json.dumps(second.body)
    # A bearer token still works with caching on, and the uncached stack still reads the cookie.
    bearer = _through(cached, "GET", "/api/sync/status", {"authorization": f"Bearer {api.token(victim)}"})
    assert bearer.status == 200
    uncached = _through(Gateway(), "GET", "/api/sync/status", {"cookie": f"__session={api.token(victim)}"})
    assert uncached.status == 200
    assert uncached.body["user_id"] == victim


def _through(gateway: Gateway, method: str, path: str, headers: dict[str, str]) -> Reply:
    """One request through `gateway` (the fixture's gateway has no cache)."""
    return Api(clerk=None, gateway=gateway, sqs=None, resources=None).call(  # type: ignore[arg-type]
        method, path, headers=headers
    )


def test_a_caller_looping_a_sync_spends_no_more_of_clerks_budget(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point 5: the stage's per-caller limit (default one sync per 10 s) answers a repeat with 429 and Retry-After
    before any Clerk call; other callers are not affected.

    Fails before the fix: every one of the 20 requests made its Clerk calls (40 instead of 2).
    """
    monkeypatch.delenv("SYNC_CALLER_LIMIT")
    wiring.reset()
    looper, bystander = (api.clerk.create_user(first_name=name)["id"] for name in ("Loop", "Bystander"))
    token = api.token(looper)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # the login's own sync
    api.clerk.reset_stats()
    replies = [api.call("POST", "/api/sync/user", token=token) for _ in range(20)]
    assert [r.status for r in replies] == [200] + [429] * 19
    assert api.clerk.request_count() == 2  # one full sync: the user and one page of memberships
    for reply in replies[1:]:
        assert reply.body["error"]["code"] == "sync_rate_limited"
        assert 1 <= int(reply.headers["retry-after"]) <= 10
    others = api.call("POST", "/api/sync/user/organizations", token=token)
    assert others.status == 429  # the limit is the caller's, across the sync routes
    assert api.call("POST", "/api/sync/user", token=api.token(bystander)).status == 200
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # reads are not limited


def test_a_caller_may_sync_again_once_the_window_has_passed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window opens with the caller's first sync; Retry-After says when it ends, and then a sync goes through."""
    monkeypatch.setenv("SYNC_CALLER_LIMIT", "2")
    monkeypatch.setenv("SYNC_CALLER_WINDOW_SECONDS", "3")
    wiring.reset()
    token = api.token(api.clerk.create_user(first_name="Ada")["id"])
    replies = [api.call("POST", "/api/sync/user", token=token) for _ in range(3)]
    assert [r.status for r in replies] == [200, 200, 429]
    wait = int(replies[2].headers["retry-after"])
    assert 1 <= wait <= 3
    time.sleep(wait)
    assert api.call("POST", "/api/sync/user", token=token).status == 200
