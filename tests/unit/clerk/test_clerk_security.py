"""The secret key goes into the Authorization header and nowhere else: not logs, errors, reprs or metrics."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from clerk_sync.clerk import ClerkClient, ClerkError, RetryPolicy

if TYPE_CHECKING:
    from conftest import FakeClerk, RecordingMetrics

MakeClient = Callable[..., ClerkClient]


def test_get_user_sends_bearer_secret_key_and_json_accept(
    clerk: FakeClerk, make_client: MakeClient, secret_key: str
) -> None:
    clerk.add_user("user_a")

    make_client().get_user("user_a")

    headers = clerk.seen[0].headers
    assert headers["authorization"] == f"Bearer {secret_key}"
    assert headers["accept"] == "application/json"
    assert clerk.seen[0].path.startswith("/v1/")


def test_get_user_with_caller_http_client_sends_auth_to_base_url_and_leaves_it_open(
    clerk: FakeClerk, make_client: MakeClient, secret_key: str
) -> None:
    clerk.add_user("user_a")
    http = httpx.Client(transport=clerk.transport)
    client = make_client(http_client=http, transport=None, base_url="https://other.test/")

    client.get_user("user_a")
    client.close()

    assert clerk.seen[0].url == "https://other.test/v1/users/user_a"
    assert clerk.seen[0].headers["authorization"] == f"Bearer {secret_key}"
    assert not http.is_closed  # the caller owns it
    http.close()


def test_clerk_client_failures_never_expose_secret_key(
    *,
    clerk: FakeClerk,
    make_client: MakeClient,
    metrics: RecordingMetrics,
    secret_key: str,
    caplog: pytest.LogCaptureFixture,
    log_records: Callable[[], list[dict[str, Any]]],
) -> None:
    client = make_client(retry=RetryPolicy(max_attempts=2))
    # Every failure path: Clerk echoing the key, a transport error quoting it, retries, give-ups.
    clerk.fail_next(
        clerk.error_response(401, "authentication_invalid", f"The key {secret_key} is invalid"),
        httpx.ConnectError(f"could not connect with {secret_key}"),
        httpx.ConnectError(f"could not connect with {secret_key}"),
        clerk.error_response(429, "too_many_requests", f"slow down {secret_key}", **{"Retry-After": "0"}),
        clerk.error_response(429, "too_many_requests", f"slow down {secret_key}", **{"Retry-After": "0"}),
        clerk.error_response(404, "resource_not_found", "missing"),
    )
    errors: list[ClerkError] = []

    with caplog.at_level(logging.DEBUG):
        for _ in range(4):
            with pytest.raises(ClerkError) as raised:
                client.get_user("user_a")
            errors.append(raised.value)

    assert len(errors) == 4
    assert len(caplog.records) >= 4
    emitted = log_records()  # the JSON lines that would reach CloudWatch
    assert {line["message"] for line in emitted} == {"clerk call retrying", "clerk call gave up"}
    exposed = [
        caplog.text,
        *(json.dumps(line) for line in emitted),
        *(json.dumps(record.__dict__, default=str) for record in caplog.records),
        *(str(error) for error in errors),
        *(repr(error) for error in errors),
        *(repr(vars(error)) for error in errors),
        *(str(error.__cause__) for error in errors if error.__cause__ is not None),
        repr(client),
        repr(metrics.rows),
    ]
    for text in exposed:
        assert secret_key not in text
        assert "jane.doe@example.com" not in text


def test_clerk_client_logs_never_contain_emails_from_bodies(
    clerk: FakeClerk, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(httpx.Response(500, json={"errors": [{"code": "x", "message": "jane.doe@example.com broke"}]}))

    with caplog.at_level(logging.DEBUG):
        make_client().get_user("user_a")

    assert caplog.records, "the retry was logged"
    assert "jane.doe@example.com" not in caplog.text
    assert all("jane.doe@example.com" not in json.dumps(r.__dict__, default=str) for r in caplog.records)
