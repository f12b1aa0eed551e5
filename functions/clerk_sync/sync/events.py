"""Webhook events applied to the table (the worker's path), one version-guarded write each.

A tie (same version, different content) is settled by fetching the entity from Clerk, never by arrival order
(invariant 2); a Clerk error there propagates so the queue retries the event. A user delete queues the delayed
second pass of its cascade (required: the event is retried if it cannot be queued); an applied user upsert may
queue a sync of the user's memberships (USER_EVENT_MEMBERSHIP_SYNC). Each delivery is noted in the entity's
history (sync/history.py).
"""

from __future__ import annotations

from clerk_sync.items import WriteContext
from clerk_sync.models import (
    Change,
    Envelope,
    MembershipDeleted,
    MembershipUpserted,
    OrganizationDeleted,
    OrganizationUpserted,
    UserDeleted,
    UserUpserted,
    change_from_envelope,
)
from clerk_sync.observability import child_logger
from clerk_sync.outcomes import MembershipSyncState, Outcome, WriteResult
from clerk_sync.sync.deps import SyncDeps
from clerk_sync.sync.memberships import MembershipSync
from clerk_sync.sync.organizations import OrganizationSync
from clerk_sync.sync.users import UserSync
from clerk_sync.vocabulary import USER_CREATED, MembershipSyncMode, SyncSource

logger = child_logger()


def version_of_change(change: Change) -> int | None:
    """The Clerk version an event carries; None for user and organization deletes (Clerk sends only the id)."""
    match change:
        case UserUpserted(user=user):
            return user.updated_at
        case OrganizationUpserted(organization=org):
            return org.updated_at
        case MembershipUpserted(membership=m) | MembershipDeleted(membership=m):
            return m.updated_at
    return None


class EventSync:
    def __init__(
        self, deps: SyncDeps, users: UserSync, organizations: OrganizationSync, memberships: MembershipSync
    ) -> None:
        self._deps = deps
        self._users = users
        self._organizations = organizations
        self._memberships = memberships

    def apply_event(self, envelope: Envelope, event_id: str | None = None) -> WriteResult:
        """Applies one Clerk webhook event; raises pydantic's `ValidationError` for data that does not fit."""
        change = change_from_envelope(envelope)
        ctx = WriteContext(SyncSource.WEBHOOK, self._deps.clock_ms(), event_id)
        # A user Clerk just created has no membership its own webhooks do not bring: in `missing` mode nothing to
        # sync, now or on the user's first update (docs/decisions/0026).
        known = envelope.type == USER_CREATED and self._membership_mode() == "missing"
        if isinstance(change, UserUpserted) and known:
            result = self._deps.store.put_user(change.user, ctx, memberships_known_at=ctx.now_ms)
        elif isinstance(change, UserUpserted):
            # The profile's write asks for the membership sync itself when one may be due: no second request.
            asked = ctx.now_ms if self._membership_syncs_on() else None
            result = self._deps.store.put_user(change.user, ctx, request_memberships_at=asked)
        else:
            result = self.apply_change(change, ctx)
        # Noted before the follow-ups: a failing one retries the event, which then finds it a duplicate.
        self._deps.history.delivery(result, ctx, change=envelope.type, version=version_of_change(change))
        if isinstance(change, UserDeleted):
            # Raises if SQS refuses: the retried event cascades again and queues the pass again.
            self._deps.follow_ups.cascade_pass(change.user_id, SyncSource.WEBHOOK, ctx.now_ms, required=True)
        if result.outcome is Outcome.NEEDS_REFETCH:
            self._refetch(change)
        if isinstance(change, UserUpserted) and result.outcome is Outcome.APPLIED and not known:
            self._request_membership_sync(change.user.id, result.prior_sync, ctx.now_ms)
        return result

    def apply_change(self, change: Change, ctx: WriteContext) -> WriteResult:
        store = self._deps.store
        match change:
            case UserUpserted(user=user):
                return store.put_user(user, ctx)
            case UserDeleted(user_id=user_id):
                return store.delete_user(user_id, ctx)
            case OrganizationUpserted(organization=org):
                return store.put_organization(org, ctx)
            case OrganizationDeleted(org_id=org_id):
                return store.delete_organization(org_id, ctx)
            case MembershipUpserted(membership=membership):
                return store.put_membership(membership, ctx)
            case MembershipDeleted(membership=membership):
                return store.delete_membership(membership, ctx)
        raise TypeError(f"unknown change {type(change).__name__}")  # pragma: no cover - exhaustive match

    def _refetch(self, change: Change) -> None:
        logger.info("refetching after a version tie", extra={"change": change.kind})
        source = SyncSource.WEBHOOK
        match change:
            case UserUpserted(user=user):
                self._users.sync_user(user.id, source=source)
            case OrganizationUpserted(organization=org):
                self._organizations.sync_organization(org.id, source=source)
            case MembershipUpserted(membership=m) | MembershipDeleted(membership=m):
                self._memberships.sync_membership(m.org_id, m.user_id, source=source)

    def _membership_mode(self) -> MembershipSyncMode:
        return self._deps.options.membership_sync_on_user_event

    def _membership_syncs_on(self) -> bool:
        return self._membership_mode() != "never" and self._deps.follow_ups.delivered

    def _request_membership_sync(self, user_id: str, prior: MembershipSyncState | None, now: int) -> None:
        """Queues a sync of the user's memberships when the configured mode asks for one, coalesced per user.

        Decided from the profile as the write that applied this event found it (`prior`, from the old item DynamoDB
        handed back), which also noted the request where none was: so a burst of events queues one sync at one
        write each (docs/decisions/0026). Only an old request (lost, or still in the DLQ) is asked again, with a
        second write that one of concurrent events wins; a profile from before 0026 has its old state item read once.
        """
        if prior is None or not self._membership_syncs_on():
            return
        options, claims = self._deps.options, self._deps.claims
        missing = options.membership_sync_on_user_event == "missing"
        window = options.membership_sync_retry_ms if missing else options.membership_sync_window_ms
        if missing and prior.synced_at is not None:
            return
        if prior.requested_at is None:
            # This very write noted the request, so no concurrent event found it missing. A profile that was on
            # record without any state predates 0026 (or was written only by syncs): its old state item decides.
            if missing and prior.on_record and claims.legacy_synced(user_id):
                claims.mark_synced(user_id, now)
                return
        elif prior.requested_at >= now - window:
            return  # asked for recently: pending, or (`always`) within its window
        elif not claims.claim_again(user_id, prior.requested_at, now, only_if_never_synced=missing):
            return  # another event asked again first, or a sync completed meanwhile
        self._deps.follow_ups.sync_memberships(user_id, SyncSource.WEBHOOK, now)
