"""The reads the sync API answers from: a member's stored role, and a caller's records and pending jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clerk_sync import keys
from clerk_sync.jobs import Job
from clerk_sync.sync.deps import SyncDeps


@dataclass(frozen=True)
class CallerRecords:
    """What the table holds about one user: the record, live memberships (by org id), their organizations, jobs."""

    user: dict[str, Any] | None
    memberships: list[dict[str, Any]] = field(default_factory=list)
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)


class Lookups:
    def __init__(self, deps: SyncDeps) -> None:
        self._deps = deps

    def stored_role(self, org_id: str, user_id: str) -> str | None:
        """The role of the user's live membership as Clerk confirmed it, or None.

        A provisional membership is not Clerk's word (it was written from a session token while Clerk could not be
        reached); the token that wrote it speaks for itself while it is the session's active organization.
        """
        membership = self._deps.store.get_membership(org_id, user_id)
        if membership is None or membership.get("deleted") or membership.get("provisional"):
            return None
        return str(membership.get("role"))

    def caller_records(self, user_id: str) -> CallerRecords:
        store = self._deps.store
        memberships = sorted(store.user_memberships(user_id), key=lambda m: str(m["org_id"]))
        org_keys = [keys.org_key(str(m["org_id"])) for m in memberships]
        organizations = {str(o["org_id"]): o for o in store.get_many(org_keys)}
        return CallerRecords(store.get_user(user_id), memberships, organizations, self._deps.jobs.started_by(user_id))
