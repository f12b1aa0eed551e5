"""One membership from Clerk: 1 request (`GET /organizations/{id}/memberships?user_id=`), organization embedded."""

from __future__ import annotations

from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.reports import RoleMismatch, SyncReport
from clerk_sync.sync.deps import SyncDeps
from clerk_sync.sync.writes import Writes, normalise_role
from clerk_sync.vocabulary import SyncSource


class MembershipSync:
    def __init__(self, deps: SyncDeps, writes: Writes) -> None:
        self._deps = deps
        self._writes = writes

    def sync_membership(
        self,
        org_id: str,
        user_id: str,
        role: str | None = None,
        *,
        source: SyncSource = SyncSource.API,
        deadline: float | None = None,
    ) -> SyncReport:
        """The membership as Clerk has it (Clerk is the source of truth); gone from Clerk → removed here.

        A given `role` is what the caller believes: one that differs from Clerk's is reported as a mismatch, and it
        is never stored. When Clerk cannot be reached the Clerk error propagates and nothing is written: a role a
        caller states must never become one the permission checks read.
        """
        wanted = normalise_role(role) if role else None
        with self._deps.run(source, user_id=user_id, org_id=org_id, deadline=deadline) as run:
            try:
                membership = run.clerk.find_organization_membership(org_id, user_id, deadline=deadline)
            except ClerkNotFoundError:
                self._writes.organization_gone(run, org_id)
                membership = None
            if membership is None:
                run.report.found = False
                stored = self._deps.store.get_membership(org_id, user_id)
                if stored and not stored.get("deleted"):
                    self._writes.remove_unlisted(run, org_id, user_id, run.ctx.now_ms)
            else:
                self._writes.memberships(run, [membership])
            clerk_role = membership.role if membership else None
            if wanted and wanted != clerk_role:
                run.report.role_mismatch = RoleMismatch(requested=wanted, clerk=clerk_role)
        return run.report
