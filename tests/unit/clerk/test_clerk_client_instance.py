"""`GET /v1/instance`, and a 429 whose backoff oversleeps the deadline: still a 429 with Clerk's Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from clerk_sync.clerk import ClerkClient, ClerkRateLimitedError, ClerkResponseError, ClerkUnavailableError

if TYPE_CHECKING:
    from conftest import FakeClerk, FakeClock

MakeClient = Callable[..., ClerkClient]

INSTANCE = {
    "object": "instance",
    "id": "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    "environment_type": "production",
    "allowed_origins": None,
    "workspace_id": None,
}


def test_get_instance_reads_the_keys_instance(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.fail_next(httpx.Response(200, json=INSTANCE))
    instance = make_client().get_instance(timeout_budget=2)
    assert (instance.id, instance.environment_type) == ("ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "production")
    assert clerk.seen[0].path == "/v1/instance"


def test_get_instance_without_an_instance_id_is_a_response_error(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.fail_next(httpx.Response(200, json={**INSTANCE, "id": "user_123"}))
    with pytest.raises(ClerkResponseError, match="ClerkInstance"):
        make_client().get_instance()


def test_get_user_429_backoff_oversleeping_the_deadline_raises_rate_limited_with_retry_after(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    """Fails before the fix: a backoff that ended a hair past the deadline (time.sleep oversleeps) raised
    ClerkDeadlineExceededError, so the route answered 503 instead of 429 with Clerk's Retry-After."""
    clerk.fail_next(clerk.error_response(429, "too_many_requests", "Too many requests", **{"Retry-After": "2"}))
    sleep = clock.sleep

    def oversleep(seconds: float) -> None:
        sleep(seconds + 1.0)  # a busy machine wakes up late

    client = make_client(sleep=oversleep)
    with pytest.raises(ClerkRateLimitedError) as raised:
        client.get_user("user_a", timeout_budget=2.6)  # Retry-After 2 + jitter up to 0.5 fits
    assert raised.value.retry_after == 2.0
    assert not isinstance(raised.value, ClerkUnavailableError)
    assert len(clerk.seen) == 1
