"""POST /api/webhooks/clerk: only correctly signed, well-formed events reach the queue; nothing else writes."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from clerk_sync.handlers import webhook
from clerk_sync_local.lambda_events import LocalLambdaContext, http_event, response_json
from tests.support.clerk_payloads import example
from tests.support.signing import OTHER_SECRET, TEST_SECRET, signed, svix_headers


def _call(body: bytes, headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = webhook.handler(http_event(body, headers, **kwargs), LocalLambdaContext())
    return response


def _assert_nothing_written(aws: Any) -> None:
    assert aws.queue_depth() == 0
    assert aws.items() == []


def test_webhook_signed_event_is_queued_with_svix_id(aws: Any) -> None:
    body, headers = signed(example("user.created"), msg_id="msg_abc")
    response = _call(body, headers)
    assert response["statusCode"] == 202
    [message] = aws.receive()
    queued = json.loads(message["Body"])
    assert queued["svix_id"] == "msg_abc"
    assert queued["event"] == example("user.created")
    assert message["MessageAttributes"]["svix_id"]["StringValue"] == "msg_abc"


def test_webhook_base64_body_is_verified_on_decoded_bytes(aws: Any) -> None:
    body, headers = signed(example("organization.created"))
    assert _call(body, headers, base64_body=True)["statusCode"] == 202
    assert aws.queue_depth() == 1


def test_webhook_tampered_body_is_401(aws: Any) -> None:
    body, headers = signed(example("user.created"))
    response = _call(body.replace(b"Example", b"Mallory"), headers)
    assert response["statusCode"] == 401
    assert response_json(response)["error"]["code"] == "invalid_signature"
    _assert_nothing_written(aws)


def test_webhook_wrong_secret_is_401(aws: Any) -> None:
    body, headers = signed(example("user.created"), secret=OTHER_SECRET)
    assert _call(body, headers)["statusCode"] == 401
    _assert_nothing_written(aws)


@pytest.mark.parametrize("missing", ["svix-id", "svix-timestamp", "svix-signature"])
def test_webhook_missing_header_is_401(aws: Any, missing: str) -> None:
    body, headers = signed(example("user.created"))
    del headers[missing]
    assert _call(body, headers)["statusCode"] == 401
    _assert_nothing_written(aws)


@pytest.mark.parametrize("age", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_webhook_timestamp_outside_five_minutes_is_401(aws: Any, age: timedelta) -> None:
    body, headers = signed(example("user.created"), age=age)
    assert _call(body, headers)["statusCode"] == 401
    _assert_nothing_written(aws)


def test_webhook_garbage_signature_header_is_401_not_500(aws: Any) -> None:
    body, headers = signed(example("user.created"))
    headers["svix-signature"] = "garbage"
    assert _call(body, headers)["statusCode"] == 401
    headers["svix-timestamp"] = "not-a-number"
    assert _call(body, headers)["statusCode"] == 401
    _assert_nothing_written(aws)


def test_webhook_non_utf8_body_is_401(aws: Any) -> None:
    body = b"\xff\xfe{}"
    headers = svix_headers("{}")
    assert _call(body, headers, base64_body=True)["statusCode"] == 401
    _assert_nothing_written(aws)


def test_webhook_signed_non_json_is_400(aws: Any) -> None:
    text = "this is not json"
    response = _call(text.encode(), svix_headers(text))
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (400, "malformed_json")
    _assert_nothing_written(aws)


@pytest.mark.parametrize(
    "payload",
    [[1, 2], {"data": {}}, {"type": "user.created"}, {"type": "user.created", "data": "x"}, {"type": 5, "data": {}}],
)
def test_webhook_signed_malformed_envelope_is_400(aws: Any, payload: Any) -> None:
    text = json.dumps(payload)
    response = _call(text.encode(), svix_headers(text))
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (400, "malformed_envelope")
    _assert_nothing_written(aws)


def test_webhook_oversized_body_is_413(aws: Any) -> None:
    payload = example("user.updated")
    payload["data"]["public_metadata"] = {"blob": "x" * (129 * 1024)}
    body, headers = signed(payload)
    response = _call(body, headers)
    assert (response["statusCode"], response_json(response)["error"]["code"]) == (413, "payload_too_large")
    _assert_nothing_written(aws)


def test_webhook_unknown_event_type_is_ignored_with_200(aws: Any) -> None:
    payload = example("user.created") | {"type": "session.created"}
    body, headers = signed(payload)
    response = _call(body, headers)
    assert (response["statusCode"], response_json(response)) == (200, {"status": "ignored"})
    _assert_nothing_written(aws)


def test_webhook_other_instance_is_refused_403_and_warned(
    aws: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], log_records: Any
) -> None:
    """Refused, not dropped with a 2xx: Svix retries it for ~27 h, so a wrong CLERK_INSTANCE_ID fixed in time loses
    nothing (docs/decisions/0014). Fails before the change: the event was answered 200 and dropped for good."""
    monkeypatch.setenv("CLERK_INSTANCE_ID", "ins_production")
    body, headers = signed(example("user.created"))  # instance_id ins_123
    response = _call(body, headers)
    assert response["statusCode"] == 403
    error = response_json(response)["error"]
    assert error["code"] == "other_instance"
    assert "ins_" not in error["message"]  # names the field, never echoes the ids
    _assert_nothing_written(aws)
    [warning] = [record for record in log_records() if record["message"].startswith("webhook refused")]
    assert (warning["level"], warning["reason"]) == ("WARNING", "other_instance")
    assert (warning["instance_id"], warning["expected_instance_id"]) == ("ins_123", "ins_production")
    output = capsys.readouterr().out
    assert '"WebhookRejected"' in output
    assert '"Reason":"other_instance"' in output


def test_webhook_without_instance_id_or_clerk_key_accepts_any_instance(aws: Any) -> None:
    """No CLERK_INSTANCE_ID and no Clerk key: nothing to compare with and no 404 can delete anything here."""
    body, headers = signed(example("user.created"))
    assert _call(body, headers)["statusCode"] == 202


def test_webhook_matching_instance_is_queued(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_INSTANCE_ID", "ins_123")
    body, headers = signed(example("user.created"))
    assert _call(body, headers)["statusCode"] == 202


def test_webhook_rotation_accepts_either_secret(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", f"{TEST_SECRET} {OTHER_SECRET}")
    for secret in (TEST_SECRET, OTHER_SECRET):
        body, headers = signed(example("user.created"), secret=secret)
        assert _call(body, headers)["statusCode"] == 202
    assert aws.queue_depth() == 2


def test_webhook_signature_header_with_several_entries_matches_any(aws: Any) -> None:
    body, headers = signed(example("user.created"))
    other = svix_headers(body.decode(), secret=OTHER_SECRET, msg_id=headers["svix-id"])["svix-signature"]
    headers["svix-signature"] = f"v2,abc {other} {headers['svix-signature']}"
    assert _call(body, headers)["statusCode"] == 202


def test_webhook_invalid_base64_is_400(aws: Any) -> None:
    event = http_event(b"{}", svix_headers("{}"))
    event.update({"body": "***not base64***", "isBase64Encoded": True})
    assert webhook.handler(event, LocalLambdaContext())["statusCode"] == 400
    _assert_nothing_written(aws)


def test_webhook_sqs_refusal_is_503_so_svix_retries(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_QUEUE_URL", aws.resources.queue_url.replace("events", "missing"))
    body, headers = signed(example("user.created"))
    response = _call(body, headers)
    assert response["statusCode"] == 503
    assert response_json(response)["error"]["code"] == "queue_unavailable"
    _assert_nothing_written(aws)


def test_webhook_legacy_secret_variable_is_accepted(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLERK_WEBHOOK_SIGNING_SECRET")
    monkeypatch.setenv("CLERK_WEBHOOK_SECRET", TEST_SECRET)
    body, headers = signed(example("user.created"))
    assert _call(body, headers)["statusCode"] == 202


def test_webhook_body_signed_as_received_by_svix_bytes_not_reserialized(aws: Any) -> None:
    # Whitespace and key order as Clerk sent them are part of what is signed.
    text = '{"type":"user.deleted",  "object":"event", "data": {"id":"user_x","object":"user","deleted":true}}'
    assert _call(text.encode(), svix_headers(text))["statusCode"] == 202
    assert base64.b64encode(text.encode())  # the same bytes verify when API Gateway base64-encodes them
    assert _call(text.encode(), svix_headers(text), base64_body=True)["statusCode"] == 202
