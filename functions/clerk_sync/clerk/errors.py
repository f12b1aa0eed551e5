"""Errors the Clerk Backend API client raises. Callers catch the bases; the leaves say why.

    ClerkError                             anything the client raises about a call (bad arguments are ValueError)
     ├── ClerkNotFoundError                404: no such user/org (for a user or org: it was deleted)
     ├── ClerkUnauthorizedError            401/403: the secret key is wrong, revoked or for another instance
     ├── ClerkBadRequestError              any other 4xx (400, 402, 422, ...): our request is wrong; never retried
     ├── ClerkRateLimitedError             429 still returned when attempts or the deadline ran out; `retry_after`
     │    └── ClerkBudgetExhaustedError    the shared rate budget had no room for the call before its deadline
     ├── ClerkUnavailableError             5xx, timeout or connection error still there when attempts ran out
     │    └── ClerkDeadlineExceededError   the caller's deadline left no time for the first or the next attempt
     ├── ClerkResponseError                a 2xx whose body we cannot use (not JSON, not our models' shape)
     └── ClerkInstanceMismatchError        not a call's failure: the key belongs to another instance than the
                                           expected one, so its 404s prove nothing (raised by the instance guard)

"Gave up because of 429s" is a `ClerkRateLimitedError` whether attempts or the deadline ran out: the caller
should slow down, not treat Clerk as down. `ClerkDeadlineExceededError` is a kind of unavailability: Clerk
was too slow or failing for the time the caller had.

Messages keep Clerk's error `code` and `message`, never a response body (it may hold emails) and never the
secret key: every message passes through `redact`.
"""

from __future__ import annotations

import re
from typing import Any

# Clerk secret keys look like sk_test_... / sk_live_...; scrubbed from anything that reaches a message.
_SECRET_KEY = re.compile(r"sk_(?:test|live)_[A-Za-z0-9]+")


def redact(text: str, *secrets: str) -> str:
    """`text` with Clerk secret keys, and any of `secrets` verbatim, replaced by a marker."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _SECRET_KEY.sub("[redacted]", text)


class ClerkError(Exception):
    """A Clerk Backend API call failed; `status`, `code` and `attempts` say how."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        status: int | None = None,
        code: str | None = None,
        attempts: int = 0,
        trace_id: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.operation = operation
        self.status = status
        self.code = code
        self.attempts = attempts
        self.trace_id = trace_id
        super().__init__(self._describe())

    def _describe(self) -> str:
        head = " ".join(
            part
            for part in (
                self.operation,
                f"HTTP {self.status}" if self.status is not None else None,
                self.code,
            )
            if part
        )
        return f"{head}: {self.message}" if head else self.message


class ClerkNotFoundError(ClerkError):
    """404: the resource does not exist; for a user or an organization that means it was deleted."""


class ClerkUnauthorizedError(ClerkError):
    """401/403: Clerk rejected the secret key (wrong, revoked, or another instance's)."""


class ClerkBadRequestError(ClerkError):
    """Any other 4xx, 422 included: the request itself is wrong, so retrying cannot help."""


class ClerkRateLimitedError(ClerkError):
    """429 after the last attempt; `retry_after` is Clerk's Retry-After in seconds when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ClerkBudgetExhaustedError(ClerkRateLimitedError):
    """The shared Clerk rate budget could not serve the call before its deadline; nothing was sent to Clerk.

    `retry_after` is the budget's estimate of when it could, `waited` what the call already waited for it.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, waited: float = 0.0, **kwargs: Any) -> None:
        self.waited = waited
        super().__init__(message, retry_after=retry_after, code="budget_exhausted", **kwargs)


class ClerkUnavailableError(ClerkError):
    """5xx, timeout or connection error after the last attempt: Clerk is down or unreachable from here."""


class ClerkDeadlineExceededError(ClerkUnavailableError):
    """The caller's deadline left no time for an attempt; `status` is the last failure's, if any."""


class ClerkResponseError(ClerkError):
    """A 2xx whose body is not JSON or does not fit the model; never retried (it would parse the same)."""


class ClerkInstanceMismatchError(ClerkError):
    """The secret key belongs to `key_instance`, not to `expected_instance`: a 404 through it proves nothing.

    Raised before a 404-driven tombstone or removal, so nothing is deleted; an operator must fix
    CLERK_SECRET_KEY or CLERK_INSTANCE_ID. Instance ids are not secrets, but they stay out of the message
    (it can reach API clients); the guard logs them.
    """

    def __init__(self, *, key_instance: str, expected_instance: str, operation: str = "GetInstance") -> None:
        self.key_instance = key_instance
        self.expected_instance = expected_instance
        super().__init__("the secret key belongs to another Clerk instance than CLERK_INSTANCE_ID", operation=operation)


def error_for_status(
    status: int,
    payload: Any,
    *,
    operation: str,
    attempts: int,
    retry_after: float | None = None,
    reason: str = "",
) -> ClerkError:
    """The typed error for a non-2xx response whose decoded JSON body (or None) is `payload`."""
    code, message, trace_id = _clerk_error_fields(payload)
    message = message or reason or "request failed"
    common: dict[str, Any] = {
        "operation": operation,
        "status": status,
        "code": code,
        "attempts": attempts,
        "trace_id": trace_id,
    }
    if status == 429:
        return ClerkRateLimitedError(message, retry_after=retry_after, **common)
    if status == 404:
        return ClerkNotFoundError(message, **common)
    if status in (401, 403):
        return ClerkUnauthorizedError(message, **common)
    if status >= 500:
        return ClerkUnavailableError(message, **common)
    return ClerkBadRequestError(message, **common)


def _clerk_error_fields(payload: Any) -> tuple[str | None, str | None, str | None]:
    """`(code, message, clerk_trace_id)` from `{"errors": [{"code", "message", "long_message"}], ...}`."""
    if not isinstance(payload, dict):
        return None, None, None
    trace_id = payload.get("clerk_trace_id")
    trace = trace_id if isinstance(trace_id, str) else None
    errors = payload.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None, None, trace
    first = errors[0]
    code = first.get("code")
    # long_message explains more but can echo request input; message is Clerk's fixed summary.
    message = first.get("message") or first.get("long_message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
        trace,
    )
