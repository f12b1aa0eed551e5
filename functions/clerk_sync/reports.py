"""What a sync did, as the API, the CLI and the logs show it: one change per record written or judged."""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from clerk_sync.outcomes import Outcome
from clerk_sync.vocabulary import Fallback, SyncSource


class ChangeOutcome(StrEnum):
    APPLIED = "applied"  # created or changed
    UNCHANGED = "unchanged"  # Clerk's data equals ours; only synced_at moved
    STALE = "stale"  # something newer than what Clerk returned is on record
    TOMBSTONED = "tombstoned"  # the record (or a parent) is deleted on our side
    DELETED = "deleted"  # Clerk says it is gone (404): tombstoned now
    REMOVED = "removed"  # a membership Clerk no longer lists
    PROVISIONAL = "provisional"  # written from a verified token or the caller while Clerk was unreachable


_FROM_OUTCOME = {
    Outcome.APPLIED: ChangeOutcome.APPLIED,
    Outcome.DUPLICATE: ChangeOutcome.UNCHANGED,
    Outcome.STALE: ChangeOutcome.STALE,
    Outcome.TOMBSTONED: ChangeOutcome.TOMBSTONED,
    # Writes of fetched data never leave a tie (SyncStore._refresh); the mapping keeps the type total.
    Outcome.NEEDS_REFETCH: ChangeOutcome.STALE,
}


def change_outcome(outcome: Outcome) -> ChangeOutcome:
    return _FROM_OUTCOME[outcome]


class EntityChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: Literal["user", "organization", "membership"]
    id: str  # user_..., org_..., or org_.../user_... for a membership
    outcome: ChangeOutcome


class RoleMismatch(BaseModel):
    """The role a caller claimed differs from Clerk's (None: Clerk has no such membership)."""

    model_config = ConfigDict(frozen=True)

    requested: str
    clerk: str | None


class SyncReport(BaseModel):
    """What one sync changed, what was stale, which fallbacks it used and how many Clerk requests it made."""

    trigger: SyncSource
    user_id: str | None = None
    org_id: str | None = None
    changes: list[EntityChange] = Field(default_factory=list)
    fallbacks: list[Fallback] = Field(default_factory=list)
    clerk_calls: int = 0
    found: bool = True  # False when Clerk says the user, organization or membership does not exist
    role_mismatch: RoleMismatch | None = None
    duration_ms: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> dict[str, int]:
        """Changes counted by outcome, e.g. {"applied": 3, "unchanged": 1}."""
        return dict(Counter(change.outcome.value for change in self.changes))

    def add(
        self, entity: Literal["user", "organization", "membership"], entity_id: str, outcome: ChangeOutcome
    ) -> None:
        self.changes.append(EntityChange(entity=entity, id=entity_id, outcome=outcome))

    def count(self, outcome: ChangeOutcome, entity: str | None = None) -> int:
        return sum(1 for c in self.changes if c.outcome is outcome and (entity is None or c.entity == entity))
