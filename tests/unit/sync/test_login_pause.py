"""The login pause: after Clerk fails a login, the container's logins skip Clerk for 10 s or a longer Retry-After."""

from __future__ import annotations

import pytest

from clerk_sync.clerk.errors import ClerkBudgetExhaustedError, ClerkRateLimitedError, ClerkUnavailableError
from clerk_sync.sync.login_pause import LOGIN_CLERK_PAUSE_SECONDS, LoginPause


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_login_pause_new_is_inactive_and_lets_logins_call(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock)
    assert not pause.active
    pause.check()  # does not raise


def test_login_pause_after_outage_skips_clerk_for_ten_seconds(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock)
    pause.start(ClerkUnavailableError("down"))
    clock.now += LOGIN_CLERK_PAUSE_SECONDS - 0.01
    with pytest.raises(ClerkUnavailableError, match="failed a login moments ago"):
        pause.check()
    clock.now += 0.02
    assert not pause.active


def test_login_pause_after_429_lasts_retry_after_when_longer(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock)
    pause.start(ClerkRateLimitedError("slow down", retry_after=25.0))
    clock.now += 24.0
    assert pause.active
    clock.now += 1.5
    assert not pause.active


def test_login_pause_short_retry_after_still_pauses_the_full_pause(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock, seconds=5.0)
    pause.start(ClerkRateLimitedError("slow down", retry_after=1.0))
    clock.now += 4.0
    assert pause.active


def test_login_pause_later_failure_never_shortens_a_longer_pause(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock)
    pause.start(ClerkRateLimitedError("slow down", retry_after=60.0))
    clock.now += 1.0
    pause.start(ClerkUnavailableError("down"))
    clock.now += 30.0
    assert pause.active


def test_login_pause_after_a_budget_refusal_lasts_only_until_the_budget_has_room(clock: Clock) -> None:
    pause = LoginPause(monotonic=clock)
    pause.start(ClerkBudgetExhaustedError("no room", retry_after=1.5))
    assert pause.active
    clock.now += 1.51
    assert not pause.active
