"""Request and answer bodies of the /api/admin/* routes (the operator console's contract, issue 15)."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clerk_sync.jobs import Job

# An SQS message id of a standard queue (a UUID); anything else is a 400 before SQS is asked.
MESSAGE_ID_PATTERN: Final = r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
# What find accepts: a user or organization id, or an email address (RFC 5321 caps a path at 254 characters).
MAX_QUERY_CHARS: Final = 254
HISTORY_ENTITY_PATTERN: Final = r"^(user|organization|membership)$"
# A user id, an organization id, or a membership as `org_x:user_y` (a "/" cannot sit in one path segment).
HISTORY_ID_PATTERN: Final = (
    r"^(user_[A-Za-z0-9]{1,64}|org_[A-Za-z0-9]{1,64}|org_[A-Za-z0-9]{1,64}:user_[A-Za-z0-9]{1,64})$"
)
MAX_REPLAY_IDS: Final = 100
# The names a 400 may report for these routes (never the values sent).
ADMIN_FIELDS: Final = frozenset({"q", "before", "limit", "entity", "entityId", "message_ids", "all"})


class StateCounts(BaseModel):
    live: int
    tombstoned: int
    provisional: int


class RecordCountsBody(BaseModel):
    users: StateCounts
    organizations: StateCounts
    memberships: StateCounts
    counted_at: int
    complete: bool  # False: the bounded scan stopped at its deadline; the counts are of what it read


class DlqDepth(BaseModel):
    depth: int | None  # None: no DLQ configured


class Overview(BaseModel):
    generated_at: int
    records: RecordCountsBody
    last_webhook_at: int | None
    seconds_since_last_webhook: int | None
    dlq: DlqDepth
    last_reconcile: dict[str, Any] | None
    last_backfill: dict[str, Any] | None
    clerk_budget: dict[str, Any] | None
    outcomes: list[dict[str, Any]]  # {"hour": "YYYY-MM-DDTHH", <outcome>: n, ...}, 24 hours, oldest first


class FindResult(BaseModel):
    kind: Literal["user", "organization"]
    id: str
    label: str
    deleted: bool
    on_record: bool


class FindAnswer(BaseModel):
    query: str
    results: list[FindResult]


class HistoryCountsBody(BaseModel):
    stale: int
    duplicate: int
    last_stale_at: int | None
    last_duplicate_at: int | None


class HistoryPage(BaseModel):
    entries: list[dict[str, Any]]  # HistoryEntry.as_dict(), newest first
    counts: HistoryCountsBody
    next_before: int | None
    enabled: bool


class Provenance(BaseModel):
    sync_source: str | None
    synced_at: int | None
    version: int | None
    provisional: bool
    deleted: bool


class UserPage(BaseModel):
    user: dict[str, Any] | None  # None: only the history knows it
    provenance: Provenance | None
    memberships: list[dict[str, Any]]
    memberships_truncated: bool
    history: HistoryPage


class OrganizationPage(BaseModel):
    organization: dict[str, Any] | None
    provenance: Provenance | None
    memberships: list[dict[str, Any]]  # the first 200
    memberships_truncated: bool
    history: HistoryPage


class DeadLetters(BaseModel):
    depth: int
    messages: list[dict[str, Any]]  # DeadLetter.summary(), oldest first, up to 100
    truncated: bool


class ReplayRequest(BaseModel):
    """POST /api/admin/dlq/replay: the message ids (1..100), or `all` (up to 100 a call; `left` says what remains)."""

    model_config = ConfigDict(extra="forbid")

    message_ids: list[Annotated[str, Field(pattern=MESSAGE_ID_PATTERN)]] | None = Field(
        default=None, min_length=1, max_length=MAX_REPLAY_IDS
    )
    all: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ReplayRequest:
        if (self.message_ids is None) == (self.all is None):
            raise ValueError("name message_ids or all, not both")
        return self


class ReplayAnswer(BaseModel):
    replayed: int
    not_found: list[str]
    failed: dict[str, str]  # message id -> why it could not be sent (it stays on the DLQ)
    left: int  # dead letters still on the DLQ


class JobsAnswer(BaseModel):
    jobs: list[Job]
    runs: list[dict[str, Any]]
