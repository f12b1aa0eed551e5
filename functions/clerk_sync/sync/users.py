"""User syncs from Clerk: the user alone (1 request), their memberships (ceil(M/500)), or both.

A user Clerk no longer has (404) is tombstoned with its memberships; a membership on record that Clerk no longer
lists is removed. No per-organization fetch: Clerk embeds the organization in each membership.
"""

from __future__ import annotations

from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.outcomes import Outcome
from clerk_sync.reports import SyncReport, change_outcome
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.writes import Writes, unrefreshed_since
from clerk_sync.vocabulary import SyncSource


class UserSync:
    def __init__(self, deps: SyncDeps, writes: Writes) -> None:
        self._deps = deps
        self._writes = writes

    def sync_user(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """Fetches the user and stores it; a 404 means Clerk deleted the user: tombstone and cascade."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            self.user_into(run, user_id)
        return run.report

    def sync_user_organizations(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """All of the user's memberships and their organizations from Clerk's embedded pages."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            self.organizations_into(run, user_id)
        return run.report

    def full_user_sync(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        """The user, their organizations and memberships: 1 + ceil(M/500) Clerk requests."""
        with self._deps.run(source, user_id=user_id, deadline=deadline) as run:
            if self.user_into(run, user_id):
                self.organizations_into(run, user_id)
        return run.report

    def user_into(self, run: SyncRun, user_id: str) -> bool:
        """Stores the user as Clerk has it; True when it exists (and so has memberships worth syncing)."""
        try:
            user = run.clerk.get_user(user_id, deadline=run.deadline)
        except ClerkNotFoundError:
            self._writes.user_gone(run, user_id)
            return False
        result = self._deps.store.put_user(user, run.ctx, fetched=True)
        run.report.add("user", user_id, change_outcome(result.outcome))
        return result.outcome is not Outcome.TOMBSTONED

    def organizations_into(self, run: SyncRun, user_id: str) -> None:
        """Stores the user's memberships as Clerk lists them and removes those it no longer lists."""
        listed_at = run.ctx.now_ms
        try:
            listing = run.clerk.list_user_memberships(user_id, deadline=run.deadline)
        except ClerkNotFoundError:
            if run.report.found:
                self._writes.user_gone(run, user_id)
            return
        self._writes.memberships(run, listing.items)
        listed = {m.org_id for m in listing.items}
        for item in self._deps.store.user_memberships(user_id):
            org_id = str(item["org_id"])
            if org_id not in listed and unrefreshed_since(item, listed_at):
                self._writes.remove_unlisted(run, org_id, user_id, listed_at)
        self._deps.claims.mark_synced(user_id, run.ctx.now_ms)
