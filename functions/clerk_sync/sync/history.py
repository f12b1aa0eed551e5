"""The history port: every write the sync layer makes is noted here, and only here (docs/decisions/0028).

A webhook delivery leaves an entry for what it changed (or refused: tombstoned, needs_refetch) and is counted on
its entity when it was stale or a duplicate. A sync leaves an entry only for what it changed: what it found as
stored (duplicate, or stale: a webhook was faster) adds to the hourly sums in memory and costs no request, so a
re-sync of unchanged data stays reads only. History is best effort: the change it describes is applied already,
so a failing history write is logged and counted (`HistoryWriteFailed`), never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from clerk_sync.items import WriteContext
from clerk_sync.models import Membership, Organization, User
from clerk_sync.observability import child_logger, count
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store.errors import StoreError

if TYPE_CHECKING:
    from clerk_sync.store.history import History

logger = child_logger()

# A sync's change: what it did to the entity (a webhook's is its event type).
SYNC: Final = "sync"  # stored what Clerk has
DELETED: Final = "deleted"  # tombstoned: Clerk no longer has it
REMOVED: Final = "removed"  # a membership Clerk no longer lists, removed (inferred, repairable)
PROVISIONAL: Final = "provisional"  # written from a verified token while Clerk could not be reached
CASCADE: Final = "cascade"  # the second pass of a user delete's cascade removed memberships
# What a sync found as stored: summed per hour, no entry and no count on the entity.
_FOUND_AS_STORED: Final = frozenset({Outcome.STALE, Outcome.DUPLICATE})


def version_of(entity: User | Organization | Membership) -> int:
    return entity.updated_at


class HistoryRecorder:
    """Notes write results in `History` (a provider: built on the first write, never on a path that writes
    nothing); without one it does nothing."""

    def __init__(self, history: Callable[[], History] | None = None) -> None:
        self._history = history
        self._noted = False  # flush makes no request (and builds nothing) before anything was noted

    def delivery(self, result: WriteResult, ctx: WriteContext, *, change: str, version: int | None) -> None:
        """A webhook event's result (`change`: its type): an entry, or a count on the entity when stale or a
        duplicate (a redelivery is worth seeing, and costs one request)."""
        if self._history is None:
            return
        history, self._noted = self._history(), True
        _safely("record", lambda: history.record(result, ctx, change=change, version=version))

    def synced(self, result: WriteResult, ctx: WriteContext, *, change: str = SYNC, version: int | None = None) -> None:
        """A sync's write (`change`: `sync`, or what it did: `deleted`, `removed`, `provisional`, `cascade`)."""
        self.synced_many([(result, version)], ctx, change=change)

    def synced_many(
        self, results: Iterable[tuple[WriteResult, int | None]], ctx: WriteContext, *, change: str = SYNC
    ) -> None:
        """A sync's results (result, version): entries for what changed, 25 a request; what it found as stored is
        summed only."""
        if self._history is None:
            return
        history, self._noted = self._history(), True
        changed: list[tuple[WriteResult, int | None]] = []
        for result, version in results:
            if result.outcome in _FOUND_AS_STORED:
                history.tally([result], ctx.now_ms)
            else:
                changed.append((result, version))
        if changed:
            _safely("record", lambda: history.record_many(changed, ctx, change=change))

    def flush(self) -> None:
        """Writes the hourly sums noted so far (one request per hour touched; none when nothing was noted)."""
        if self._history is not None and self._noted:
            _safely("flush", self._history().flush)


def _safely(what: str, write: Callable[[], object]) -> None:
    try:
        write()
    except StoreError as error:
        # The change is applied: retrying it (or failing its request) for want of its history would be worse.
        logger.warning("history not recorded", extra={"step": what, "error": type(error).__name__})
        count("HistoryWriteFailed")
