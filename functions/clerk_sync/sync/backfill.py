"""Backfill: every organization, user and membership Clerk has, imported through its instance-wide lists, 500 per
page, never a call per entity.

Each write is the version-guarded refresh of fetched data (`fetched=True`), so a backfill running while webhooks
flow never overwrites a newer version and never resurrects a tombstone; records carry `sync_source = backfill`.
Memberships are written without their parents' transaction (too slow in bulk), so each page checks its parents
afterwards and cascades what was written under one deleted meanwhile (invariant 4).
"""

from __future__ import annotations

from collections.abc import Sequence

from clerk_sync.models import Membership
from clerk_sync.runs import ListName, Run, RunKind
from clerk_sync.sync.bulk import ENTITY_OF, BulkRun, count_write
from clerk_sync.sync.deps import SyncRun
from clerk_sync.sync.history import version_of
from clerk_sync.sync.writes import Listed, refresh_all
from clerk_sync.vocabulary import SyncSource


class Backfill(BulkRun):
    kind = RunKind.BACKFILL
    source = SyncSource.BACKFILL

    def _listed(self, run: Run, name: ListName, fresh: Sequence[Listed], sync_run: SyncRun) -> None:
        store, ctx = self._deps.store, sync_run.ctx
        counts = run.counts[ENTITY_OF[name]]
        results = refresh_all(store, fresh, ctx)
        for result in results:
            count_write(counts, result)
        self._deps.history.synced_many(zip(results, map(version_of, fresh), strict=True), ctx)
        memberships = [entity for entity in fresh if isinstance(entity, Membership)]
        if memberships:
            cascade = store.cascade_deleted_parents({m.user_id for m in memberships}, {m.org_id for m in memberships})
            for user_id in cascade.deleted_users:
                self._deps.follow_ups.cascade_pass(user_id, self.source, ctx.now_ms)
