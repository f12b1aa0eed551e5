"""/api/admin/* over HTTP against the local stack (gateway, real authorizer, sync API, moto, the emulator): the
overview's counts equal Clerk's state once converged, find by id and by email, a user's page, a dead letter listed
then replayed through the API, and the jobs list."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from clerk_sync.jobs import Job, new_job_id
from clerk_sync.store import JobStore
from tests.e2e.conftest import Stack


def _headers(stack: Stack, user_id: str) -> dict[str, str]:
    response = stack.clerk.post("/tokens", json={"user_id": user_id, "expires_in": 300, "claims": {}})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['jwt']}"}


def _admin(stack: Stack) -> dict[str, str]:
    assert stack.ready.admin_user_id is not None
    return _headers(stack, stack.ready.admin_user_id)


def _get(stack: Stack, path: str) -> Any:
    response = stack.api.get(path, headers=_admin(stack))
    assert response.status_code == 200, response.text
    return response.json()


def test_overview_counts_equal_clerk_once_converged(stack: Stack) -> None:
    stack.converge()
    snapshot = stack.clerk.get("/state").json()
    overview = _get(stack, "/api/admin/overview")
    records = overview["records"]
    assert records["complete"] is True
    assert records["users"]["live"] == len(snapshot["users"])
    assert records["organizations"]["live"] == len(snapshot["organizations"])
    assert records["memberships"]["live"] == len(snapshot["memberships"])
    assert len(overview["outcomes"]) == 24
    assert overview["dlq"]["depth"] is not None


def test_find_by_id_and_email_and_the_user_page(stack: Stack) -> None:
    email = f"admin-e2e-{uuid.uuid4().hex[:8]}@example.com"
    created = stack.clerk.post("/users", json={"first_name": "Finder", "email_addresses": [email]})
    assert created.status_code in (200, 201), created.text
    user_id = created.json()["id"]
    org = stack.clerk.post("/organizations", json={"name": "Find Co", "created_by": user_id})
    assert org.status_code in (200, 201), org.text
    stack.converge()
    by_id = _get(stack, f"/api/admin/find?q={user_id}")["results"]
    assert [(r["id"], r["on_record"]) for r in by_id] == [(user_id, True)]
    by_email = _get(stack, f"/api/admin/find?q={email.replace('@', '%40')}")["results"]
    assert [r["id"] for r in by_email] == [user_id]
    page = _get(stack, f"/api/admin/users/{user_id}")
    assert page["user"]["user_id"] == user_id
    assert [m["org_id"] for m in page["memberships"]] == [org.json()["id"]]
    assert page["memberships"][0]["organization_name"] == "Find Co"


def test_a_dead_letter_is_listed_then_replayed(stack: Stack) -> None:
    body = json.dumps({"kind": "event", "svix_id": "msg_admin_e2e", "event": {"type": "user.updated"}})
    stack.sqs.send_message(QueueUrl=stack.ready.dlq_url, MessageBody=body)
    listed = _get(stack, "/api/admin/dlq")
    mine = [m for m in listed["messages"] if m["svix_id"] == "msg_admin_e2e"]
    assert len(mine) == 1, listed
    message_id = mine[0]["message_id"]
    reply = stack.api.post("/api/admin/dlq/replay", headers=_admin(stack), json={"message_ids": [message_id]})
    assert reply.status_code == 200, reply.text
    assert reply.json()["replayed"] == 1
    assert reply.json()["not_found"] == []
    deadline = time.monotonic() + 10
    while any(m["message_id"] == message_id for m in _get(stack, "/api/admin/dlq")["messages"]):
        if time.monotonic() > deadline:
            pytest.fail("the replayed message is still on the DLQ")
        time.sleep(0.2)


def test_jobs_list_shows_a_member_sync_job(stack: Stack) -> None:
    assert stack.ready.demo_org_id is not None
    now = time.time_ns() // 1_000_000
    job = Job(
        job_id=new_job_id(),
        org_id=stack.ready.demo_org_id,
        requested_by=stack.ready.admin_user_id or "user_admin",
        created_at=now,
        updated_at=now,
        listed_at=now,
    )
    JobStore(stack.store.table).create(job)
    jobs = _get(stack, "/api/admin/jobs")["jobs"]
    assert job.job_id in [j["job_id"] for j in jobs]


def test_admin_routes_refuse_a_non_admin(stack: Stack) -> None:
    assert stack.ready.demo_user_id is not None
    response = stack.api.get("/api/admin/overview", headers=_headers(stack, stack.ready.demo_user_id))
    assert response.status_code == 403
    assert stack.api.get("/api/admin/overview").status_code == 401
