"""The instance guard: the key's instance looked up once, failures remembered briefly, a mismatch refused and told once.

A fake Clerk port and a fake clock: no sockets, no sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from clerk_sync.clerk.errors import (
    ClerkDeadlineExceededError,
    ClerkError,
    ClerkInstanceMismatchError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
)
from clerk_sync.clerk.instance import ClerkInstance
from clerk_sync.observability import metrics
from clerk_sync.settings import InstanceSettings
from clerk_sync.sync.deps import ClerkNotConfiguredError
from clerk_sync.sync.instance import LOOKUP_FAILURE_MEMORY_SECONDS, LOOKUP_MIN_SECONDS, InstanceGuard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeClerk:
    """`GET /v1/instance` answering `instance` (or raising the next of `failures`); records each call's deadline."""

    clock: Callable[[], float]
    instance: ClerkInstance = field(
        default_factory=lambda: ClerkInstance(id="ins_development", environment_type="development")
    )
    failures: list[ClerkError] = field(default_factory=list)
    deadlines: list[float | None] = field(default_factory=list)

    def get_instance(self, *, deadline: float | None = None) -> ClerkInstance:
        self.deadlines.append(deadline)
        if self.failures:
            raise self.failures.pop(0)
        return self.instance


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clerk(clock: Clock) -> FakeClerk:
    return FakeClerk(clock)


@pytest.fixture
def recorded_metrics() -> Any:
    metrics.clear_metrics()
    yield lambda: metrics.metric_set.get("ClerkInstanceMismatch", {}).get("Value", [])
    metrics.clear_metrics()


def guard(clerk: FakeClerk, clock: Clock, expected: str | None) -> InstanceGuard:
    return InstanceGuard(lambda: clerk, expected=expected, monotonic=clock)


def test_guard_matching_key_passes_and_looks_up_once_per_container(clerk: FakeClerk, clock: Clock) -> None:
    matching = guard(clerk, clock, "ins_development")
    for _ in range(3):
        matching.check()
    assert len(clerk.deadlines) == 1
    assert matching.known == clerk.instance


def test_guard_without_expected_instance_trusts_the_keys_own(clerk: FakeClerk, clock: Clock) -> None:
    unset = guard(clerk, clock, None)
    unset.check()
    assert unset.expected_instance() == "ins_development"
    assert len(clerk.deadlines) == 1


def test_guard_configured_instance_needs_no_lookup_to_be_expected(clerk: FakeClerk, clock: Clock) -> None:
    assert guard(clerk, clock, "ins_production").expected_instance() == "ins_production"
    assert clerk.deadlines == []


def test_guard_key_of_another_instance_raises_counts_each_and_logs_one_error(
    clerk: FakeClerk, clock: Clock, log_records: Any, recorded_metrics: Any
) -> None:
    production = guard(clerk, clock, "ins_production")
    for _ in range(3):
        with pytest.raises(ClerkInstanceMismatchError) as raised:
            production.check()
    assert (raised.value.key_instance, raised.value.expected_instance) == ("ins_development", "ins_production")
    assert "ins_" not in str(raised.value)  # the message may reach API clients
    errors = [record for record in log_records() if record["level"] == "ERROR"]
    assert len(errors) == 1
    assert (errors[0]["key_instance_id"], errors[0]["expected_instance_id"]) == ("ins_development", "ins_production")
    assert errors[0]["key_environment_type"] == "development"
    assert recorded_metrics() == [1.0, 1.0, 1.0]
    assert len(clerk.deadlines) == 1


def test_guard_failed_lookup_is_remembered_briefly_then_retried(clerk: FakeClerk, clock: Clock) -> None:
    clerk.failures.append(ClerkUnavailableError("down", operation="GetInstance", status=503, attempts=4))
    matching = guard(clerk, clock, "ins_development")
    for _ in range(2):
        with pytest.raises(ClerkUnavailableError):
            matching.check()
    assert len(clerk.deadlines) == 1  # the second 404 was answered from memory
    clock.now += LOOKUP_FAILURE_MEMORY_SECONDS
    matching.check()
    assert len(clerk.deadlines) == 2


def test_guard_lookup_that_never_went_out_is_not_remembered(clerk: FakeClerk, clock: Clock) -> None:
    clerk.failures.append(ClerkDeadlineExceededError("no time", operation="GetInstance", attempts=0))
    matching = guard(clerk, clock, "ins_development")
    with pytest.raises(ClerkDeadlineExceededError):
        matching.check()
    matching.check()
    assert len(clerk.deadlines) == 2


def test_guard_lookup_gets_a_minimum_budget_after_the_callers_is_spent(clerk: FakeClerk, clock: Clock) -> None:
    """Fails before the floor: a job page whose writes used up its deadline failed on every delivery (DLQ)."""
    guard(clerk, clock, None).check(deadline=clock.now - 1)
    assert clerk.deadlines == [clock.now + LOOKUP_MIN_SECONDS]


def test_guard_lookup_keeps_a_later_callers_deadline(clerk: FakeClerk, clock: Clock) -> None:
    guard(clerk, clock, None).check(deadline=clock.now + 7)
    assert clerk.deadlines == [clock.now + 7]


def test_guard_forget_looks_the_instance_up_again(clerk: FakeClerk, clock: Clock) -> None:
    unset = guard(clerk, clock, None)
    unset.check()
    clerk.instance = ClerkInstance(id="ins_rotated", environment_type="production")
    unset.forget()
    assert unset.expected_instance() == "ins_rotated"


def test_guard_forgotten_from_inside_its_own_lookup_does_not_deadlock(clock: Clock) -> None:
    """Fails with a plain Lock: a 401 on `GET /v1/instance` calls wiring's forget hook, which forgets this guard
    while its lookup holds the lock, and the container hangs until its timeout."""

    class Unauthorized(FakeClerk):
        def get_instance(self, *, deadline: float | None = None) -> ClerkInstance:
            unset.forget()  # what ClerkClient's on_unauthorized hook ends up doing
            raise ClerkUnauthorizedError("key revoked", operation="GetInstance", status=401, attempts=1)

    unset = InstanceGuard(lambda: Unauthorized(clock), monotonic=clock)
    raised: list[BaseException] = []

    def check() -> None:
        try:
            unset.check()
        except ClerkUnauthorizedError as error:
            raised.append(error)

    thread = threading.Thread(target=check, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the guard deadlocked"
    assert len(raised) == 1


def test_guard_without_clerk_expects_nothing_and_refuses_to_vouch_for_a_404() -> None:
    alone = InstanceGuard(None)
    assert alone.expected_instance() is None
    with pytest.raises(ClerkNotConfiguredError):
        alone.check()


@pytest.mark.parametrize("value", ["production", "ins_", "ins_abc def", "user_123"])
def test_clerk_instance_id_setting_malformed_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CLERK_INSTANCE_ID", value)
    with pytest.raises(ValidationError, match="clerk_instance_id"):
        InstanceSettings()


@pytest.mark.parametrize(("value", "expected"), [("", None), ("  ", None), ("ins_2g7np7Hrk0S", "ins_2g7np7Hrk0S")])
def test_clerk_instance_id_setting_blank_is_unset(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None
) -> None:
    monkeypatch.setenv("CLERK_INSTANCE_ID", value)
    assert InstanceSettings().clerk_instance_id == expected
