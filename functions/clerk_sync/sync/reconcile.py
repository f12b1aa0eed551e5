"""Reconcile: the table compared with Clerk, drift reported by kind and repaired.

First the lists are walked as a backfill walks them; each listed record is compared with what the table holds
(one batched read a page) and only what drifted is written: missing, stale, a membership's role, a provisional
record never healed. The ids each page listed are kept with the run. Then, and only once every list was walked
in full, the table is scanned for live records the walk did not list and nothing refreshed since the run began;
Clerk is asked about those by id (100 a request) and what it confirms gone is tombstoned, behind the instance
guard (a wrong key must never empty the table: decision 0014). A dry run writes nothing, the run included, and
keeps the plan instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from clerk_sync import items, keys
from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.models import Membership, Organization, User
from clerk_sync.observability import child_logger, count
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.runs import DriftKind, ListName, Run, RunKind
from clerk_sync.sync.bulk import BulkRun, RunLedger, count_write, entity_name
from clerk_sync.sync.deps import SyncDeps, SyncRun
from clerk_sync.sync.drift import REPAIRED, drift_of
from clerk_sync.sync.history import DELETED, REMOVED, version_of
from clerk_sync.sync.writes import Listed, Writes, membership_id, refresh, unrefreshed_since
from clerk_sync.vocabulary import SyncSource

logger = child_logger()

CHECK_SCAN_LIMIT: Final = 500  # table items read per check step
_BY_ID: Final = 100  # ids Clerk takes in one list request
PLAN_LIMIT: Final = 1_000  # planned repairs a dry run keeps for its report


@dataclass(frozen=True)
class PlannedRepair:
    kind: DriftKind
    entity: str
    id: str
    action: str  # "write" or "tombstone"; "report" where nothing is repaired


def record_id(item: dict[str, Any]) -> str:
    """A record's id as reconcile keeps it: the user or organization id, `org/user` for a membership."""
    pk, sk = str(item[keys.PK]), str(item[keys.SK])
    if sk.startswith(keys.MEMBER_PREFIX):
        return membership_id(pk[len(keys.ORG_PREFIX) :], sk[len(keys.MEMBER_PREFIX) :])
    return pk.split("#", 1)[1]


def listed_id(entity: Listed) -> str:
    return membership_id(entity.org_id, entity.user_id) if isinstance(entity, Membership) else entity.id


class Reconcile(BulkRun):
    kind = RunKind.RECONCILE
    source = SyncSource.RECONCILE
    _has_after_lists = True

    def __init__(self, deps: SyncDeps, runs: RunLedger, writes: Writes) -> None:
        super().__init__(deps, runs)
        self._writes = writes
        self._seen: tuple[str, set[str]] | None = None
        self.plan: list[PlannedRepair] = []

    # ---- the walk -------------------------------------------------------------------------------

    def _listed(self, run: Run, name: ListName, fresh: Sequence[Listed], sync_run: SyncRun) -> None:
        self._compare(run, fresh, sync_run)
        if not run.dry_run:
            run.seen_pages += 1
            self._runs.keep_seen(run.run_id, run.seen_pages, [listed_id(e) for e in fresh])
        elif self._seen is not None:
            self._seen[1].update(listed_id(e) for e in fresh)
        else:
            self._seen = (run.run_id, {listed_id(e) for e in fresh})

    def _compare(self, run: Run, listed: Sequence[Listed], sync_run: SyncRun) -> None:
        """Compares listed records with the table (one batched read) and repairs what drifted."""
        store, policy, ctx = self._deps.store, self._deps.store.policy, sync_run.ctx
        as_items = [(entity, _item_of(entity, ctx, policy)) for entity in listed]
        stored = {(i[keys.PK], i[keys.SK]): i for i in store.get_many([keys_of(i) for _, i in as_items])}
        repaired: list[Membership] = []
        written: list[tuple[WriteResult, int | None]] = []
        for entity, item in as_items:
            kind = drift_of(stored.get((item[keys.PK], item[keys.SK])), item, membership=isinstance(entity, Membership))
            if kind is None:
                continue
            run.drift[kind.value] = run.drift.get(kind.value, 0) + 1
            kind_of = entity_name(entity)
            if kind not in REPAIRED:
                self._planned(run, kind, kind_of, listed_id(entity), "report")
                continue
            self._planned(run, kind, kind_of, listed_id(entity), "write")
            if run.dry_run:
                continue
            result = refresh(store, entity, ctx)
            written.append((result, version_of(entity)))
            count_write(run.counts[kind_of], result)
            # A refresh that went through repaired it, even where the content hash had not moved (a hand edit).
            if result.outcome in {Outcome.APPLIED, Outcome.DUPLICATE}:
                run.repaired += 1
            if isinstance(entity, Membership):
                repaired.append(entity)
        self._deps.history.synced_many(written, ctx)
        if repaired:
            cascade = store.cascade_deleted_parents({m.user_id for m in repaired}, {m.org_id for m in repaired})
            for user_id in cascade.deleted_users:
                self._deps.follow_ups.cascade_pass(user_id, self.source, ctx.now_ms)

    # ---- the check by id ------------------------------------------------------------------------

    def _after_lists(self, run: Run, sync_run: SyncRun) -> None:
        seen = self._seen_ids(run)
        found, next_key = self._deps.store.records_page(start_key=run.scan_key, limit=CHECK_SCAN_LIMIT)
        unlisted = [i for i in found if record_id(i) not in seen and unrefreshed_since(i, run.started_at)]
        if unlisted:
            self._check(run, unlisted, sync_run)
        run.checked += len(unlisted)
        run.scan_key = next_key
        if next_key is None:
            self._complete(run)
            self._report(run)

    def _check(self, run: Run, unlisted: list[dict[str, Any]], sync_run: SyncRun) -> None:
        """Asks Clerk by id about live records the walk did not list; writes what it still has, tombstones the rest
        once the instance guard trusts its answer."""
        clerk, deadline = sync_run.clerk, sync_run.deadline
        users = [record_id(i) for i in unlisted if i["entity"] == "user"]
        orgs = [record_id(i) for i in unlisted if i["entity"] == "organization"]
        members: dict[str, list[str]] = {}
        for item in unlisted:
            if item["entity"] == "membership":
                org_id, user_id = record_id(item).split("/", 1)
                members.setdefault(org_id, []).append(user_id)
        still: list[Listed] = []
        gone: list[tuple[str, str]] = []  # (entity, id)
        for batch in _batches(users):
            have = {u.id: u for u in clerk.list_users(user_ids=batch, limit=_BY_ID, deadline=deadline).items}
            still += list(have.values())
            gone += [("user", u) for u in batch if u not in have]
        for batch in _batches(orgs):
            page = clerk.list_organizations(organization_ids=batch, limit=_BY_ID, deadline=deadline)
            have_orgs = {o.id for o in page.items}
            still += list(page.items)
            gone += [("organization", o) for o in batch if o not in have_orgs]
        for org_id, user_ids in members.items():
            for batch in _batches(user_ids):
                try:
                    listed = clerk.find_organization_memberships(org_id, batch, deadline=deadline)
                except ClerkNotFoundError:
                    listed = []
                have_members = {m.user_id for m in listed}
                still += listed
                gone += [("membership", membership_id(org_id, u)) for u in batch if u not in have_members]
        if still:
            self._compare(run, still, sync_run)
        if gone:
            self._tombstone(run, gone, sync_run)

    def _tombstone(self, run: Run, gone: list[tuple[str, str]], sync_run: SyncRun) -> None:
        run.drift[DriftKind.GONE.value] = run.drift.get(DriftKind.GONE.value, 0) + len(gone)
        for entity, entity_id in gone:
            self._planned(run, DriftKind.GONE, entity, entity_id, "tombstone")
        if run.dry_run:
            return
        # Clerk's "not there" is trusted only from the expected instance's key (0014): raises otherwise.
        self._deps.trust_not_found(sync_run.deadline)
        store, ctx = self._deps.store, sync_run.ctx
        for entity, entity_id in gone:
            logger.info("record gone from clerk: marking deleted", extra={"entity": entity, "id": entity_id})
            if entity == "user":
                result = self._writes.delete_user(entity_id, ctx, self.source, deadline=sync_run.deadline)
            elif entity == "organization":
                result = store.delete_organization(entity_id, ctx)
                self._deps.history.synced(result, ctx, change=DELETED)
            else:
                org_id, user_id = entity_id.split("/", 1)
                result = store.remove_unlisted_membership(
                    org_id, user_id, run.started_at, ctx, removed_at=self._deps.clock_ms()
                )
                self._deps.history.synced(result, ctx, change=REMOVED, version=run.started_at)
            if result.outcome is Outcome.APPLIED:
                run.counts[entity].removed += 1
                run.repaired += 1

    # ---- reporting ----------------------------------------------------------------------------

    def _seen_ids(self, run: Run) -> set[str]:
        if self._seen is None or self._seen[0] != run.run_id:
            self._seen = (run.run_id, self._runs.seen(run.run_id))
        return self._seen[1]

    def _planned(self, run: Run, kind: DriftKind, entity: str, entity_id: str, action: str) -> None:
        if len(self.plan) < PLAN_LIMIT:
            self.plan.append(PlannedRepair(kind, entity, entity_id, action))

    def _report(self, run: Run) -> None:
        """The drift metrics of a completed run: one per kind (zeros included, so alarms see data) and repaired."""
        if run.dry_run:
            return
        for kind in DriftKind:
            count("Drift", run.drift.get(kind.value, 0), Kind=kind.value)
        count("DriftRepaired", run.repaired)
        logger.info("reconcile completed", extra={"run_id": run.run_id, "drift": run.drift, "repaired": run.repaired})


def keys_of(item: dict[str, Any]) -> dict[str, str]:
    return {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}


def _item_of(entity: Listed, ctx: items.WriteContext, policy: items.ItemPolicy) -> dict[str, Any]:
    if isinstance(entity, User):
        return items.user_item(entity, ctx, policy)
    if isinstance(entity, Organization):
        return items.organization_item(entity, ctx, policy)
    return items.membership_item(entity, ctx, policy)


def _batches(ids: list[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + _BY_ID] for i in range(0, len(unique), _BY_ID)]
