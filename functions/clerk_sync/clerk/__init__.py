"""Clerk Backend API client: `ClerkClient` (built once per process by `clerk_sync.wiring`), `ClerkError` and kin.

The errors and the retry policy are plain Python and load with the package. The client (httpx, ~80 ms cold,
plus ~60 ms more to build its TLS context) loads when one of its names is first used, so code that only
catches `ClerkError`, such as an authorizer whose user is already fresh, never pays for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clerk_sync.clerk.errors import (
    ClerkBadRequestError,
    ClerkBudgetExhaustedError,
    ClerkDeadlineExceededError,
    ClerkError,
    ClerkInstanceMismatchError,
    ClerkNotFoundError,
    ClerkRateLimitedError,
    ClerkResponseError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
)
from clerk_sync.clerk.retry import RetryPolicy
from clerk_sync.lazy import lazy_exports

if TYPE_CHECKING:
    from clerk_sync.clerk.client import (
        ClerkBudget,
        ClerkClient,
        ClientStats,
        Listing,
        MetricsSink,
        Page,
    )
    from clerk_sync.clerk.instance import ClerkInstance
    from clerk_sync.clerk.settings import ClerkSettings, load_clerk_settings

# Name -> module it is loaded from on first access (PEP 562).
_LAZY = {
    "ClerkBudget": "clerk_sync.clerk.client",
    "ClerkClient": "clerk_sync.clerk.client",
    "ClientStats": "clerk_sync.clerk.client",
    "Listing": "clerk_sync.clerk.client",
    "MetricsSink": "clerk_sync.clerk.client",
    "Page": "clerk_sync.clerk.client",
    "ClerkInstance": "clerk_sync.clerk.instance",
    "ClerkSettings": "clerk_sync.clerk.settings",
    "load_clerk_settings": "clerk_sync.clerk.settings",
}

__all__ = [
    "ClerkBadRequestError",
    "ClerkBudget",
    "ClerkBudgetExhaustedError",
    "ClerkClient",
    "ClerkDeadlineExceededError",
    "ClerkError",
    "ClerkInstance",
    "ClerkInstanceMismatchError",
    "ClerkNotFoundError",
    "ClerkRateLimitedError",
    "ClerkResponseError",
    "ClerkSettings",
    "ClerkUnauthorizedError",
    "ClerkUnavailableError",
    "ClientStats",
    "Listing",
    "MetricsSink",
    "Page",
    "RetryPolicy",
    "load_clerk_settings",
]


__getattr__ = lazy_exports(__name__, globals(), _LAZY)
