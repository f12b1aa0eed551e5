"""Error mapping from Clerk responses and the error tree callers rely on."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync.clerk.errors import (
    ClerkBadRequestError,
    ClerkDeadlineExceededError,
    ClerkError,
    ClerkNotFoundError,
    ClerkRateLimitedError,
    ClerkResponseError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
    error_for_status,
    redact,
)

BODY = {
    "errors": [{"code": "resource_not_found", "message": "not found", "long_message": "User user_1 not found"}],
    "clerk_trace_id": "trace_9",
}


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ClerkBadRequestError),
        (401, ClerkUnauthorizedError),
        (402, ClerkBadRequestError),
        (403, ClerkUnauthorizedError),
        (404, ClerkNotFoundError),
        (409, ClerkBadRequestError),
        (422, ClerkBadRequestError),
        (429, ClerkRateLimitedError),
        (500, ClerkUnavailableError),
        (503, ClerkUnavailableError),
    ],
)
def test_error_for_status_maps_status_to_type(status: int, error: type[ClerkError]) -> None:
    raised = error_for_status(status, BODY, operation="GetUser", attempts=1)

    assert type(raised) is error
    assert isinstance(raised, ClerkError)


def test_error_for_status_keeps_code_message_trace_id() -> None:
    error = error_for_status(404, BODY, operation="GetUser", attempts=2)

    assert (error.code, error.message) == ("resource_not_found", "not found")
    assert (error.trace_id, error.attempts) == ("trace_9", 2)
    assert str(error) == "GetUser HTTP 404 resource_not_found: not found"


def test_error_for_status_429_carries_retry_after() -> None:
    error = error_for_status(429, BODY, operation="GetUser", attempts=1, retry_after=3.0)

    assert isinstance(error, ClerkRateLimitedError)
    assert error.retry_after == 3.0


@pytest.mark.parametrize("payload", [None, "oops", [], {"errors": []}, {"errors": ["x"]}, {"errors": [{"code": 5}]}])
def test_error_for_status_malformed_body_falls_back_to_reason(payload: Any) -> None:
    error = error_for_status(502, payload, operation="GetUser", attempts=1, reason="Bad Gateway")

    assert isinstance(error, ClerkUnavailableError)
    assert (error.code, error.message) == (None, "Bad Gateway")


def test_clerk_deadline_exceeded_error_is_unavailability_not_rate_limiting() -> None:
    assert issubclass(ClerkDeadlineExceededError, ClerkUnavailableError)
    assert not issubclass(ClerkDeadlineExceededError, ClerkRateLimitedError)
    assert not issubclass(ClerkRateLimitedError, ClerkUnavailableError)
    assert issubclass(ClerkResponseError, ClerkError)


def test_redact_removes_secret_keys_and_given_secrets() -> None:
    text = "key sk_live_AbC123 and sk_test_xyz and custom-secret"

    assert redact(text, "custom-secret") == "key [redacted] and [redacted] and [redacted]"


def test_clerk_error_message_with_secret_key_is_redacted() -> None:
    error = ClerkUnauthorizedError("The key sk_test_leaky123 is invalid", status=401)

    assert "sk_test_leaky123" not in str(error)
    assert "sk_test_leaky123" not in repr(error)
    assert "[redacted]" in error.message
