"""What clients and Clerk send that the API used to answer with a 500: bodies, metadata, blocked users.

Through the gateway pipeline, the real authorizer and sync API, the Clerk emulator and moto (docs/decisions/0015).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_sync.api.bodies import MAX_API_BODY_BYTES
from clerk_sync.handlers import authorizer
from clerk_sync.items import METADATA_TRUNCATED
from clerk_sync.models import Envelope
from clerk_sync_local.lambda_events import LocalLambdaContext
from tests.api.conftest import Api


def _member(api: Api) -> tuple[str, str, str]:
    """A user, an organization they belong to, and their token (logged in once, so on record and fresh)."""
    user_id = api.clerk.create_user(first_name="Member")["id"]
    org_id = api.clerk.create_organization("Acme", created_by=user_id)["id"]
    token = api.token(user_id)
    # A full sync (the API's budget, longer than a login's) so that the record is real and fresh even on a
    # loaded machine: later logins then only read it.
    assert api.call("POST", "/api/sync/user/full", token=token).status == 200
    return user_id, org_id, token


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "APPLICATION/JSON", "application/merge-patch+json", ""],
)
def test_json_body_sent_as_text_plain_or_any_json_type_is_read(api: Api, content_type: str) -> None:
    """Fails before the fix: Powertools raised RequestUnsupportedContentType for text/plain (a browser's
    default for a string body) and for APPLICATION/JSON, which the catch-all answered 500."""
    user_id, org_id, token = _member(api)
    body = json.dumps({"clerkOrgId": org_id, "clerkUserId": user_id}).encode()
    reply = api.call("POST", "/api/sync/membership", token=token, raw_body=body, headers={"content-type": content_type})
    assert reply.status == 200, reply.body
    assert reply.body["found"] is True


@pytest.mark.parametrize(
    ("content_type", "body", "status", "message"),
    [
        ("application/octet-stream", b'{"clerkOrgId": "org_1"}', 415, "send the body as JSON (application/json)"),
        ("application/x-www-form-urlencoded", b"clerkOrgId=org_1&clerkUserId=user_1", 415, None),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--", 415, None),
        ("application/xml", b"<a/>", 415, None),
        ("application/json", b"[" * 1000 + b"]" * 1000, 400, "the body nests deeper than 128 levels"),
        ("application/json", b'{"clerkOrgId": NaN}', 400, "the body is not valid JSON"),
        ("application/json", b'{"clerkOrgId": "\\ud800"}', 400, "the body holds a lone UTF-16 surrogate escape"),
        ("text/plain", b"\xff\xfe", 400, "the body is not UTF-8"),
        ("application/json", b" " * (MAX_API_BODY_BYTES + 1), 413, f"the body exceeds {MAX_API_BODY_BYTES} bytes"),
    ],
    ids=["octet-stream", "form", "multipart", "xml", "1000-deep", "nan", "surrogate", "not-utf8", "too-large"],
)
def test_body_the_api_cannot_read_is_a_clear_4xx_and_changes_nothing(
    api: Api, content_type: str, body: bytes, status: int, message: str | None
) -> None:
    """Fails before the fix: octet-stream and 1,000 levels of nesting (RecursionError) answered 500; a form
    body answered 400 quoting the body back."""
    _, _, token = _member(api)
    before = api.items()
    api.clerk.reset_stats()
    reply = api.call("POST", "/api/sync/membership", token=token, raw_body=body, headers={"content-type": content_type})
    assert reply.status == status
    if message is not None:
        assert reply.body["error"]["message"] == message
    assert "org_1" not in reply.body["error"]["message"]  # never the body back
    assert api.items() == before
    assert api.clerk.request_count() == 0


def test_unexpected_keys_are_never_echoed(api: Api) -> None:
    """Fails before the fix: the message listed every location, including the client's own key names."""
    user_id, org_id, token = _member(api)
    body = {"clerkOrgId": org_id, "clerkUserId": user_id, "<img src=x onerror=alert(1)>": 1}
    reply = api.call("POST", "/api/sync/membership", token=token, body=body)
    assert reply.status == 400
    assert reply.body["error"] == {"code": "bad_request", "message": "invalid request: body"}
    missing = api.call("POST", "/api/sync/membership", token=token, body={"clerkUserId": user_id})
    assert missing.body["error"]["message"] == "invalid request: clerkOrgId"


HARD_METADATA: list[dict[str, Any]] = [
    {"score": 1e200},
    {"id": 10**40},
    {"tiny": 5e-324},
    {"ok": [1, 2.5, "x"], "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}},
]


@pytest.mark.parametrize("metadata", HARD_METADATA, ids=["1e200", "10**40", "5e-324", "plain"])
def test_user_whose_clerk_record_holds_such_metadata_logs_in_and_reads_it_back(
    api: Api, metadata: dict[str, Any]
) -> None:
    """Fails before the fix: the login's put raised decimal.Overflow/Rounded/Underflow in the authorizer:
    API Gateway's 500 for every request of that user."""
    user_id = api.clerk.create_user(first_name="Odd", unsafe_metadata=metadata, public_metadata=metadata)["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # the login
    # The login gives Clerk one second; on a loaded machine it may have fallen back to a provisional record,
    # which the full sync (with the API's longer budget) replaces.
    assert api.call("POST", "/api/sync/user/full", token=token).status == 200
    user = api.call("GET", "/api/sync/status", token=token).body["user"]
    assert user["unsafe_metadata"] == metadata
    assert user["public_metadata"] == metadata


def test_user_with_metadata_over_400_kb_logs_in_with_it_truncated(api: Api) -> None:
    """Fails before the fix: DynamoDB refuses items over 400 KB; the login failed with 503 on every request."""
    user_id = api.clerk.create_user(first_name="Big", unsafe_metadata={"blob": "x" * 450_000})["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200  # the login
    assert api.call("POST", "/api/sync/user/full", token=token).status == 200  # in case the login fell back
    user = api.call("GET", "/api/sync/status", token=token).body["user"]
    assert user["unsafe_metadata"] == {}
    assert user[METADATA_TRUNCATED] is True


def test_admin_flag_is_read_from_metadata_stored_as_json_text(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Root", public_metadata={"role": "admin", "n": 1e200})["id"]
    other = api.clerk.create_user(first_name="Other")["id"]
    token = api.token(user_id)
    assert api.call("POST", "/api/sync/user/full", token=token).status == 200  # on record even if a login fell back
    reply = api.call("POST", f"/api/sync/user/{other}", token=token)
    assert reply.status == 200


def _deliver_last_update(api: Api, user_id: str) -> dict[str, Any]:
    """Applies the emulator's latest user.updated of `user_id`, as the worker would; returns its data."""
    payloads = [e["payload"] for e in api.clerk.events]
    event = [p for p in payloads if p["type"] == "user.updated" and p["data"]["id"] == user_id][-1]
    api.service.apply_event(Envelope.model_validate(event), event_id=f"msg_{event['timestamp']}")
    data: dict[str, Any] = event["data"]
    return data


def _authorize(token: str) -> dict[str, Any]:
    event = {"type": "REQUEST", "headers": {"authorization": f"Bearer {token}"}, "cookies": []}
    answer: dict[str, Any] = authorizer.handler(event, LocalLambdaContext())
    return answer


@pytest.mark.parametrize("state", ["banned", "locked"])
def test_banned_or_locked_user_is_refused_like_a_deleted_one(api: Api, state: str) -> None:
    """Fails before the fix: the authorizer let a banned or locked user through with a still-valid token."""
    user_id = api.clerk.create_user(first_name="Blocked")["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200
    api.clerk.update_user(user_id, **{state: True})
    _deliver_last_update(api, user_id)
    fresh = api.token(user_id)
    reply = api.call("GET", "/api/sync/status", token=fresh)
    assert (reply.status, reply.body) == (403, {"message": "Forbidden"})
    answer = _authorize(fresh)
    assert answer["isAuthorized"] is False
    assert (answer["context"]["denial"], answer["context"]["status"]) == (f"user_{state}", 403)


def test_deprovisioned_user_from_directory_sync_is_refused(api: Api) -> None:
    """Fails before the fix: `deprovisioned` was not kept, so a user removed by Directory Sync still got in."""
    user_id = api.clerk.create_user(first_name="Leaver")["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200
    api.clerk.update_user(user_id, deprovisioned=True)
    assert _deliver_last_update(api, user_id)["deprovisioned"] is True
    stored = api.store.get_user(user_id)
    assert stored is not None
    assert stored["deprovisioned"] is True
    answer = _authorize(api.token(user_id))
    assert answer["isAuthorized"] is False
    assert answer["context"]["denial"] == "user_deprovisioned"
    # Clerk lifts it: the next user.updated lets them in again.
    api.clerk.update_user(user_id, deprovisioned=False)
    _deliver_last_update(api, user_id)
    assert _authorize(api.token(user_id))["isAuthorized"] is True
