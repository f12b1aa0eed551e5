"""The shared Clerk budget as a token bucket: plain values and pure functions of the time they are given.

Clerk allows `rate_limit` requests per 10 s per instance. The bucket holds at most `capacity`, a fifth of that,
and refills at the other four fifths per window, so no 10 s window sees more than `rate_limit` requests from
it, whatever the order of takes. The priorities differ only in how low a take may leave the bucket (its floor):

    login   down to -login_debt        a small debt: a login is served whenever the bucket holds anything
    manual  down to 0
    queued  down to queued_reserve     a fifth of the capacity stays for manual syncs and logins
    bulk    down to capacity * (1 - share), and only from its own sub-bucket, which holds share * capacity
            and refills at share * rate: backfill and reconcile never get more than `share` of the limit

A 429 from Clerk empties the bucket (a login's debt stays) and halves its refill rate until max(Retry-After,
10 s) from then; a further 429 in that time extends it. Times are wall-clock seconds: the bucket is shared by
processes on different machines (docs/decisions/0020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from clerk_sync.vocabulary import ClerkPriority

WINDOW_SECONDS: Final = 10.0  # Clerk's rate window
BURST_FRACTION: Final = 0.2  # the capacity, as a share of one window's limit
QUEUED_RESERVE_FRACTION: Final = 0.2  # of the capacity, kept from queued work for manual syncs and logins
LOGIN_DEBT_FRACTION: Final = 0.2  # of the capacity, what logins may borrow (at least one request)
PENALTY_FACTOR: Final = 0.5  # the refill rate after a 429, as a share of the normal rate
PENALTY_MIN_SECONDS: Final = 10.0
PENALTY_MAX_SECONDS: Final = 60.0  # a Retry-After longer than this penalises for this long
MAX_LEASE: Final = 10  # tokens one process takes at once, to spend without asking the table again
MIN_RATE_LIMIT: Final = 10
_EPSILON: Final = 1e-9


@dataclass(frozen=True, slots=True)
class BucketLimits:
    """What one writer knows of the budget: Clerk's limit per window and the bulk share."""

    rate_limit: int
    bulk_share: float = 0.5
    window_seconds: float = WINDOW_SECONDS

    def __post_init__(self) -> None:
        if self.rate_limit < MIN_RATE_LIMIT:
            raise ValueError(f"rate_limit must be at least {MIN_RATE_LIMIT} requests per window")
        if not 0 < self.bulk_share <= 1:
            raise ValueError("bulk_share must be above 0 and at most 1")
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if self.bulk_capacity < 1:
            raise ValueError(f"bulk_share {self.bulk_share} leaves bulk work less than one request of burst")

    @property
    def capacity(self) -> float:
        return self.rate_limit * BURST_FRACTION

    @property
    def rate(self) -> float:
        """Tokens per second when no 429 penalty is on."""
        return self.rate_limit * (1 - BURST_FRACTION) / self.window_seconds

    @property
    def bulk_capacity(self) -> float:
        return self.capacity * self.bulk_share

    @property
    def queued_reserve(self) -> float:
        return self.capacity * QUEUED_RESERVE_FRACTION

    @property
    def login_debt(self) -> float:
        return max(1.0, self.capacity * LOGIN_DEBT_FRACTION)

    def floor(self, priority: ClerkPriority) -> float:
        """How low a take at `priority` may leave the bucket."""
        if priority is ClerkPriority.LOGIN:
            return -self.login_debt
        if priority is ClerkPriority.MANUAL:
            return 0.0
        if priority is ClerkPriority.QUEUED:
            return self.queued_reserve
        return max(self.capacity * (1 - self.bulk_share), self.queued_reserve)

    def lease_size(self, priority: ClerkPriority) -> int:
        """Tokens a process asks for at once: 1 at Clerk's development limit, 10 at its production limit."""
        size = max(1, min(MAX_LEASE, int(self.capacity // 20)))
        if priority is ClerkPriority.BULK:
            size = max(1, min(size, int(self.bulk_capacity)))
        return size


@dataclass(frozen=True, slots=True)
class BucketState:
    """The stored bucket. `version` counts its writes (the table's optimistic lock); the functions keep it."""

    tokens: float
    bulk_tokens: float
    updated_at: float
    penalty_until: float = 0.0
    penalty_factor: float = 1.0
    version: int = 0

    @classmethod
    def full(cls, limits: BucketLimits, now: float) -> BucketState:
        return cls(tokens=limits.capacity, bulk_tokens=limits.bulk_capacity, updated_at=now)


@dataclass(frozen=True, slots=True)
class Take:
    """A take's result: the bucket after it, the tokens granted (0: none), else the wait until `least` could be."""

    state: BucketState
    granted: int
    wait: float = 0.0  # math.inf: never at this priority (more than the bucket can hold above its floor)
    debt: bool = False  # the take left the bucket below zero: a login borrowing


def rate_at(state: BucketState, limits: BucketLimits, now: float) -> float:
    """The refill rate at `now`: halved while a 429 penalty is on."""
    return limits.rate * (state.penalty_factor if now < state.penalty_until else 1.0)


def refill(state: BucketState, limits: BucketLimits, now: float) -> BucketState:
    """The bucket at `now`: refilled since `updated_at` (never past its capacity), a penalty that ended cleared.

    A `now` before `updated_at` (another machine's clock ahead of this one) adds nothing.
    """
    gained = _gain(state, limits, state.updated_at, now)
    over = now >= state.penalty_until
    return replace(
        state,
        tokens=min(limits.capacity, state.tokens + gained),
        bulk_tokens=min(limits.bulk_capacity, state.bulk_tokens + gained * limits.bulk_share),
        updated_at=max(state.updated_at, now),
        penalty_until=0.0 if over else state.penalty_until,
        penalty_factor=1.0 if over else state.penalty_factor,
    )


def take(
    state: BucketState, limits: BucketLimits, now: float, priority: ClerkPriority, *, want: int = 1, least: int = 1
) -> Take:
    """Takes up to `want` tokens at `priority`, at least `least`, or none and says how long until `least` could be."""
    if least < 1 or want < least:
        raise ValueError("need 1 <= least <= want")
    current = refill(state, limits, now)
    room = current.tokens - limits.floor(priority)
    if priority is ClerkPriority.BULK:
        room = min(room, current.bulk_tokens)
    granted = min(want, math.floor(room + _EPSILON)) if room + _EPSILON >= least else 0
    if granted < least:
        return Take(current, 0, wait_for(current, limits, now, priority, least))
    bulk_tokens = current.bulk_tokens - granted if priority is ClerkPriority.BULK else current.bulk_tokens
    after = replace(current, tokens=current.tokens - granted, bulk_tokens=bulk_tokens)
    return Take(after, granted, debt=after.tokens < 0)


def wait_for(state: BucketState, limits: BucketLimits, now: float, priority: ClerkPriority, amount: int = 1) -> float:
    """Seconds from `now` until a take of `amount` at `priority` would be granted, if nobody took meanwhile."""
    current = refill(state, limits, now)
    floor = limits.floor(priority)
    if floor + amount > limits.capacity + _EPSILON:
        return math.inf
    wait = _time_to_gain(current, limits, now, floor + amount - current.tokens)
    if priority is ClerkPriority.BULK:
        if amount > limits.bulk_capacity + _EPSILON:
            return math.inf
        bulk_missing = (amount - current.bulk_tokens) / limits.bulk_share
        wait = max(wait, _time_to_gain(current, limits, now, bulk_missing))
    return wait


def penalise(state: BucketState, limits: BucketLimits, now: float, retry_after: float | None) -> BucketState:
    """After a 429: the bucket emptied and its rate halved until max(Retry-After, 10 s) from `now`."""
    current = refill(state, limits, now)
    seconds = min(PENALTY_MAX_SECONDS, max(PENALTY_MIN_SECONDS, retry_after or 0.0))
    return replace(
        current,
        tokens=min(current.tokens, 0.0),
        bulk_tokens=min(current.bulk_tokens, 0.0),
        penalty_until=max(current.penalty_until, now + seconds),
        penalty_factor=PENALTY_FACTOR,
    )


def _gain(state: BucketState, limits: BucketLimits, since: float, until: float) -> float:
    """Tokens the bucket gains from `since` to `until`, at the penalised rate for the part before `penalty_until`."""
    if until <= since:
        return 0.0
    slow = max(0.0, min(until, state.penalty_until) - since)
    return limits.rate * (slow * state.penalty_factor + (until - since - slow))


def _time_to_gain(state: BucketState, limits: BucketLimits, now: float, amount: float) -> float:
    """Seconds from `now` until the bucket has gained `amount` tokens (the inverse of `_gain`)."""
    if amount <= 0:
        return 0.0
    if now < state.penalty_until:
        slow_rate = limits.rate * state.penalty_factor
        slow_span = state.penalty_until - now
        if amount <= slow_rate * slow_span:
            return amount / slow_rate
        return slow_span + (amount - slow_rate * slow_span) / limits.rate
    return amount / limits.rate
