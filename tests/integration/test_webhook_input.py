"""Signed webhooks with data no table or model can read, and Clerk events clerk-sync does not apply.

Such an event is answered 2xx and applied, 2xx and ignored (counted by type), or refused with a 4xx that
names the problem: never a 500, never a poison message (docs/decisions/0015).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_sync import keys
from clerk_sync.handlers import webhook, worker
from clerk_sync.items import METADATA_TRUNCATED, readable
from clerk_sync_local.lambda_events import LocalLambdaContext, http_event, response_json
from clerk_sync_local.stack.poller import SqsPoller
from tests.support.clerk_payloads import example
from tests.support.pipeline import post_webhook
from tests.support.signing import svix_headers

UNHANDLED_TYPES = [
    "session.created",
    "session.ended",
    "email.created",
    "sms.created",
    "role.created",
    "permission.updated",
    "waitlistEntry.created",
    "organizationInvitation.accepted",
    "organizationDomain.verified",
    "directoryGroup.member.added",
    "subscriptionItem.active",
]


def _call_text(text: str, msg_id: str = "msg_input") -> dict[str, Any]:
    response: dict[str, Any] = webhook.handler(
        http_event(text.encode(), svix_headers(text, msg_id=msg_id)), LocalLambdaContext()
    )
    return response


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _applied(aws: Any) -> SqsPoller:
    poller = SqsPoller(aws.sqs, aws.resources.queue_url, worker.handler)
    poller.drain()
    assert (poller.stats.succeeded, poller.stats.failed) == (1, 0)
    assert aws.queue_depth(aws.resources.dlq_url) == 0
    return poller


@pytest.mark.parametrize(
    "metadata",
    [{"score": 1e200}, {"id": 123456789012345678901234567890123456789012}, {"tiny": 5e-324}, _deep(60)],
    ids=["1e200", "42-digit-int", "5e-324", "60-deep"],
)
def test_user_event_with_metadata_dynamodb_cannot_hold_is_applied_not_dead_lettered(
    aws: Any, metadata: dict[str, Any]
) -> None:
    """Fails before the fix: the worker's put raised decimal.Overflow/Inexact/Rounded on every receive, and
    the event (with every later one of that user) ended in the DLQ."""
    payload = example("user.updated")
    payload["data"]["unsafe_metadata"] = metadata
    assert post_webhook(payload)["statusCode"] == 202
    _applied(aws)
    [item] = aws.items()
    assert readable(item)["unsafe_metadata"] == metadata
    assert METADATA_TRUNCATED not in item


def test_organization_and_membership_events_with_such_metadata_are_applied(aws: Any) -> None:
    org = example("organization.updated")
    org["data"]["public_metadata"] = {"n": -1e300}
    assert post_webhook(org)["statusCode"] == 202
    _applied(aws)
    membership = example("organizationMembership.created")
    membership["data"]["public_metadata"] = {"n": 10**45}
    membership["data"]["organization"]["id"] = org["data"]["id"]
    assert post_webhook(membership)["statusCode"] == 202
    _applied(aws)
    stored = {item[keys.SK]: readable(item) for item in aws.items()}
    assert stored[keys.PROFILE_SK]["public_metadata"] == {"n": -1e300}
    [member] = [item for sk, item in stored.items() if sk.startswith(keys.MEMBER_PREFIX)]
    assert member["public_metadata"] == {"n": 10**45}


@pytest.mark.parametrize("event_type", UNHANDLED_TYPES)
def test_unhandled_event_type_is_200_counted_by_type_and_never_queued(
    aws: Any, event_type: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails before the fix for data that is not an object: the envelope was validated first (400, which Svix
    retries for days); the count had no EventType."""
    for data in ({"id": "x", "object": "whatever"}, [1, 2], None):
        response = _call_text(json.dumps({"type": event_type, "object": "event", "data": data}))
        assert (response["statusCode"], response_json(response)) == (200, {"status": "ignored"})
    assert aws.queue_depth() == 0
    assert aws.items() == []
    output = capsys.readouterr().out
    assert f'"EventType":"{event_type}"' in output
    assert '"Reason":"ignored_type"' in output


def test_unhandled_event_type_label_is_bounded(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for event_type in ("x" * 200, "user.created<script>", "DROP TABLE;", "a.b.c.d.e"):
        response = _call_text(json.dumps({"type": event_type, "data": {}}))
        assert response["statusCode"] == 200
    output = capsys.readouterr().out
    assert output.count('"EventType":"unrecognised"') == 4
    assert "<script>" not in output


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("[" * 5000 + "]" * 5000, "json_too_deep"),
        (
            json.dumps({"type": "user.updated", "data": {"id": "user_1", "unsafe_metadata": _deep(300)}}),
            "json_too_deep",
        ),
        ('{"type": "user.updated", "data": {"id": "user_1", "unsafe_metadata": {"x": "\\ud800"}}}', "invalid_unicode"),
        ('{"type": "user.updated", "data": {"id": "user_1", "unsafe_metadata": {"x": NaN}}}', "malformed_json"),
    ],
    ids=["recursion-limit", "300-deep", "lone-surrogate", "nan"],
)
def test_signed_body_json_cannot_carry_is_400_not_500(aws: Any, text: str, code: str) -> None:
    """Fails before the fix: json.loads raised RecursionError, or the queue message's pydantic encoding raised
    (255 levels, surrogates), out of the handler: API Gateway's 500, retried by Svix for days."""
    response = _call_text(text)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (400, code)
    assert "ud800" not in response["body"]
    assert aws.queue_depth() == 0
    assert aws.items() == []
