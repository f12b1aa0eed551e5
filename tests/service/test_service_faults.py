"""Syncs under Clerk's rate limit, error bursts, slowness and outages (the emulator's knobs)."""

from __future__ import annotations

import time

import pytest

from clerk_sync import wiring
from clerk_sync.clerk.errors import ClerkDeadlineExceededError, ClerkUnavailableError
from clerk_sync.reports import ChangeOutcome
from tests.service.conftest import Harness


def test_sync_rides_out_a_429_with_retry_after(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    clerk.add_membership(clerk.create_organization("Acme")["id"], user_id)
    clerk.set_knobs(rate_limit=1, rate_limit_window_s=0.3)
    report = harness.service.full_user_sync(user_id)
    stats = harness.service.clerk.stats
    assert report.found
    assert report.count(ChangeOutcome.APPLIED, "membership") == 1
    assert stats.rate_limited >= 1
    assert stats.retries >= 1
    assert report.clerk_calls == 2 + stats.retries  # every attempt counts against the limit
    assert stats.backoff_seconds >= 0.2  # Retry-After (rounded up to whole seconds by Clerk) was honoured


def test_sync_survives_a_burst_of_server_errors(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_MAX_ATTEMPTS", "10")  # 0.3**10: a sync failing outright is a one-in-170,000 run
    wiring.reset()
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.set_knobs(error_rate=0.3, error_statuses=[500, 502, 503])
    reports = [harness.service.sync_user(user_id) for _ in range(5)]
    assert all(r.changes for r in reports)
    assert harness.service.clerk.stats.retries >= 1
    assert sum(r.clerk_calls for r in reports) == harness.calls()


def test_sync_during_outage_raises_unavailable_and_writes_nothing(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.set_knobs(outage=True)
    with pytest.raises(ClerkUnavailableError):
        harness.service.full_user_sync(user_id)
    assert harness.store.get_user(user_id) is None


def test_sync_with_connections_dropped_raises_unavailable(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.set_knobs(outage=True, outage_mode="drop")
    with pytest.raises(ClerkUnavailableError):
        harness.service.sync_user(user_id)


def test_sync_gives_up_at_its_deadline_when_clerk_is_slow(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.set_knobs(latency_ms=2500)
    started = time.monotonic()
    with pytest.raises(ClerkDeadlineExceededError):
        harness.service.sync_user(user_id, deadline=harness.service.deadline_in(0.8))
    assert time.monotonic() - started < 2.0
    assert harness.store.get_user(user_id) is None
