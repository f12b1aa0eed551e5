"""Clerk-shaped errors: `{"errors":[{"message","long_message","code"}]}` with Clerk's HTTP statuses.

    EmulatorError                      base: an HTTP status plus one Clerk error entry
    ├── AuthenticationError   (401)    missing, malformed or wrong secret key on /v1
    ├── NotFoundError         (404)    unknown or deleted user/organization/membership, unknown /v1 route
    ├── MethodNotAllowedError (405)    known path, other method
    ├── UnprocessableError    (422)    bad query/body parameter, duplicate identifier, unknown role
    ├── RateLimitedError      (429)    the rate-limit knob is exhausted; carries `retry_after` seconds
    └── ServiceError          (5xx)    injected error (error-rate knob) or outage

Routes raise these; `error_response` is the one place that turns them into HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.responses import JSONResponse


class EmulatorError(Exception):
    """An error the emulator answers with, in Clerk's error body shape."""

    default_status: ClassVar[int] = 400

    def __init__(
        self,
        message: str,
        long_message: str,
        code: str,
        meta: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(long_message)
        self.status = self.default_status if status is None else status
        self.message = message
        self.long_message = long_message
        self.code = code
        self.meta = meta

    def body(self) -> dict[str, Any]:
        """The JSON body Clerk sends for this error."""
        entry: dict[str, Any] = {"message": self.message, "long_message": self.long_message, "code": self.code}
        if self.meta is not None:
            entry["meta"] = self.meta
        return {"errors": [entry]}

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After for 429)."""
        return {}


class AuthenticationError(EmulatorError):
    default_status = 401


class NotFoundError(EmulatorError):
    default_status = 404


class MethodNotAllowedError(EmulatorError):
    default_status = 405


class UnprocessableError(EmulatorError):
    default_status = 422


class RateLimitedError(EmulatorError):
    default_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many requests",
            "Too many requests, please retry later.",
            "too_many_requests",
        )
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceError(EmulatorError):
    default_status = 500


def missing_authentication() -> AuthenticationError:
    return AuthenticationError(
        "Invalid authentication",
        "Unable to authenticate the request: the Authorization header must be `Bearer <secret key>`.",
        "authentication_invalid",
    )


def invalid_secret_key() -> AuthenticationError:
    # Code and text as real Clerk answers a wrong secret key.
    text = "The provided Clerk Secret Key is invalid. Make sure that your Clerk Secret Key is correct."
    return AuthenticationError(text, text, "clerk_key_invalid")


def resource_not_found() -> NotFoundError:
    return NotFoundError("not found", "Resource not found", "resource_not_found")


def method_not_allowed() -> MethodNotAllowedError:
    return MethodNotAllowedError(
        "method not allowed", "The HTTP method is not allowed on this path", "method_not_allowed"
    )


def invalid_param(name: str, long_message: str, code: str = "form_param_value_invalid") -> UnprocessableError:
    return UnprocessableError("is invalid", long_message, code, meta={"param_name": name})


def identifier_exists(name: str) -> UnprocessableError:
    return UnprocessableError(
        "That identifier is taken.",
        f"That {name} is taken. Please try another.",
        "form_identifier_exists",
        meta={"param_name": name},
    )


def already_member() -> UnprocessableError:
    return UnprocessableError(
        "already a member",
        "The user is already a member of the organization.",
        "already_a_member_in_organization",
    )


def membership_quota_exceeded() -> UnprocessableError:
    return UnprocessableError(
        "membership quota exceeded",
        "The organization has reached its maximum allowed memberships.",
        "organization_membership_quota_exceeded",
    )


def injected_error(status: int) -> ServiceError:
    if status == 503:
        return service_unavailable()
    text = "Oops, an unexpected error occurred"
    return ServiceError(text, text, "internal_clerk_error", status=status)


def service_unavailable() -> ServiceError:
    return ServiceError(
        "Service unavailable",
        "The service is temporarily unavailable, please retry.",
        "service_unavailable",
        status=503,
    )


def error_response(error: EmulatorError) -> JSONResponse:
    """The HTTP response for an error: its status, Clerk's body, and its headers."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers())
