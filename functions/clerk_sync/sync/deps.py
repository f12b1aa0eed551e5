"""What every use case works with (`SyncDeps`), and one sync in progress (`SyncRun`).

The use cases receive these as arguments, build no clients and read no environment, so tests pass moto-backed or
fake collaborators. Deadlines are absolute times on the Clerk client's clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from clerk_sync.clerk.errors import (
    ClerkInstanceMismatchError,
    ClerkRateLimitedError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
)
from clerk_sync.items import WriteContext
from clerk_sync.reports import SyncReport
from clerk_sync.sync.history import HistoryRecorder
from clerk_sync.vocabulary import MembershipSyncMode, SyncSource

if TYPE_CHECKING:
    from clerk_sync.clerk.client import ClerkClient
    from clerk_sync.store import JobStore, MembershipSyncClaims, SyncStore
    from clerk_sync.sync.followups import FollowUps
    from clerk_sync.sync.instance import InstanceGuard

# What "Clerk cannot be reached" means for the fallbacks: down, slow, rate limiting, refusing our key, or our key
# being another instance's (its answers, 404s above all, cannot be trusted).
CLERK_UNREACHABLE = (ClerkUnavailableError, ClerkRateLimitedError, ClerkUnauthorizedError, ClerkInstanceMismatchError)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class ClerkNotConfiguredError(RuntimeError):
    """A sync needs Clerk but this service was built without a Clerk client."""


@dataclass(frozen=True)
class SyncOptions:
    """The knobs of SyncSettings that shape the use cases' decisions."""

    user_freshness_ms: int = 300_000
    membership_sync_on_user_event: MembershipSyncMode = "missing"
    # `always`: at most one queued membership sync per user in this window. `missing`: a request that never
    # completed (lost, or still in the DLQ) may be made again after it.
    membership_sync_window_ms: int = 60_000
    membership_sync_retry_ms: int = 15 * 60_000


@dataclass
class SyncRun:
    """One sync in progress: its report, the context stamped on what it writes, the Clerk client it calls through
    (a metered view, so `report.clerk_calls` is this sync's own count) and its deadline."""

    report: SyncReport
    ctx: WriteContext
    clerk: ClerkClient
    deadline: float | None = None


@dataclass(frozen=True)
class SyncDeps:
    """The repositories, Clerk (as a provider: paths that never call Clerk never build a client), the follow-ups
    port, the history port every write is noted through, the options, the clocks and the instance guard every
    404-driven deletion asks first."""

    store: SyncStore
    jobs: JobStore
    claims: MembershipSyncClaims
    follow_ups: FollowUps
    clerk_provider: Callable[[], ClerkClient] | None = None
    options: SyncOptions = field(default_factory=SyncOptions)
    clock_ms: Callable[[], int] = now_ms
    monotonic: Callable[[], float] = time.monotonic
    # None only for services built without Clerk, which never see a 404 (SyncService builds one otherwise).
    instance: InstanceGuard | None = None
    history: HistoryRecorder = field(default_factory=HistoryRecorder)

    @property
    def clerk(self) -> ClerkClient:
        if self.clerk_provider is None:
            raise ClerkNotConfiguredError("this SyncService has no Clerk client")
        return self.clerk_provider()

    def trust_not_found(self, deadline: float | None = None) -> None:
        """Before deleting on Clerk's 404 (or on its not listing something): raises unless the key is the expected
        instance's (`ClerkInstanceMismatchError`), or when that cannot be known now (the lookup's `ClerkError`)."""
        if self.instance is None:
            raise ClerkNotConfiguredError("this SyncService has no Clerk client")
        self.instance.check(deadline=deadline)

    def deadline_in(self, seconds: float) -> float:
        """An absolute deadline `seconds` from now on the Clerk client's clock."""
        return self.clerk.clock() + seconds

    @contextmanager
    def run(
        self,
        source: SyncSource,
        *,
        user_id: str | None = None,
        org_id: str | None = None,
        deadline: float | None = None,
    ) -> Iterator[SyncRun]:
        """A sync's report and context; on the way out the report gets its Clerk requests and its duration.

        Its Clerk view takes the source's turn at the shared rate budget (`SyncSource.priority`): a login first,
        then manual syncs, then queued ones, then backfill and reconcile.
        """
        started = time.perf_counter()
        run = SyncRun(
            report=SyncReport(trigger=source, user_id=user_id, org_id=org_id),
            ctx=WriteContext(source, self.clock_ms()),
            clerk=self.clerk.metered(priority=source.priority),
            deadline=deadline,
        )
        try:
            yield run
        finally:
            run.report.clerk_calls = run.clerk.spent.requests
            run.report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
