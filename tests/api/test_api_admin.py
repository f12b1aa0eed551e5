"""The /api/admin/* routes through the gateway pipeline: every route of the route table is for platform admins only
(401 without a token, 403 for anyone else signed in, org admins included), answers 200 for a platform admin, and
refuses bad input with a 400 that changes nothing (never a 500)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.items import WriteContext
from clerk_sync.jobs import Job, new_job_id
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.vocabulary import Entity, SyncSource
from infra.endpoints import ROUTES
from tests.api.conftest import Api

ADMIN_ROUTES = [route for route in ROUTES if route.path.startswith("/api/admin")]
MESSAGE_ID = "3f9c2a1e-1111-4222-8333-444455556666"


@dataclass
class World:
    admin: str
    org_admin: str
    member: str
    org_id: str
    job_id: str


@pytest.fixture
def world(api: Api) -> World:
    clerk = api.clerk
    admin = clerk.create_user(first_name="Root", public_metadata={"role": "admin"})["id"]
    org_admin = clerk.create_user(first_name="Ada", last_name="Admin")["id"]
    member = clerk.create_user(first_name="Mem", email_addresses=["mem@example.com"])["id"]
    org_id = clerk.create_organization("Acme", created_by=org_admin)["id"]
    clerk.add_membership(org_id, member, "org:member")
    job_id = new_job_id()
    wiring.job_store().create(
        Job(job_id=job_id, org_id=org_id, requested_by=org_admin, created_at=1, updated_at=1, listed_at=1)
    )
    return World(admin, org_admin, member, org_id, job_id)


def _note_history(entity: Entity, entity_id: str, at: int, outcome: Outcome = Outcome.APPLIED) -> None:
    """A history entry as the writes leave one (the history store's own record call)."""
    ctx = WriteContext(SyncSource.WEBHOOK, at, event_id=f"msg_{at}")
    wiring.history().record(WriteResult(outcome, entity, entity_id), ctx, change="user.updated", version=at)


def _path(template: str, world: World) -> str:
    filled = template.format(clerkUserId=world.member, clerkOrgId=world.org_id, entity="user", entityId=world.member)
    return filled + ("?q=" + world.member if filled.endswith("/find") else "")


def _body(method: str) -> Any:
    return {"all": True} if method == "POST" else None


def test_admin_routes_are_in_the_route_table_behind_the_authorizer() -> None:
    assert len(ADMIN_ROUTES) == 8
    assert all(route.function == "sync_api" and route.authorized for route in ADMIN_ROUTES)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_admin_route_needs_a_token(api: Api, world: World, route: Any) -> None:
    reply = api.call(route.method, _path(route.path, world), body=_body(route.method))
    assert reply.status == 401, reply.body


@pytest.mark.parametrize("actor", ["member", "org_admin"])
@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_admin_route_refuses_anyone_but_a_platform_admin(api: Api, world: World, route: Any, actor: str) -> None:
    token = api.token(getattr(world, actor), world.org_id)
    api.call("GET", "/api/sync/status", token=token)  # the login itself syncs the caller
    before = api.items()
    api.clerk.reset_stats()
    reply = api.call(route.method, _path(route.path, world), token=token, body=_body(route.method))
    assert reply.status == 403, reply.body
    assert reply.body["error"]["code"] == "forbidden"
    assert api.items() == before
    assert api.clerk.request_count() == 0


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_admin_route_answers_a_platform_admin(api: Api, world: World, route: Any) -> None:
    token = api.token(world.admin)
    api.call("POST", f"/api/sync/user/{world.member}", token=token)  # the member on record, with a history
    reply = api.call(route.method, _path(route.path, world), token=token, body=_body(route.method))
    assert reply.status == 200, reply.body


def test_overview_counts_records_and_lists_24_hours(api: Api, world: World) -> None:
    token = api.token(world.admin)
    api.call("POST", f"/api/sync/organization/{world.org_id}/members", token=token)
    wiring.reset()  # a fresh container: no cached count
    reply = api.call("GET", "/api/admin/overview", token=token)
    assert reply.status == 200, reply.body
    records = reply.body["records"]
    assert records["complete"] is True
    assert records["organizations"]["live"] == 1
    assert records["memberships"]["live"] == 2
    assert records["users"]["live"] == 1  # the admin, by logging in (a member sync writes memberships only)
    hours = [row["hour"] for row in reply.body["outcomes"]]
    assert len(hours) == 24
    assert hours == sorted(hours)
    assert reply.body["dlq"]["depth"] == 0
    assert reply.body["clerk_budget"]["limit_per_10s"] > 0


def test_overview_count_is_cached(api: Api, world: World) -> None:
    token = api.token(world.admin)
    first = api.call("GET", "/api/admin/overview", token=token).body["records"]
    api.call("POST", f"/api/sync/organization/{world.org_id}/members", token=token)
    assert api.call("GET", "/api/admin/overview", token=token).body["records"] == first


def test_find_by_id_and_by_email(api: Api, world: World) -> None:
    token = api.token(world.admin)
    api.call("POST", f"/api/sync/user/{world.member}", token=token)
    by_id = api.call("GET", f"/api/admin/find?q={world.member}", token=token).body
    assert by_id["results"] == [
        {"kind": "user", "id": world.member, "label": "Mem", "deleted": False, "on_record": True}
    ]
    by_email = api.call("GET", "/api/admin/find?q=mem%40example.com", token=token).body
    assert [r["id"] for r in by_email["results"]] == [world.member]
    org = api.call("GET", f"/api/admin/find?q={world.org_id}", token=token).body["results"]
    assert org[0]["kind"] == "organization"
    assert org[0]["on_record"] is True
    nobody = api.call("GET", "/api/admin/find?q=nobody%40example.com", token=token)
    assert nobody.status == 200
    assert nobody.body["results"] == []


def test_user_page_shows_record_memberships_and_history(api: Api, world: World) -> None:
    token = api.token(world.admin)
    api.call("POST", f"/api/sync/user/{world.member}", token=token)
    _note_history(Entity.USER, world.member, 1_000)
    _note_history(Entity.USER, world.member, 2_000, Outcome.STALE)
    page = api.call("GET", f"/api/admin/users/{world.member}", token=token).body
    assert page["user"]["user_id"] == world.member
    assert not {"PK", "SK", "content_hash", "entity", "private_metadata"} & set(page["user"])
    assert page["provenance"]["sync_source"] == "api"
    assert [(m["org_id"], m["organization_name"]) for m in page["memberships"]] == [(world.org_id, "Acme")]
    assert page["history"]["enabled"] is True
    entries = page["history"]["entries"]
    # Newest first: the sync above (recorded by the sync layer), then the entry noted by hand.
    assert [(e["source"], e["outcome"]) for e in entries[:1]] == [("api", "applied")]
    assert [e["at"] for e in entries[1:]] == [1_000]
    assert page["history"]["counts"]["stale"] == 1
    org = api.call("GET", f"/api/admin/organizations/{world.org_id}", token=token).body
    assert org["organization"]["name"] == "Acme"
    assert [m["user_id"] for m in org["memberships"]] == [world.member]


def test_unknown_records_are_404(api: Api, world: World) -> None:
    token = api.token(world.admin)
    for path in ("/api/admin/users/user_nobody", "/api/admin/organizations/org_nobody"):
        reply = api.call("GET", path, token=token)
        assert reply.status == 404
        assert reply.body["error"]["code"] == "not_found"


def test_history_pages_with_next_before(api: Api, world: World) -> None:
    token = api.token(world.admin)
    for at in (1_000, 2_000, 3_000):
        _note_history(Entity.USER, world.member, at)
    _note_history(Entity.MEMBERSHIP, f"{world.org_id}/{world.member}", 4_000)
    first = api.call("GET", f"/api/admin/history/user/{world.member}?limit=2", token=token).body
    assert [e["at"] for e in first["entries"]] == [3_000, 2_000]
    assert first["next_before"] == 2_000
    following = f"/api/admin/history/user/{world.member}?limit=2&before={first['next_before']}"
    rest = api.call("GET", following, token=token).body
    assert [e["at"] for e in rest["entries"]] == [1_000]
    assert rest["next_before"] is None
    membership = api.call("GET", f"/api/admin/history/membership/{world.org_id}:{world.member}", token=token)
    assert membership.status == 200
    assert len(membership.body["entries"]) == 1
    assert all(e["entity_id"] == f"{world.org_id}/{world.member}" for e in membership.body["entries"])


def test_jobs_lists_recent_jobs(api: Api, world: World) -> None:
    reply = api.call("GET", "/api/admin/jobs", token=api.token(world.admin))
    assert [job["job_id"] for job in reply.body["jobs"]] == [world.job_id]
    assert reply.body["runs"] == []


def test_dlq_lists_and_replays(api: Api, world: World) -> None:
    resources = api.resources
    api.sqs.send_message(QueueUrl=resources.dlq_url, MessageBody=json.dumps({"kind": "event", "event": {}}))
    token = api.token(world.admin)
    listed = api.call("GET", "/api/admin/dlq", token=token).body
    assert listed["depth"] == 1
    assert not listed["truncated"]
    (message,) = listed["messages"]
    reply = api.call(
        "POST", "/api/admin/dlq/replay", token=token, body={"message_ids": [message["message_id"], MESSAGE_ID]}
    )
    assert reply.status == 200, reply.body
    assert reply.body["replayed"] == 1
    assert reply.body["not_found"] == [MESSAGE_ID]
    assert reply.body["left"] == 0
    received = api.sqs.receive_message(QueueUrl=resources.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in received] == [json.dumps({"kind": "event", "event": {}})]


def test_without_a_dlq_the_dlq_routes_answer_503_and_the_overview_shows_none(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DLQ_URL")
    wiring.reset()
    token = api.token(world.admin)
    listed = api.call("GET", "/api/admin/dlq", token=token)
    replayed = api.call("POST", "/api/admin/dlq/replay", token=token, body={"all": True})
    for reply in (listed, replayed):
        assert reply.status == 503, reply.body
        assert reply.body["error"]["code"] == "dlq_not_configured"
    overview = api.call("GET", "/api/admin/overview", token=token)
    assert overview.status == 200
    assert overview.body["dlq"] == {"depth": None}


BAD_INPUTS = [
    ("GET", "/api/admin/find", None),
    ("GET", "/api/admin/find?q=", None),
    ("GET", "/api/admin/find?q=" + "a" * 255 + "%40x.io", None),
    ("GET", "/api/admin/find?q=hello", None),
    ("GET", "/api/admin/find?q=user_bad%21id", None),
    ("GET", "/api/admin/users/nobody", None),
    ("GET", "/api/admin/users/user_" + "x" * 80, None),
    ("GET", "/api/admin/organizations/user_abc", None),
    ("GET", "/api/admin/history/job/user_abc", None),
    ("GET", "/api/admin/history/user/org_abc", None),
    ("GET", "/api/admin/history/membership/user_abc", None),
    ("GET", "/api/admin/history/user/user_abc?limit=0", None),
    ("GET", "/api/admin/history/user/user_abc?limit=101", None),
    ("GET", "/api/admin/history/user/user_abc?limit=ten", None),
    ("GET", "/api/admin/history/user/user_abc?before=-1", None),
    ("POST", "/api/admin/dlq/replay", {}),
    ("POST", "/api/admin/dlq/replay", {"message_ids": []}),
    ("POST", "/api/admin/dlq/replay", {"message_ids": ["not-a-uuid"]}),
    ("POST", "/api/admin/dlq/replay", {"message_ids": [MESSAGE_ID] * 101}),
    ("POST", "/api/admin/dlq/replay", {"all": False}),
    ("POST", "/api/admin/dlq/replay", {"all": True, "message_ids": [MESSAGE_ID]}),
    ("POST", "/api/admin/dlq/replay", {"all": True, "extra": 1}),
    ("POST", "/api/admin/dlq/replay", ["all"]),
    ("POST", "/api/admin/dlq/replay", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_INPUTS)
def test_bad_admin_input_is_a_400_that_changes_nothing(
    api: Api, world: World, method: str, path: str, body: Any
) -> None:
    token = api.token(world.admin)
    api.sqs.send_message(QueueUrl=api.resources.dlq_url, MessageBody="poison")
    api.call("GET", "/api/sync/status", token=token)
    before = api.items()
    reply = api.call(method, path, token=token, body=body)
    assert reply.status == 400, reply.body
    assert reply.body["error"]["code"] == "bad_request"
    assert "a" * 50 not in json.dumps(reply.body)  # never echoes what was sent
    assert api.items() == before
    depth = api.sqs.get_queue_attributes(
        QueueUrl=api.resources.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1"
