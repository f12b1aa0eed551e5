"""The steps the use cases share: memberships with their organizations, removals of what Clerk no longer lists,
tombstones for what Clerk says is gone, provisional memberships while it cannot be reached.

Every write goes through the version-guarded store, so a sync racing a webhook never loses the newer data
(invariant 2); each step records what it did in the run's report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clerk_sync.items import WriteContext
from clerk_sync.models import Membership, Organization
from clerk_sync.observability import child_logger
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.reports import ChangeOutcome, change_outcome
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.vocabulary import Fallback, SyncSource

logger = child_logger()


def normalise_role(role: str) -> str:
    """Clerk's role keys carry an `org:` prefix; tokens (v2 `o.rol`) and people often leave it out."""
    return role if role.startswith("org:") else f"org:{role}"


def unrefreshed_since(item: dict[str, Any], listed_at: int) -> bool:
    """A live record neither written nor confirmed since a listing began at `listed_at` (ms)."""
    return int(item.get("synced_at", 0)) < listed_at and int(item.get("version", 0)) < listed_at


def membership_id(org_id: str, user_id: str) -> str:
    return f"{org_id}/{user_id}"


class Writes:
    def __init__(self, deps: SyncDeps) -> None:
        self._deps = deps

    def memberships(self, run: SyncRun, memberships: Sequence[Membership]) -> None:
        """Stores the embedded organizations, then the memberships.

        These writes skip the parents' transaction (too slow for 1,200 memberships), so the parents are checked
        afterwards: anything written under a user or organization deleted meanwhile is cascaded away.
        """
        store, report = self._deps.store, run.report
        orgs: dict[str, Organization] = {m.org_id: m.organization for m in memberships}
        deleted_orgs: set[str] = set()
        for org in orgs.values():
            result = store.put_organization(org, run.ctx, fetched=True)
            report.add("organization", org.id, change_outcome(result.outcome))
            if result.outcome is Outcome.TOMBSTONED:
                deleted_orgs.add(org.id)
        for membership in memberships:
            entity_id = membership_id(membership.org_id, membership.user_id)
            if membership.org_id in deleted_orgs:
                report.add("membership", entity_id, ChangeOutcome.TOMBSTONED)
                continue
            result = store.put_membership(membership, run.ctx, fetched=True)
            report.add("membership", entity_id, change_outcome(result.outcome))
        # The memberships just written under a deleted user may not be in GSI1 yet, so the pass now can miss
        # them: a delayed second pass follows for each deleted user.
        cascade = store.cascade_deleted_parents({m.user_id for m in memberships}, set(orgs))
        for user_id in cascade.deleted_users:
            self._deps.follow_ups.cascade_pass(user_id, report.trigger, run.ctx.now_ms)

    def remove_unlisted(
        self, run: SyncRun, org_id: str, user_id: str, listed_at: int, *, incarnation: str | None = None
    ) -> None:
        """Removes a membership Clerk did not have when asked (a listing begun at `listed_at`, or a lookup).

        Only after Clerk's word on it alone: a walk of one page, or a lookup by id (sync/walks.py). The removal is
        stamped with the time it is written, so any read of Clerk begun later that lists the membership repairs it;
        `incarnation` (the stored membership id) limits it to the record that was looked at.
        """
        # Another instance's key lists none of ours: only the expected instance's listing removes (0014).
        self._deps.trust_not_found(run.deadline)
        result = self._deps.store.remove_unlisted_membership(
            org_id, user_id, listed_at, run.ctx, removed_at=self._deps.clock_ms(), membership_id=incarnation
        )
        if result.outcome is Outcome.APPLIED:
            run.report.add("membership", membership_id(org_id, user_id), ChangeOutcome.REMOVED)

    def user_gone(self, run: SyncRun, user_id: str) -> None:
        """Clerk has no such user: tombstone ours (and cascade) if we hold any of it; an unknown id is not written."""
        store = self._deps.store
        run.report.found = False
        if store.get_user(user_id) is None and not store.user_memberships(user_id):
            logger.info("user not found in clerk and not on record", extra={"user_id": user_id})
            return
        self._deps.trust_not_found(run.deadline)
        logger.warning("user not found in clerk: marking deleted", extra={"user_id": user_id})
        self._tombstone_user(user_id, run.ctx, run.report.trigger)
        run.report.add("user", user_id, ChangeOutcome.DELETED)

    def organization_gone(self, run: SyncRun, org_id: str) -> None:
        """Clerk has no such organization: tombstone ours (and cascade) if we hold anything of it."""
        store = self._deps.store
        run.report.found = False
        known = store.get_organization(org_id) is not None or bool(store.organization_memberships(org_id))
        if not known:  # a mistyped id or a slug: nothing of ours to mark
            logger.info("organization not found in clerk and not on record", extra={"org_id": org_id})
            return
        self._deps.trust_not_found(run.deadline)
        logger.warning("organization not found in clerk: marking deleted", extra={"org_id": org_id})
        store.delete_organization(org_id, run.ctx)
        run.report.add("organization", org_id, ChangeOutcome.DELETED)

    def delete_user(
        self, user_id: str, ctx: WriteContext, source: SyncSource, *, deadline: float | None = None
    ) -> WriteResult:
        """Clerk's 404 for the user: tombstones it (cascading at once) and queues the delayed second pass of the
        cascade (0004), once the instance guard trusts the 404 (0014)."""
        self._deps.trust_not_found(deadline)
        return self._tombstone_user(user_id, ctx, source)

    def _tombstone_user(self, user_id: str, ctx: WriteContext, source: SyncSource) -> WriteResult:
        result = self._deps.store.delete_user(user_id, ctx)
        self._deps.follow_ups.cascade_pass(user_id, source, ctx.now_ms)
        return result

    def provisional_membership(
        self, run: SyncRun, org_id: str, user_id: str, *, role: str, slug: str | None, error: Exception
    ) -> None:
        """Clerk unreachable: a provisional membership (and organization, if unknown), and a queued real sync."""
        logger.warning(
            "clerk unreachable: writing a provisional membership",
            extra={"org_id": org_id, "user_id": user_id, "error": type(error).__name__},
        )
        store, report = self._deps.store, run.report
        fallback_ctx = WriteContext(SyncSource.FALLBACK, run.ctx.now_ms)
        org = store.put_provisional_organization(org_id, slug, fallback_ctx)
        if org.outcome is Outcome.APPLIED:
            report.add("organization", org_id, ChangeOutcome.PROVISIONAL)
        result = store.put_provisional_membership(org_id, user_id, role, fallback_ctx)
        outcome = ChangeOutcome.PROVISIONAL if result.outcome is Outcome.APPLIED else change_outcome(result.outcome)
        report.add("membership", membership_id(org_id, user_id), outcome)
        report.fallbacks.append(Fallback.PROVISIONAL)
        # Queued unless a tombstone is in the way, as for a provisional user: a write that found a record (its own
        # resend after a lost answer, a concurrent login) still leaves one that only a real sync confirms.
        if result.outcome is not Outcome.TOMBSTONED:
            self._deps.follow_ups.sync_membership(org_id, user_id, report.trigger, run.ctx.now_ms)
