"""API errors and the one place domain errors become HTTP statuses.

Every error answers `{"error": {"code", "message"}}`; 429 and 503 carry Retry-After. A client's mistake is
always a 4xx; a 5xx means Clerk, AWS or clerk-sync itself failed, never the request.

    ApiError                  raised by routes: status, code, message, optional retry_after
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clerk_sync.clerk.errors import (
    ClerkBadRequestError,
    ClerkError,
    ClerkInstanceMismatchError,
    ClerkNotFoundError,
    ClerkRateLimitedError,
    ClerkResponseError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
)
from clerk_sync.queue import QueueUnavailableError
from clerk_sync.store.errors import StoreError
from clerk_sync.vocabulary import error_body

# Retry-After when the cause gives none: Clerk's rate window is 10 s; outages rarely clear faster.
_RATE_LIMITED_RETRY_AFTER = 10
_UNAVAILABLE_RETRY_AFTER = 5
# A key of another instance needs an operator; retrying sooner only repeats the answer (it is cached, no Clerk call).
_MISMATCH_RETRY_AFTER = 60


@dataclass
class ApiError(Exception):  # not frozen: raising sets __traceback__ and friends
    status: int
    code: str
    message: str
    retry_after: int | None = None

    def body(self) -> dict[str, dict[str, str]]:
        return error_body(self.code, self.message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def from_exception(error: Exception) -> ApiError | None:
    """The API error for a domain or infrastructure failure; None for a bug (answered as a logged 500)."""
    if isinstance(error, ApiError):
        return error
    if isinstance(error, ClerkError):
        return _from_clerk(error)
    if isinstance(error, StoreError | QueueUnavailableError):
        return ApiError(503, "storage_unavailable", "the table or queue is unavailable", _UNAVAILABLE_RETRY_AFTER)
    return None


def _from_clerk(error: ClerkError) -> ApiError:
    if isinstance(error, ClerkInstanceMismatchError):
        # Nothing was deleted: Clerk's 404 came through a key of another instance than this table's.
        message = "clerk-sync's Clerk key belongs to another instance; nothing was changed"
        return ApiError(503, "clerk_instance_mismatch", message, _MISMATCH_RETRY_AFTER)
    if isinstance(error, ClerkNotFoundError):
        return ApiError(404, "not_found", "Clerk has no such user, organization or membership")
    if isinstance(error, ClerkRateLimitedError):
        wait = math.ceil(error.retry_after) if error.retry_after else _RATE_LIMITED_RETRY_AFTER
        return ApiError(429, "clerk_rate_limited", "Clerk is rate limiting this instance; retry later", max(1, wait))
    if isinstance(error, ClerkUnauthorizedError):
        # Our secret key, not the caller, is wrong: an operator problem Clerk-side.
        return ApiError(503, "clerk_unauthorized", "Clerk refused clerk-sync's secret key", _UNAVAILABLE_RETRY_AFTER)
    if isinstance(error, ClerkUnavailableError):
        return ApiError(503, "clerk_unavailable", "Clerk cannot be reached; retry later", _UNAVAILABLE_RETRY_AFTER)
    if isinstance(error, ClerkBadRequestError | ClerkResponseError):
        return ApiError(502, "clerk_error", "Clerk answered in a way clerk-sync cannot use")
    return ApiError(502, "clerk_error", "Clerk call failed")
