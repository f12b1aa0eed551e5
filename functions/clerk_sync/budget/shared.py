"""`SharedClerkBudget`: the token bucket of `budget.bucket`, kept in the table and drawn from by every process.

One per process (`clerk_sync.wiring`, the CLI's target), shared by the process's Clerk client and all its views.
A take first spends what the process leased for that priority; when none is left it leases again (one conditional
write, `store.budget`), and when the bucket has no room it waits until it will, as long as the call's deadline
allows: past that it raises `ClerkBudgetExhaustedError`, which callers answer like Clerk's own 429. A lease
lasts a second, so tokens a process took but did not spend never pile up into a burst later.

Fail open: when the table cannot be read or written, the call goes ahead unbudgeted (Clerk's own 429s are still
honoured), the first time with a WARNING, each time with `ClerkBudgetUnavailable`, and the table is not asked
again for 30 s. The product never stops because the budget's item cannot be reached.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from clerk_sync.budget import bucket
from clerk_sync.budget.bucket import BucketLimits, BucketState, Take
from clerk_sync.clerk.errors import ClerkBudgetExhaustedError
from clerk_sync.observability import child_logger
from clerk_sync.observability import metrics as default_metrics
from clerk_sync.store.errors import StoreError
from clerk_sync.vocabulary import ClerkPriority

if TYPE_CHECKING:
    from clerk_sync.clerk.client import MetricsSink
    from clerk_sync.store.budget import Saved

LEASE_SECONDS: Final = 1.0
UNAVAILABLE_PAUSE_SECONDS: Final = 30.0
# Conditional writes one take tries before it steps back a moment (every other writer won the race meanwhile).
WRITE_ATTEMPTS: Final = 4
_CONTENDED_WAIT_SECONDS: Final = 0.05

logger = child_logger()


class BudgetItem(Protocol):
    """Where the bucket is kept (`store.budget.ClerkBudgetItem`); raises `StoreError` when it cannot be reached."""

    def load(self) -> BucketState | None: ...

    def save(self, state: BucketState, *, seen: BucketState | None, limits: BucketLimits) -> Saved: ...


@dataclass
class BudgetStats:
    """What this process's budget did: tokens leased and spent, table writes and lost races, waits, debt."""

    leases: int = 0
    leased_tokens: int = 0
    spent: int = 0
    writes: int = 0
    conflicts: int = 0
    waits: int = 0
    wait_seconds: float = 0.0
    refused: int = 0
    debt_takes: int = 0
    penalties: int = 0
    unavailable: int = 0
    unbudgeted: int = 0  # takes let through because the table could not be reached


@dataclass
class _Lease:
    tokens: int
    expires: float


class SharedClerkBudget:
    """The `ClerkBudget` of `clerk_sync.clerk.client`, over the table's budget item."""

    def __init__(
        self,
        item: BudgetItem,
        limits: BucketLimits,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        metrics: MetricsSink | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._item = item
        self.limits = limits
        self._wall = wall
        self._monotonic = monotonic
        self._sleep = sleep
        self._metrics: MetricsSink = default_metrics if metrics is None else metrics
        self._rng = rng or random.Random()  # noqa: S311  # jitter, not security
        self._lock = threading.Lock()
        self._leases: dict[ClerkPriority, _Lease] = {}
        # The bucket as this process last saw it: the next write's condition, so a take needs no read first.
        self._seen: BucketState | None = None
        self._loaded = False
        self._own_write = False  # `_seen` is what this process wrote (others may have written since)
        self._paused_until = 0.0
        self._warned = False
        self.stats = BudgetStats()

    def take(self, priority: ClerkPriority, max_wait: float) -> float:
        """One request's token at `priority`; returns the seconds waited for it, at most `max_wait`.

        Raises `ClerkBudgetExhaustedError` (nothing waited past `max_wait`) when the bucket will not have room in
        time; goes ahead at once when the table cannot be reached.
        """
        if self._spend_lease(priority):
            return 0.0
        waited = 0.0
        while True:
            if self._paused():
                self._count(unbudgeted=1)
                return waited
            try:
                result = self._take_shared(priority)
            except StoreError as error:
                self._unavailable(error)
                self._count(unbudgeted=1)
                return waited
            if result.granted:
                self._keep_lease(priority, result.granted - 1)
                if result.debt:
                    self._count(debt_takes=1)
                return waited
            wait = result.wait
            if waited + wait > max_wait:
                self._count(refused=1)
                raise ClerkBudgetExhaustedError(
                    f"the shared Clerk budget has no room for a {priority.value} request in time",
                    retry_after=min(wait, bucket.PENALTY_MAX_SECONDS),
                    waited=waited,
                )
            # A little jitter, so the processes waiting for the same refill do not all ask in the same instant.
            pause = wait + self._rng.uniform(0.0, min(wait, 0.05))
            pause = min(pause, max(0.0, max_wait - waited))
            self._count(waits=1, wait_seconds=pause)
            self._sleep(pause)
            waited += pause

    def penalise(self, retry_after: float | None) -> None:
        """Clerk answered 429: empty the shared bucket and halve its rate for a while (`bucket.penalise`)."""
        with self._lock:
            self._leases.clear()
        self._count(penalties=1)
        if self._paused():
            return
        try:
            seen = self._current()
            for _ in range(WRITE_ATTEMPTS):
                now = self._wall()
                base = seen or BucketState.full(self.limits, now)
                saved = self._save(bucket.penalise(base, self.limits, now, retry_after), seen)
                if saved.applied:
                    return
                seen = saved.current
        except StoreError as error:
            self._unavailable(error)

    # ---- internals -------------------------------------------------------------------------------

    def _take_shared(self, priority: ClerkPriority) -> Take:
        """One lease from the table's bucket, or how long until there is room (nothing written then)."""
        want = self.limits.lease_size(priority)
        seen = self._current()
        fresh = not self._loaded_from_own_write()
        for _ in range(WRITE_ATTEMPTS):
            now = self._wall()
            base = seen or BucketState.full(self.limits, now)
            result = bucket.take(base, self.limits, now, priority, want=want)
            if not result.granted:
                if not fresh:
                    # What this process last wrote may be old news: look before making a caller wait on it.
                    seen, fresh = self._load(), True
                    continue
                return result
            saved = self._save(result.state, seen)
            if saved.applied:
                self._count(leases=1, leased_tokens=result.granted)
                return result
            self._count(conflicts=1)
            seen, fresh = saved.current, True
        return Take(seen or BucketState.full(self.limits, self._wall()), 0, _CONTENDED_WAIT_SECONDS)

    def _current(self) -> BucketState | None:
        with self._lock:
            if self._loaded:
                return self._seen
        return self._load()

    def _loaded_from_own_write(self) -> bool:
        with self._lock:
            return self._own_write

    def _load(self) -> BucketState | None:
        state = self._item.load()
        with self._lock:
            self._seen, self._loaded, self._own_write = state, True, False
        return state

    def _save(self, state: BucketState, seen: BucketState | None) -> Saved:
        saved = self._item.save(state, seen=seen, limits=self.limits)
        self._count(writes=1)
        with self._lock:
            self._seen, self._loaded, self._own_write = saved.current, True, saved.applied
        return saved

    def _spend_lease(self, priority: ClerkPriority) -> bool:
        with self._lock:
            lease = self._leases.get(priority)
            if lease is None or lease.tokens < 1 or self._monotonic() >= lease.expires:
                return False
            lease.tokens -= 1
            self.stats.spent += 1
            return True

    def _keep_lease(self, priority: ClerkPriority, tokens: int) -> None:
        with self._lock:
            self.stats.spent += 1
            if tokens > 0:
                self._leases[priority] = _Lease(tokens, self._monotonic() + LEASE_SECONDS)
            else:
                self._leases.pop(priority, None)

    def _paused(self) -> bool:
        with self._lock:
            return self._monotonic() < self._paused_until

    def _unavailable(self, error: StoreError) -> None:
        with self._lock:
            self._paused_until = self._monotonic() + UNAVAILABLE_PAUSE_SECONDS
            self._loaded = False
            first, self._warned = not self._warned, True
            self.stats.unavailable += 1
        if first:
            logger.warning(
                "clerk budget unavailable: Clerk calls go ahead unbudgeted",
                extra={"error": type(error).__name__, "pause_seconds": UNAVAILABLE_PAUSE_SECONDS},
            )
        self._metrics.add_metric("ClerkBudgetUnavailable", MetricUnit.Count, 1)

    def _count(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self.stats, name, getattr(self.stats, name) + amount)
