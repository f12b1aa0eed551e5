"""What each sync route does and answers: reports, jobs, status, and the error statuses."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from clerk_sync import wiring
from clerk_sync.budget.bucket import BucketState
from clerk_sync.handlers import worker
from clerk_sync.messages import QueuedEvent
from clerk_sync.queue import SqsEventQueue
from clerk_sync.store import ClerkBudgetItem, Table
from clerk_sync_local.stack.poller import SqsPoller
from tests.api.conftest import Api
from tests.support.clerk_payloads import example


def _admin(api: Api) -> tuple[str, str]:
    user_id = api.clerk.create_user(first_name="Root", public_metadata={"role": "admin"})["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # logged in, on record, fresh
    api.clerk.reset_stats()
    return user_id, token


def test_full_sync_of_the_caller_reports_every_change(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    token = api.token(user_id)
    api.call("GET", "/api/sync/status", token=token)
    org_id = clerk.create_organization("Acme", created_by=user_id)["id"]
    clerk.update_user(user_id, first_name="Ada L.")
    reply = api.call("POST", "/api/sync/user/full", token=token)
    assert reply.status == 200
    assert reply.body["summary"] == {"applied": 3}
    assert {(c["entity"], c["id"]) for c in reply.body["changes"]} == {
        ("user", user_id),
        ("organization", org_id),
        ("membership", f"{org_id}/{user_id}"),
    }
    assert reply.body["clerk_calls"] == 2


def test_membership_sync_reports_a_role_mismatch_and_keeps_clerks_role(api: Api) -> None:
    clerk = api.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    user_id = clerk.create_user(first_name="Member")["id"]
    org_id = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org_id, user_id, "org:member")
    body = {"clerkOrgId": org_id, "clerkUserId": user_id, "role": "org:admin"}
    reply = api.call("POST", "/api/sync/membership", token=api.token(user_id), body=body)
    assert reply.status == 200
    assert reply.body["role_mismatch"] == {"requested": "org:admin", "clerk": "org:member"}
    membership = api.store.get_membership(org_id, user_id)
    assert membership is not None
    assert membership["role"] == "org:member"


def test_member_sync_beyond_one_page_answers_202_with_a_job_the_worker_finishes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deployed budget: with this tier's 3 s, writes stop short of the first page's end (docs/decisions/0013).
    monkeypatch.delenv("API_SYNC_BUDGET_SECONDS")
    wiring.reset()
    clerk = api.clerk
    admin_id, token = _admin(api)
    org_id = clerk.create_organization("Big", created_by=admin_id)["id"]
    for number in range(520):
        clerk.add_membership(org_id, clerk.create_user(first_name=f"M{number}")["id"])
    reply = api.call("POST", f"/api/sync/organization/{org_id}/members", token=token)
    assert reply.status == 202
    job_url = reply.body["status_url"]
    assert reply.headers["location"] == job_url
    assert reply.body["job"]["status"] == "running"
    assert reply.body["report"]["summary"]["applied"] == 501  # the organization and the first 500 members
    progress = api.call("GET", job_url, token=token)
    assert (progress.status, progress.body["next_offset"]) == (200, 500)
    pending = api.call("GET", "/api/sync/status", token=token).body["pending_jobs"]
    assert [job["job_id"] for job in pending] == [reply.body["job"]["job_id"]]
    poller = SqsPoller(api.sqs, api.resources.queue_url, worker.handler)
    poller.drain()
    done = api.call("GET", job_url, token=token)
    assert done.body["status"] == "succeeded"
    assert done.body["synced"] == 521
    assert len(api.store.organization_memberships(org_id)) == 521


def test_member_sync_of_one_page_answers_200(api: Api) -> None:
    clerk = api.clerk
    admin_id, token = _admin(api)
    org_id = clerk.create_organization("Small", created_by=admin_id)["id"]
    reply = api.call("POST", f"/api/sync/organization/{org_id}/members", token=token)
    assert reply.status == 200
    assert reply.body["job"] is None


@pytest.mark.parametrize(
    ("path", "what"),
    [("/api/sync/user/user_nosuchuser", "user"), ("/api/sync/organization/org_nosuchorg", "organization")],
)
def test_sync_of_what_clerk_does_not_have_is_404(api: Api, path: str, what: str) -> None:
    _, token = _admin(api)
    reply = api.call("POST", path, token=token)
    assert reply.status == 404
    assert reply.body == {"error": {"code": "not_found", "message": f"Clerk has no such {what}"}}


def test_unknown_job_is_404(api: Api) -> None:
    _, token = _admin(api)
    reply = api.call("GET", "/api/sync/jobs/job_doesnotexist", token=token)
    assert reply.status == 404


def test_rate_limited_clerk_gives_429_with_retry_after(api: Api) -> None:
    _, token = _admin(api)
    api.clerk.set_knobs(rate_limit=1, rate_limit_window_s=10)
    reply = api.call("POST", "/api/sync/user", token=token)
    assert reply.status == 429
    assert reply.body["error"]["code"] == "clerk_rate_limited"
    assert int(reply.headers["retry-after"]) >= 1


def test_clerk_outage_gives_503_with_retry_after(api: Api) -> None:
    _, token = _admin(api)
    api.clerk.set_knobs(outage=True)
    reply = api.call("POST", "/api/sync/user", token=token)
    assert reply.status == 503
    assert reply.body["error"]["code"] == "clerk_unavailable"
    assert reply.headers["retry-after"] == "5"


BAD_REQUESTS: list[tuple[str, str, Any]] = [
    ("POST", "/api/sync/user/not-a-user-id", None),
    ("POST", "/api/sync/user/org_wrongkind", None),
    ("POST", "/api/sync/organization/user_wrongkind", None),
    ("POST", "/api/sync/organization/org_bad!chars/members", None),
    ("GET", "/api/sync/jobs/nojob", None),
    ("POST", "/api/sync/membership", b"{not json"),
    ("POST", "/api/sync/membership", {"clerkOrgId": "org_1"}),
    ("POST", "/api/sync/membership", {"clerkOrgId": "org_1", "clerkUserId": "user_1", "extra": 1}),
    ("POST", "/api/sync/membership", {"clerkOrgId": "org_1", "clerkUserId": "user_1", "role": "admin; drop"}),
    ("POST", "/api/sync/membership", {"clerkOrgId": 5, "clerkUserId": ["user_1"]}),
    ("POST", "/api/sync/membership", ["not", "an", "object"]),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_REQUESTS)
def test_malformed_request_is_400_and_changes_nothing(api: Api, method: str, path: str, body: Any) -> None:
    _, token = _admin(api)
    before = api.items()
    raw = body if isinstance(body, bytes) else None
    reply = api.call(method, path, token=token, body=None if raw else body, raw_body=raw)
    assert reply.status == 400
    assert reply.body["error"]["code"] == "bad_request"
    assert api.items() == before
    assert api.clerk.request_count() == 0


def test_unknown_route_is_404_from_the_gateway(api: Api) -> None:
    reply = api.call("DELETE", "/api/sync/user")
    assert reply.status == 404


def test_status_marks_stale_and_provisional_records(api: Api) -> None:
    clerk = api.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    reply = api.call("GET", "/api/sync/status", token=api.token(user_id))
    body = reply.body
    assert (body["stale"], body["provisional"]) == (False, False)
    assert body["user"]["sync_source"] == "login"
    assert "PK" not in body["user"]
    assert "content_hash" not in body["user"]


def test_a_spent_shared_budget_answers_429_at_once_without_calling_clerk(api: Api) -> None:
    """The other writers spent the instance's budget for minutes to come: the route does not wait past its 10 s,
    nor ask Clerk for a 429 of its own; it answers 429 with the budget's Retry-After (capped at a minute)."""
    _, token = _admin(api)
    limits = wiring.clerk_settings().budget_limits
    item = ClerkBudgetItem(Table(boto3.client("dynamodb"), api.resources.table_name))
    spent = BucketState(tokens=-limits.rate * 600, bulk_tokens=0, updated_at=time.time())
    assert item.save(spent, seen=item.load(), limits=limits).applied
    began = time.monotonic()
    reply = api.call("POST", "/api/sync/user", token=token)
    assert reply.status == 429
    assert reply.body["error"]["code"] == "clerk_rate_limited"
    assert int(reply.headers["retry-after"]) == 60
    assert time.monotonic() - began < 2.0
    assert api.clerk.request_count() == 0


def test_status_says_when_the_worker_last_processed_a_webhook(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    token = api.token(user_id)
    before = api.call("GET", "/api/sync/status", token=token).body
    assert (before["last_webhook_at"], before["seconds_since_last_webhook"]) == (None, None)

    started_ms = time.time_ns() // 1_000_000
    event = QueuedEvent(svix_id="msg_fresh", received_at=started_ms, event=example("organization.created"))
    SqsEventQueue(api.sqs, api.resources.queue_url).send(event)
    SqsPoller(api.sqs, api.resources.queue_url, worker.handler).drain()
    after = api.call("GET", "/api/sync/status", token=token).body
    assert started_ms <= after["last_webhook_at"] <= time.time_ns() // 1_000_000
    assert after["seconds_since_last_webhook"] in (0, 1)


def test_status_counts_seconds_since_the_last_webhook(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    ninety_seconds_ago = time.time_ns() // 1_000_000 - 90_000
    assert wiring.webhook_freshness().record("user.updated", ninety_seconds_ago)
    body = api.call("GET", "/api/sync/status", token=api.token(user_id)).body
    assert body["last_webhook_at"] == ninety_seconds_ago
    assert 90 <= body["seconds_since_last_webhook"] <= 92
