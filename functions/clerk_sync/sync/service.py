"""SyncService: the one entry to the sync layer for the worker, the API, the authorizer and the CLI.

A thin facade: it builds the use cases from its collaborators and hands each call to the one that owns it. It
receives the store, the Clerk client (as a provider, so paths that never call Clerk never build one) and the
instance guard its 404-driven deletions ask first (sync/instance.py), builds no clients and reads no
environment, so tests pass moto-backed or fake collaborators.

Clerk request costs: `full_user_sync` is 1 + ceil(M/500) (M memberships; an empty list is one request),
`sync_organization_members` 1 + ceil(N/500), `sync_membership` 1, `sync_user` / `sync_organization` 1; a walk of
several pages adds the confirmation of what it did not list (sync/walks.py). The `start_*` calls read one page
and leave the rest to a job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from clerk_sync.outcomes import WriteResult
from clerk_sync.store import JobStore, MembershipSyncClaims, SyncStore
from clerk_sync.sync.deps import SyncDeps, SyncOptions, now_ms
from clerk_sync.sync.events import EventSync
from clerk_sync.sync.history import HistoryRecorder
from clerk_sync.sync.instance import InstanceGuard
from clerk_sync.sync.login import LoginSync, LoginUser
from clerk_sync.sync.login_pause import LoginPause
from clerk_sync.sync.lookups import CallerRecords, Lookups
from clerk_sync.sync.memberships import MembershipSync
from clerk_sync.sync.organizations import OrganizationSync
from clerk_sync.sync.queued import Delivery, QueuedSyncs
from clerk_sync.sync.runs import BulkRuns
from clerk_sync.sync.users import UserSync
from clerk_sync.sync.walks import StartedSync
from clerk_sync.sync.writes import Writes
from clerk_sync.vocabulary import SyncSource

if TYPE_CHECKING:
    from clerk_sync.clerk.client import ClerkClient
    from clerk_sync.jobs import Job
    from clerk_sync.messages import QueuedSync
    from clerk_sync.models import Envelope
    from clerk_sync.reports import SyncReport
    from clerk_sync.store.history import History
    from clerk_sync.sync.followups import FollowUps


class SyncService:
    def __init__(
        self,
        store: SyncStore,
        *,
        jobs: JobStore | None = None,
        claims: MembershipSyncClaims | None = None,
        clerk: Callable[[], ClerkClient] | None = None,
        follow_ups: FollowUps | None = None,
        options: SyncOptions | None = None,
        clock_ms: Callable[[], int] = now_ms,
        monotonic: Callable[[], float] = time.monotonic,
        instance: InstanceGuard | None = None,
        history: Callable[[], History] | None = None,
    ) -> None:
        if follow_ups is None:
            from clerk_sync.queue import QueuedFollowUps

            follow_ups = QueuedFollowUps(None)  # nothing queued: logged and dropped
        deps = SyncDeps(
            store=store,
            jobs=jobs or JobStore(store.table),
            claims=claims or MembershipSyncClaims(store.table),
            follow_ups=follow_ups,
            clerk_provider=clerk,
            options=options or SyncOptions(),
            clock_ms=clock_ms,
            monotonic=monotonic,
            # Without one, the key's own instance is the expected one: 404s are trusted once it is known.
            instance=instance or (InstanceGuard(clerk) if clerk is not None else None),
            history=HistoryRecorder(history),
        )
        writes = Writes(deps)
        self._deps = deps
        self._users = UserSync(deps, writes)
        self._organizations = OrganizationSync(deps, writes)
        self._memberships = MembershipSync(deps, writes)
        self._login = LoginSync(deps, self._users, writes, LoginPause(monotonic=monotonic))
        self._events = EventSync(deps, self._users, self._organizations, self._memberships)
        self._runs = BulkRuns(deps, writes)
        self._queued = QueuedSyncs(deps, self._users, self._organizations, self._memberships, self._runs)
        self._lookups = Lookups(deps)

    @property
    def options(self) -> SyncOptions:
        return self._deps.options

    @property
    def clerk(self) -> ClerkClient:
        return self._deps.clerk

    @property
    def instance(self) -> InstanceGuard | None:
        """The guard its 404-driven deletions ask first (None without Clerk)."""
        return self._deps.instance

    def deadline_in(self, seconds: float) -> float:
        """An absolute deadline `seconds` from now on the Clerk client's clock."""
        return self._deps.deadline_in(seconds)

    def flush_history(self) -> None:
        """Writes the hourly outcome sums of the writes so far (end of a batch, a request, a run); never raises a
        store error."""
        self._deps.history.flush()

    # ---- the worker -----------------------------------------------------------------------------

    def apply_event(self, envelope: Envelope, event_id: str | None = None) -> WriteResult:
        return self._events.apply_event(envelope, event_id)

    def run_queued(self, request: QueuedSync, delivery: Delivery | None = None) -> SyncReport:
        return self._queued.run(request, delivery)

    # ---- the authorizer ---------------------------------------------------------------------------

    def ensure_login_user(
        self, user_id: str, claims: dict[str, Any] | None = None, *, deadline: float | None = None
    ) -> LoginUser:
        return self._login.ensure_user(user_id, claims, deadline=deadline)

    def ensure_login_membership(
        self, org_id: str, user_id: str, *, role: str, slug: str | None = None, deadline: float | None = None
    ) -> SyncReport | None:
        return self._login.ensure_membership(org_id, user_id, role=role, slug=slug, deadline=deadline)

    def is_fresh(self, item: dict[str, Any]) -> bool:
        """Confirmed recently enough (and not provisional) that a login needs no Clerk call."""
        return self._login.is_fresh(item)

    # ---- manual syncs (the API, the CLI) ---------------------------------------------------------

    def sync_user(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        return self._users.sync_user(user_id, source=source, deadline=deadline)

    def sync_user_organizations(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        return self._users.sync_user_organizations(user_id, source=source, deadline=deadline)

    def full_user_sync(
        self, user_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        return self._users.full_user_sync(user_id, source=source, deadline=deadline)

    def start_full_user_sync(
        self, user_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        return self._users.start_full_user_sync(user_id, requested_by, source=source, deadline=deadline)

    def start_user_organizations_sync(
        self, user_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        return self._users.start_user_organizations_sync(user_id, requested_by, source=source, deadline=deadline)

    def sync_organization(
        self, org_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        return self._organizations.sync_organization(org_id, source=source, deadline=deadline)

    def sync_organization_members(
        self, org_id: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> SyncReport:
        return self._organizations.sync_organization_members(org_id, source=source, deadline=deadline)

    def start_members_sync(
        self, org_id: str, requested_by: str, *, source: SyncSource = SyncSource.API, deadline: float | None = None
    ) -> StartedSync:
        return self._organizations.start_members_sync(org_id, requested_by, source=source, deadline=deadline)

    def continue_members_job(self, job_id: str, offset: int, *, deadline: float | None = None) -> SyncReport:
        return self._organizations.continue_members_job(job_id, offset, deadline=deadline)

    def sync_membership(
        self,
        org_id: str,
        user_id: str,
        role: str | None = None,
        *,
        source: SyncSource = SyncSource.API,
        deadline: float | None = None,
    ) -> SyncReport:
        return self._memberships.sync_membership(org_id, user_id, role, source=source, deadline=deadline)

    # ---- bulk runs (the CLI, and the worker through run_queued) -----------------------------------

    @property
    def runs(self) -> BulkRuns:
        """Backfill and reconcile: started, resumed, stepped inline or queued to the worker."""
        return self._runs

    # ---- reads ----------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        return self._organizations.get_job(job_id)

    def stored_role(self, org_id: str, user_id: str) -> str | None:
        return self._lookups.stored_role(org_id, user_id)

    def caller_records(self, user_id: str) -> CallerRecords:
        return self._lookups.caller_records(user_id)
