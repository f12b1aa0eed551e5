"""When to retry a Clerk call and how long to wait: capped exponential backoff with full jitter, bounded by a deadline.

The n-th retry (0-based) waits `uniform(0, min(cap, base * 2**n))`. A 429's Retry-After is a floor the jitter
is added to, so Lambdas told the same Retry-After do not all come back in the same instant. A wait that would
end past the caller's deadline is never slept: the call gives up at once with the error it has. Clock, sleep
and random source are parameters so tests run instantly and can assert exact sequences.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Clock = Callable[[], float]
Sleep = Callable[[float], None]

# 2**64 * any sane base is far past any cap; bounding the exponent keeps the float math from overflowing.
_MAX_EXPONENT = 64


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are worth another attempt; any other 4xx would fail the same way again."""
    return status == 429 or status >= 500


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a retryable failure: sleep `wait` seconds, or give up and say why."""

    action: Literal["retry", "give_up"]
    wait: float = 0.0
    reason: Literal["", "attempts", "deadline"] = ""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt cap and backoff shape; `max_attempts` counts the first attempt."""

    max_attempts: int = 4
    base_seconds: float = 0.5
    cap_seconds: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_seconds <= 0 or self.cap_seconds <= 0:
            raise ValueError("base_seconds and cap_seconds must be positive")

    def ceiling(self, retry: int) -> float:
        """The largest wait before the `retry`-th retry (0-based): `min(cap, base * 2**retry)`."""
        return min(self.cap_seconds, self.base_seconds * 2.0 ** min(retry, _MAX_EXPONENT))

    def wait(self, retry: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to sleep before the `retry`-th retry: full jitter, on top of Retry-After when given."""
        jitter = rng.uniform(0.0, self.ceiling(retry))
        return jitter if retry_after is None else retry_after + jitter

    def decide(
        self,
        *,
        attempts: int,
        now: float,
        deadline: float,
        rng: random.Random,
        retry_after: float | None = None,
    ) -> RetryDecision:
        """After `attempts` failed attempts: the next wait, or give up (out of attempts, or past `deadline`)."""
        if attempts >= self.max_attempts:
            return RetryDecision("give_up", reason="attempts")
        wait = self.wait(attempts - 1, rng, retry_after)
        if now + wait >= deadline:
            return RetryDecision("give_up", wait=wait, reason="deadline")
        return RetryDecision("retry", wait=wait)


def resolve_deadline(
    clock: Clock,
    *,
    deadline: float | None,
    timeout_budget: float | None,
    default_budget: float,
) -> float:
    """The absolute deadline on `clock`: as given, or `timeout_budget` (else the default) from now."""
    if deadline is not None and timeout_budget is not None:
        raise ValueError("pass deadline or timeout_budget, not both")
    if deadline is not None:
        return deadline
    return clock() + (default_budget if timeout_budget is None else timeout_budget)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds as Clerk sends, or an HTTP date (RFC 9110); None if absent or junk."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        # Imported here: Clerk sends delta-seconds, and email.utils costs ~10 ms of cold start.
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
