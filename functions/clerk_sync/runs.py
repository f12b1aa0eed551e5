"""Bulk runs, backfills and reconciles: what is stored about one, and how it maps to its table item.

A run walks Clerk's instance-wide lists (organizations, users, memberships) one page at a time and checkpoints
each list's cursor in its item after every page, so a run killed at any point continues where it stopped, in the
CLI or in the worker (one page per queue message). `step` counts the pages done: a save only lands over the step
it started from, so two runners of one run (a resumed CLI and a queued step) never both advance it.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from clerk_sync import keys
from clerk_sync.items import to_dynamo_value

RUN_ENTITY = "run"
RUN_TTL_SECONDS = 30 * 24 * 3600

ListName = Literal["organizations", "users", "memberships"]
LIST_NAMES: tuple[ListName, ...] = ("organizations", "users", "memberships")


class RunKind(StrEnum):
    BACKFILL = "backfill"
    RECONCILE = "reconcile"


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # stopped on an error; running it again resumes from the checkpoint


class DriftKind(StrEnum):
    """What reconcile finds; the `Kind` dimension of the `Drift` metric."""

    MISSING = "missing"  # in Clerk, not in the table
    STALE = "stale"  # in the table with an older version or other content than Clerk's
    ROLE = "role"  # a membership whose stored role differs from Clerk's
    PROVISIONAL = "provisional"  # a provisional record never healed
    GONE = "gone"  # live in the table, and Clerk confirmed by id that it no longer exists
    TOMBSTONED = "tombstoned"  # listed by Clerk but a tombstone on record: reported, never resurrected


class Cursor(BaseModel):
    """Where a walk of one list stands. Lists are walked oldest first (`+created_at`), so entities created during
    the walk come at the end; `last_created_at` and `last_ids` tell what was read already whatever shifts
    deletions cause (sync/listings.py)."""

    model_config = ConfigDict(extra="ignore")

    offset: int = 0
    after: int | None = None  # users: the `created_at_after` the next page asks for
    last_created_at: int | None = None
    last_ids: list[str] = Field(default_factory=list)  # ids read whose created_at is last_created_at
    pages: int = 0  # Clerk pages read
    reread: int = 0  # pages read again because deletions shifted the list (or a step was redone)
    read: int = 0  # entities read once each
    total: int | None = None  # what Clerk says the list holds (count or total_count), for progress
    done: bool = False


class Counts(BaseModel):
    """What a run did to one entity kind's records."""

    model_config = ConfigDict(extra="ignore")

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0  # something newer is on record: left alone
    tombstoned: int = 0  # deleted on our side: never resurrected
    failed: int = 0
    removed: int = 0  # reconcile: tombstoned because Clerk confirmed it gone

    def add(self, other: Counts) -> None:
        for name in type(self).model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Run(BaseModel):
    """Progress and checkpoint of one backfill or reconcile."""

    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(pattern=r"^run_[A-Za-z0-9]+$")
    kind: RunKind
    status: RunStatus = RunStatus.RUNNING
    started_at: int  # Unix ms: records neither written nor confirmed since are what reconcile checks by id
    updated_at: int
    finished_at: int | None = None
    step: int = 0
    as_job: bool = False
    dry_run: bool = False
    share: float | None = None  # the bulk share of Clerk's rate asked for (None: the deployment's)
    page_size: int = Field(default=500, ge=20, le=500)  # Clerk's largest page; smaller ones for tests and slow hosts
    # Which walk is next: the three lists, then a short second pass over organizations and users for what was
    # created while memberships were walked, then (reconcile) the check by id of what the walk did not list.
    phase: int = 0
    cursors: dict[str, Cursor] = Field(default_factory=lambda: {str(name): Cursor() for name in LIST_NAMES})
    counts: dict[str, Counts] = Field(
        default_factory=lambda: {name: Counts() for name in ("organization", "user", "membership")}
    )
    drift: dict[str, int] = Field(default_factory=dict)  # DriftKind value -> records
    repaired: int = 0
    seen_pages: int = 0  # reconcile: pages of listed ids kept for the check by id
    scan_key: dict[str, str] | None = None  # reconcile: where the check by id continues its table scan
    checked: int = 0  # reconcile: records checked by id
    clerk_calls: int = 0
    waited_seconds: float = 0.0  # waiting for Clerk's rate (budget and Retry-After)
    resumed: int = 0  # times the run was continued after stopping
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status is RunStatus.COMPLETED

    def totals(self) -> Counts:
        total = Counts()
        for counts in self.counts.values():
            total.add(counts)
        return total


def new_run_id() -> str:
    return "run_" + secrets.token_hex(10)


def run_item(run: Run) -> dict[str, Any]:
    return {
        **keys.run_key(run.run_id),
        **to_dynamo_value(run.model_dump(mode="json")),
        "entity": RUN_ENTITY,
        keys.TTL_ATTRIBUTE: run.updated_at // 1000 + RUN_TTL_SECONDS,
    }


def run_from_item(item: dict[str, Any]) -> Run:
    return Run.model_validate(_plain(item))


def _plain(value: Any) -> Any:
    # DynamoDB hands numbers back as Decimal.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
