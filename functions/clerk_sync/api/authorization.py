"""The authorizer's decision: verify the session token, make sure the caller is on record, say who they are.

Sync on login: a user missing, provisional or older than USER_FRESHNESS_SECONDS is fetched from Clerk within
LOGIN_SYNC_BUDGET_SECONDS (falling back to the stored or a provisional record), and so is the token's active
organization membership. A fresh user costs one DynamoDB read and no Clerk call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clerk_sync.api.caller import Caller
from clerk_sync.api.settings import AccessSettings
from clerk_sync.auth.errors import KeysUnavailableError, TokenError
from clerk_sync.auth.tokens import extract_token
from clerk_sync.clerk.errors import ClerkError
from clerk_sync.observability import child_logger
from clerk_sync.queue import QueueUnavailableError
from clerk_sync.store.errors import StoreError

if TYPE_CHECKING:
    from clerk_sync.auth.claims import SessionClaims
    from clerk_sync.auth.tokens import SessionVerifier
    from clerk_sync.sync.login import LoginUser
    from clerk_sync.sync.service import SyncService

logger = child_logger()

_INFRASTRUCTURE_ERRORS = (StoreError, QueueUnavailableError, ClerkError)


@dataclass(frozen=True)
class Decision:
    """`allowed` is the simple response's isAuthorized; `reason` is the metric and log dimension."""

    allowed: bool
    caller: Caller
    reason: str
    login: LoginUser | None = None


def _provisional_fields(claims: SessionClaims) -> dict[str, Any]:
    """What a provisional user record can hold: only what the verified token says."""
    fields: dict[str, Any] = {k: v for k, v in claims.display_fields().items() if k != "id"}
    if "email" in fields:
        fields["primary_email"] = fields.pop("email")
    return fields


def _strings(values: object) -> list[str] | None:
    """The event's identitySource as a list of strings (None when API Gateway sent none)."""
    if not isinstance(values, list | tuple):
        return None
    return [value for value in values if isinstance(value, str)] or None


def _blocked(login: LoginUser) -> Decision:
    """A banned, locked or deprovisioned user is refused like a deleted one (403), with its own reason."""
    reason = f"user_{login.blocked}"
    caller = Caller.unauthenticated(reason, f"this user is {login.blocked} in Clerk", 403)
    return Decision(False, caller, reason, login)


def authorize(
    headers: Mapping[str, str] | None,
    cookies: Sequence[str] | None,
    *,
    verifier: Callable[[], SessionVerifier],
    service: Callable[[], SyncService],
    access: AccessSettings,
    login_budget_seconds: float,
    identity_source: Sequence[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Decision:
    """Never raises for anything a client sends; an outage of ours is an unauthenticated 503 caller.

    `identity_source` (the event's cache key values) limits what the token may be read from (`extract_token`).
    """
    try:
        token = extract_token(headers, cookies, identity_source=_strings(identity_source))
        claims = verifier().verify(token)
    except TokenError as error:
        return Decision(True, Caller.unauthenticated(error.code, error.message), error.code)
    except KeysUnavailableError as error:
        logger.error("session keys unavailable", extra={"error": error.code})
        return Decision(True, Caller.unauthenticated(error.code, "session keys cannot be fetched", 503), error.code)

    sync = service()  # built on a container's first login: its AWS clients are not Clerk's time
    # The Clerk client's clock is time.monotonic too; a deadline, not a budget, so user and org share it.
    deadline = clock() + login_budget_seconds
    try:
        login = sync.ensure_login_user(claims.user_id, _provisional_fields(claims), deadline=deadline)
        if login.deleted:
            caller = Caller.unauthenticated("user_deleted", "this user has been deleted", 403)
            return Decision(False, caller, "user_deleted", login)
        if login.blocked:
            return _blocked(login)
        if claims.org_id and claims.org_role:
            sync.ensure_login_membership(
                claims.org_id, claims.user_id, role=claims.org_role, slug=claims.org_slug, deadline=deadline
            )
    except _INFRASTRUCTURE_ERRORS as error:
        logger.error("login sync failed", extra={"user_id": claims.user_id, "error": type(error).__name__})
        return Decision(
            True, Caller.unauthenticated("unavailable", "clerk-sync cannot check this user now", 503), "unavailable"
        )

    caller = Caller(
        authenticated=True,
        userId=claims.user_id,
        sessionId=claims.session_id or "",
        orgId=claims.org_id or "",
        orgRole=claims.org_role or "",
        orgSlug=claims.org_slug or "",
        platformAdmin=access.is_platform_admin(claims.user_id, login.item),
        provisional=login.provisional,
        loginSource=str(login.source),
    )
    return Decision(True, caller, "ok", login)
