"""Sync on login: make sure the signed-in user, and the session's active organization membership, are on record.

A fresh stored record costs one read and no Clerk call; otherwise Clerk within the login's deadline, and when Clerk
cannot be reached the fallbacks, each logged at WARN: the record on file however old (`stale`), else a provisional
record from the verified token's claims (version 0, replaced by any real version) and a queued real sync. After
a failure the login pause (login_pause.py) sends the container's next logins straight to the fallbacks. A 404
deletes the user only when the instance guard trusts it (sync/instance.py); a key of another instance falls back
as Clerk unreachable does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from clerk_sync.clerk.errors import ClerkNotFoundError, ClerkUnavailableError
from clerk_sync.items import WriteContext
from clerk_sync.observability import child_logger
from clerk_sync.outcomes import Outcome
from clerk_sync.reports import SyncReport
from clerk_sync.sync.deps import CLERK_UNREACHABLE, SyncDeps, SyncRun
from clerk_sync.sync.history import PROVISIONAL
from clerk_sync.sync.login_pause import LoginPause
from clerk_sync.sync.users import UserSync
from clerk_sync.sync.writes import Writes, normalise_role
from clerk_sync.vocabulary import Fallback, SyncSource

logger = child_logger()

# The User flags with which Clerk restricts signing in; a session token issued before one was set still verifies.
BlockedState = Literal["banned", "locked", "deprovisioned"]
BLOCKED_STATES: tuple[BlockedState, ...] = get_args(BlockedState)


@dataclass(frozen=True)
class LoginUser:
    """The user's record after the login's sync, and where it came from: on file and fresh (`store`), just read
    from Clerk (`clerk`), deleted (by Clerk or on file), or a fallback (`stale`, `provisional`)."""

    item: dict[str, Any] | None
    source: Literal["store", "clerk", "deleted"] | Fallback
    clerk_calls: int = 0

    @property
    def deleted(self) -> bool:
        return self.source == "deleted"

    @property
    def provisional(self) -> bool:
        return bool(self.item and self.item.get("provisional"))

    @property
    def blocked(self) -> BlockedState | None:
        """Why Clerk restricts this user from signing in (`banned`, `locked`, `deprovisioned`), as on record."""
        item = self.item or {}
        return next((state for state in BLOCKED_STATES if item.get(state) is True), None)

    @property
    def fallback(self) -> Fallback | None:
        return self.source if isinstance(self.source, Fallback) else None


class LoginSync:
    def __init__(self, deps: SyncDeps, users: UserSync, writes: Writes, pause: LoginPause) -> None:
        self._deps = deps
        self._users = users
        self._writes = writes
        self._pause = pause

    def is_fresh(self, item: dict[str, Any]) -> bool:
        """Confirmed recently enough (and not provisional, no tie pending) that a login needs no Clerk call."""
        if item.get("provisional") or item.get("refetch_requested_at"):
            return False
        synced_at = int(item.get("synced_at", 0))
        return self._deps.clock_ms() - synced_at <= self._deps.options.user_freshness_ms

    def ensure_user(
        self,
        user_id: str,
        claims: dict[str, Any] | None = None,
        *,
        deadline: float | None = None,
    ) -> LoginUser:
        """The login's user, synced from Clerk unless fresh; a first login brings the user's organizations too."""
        store = self._deps.store
        stored = store.get_user(user_id)
        if stored and stored.get("deleted"):
            return LoginUser(stored, "deleted")
        if stored and self.is_fresh(stored):
            return LoginUser(stored, "store")
        ctx = WriteContext(SyncSource.LOGIN, self._deps.clock_ms())
        try:
            self._pause.check()
        except ClerkUnavailableError as paused:
            return self._fallback(user_id, stored, claims or {}, ctx, error=paused, calls=0)
        clerk = self._deps.clerk.metered(priority=SyncSource.LOGIN.priority)
        try:
            try:
                user = clerk.get_user(user_id, deadline=deadline)
            except ClerkNotFoundError:
                # The instance guard may refuse the 404 (another instance's key) or not know yet: a fallback then.
                self._writes.delete_user(user_id, ctx, SyncSource.LOGIN, deadline=deadline)
                return LoginUser(store.get_user(user_id), "deleted", clerk.spent.requests)
        except CLERK_UNREACHABLE as error:
            self._pause.start(error)
            return self._fallback(user_id, stored, claims or {}, ctx, error=error, calls=clerk.spent.requests)
        result = store.put_user(user, ctx, fetched=True)
        self._deps.history.synced(result, ctx, version=user.updated_at)
        if result.outcome is Outcome.TOMBSTONED:
            return LoginUser(store.get_user(user_id), "deleted", clerk.spent.requests)
        if stored is None or stored.get("provisional"):
            report = SyncReport(trigger=SyncSource.LOGIN, user_id=user_id)
            self._first_login_organizations(SyncRun(report, ctx, clerk, deadline))
        return LoginUser(store.get_user(user_id), "clerk", clerk.spent.requests)

    def ensure_membership(
        self, org_id: str, user_id: str, *, role: str, slug: str | None = None, deadline: float | None = None
    ) -> SyncReport | None:
        """The session's active organization: None when membership and organization are on record and fresh.

        Otherwise the membership is synced within `deadline`; Clerk unreachable → the stored membership, or a
        provisional one (and organization, if unknown) from the verified token's claims and a queued real sync.
        """
        membership = self._deps.store.get_membership(org_id, user_id)
        if membership and not membership.get("deleted") and self.is_fresh(membership):
            return None
        wanted = normalise_role(role)
        with self._deps.run(SyncSource.LOGIN, user_id=user_id, org_id=org_id, deadline=deadline) as run:
            try:
                self._pause.check()
            except ClerkUnavailableError as paused:
                self._membership_fallback(run, membership, org_id, user_id, role=wanted, slug=slug, error=paused)
                return run.report
            try:
                found = run.clerk.find_organization_membership(org_id, user_id, deadline=deadline)
            except CLERK_UNREACHABLE as error:
                self._pause.start(error)
                self._membership_fallback(run, membership, org_id, user_id, role=wanted, slug=slug, error=error)
                return run.report
            except ClerkNotFoundError:
                found = None
            if found is None:
                # The token is a minute old at most; Clerk's word now wins. Leave removal to a real sync.
                run.report.found = False
            else:
                self._writes.memberships(run, [found])
        return run.report

    def _membership_fallback(
        self,
        run: SyncRun,
        membership: dict[str, Any] | None,
        org_id: str,
        user_id: str,
        *,
        role: str,
        slug: str | None,
        error: Exception,
    ) -> None:
        if membership is not None and not membership.get("deleted"):
            logger.warning("clerk unreachable at login: using the stored membership", extra={"org_id": org_id})
            run.report.fallbacks.append(Fallback.STALE)
        else:
            self._writes.provisional_membership(run, org_id, user_id, role=role, slug=slug, error=error)

    def _first_login_organizations(self, run: SyncRun) -> None:
        """A first login brings the user's organizations along, within the same deadline; else a queued sync."""
        user_id = str(run.report.user_id)
        try:
            self._users.organizations_into(run, user_id)
        except CLERK_UNREACHABLE as error:
            logger.warning(
                "clerk unreachable at first login: memberships queued", extra={"error": type(error).__name__}
            )
            self._deps.follow_ups.sync_memberships(user_id, SyncSource.LOGIN, run.ctx.now_ms)

    def _fallback(
        self,
        user_id: str,
        stored: dict[str, Any] | None,
        claims: dict[str, Any],
        ctx: WriteContext,
        *,
        error: Exception,
        calls: int,
    ) -> LoginUser:
        reason = type(error).__name__
        store = self._deps.store
        if stored is not None:
            logger.warning(
                "clerk unreachable at login: using the stored record", extra={"user_id": user_id, "error": reason}
            )
            return LoginUser(stored, Fallback.STALE, calls)
        logger.warning(
            "clerk unreachable at login: writing a provisional user", extra={"user_id": user_id, "error": reason}
        )
        fallback_ctx = WriteContext(SyncSource.FALLBACK, ctx.now_ms)
        result = store.put_provisional_user(user_id, claims, fallback_ctx)
        self._deps.history.synced(result, fallback_ctx, change=PROVISIONAL, version=0)
        if result.outcome is Outcome.TOMBSTONED:
            return LoginUser(store.get_user(user_id), "deleted", calls)
        self._deps.follow_ups.sync_user(user_id, SyncSource.LOGIN, ctx.now_ms)
        return LoginUser(store.get_user(user_id), Fallback.PROVISIONAL, calls)
