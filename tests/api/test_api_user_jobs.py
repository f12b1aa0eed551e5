"""The user sync routes when a user's memberships span more than one Clerk page: 202, a job, and its status."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.handlers import worker
from clerk_sync_local.stack.poller import SqsPoller
from tests.api.conftest import Api

PAGE = 500


def _signed_in(api: Api, first_name: str, **fields: Any) -> tuple[str, str]:
    """A user who has logged in (on record and fresh), and their token."""
    user_id = api.clerk.create_user(first_name=first_name, **fields)["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200
    return user_id, token


def test_user_sync_beyond_one_page_answers_202_with_a_job_only_its_requester_and_admins_follow(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the fix: POST /api/sync/user walked every page inline (200 once all were written), which for
    thousands of memberships runs past the gateway's 30 s cut."""
    _deployed_budget(monkeypatch)
    clerk = api.clerk
    user_id, token = _signed_in(api, "Joiner")
    orgs = [clerk.create_organization(f"Org {number}", created_by=user_id)["id"] for number in range(PAGE + 1)]
    reply = api.call("POST", "/api/sync/user", token=token)
    assert reply.status == 202
    job_url = reply.body["status_url"]
    assert reply.headers["location"] == job_url
    job = reply.body["job"]
    assert (job["kind"], job["user_id"], job["status"]) == ("user_memberships", user_id, "running")
    # The report's own fields are where they always were: the user and what the first page's writes reached in the
    # route's budget (all 500 organizations and memberships on a quiet machine; whole chunks of 100 on a busy one).
    written = job["synced"]
    assert 100 <= written <= PAGE
    assert job["next_offset"] == written
    assert reply.body["summary"] == {"unchanged": 1, "applied": 2 * written}
    assert api.call("GET", job_url, token=token).status == 200
    _, other = _signed_in(api, "Other")
    assert api.call("GET", job_url, token=other).status == 403
    _, admin = _signed_in(api, "Root", public_metadata={"role": "admin"})
    assert api.call("GET", job_url, token=admin).status == 200
    SqsPoller(api.sqs, api.resources.queue_url, worker.handler).drain()
    done = api.call("GET", job_url, token=token).body
    assert (done["status"], done["synced"], done["next_offset"]) == ("succeeded", PAGE + 1, None)
    assert {m["org_id"] for m in api.store.user_memberships(user_id)} == set(orgs)


def test_user_sync_near_its_deadline_writes_what_it_can_and_leaves_the_rest_to_the_job(api: Api) -> None:
    """With this tier's 3 s budget the route stops beginning chunks of writes after about 2 s: it answers 202 with
    what it wrote, and the job reads on from the first membership it did not write."""
    clerk = api.clerk
    user_id, token = _signed_in(api, "Hurried")
    orgs = [clerk.create_organization(f"Org {number}", created_by=user_id)["id"] for number in range(PAGE)]
    clerk.set_knobs(latency_ms=900)  # the user and the page take 1.8 of the 3 s (each read may take 1 s)
    reply = api.call("POST", "/api/sync/user", token=token)
    clerk.set_knobs(latency_ms=0)
    assert reply.status == 202
    written = reply.body["job"]["synced"]
    assert reply.body["job"]["next_offset"] == written  # the job reads on from the first one not written
    assert 100 <= written < PAGE  # whole chunks, at least one
    SqsPoller(api.sqs, api.resources.queue_url, worker.handler).drain()
    done = api.call("GET", reply.body["status_url"], token=token).body
    assert (done["status"], done["synced"]) == ("succeeded", PAGE)
    assert {m["org_id"] for m in api.store.user_memberships(user_id)} == set(orgs)


def _deployed_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deployed route budget (the setting's default) instead of this tier's 3 s: the first page is written
    inline."""
    monkeypatch.delenv("API_SYNC_BUDGET_SECONDS")
    wiring.reset()


def test_user_sync_within_one_page_answers_200_without_a_job(api: Api) -> None:
    user_id, token = _signed_in(api, "Ada")
    org_id = api.clerk.create_organization("Acme", created_by=user_id)["id"]
    for path in ("/api/sync/user", "/api/sync/user/organizations"):
        reply = api.call("POST", path, token=token)
        assert reply.status == 200
        assert (reply.body["job"], reply.body["status_url"]) == (None, None)
        assert "location" not in reply.headers
    assert [m["org_id"] for m in api.store.user_memberships(user_id)] == [org_id]
