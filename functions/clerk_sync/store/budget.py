"""The shared Clerk budget's item, `BUDGET#clerk` / `STATE`: the token bucket every writer draws from.

Optimistic, like the per-caller limits: a writer computes the next bucket from the one it last saw and puts it
on condition that the stored `version` is still the one it saw (or that there is none yet). A put that lost the
race changes nothing and hands back the item in its way, so the writer retries on that without a read: one
conditional write per take when nobody raced, no read at all (docs/decisions/0020). The item never expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from clerk_sync import keys
from clerk_sync.budget.bucket import BucketLimits, BucketState
from clerk_sync.store.table import Item, Table, placeholders

BUDGET_ENTITY = "clerk_budget"
_UNCHANGED_SINCE_SEEN = "version = :seen"
_ABSENT = "attribute_not_exists(PK)"


@dataclass(frozen=True)
class Saved:
    """Whether the put went through; when it did not, the bucket found in its way (None: there is none)."""

    applied: bool
    current: BucketState | None = None


class ClerkBudgetItem:
    """Reads and conditionally replaces the budget item; raises only the store's own errors."""

    def __init__(self, table: Table, name: str = keys.CLERK_BUDGET) -> None:
        self._table = table
        self._key = keys.budget_key(name)

    def load(self) -> BucketState | None:
        """The stored bucket (a consistent read), or None before the first take."""
        return _state(self._table.get(self._key))

    def save(self, state: BucketState, *, seen: BucketState | None, limits: BucketLimits) -> Saved:
        """Puts `state` as the next version after `seen` (None: the item must not exist yet)."""
        version = (seen.version if seen is not None else 0) + 1
        item = {
            **self._key,
            "entity": BUDGET_ENTITY,
            "tokens": _decimal(state.tokens),
            "bulk_tokens": _decimal(state.bulk_tokens),
            "updated_at_ms": _ms(state.updated_at),
            "penalty_until_ms": _ms(state.penalty_until),
            "penalty_factor": _decimal(state.penalty_factor),
            "version": version,
            # For whoever reads the item: the writer's view of the limit it refilled with.
            "rate_limit": limits.rate_limit,
            "bulk_share": _decimal(limits.bulk_share),
        }
        if seen is None:
            written = self._table.put(item, _ABSENT, {})
        else:
            written = self._table.put(item, _UNCHANGED_SINCE_SEEN, placeholders(seen=seen.version))
        if written.applied:
            return Saved(True, _state(item))
        return Saved(False, _state(written.old))


def _state(item: Item | None) -> BucketState | None:
    if not item:
        return None
    return BucketState(
        tokens=float(item.get("tokens", 0)),
        bulk_tokens=float(item.get("bulk_tokens", 0)),
        updated_at=int(item.get("updated_at_ms", 0)) / 1000,
        penalty_until=int(item.get("penalty_until_ms", 0)) / 1000,
        penalty_factor=float(item.get("penalty_factor", 1)),
        version=int(item.get("version", 0)),
    )


def _decimal(value: float) -> Decimal:
    # DynamoDB numbers are decimals; a millionth of a token is finer than anything the bucket decides on.
    return Decimal(str(round(value, 6)))


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
