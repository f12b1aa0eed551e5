"""The permission matrix: self, another user, an org member, an org admin and a platform admin by every route."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from clerk_sync import wiring
from clerk_sync.jobs import Job, new_job_id
from tests.api.conftest import Api

ACTORS = ("self", "other", "member", "org_admin", "platform_admin")


@dataclass
class World:
    users: dict[str, str]  # actor -> user id
    org_id: str
    job_id: str


@pytest.fixture
def world(api: Api) -> World:
    clerk = api.clerk
    users = {
        "self": clerk.create_user(first_name="Self")["id"],
        "other": clerk.create_user(first_name="Other")["id"],
        "member": clerk.create_user(first_name="Member")["id"],
        "org_admin": clerk.create_user(first_name="Admin")["id"],
        "platform_admin": clerk.create_user(first_name="Root", public_metadata={"role": "admin"})["id"],
    }
    org_id = clerk.create_organization("Acme", created_by=users["org_admin"])["id"]
    clerk.add_membership(org_id, users["member"], "org:member")
    job_id = new_job_id()
    wiring.job_store().create(
        Job(job_id=job_id, org_id=org_id, requested_by=users["org_admin"], created_at=1, updated_at=1, listed_at=1)
    )
    return World(users, org_id, job_id)


def _token(api: Api, world: World, actor: str) -> str:
    org = world.org_id if actor in ("member", "org_admin") else None
    return api.token(world.users[actor], org)


# route -> (method, path template, body template, actors allowed)
MATRIX = {
    "sync self": ("POST", "/api/sync/user", None, set(ACTORS)),
    "sync self full": ("POST", "/api/sync/user/full", None, set(ACTORS)),
    "sync self organizations": ("POST", "/api/sync/user/organizations", None, set(ACTORS)),
    "sync a user by id": ("POST", "/api/sync/user/{self}", None, {"platform_admin"}),
    "sync organization": ("POST", "/api/sync/organization/{org}", None, {"member", "org_admin", "platform_admin"}),
    "sync organization members": (
        "POST",
        "/api/sync/organization/{org}/members",
        None,
        {"org_admin", "platform_admin"},
    ),
    "sync a member's membership": (
        "POST",
        "/api/sync/membership",
        {"clerkOrgId": "{org}", "clerkUserId": "{member}", "role": "org:member"},
        {"member", "org_admin", "platform_admin"},
    ),
    "status": ("GET", "/api/sync/status", None, set(ACTORS)),
    "job progress": ("GET", "/api/sync/jobs/{job}", None, {"org_admin", "platform_admin"}),
}


def _fill(template: str, world: World) -> str:
    return template.format(org=world.org_id, job=world.job_id, **world.users)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_permission_matrix(api: Api, world: World, route: str, actor: str) -> None:
    method, path, body, allowed = MATRIX[route]
    payload = {k: _fill(v, world) for k, v in body.items()} if body else None
    reply = api.call(method, _fill(path, world), token=_token(api, world, actor), body=payload)
    if actor in allowed:
        assert reply.status in (200, 202), reply.body
    else:
        assert reply.status == 403, reply.body
        assert reply.body["error"]["code"] == "forbidden"


def test_forbidden_request_writes_nothing_beyond_the_login(api: Api, world: World) -> None:
    token = _token(api, world, "other")
    api.call("GET", "/api/sync/status", token=token)  # the login itself syncs the caller
    before = api.items()
    api.clerk.reset_stats()
    reply = api.call("POST", f"/api/sync/organization/{world.org_id}/members", token=token)
    assert reply.status == 403
    assert api.items() == before
    assert api.clerk.request_count() == 0


def test_admin_user_ids_make_a_platform_admin(api: Api, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from clerk_sync import wiring

    monkeypatch.setenv("ADMIN_USER_IDS", f"user_nobody,{world.users['other']}")
    wiring.reset()
    reply = api.call("POST", f"/api/sync/user/{world.users['self']}", token=_token(api, world, "other"))
    assert reply.status == 200


def test_member_may_sync_their_own_membership_but_not_anothers(api: Api, world: World) -> None:
    token = _token(api, world, "member")
    own = {"clerkOrgId": world.org_id, "clerkUserId": world.users["member"]}
    theirs = {"clerkOrgId": world.org_id, "clerkUserId": world.users["org_admin"]}
    assert api.call("POST", "/api/sync/membership", token=token, body=own).status == 200
    assert api.call("POST", "/api/sync/membership", token=token, body=theirs).status == 403


def test_job_requester_may_read_their_job(api: Api, world: World) -> None:
    reply = api.call("GET", f"/api/sync/jobs/{world.job_id}", token=_token(api, world, "org_admin"))
    assert reply.status == 200
    assert reply.body["job_id"] == world.job_id
