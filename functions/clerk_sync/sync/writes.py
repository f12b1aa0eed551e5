"""The steps the use cases share: memberships with their organizations, removals of what Clerk no longer lists,
tombstones for what Clerk says is gone, provisional memberships while it cannot be reached.

Every write goes through the version-guarded store, so a sync racing a webhook never loses the newer data
(invariant 2); each step records what it did in the run's report.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from clerk_sync.items import WriteContext
from clerk_sync.models import Membership, Organization, User
from clerk_sync.observability import child_logger
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.reports import ChangeOutcome, change_outcome
from clerk_sync.store.records import SyncStore
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.history import DELETED, PROVISIONAL, REMOVED, version_of
from clerk_sync.vocabulary import Fallback, SyncSource

logger = child_logger()

WRITERS: Final = 8  # concurrent writes of a page, within botocore's default pool of 10 connections

Listed = User | Organization | Membership


def refresh(store: SyncStore, entity: Listed, ctx: WriteContext) -> WriteResult:
    """The version-guarded write of a record just listed by Clerk."""
    if isinstance(entity, User):
        return store.put_user(entity, ctx, fetched=True)
    if isinstance(entity, Organization):
        return store.put_organization(entity, ctx, fetched=True)
    return store.put_membership(entity, ctx, fetched=True)


def refresh_all(store: SyncStore, entities: Sequence[Listed], ctx: WriteContext) -> list[WriteResult]:
    """`refresh` of a page's entities, WRITERS at a time (each write still its own conditional put), in order.

    One at a time, a page of 500 costs 500 round trips to DynamoDB, several times what Clerk's rate limit allows
    a page at most; botocore clients are thread-safe and pool WRITERS connections.
    """
    if len(entities) <= 1:
        return [refresh(store, entity, ctx) for entity in entities]
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(lambda entity: refresh(store, entity, ctx), entities))


def refresh_changed(
    store: SyncStore, entities: Sequence[Listed], held: Sequence[WriteResult | None], ctx: WriteContext
) -> list[tuple[WriteResult, bool]]:
    """`refresh_all` of the listed records `held` (from `SyncStore.held_unchanged`) does not say the table already
    holds as they are, in order, each with whether it was written; an unchanged record's result is its `duplicate`
    (unchanged) without a write."""
    written = iter(refresh_all(store, [e for e, same in zip(entities, held, strict=True) if same is None], ctx))
    return [(next(written), True) if same is None else (same, False) for same in held]


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

    def memberships(self, run: SyncRun, memberships: Sequence[Membership]) -> list[Membership]:
        """Stores the embedded organizations, then the memberships; returns the memberships it did not write because
        the table already held them as they are (their `synced_at` did not move: a walk keeps them as listed).

        More than one membership: the records are read first (consistent, 100 keys a request), and only what changed
        is written, WRITERS at a time, every write still version-guarded. These writes skip the parents' transaction
        (too slow for 1,200 memberships), so the parents of what was written are checked afterwards: anything written
        under a user or organization deleted meanwhile is cascaded away.
        """
        store, report = self._deps.store, run.report
        orgs = list({m.org_id: m.organization for m in memberships}.values())
        # One membership (a login, one membership's sync): written at once, one request per record and no read, as
        # every single upsert (docs/decisions/0003). More: what the table holds is read first, in one batch.
        records: list[Listed] = [*orgs, *memberships]
        held = store.held_unchanged(records, run.ctx) if len(memberships) > 1 else [None] * len(records)
        held_orgs, held_memberships = held[: len(orgs)], held[len(orgs) :]
        deleted_orgs: set[str] = set()
        org_results = refresh_changed(store, orgs, held_orgs, run.ctx)
        for org, (result, _) in zip(orgs, org_results, strict=True):
            report.add("organization", org.id, change_outcome(result.outcome))
            if result.outcome is Outcome.TOMBSTONED:
                deleted_orgs.add(org.id)
        pairs = [
            (m, same) for m, same in zip(memberships, held_memberships, strict=True) if m.org_id not in deleted_orgs
        ]
        live = [m for m, _ in pairs]
        changed = refresh_changed(store, live, [same for _, same in pairs], run.ctx)
        # One call for the page: entries 25 a request, what was held unchanged only summed (no write).
        listed: list[Listed] = [*orgs, *live]
        noted = zip(listed, [*org_results, *changed], strict=True)
        self._deps.history.synced_many([(result, version_of(entity)) for entity, (result, _) in noted], run.ctx)
        results = dict(zip((id(m) for m in live), changed, strict=True))
        written: list[Membership] = []
        unchanged: list[Membership] = []
        for membership in memberships:
            entity_id = membership_id(membership.org_id, membership.user_id)
            if membership.org_id in deleted_orgs:
                report.add("membership", entity_id, ChangeOutcome.TOMBSTONED)
                continue
            result, wrote = results[id(membership)]
            report.add("membership", entity_id, change_outcome(result.outcome))
            (written if wrote else unchanged).append(membership)
        if written:
            # The memberships just written under a deleted user may not be in GSI1 yet, so the pass now can miss
            # them: a delayed second pass follows for each deleted user.
            cascade = store.cascade_deleted_parents({m.user_id for m in written}, {m.org_id for m in written})
            for user_id in cascade.deleted_users:
                self._deps.follow_ups.cascade_pass(user_id, report.trigger, run.ctx.now_ms)
        return unchanged

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
        self._deps.history.synced(result, run.ctx, change=REMOVED, version=listed_at)
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
        self._deps.history.synced(store.delete_organization(org_id, run.ctx), run.ctx, change=DELETED)
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
        self._deps.history.synced(result, ctx, change=DELETED)
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
        self._deps.history.synced(org, fallback_ctx, change=PROVISIONAL, version=0)
        if org.outcome is Outcome.APPLIED:
            report.add("organization", org_id, ChangeOutcome.PROVISIONAL)
        result = store.put_provisional_membership(org_id, user_id, role, fallback_ctx)
        self._deps.history.synced(result, fallback_ctx, change=PROVISIONAL, version=0)
        outcome = ChangeOutcome.PROVISIONAL if result.outcome is Outcome.APPLIED else change_outcome(result.outcome)
        report.add("membership", membership_id(org_id, user_id), outcome)
        report.fallbacks.append(Fallback.PROVISIONAL)
        # Queued unless a tombstone is in the way, as for a provisional user: a write that found a record (its own
        # resend after a lost answer, a concurrent login) still leaves one that only a real sync confirms.
        if result.outcome is not Outcome.TOMBSTONED:
            self._deps.follow_ups.sync_membership(org_id, user_id, report.trigger, run.ctx.now_ms)
