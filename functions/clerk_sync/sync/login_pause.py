"""The login pause: after Clerk fails a login, the container's next logins skip Clerk for a while.

In an outage every login would otherwise spend its whole budget (LOGIN_SYNC_BUDGET_SECONDS) waiting before it
falls back; paused, they fall back at once. A 429's Retry-After, when longer than the pause, wins. A refusal of
the shared Clerk budget cost no time and says when it will have room: the pause lasts just that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from clerk_sync.clerk.errors import ClerkBudgetExhaustedError, ClerkRateLimitedError, ClerkUnavailableError

LOGIN_CLERK_PAUSE_SECONDS: Final = 10.0


class LoginPause:
    """Per container (one per SyncService); times are on the `monotonic` clock."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic, seconds: float | None = None) -> None:
        self._monotonic = monotonic
        self._seconds = LOGIN_CLERK_PAUSE_SECONDS if seconds is None else seconds
        self._until = 0.0

    @property
    def active(self) -> bool:
        return self._monotonic() < self._until

    def check(self) -> None:
        """Raises the `ClerkUnavailableError` a login falls back on while the pause lasts; returns when it may call."""
        if self.active:
            raise ClerkUnavailableError("not called: Clerk failed a login moments ago", operation="Login")

    def start(self, error: Exception) -> None:
        """Pauses after `error` for the pause or the error's Retry-After, whichever is longer; never shortens one."""
        retry_after = error.retry_after if isinstance(error, ClerkRateLimitedError) else None
        if isinstance(error, ClerkBudgetExhaustedError):
            pause = retry_after or 0.0
        else:
            pause = max(self._seconds, retry_after or 0.0)
        self._until = max(self._until, self._monotonic() + pause)
