"""Who may sync what: the caller themself, members and admins of an organization, platform admins."""

from __future__ import annotations

from clerk_sync.api.caller import Caller
from clerk_sync.api.errors import ApiError
from clerk_sync.store import SyncStore

ORG_ADMIN_ROLE = "org:admin"


def _stored_role(store: SyncStore, org_id: str, user_id: str) -> str | None:
    membership = store.get_membership(org_id, user_id)
    if membership is None or membership.get("deleted"):
        return None
    return str(membership.get("role"))


def is_member(caller: Caller, org_id: str, store: SyncStore) -> bool:
    """The session's active organization (verified minutes ago at most) or a live membership on record."""
    return caller.orgId == org_id or _stored_role(store, org_id, caller.userId) is not None


def is_org_admin(caller: Caller, org_id: str, store: SyncStore) -> bool:
    if caller.orgId == org_id and caller.orgRole == ORG_ADMIN_ROLE:
        return True
    return _stored_role(store, org_id, caller.userId) == ORG_ADMIN_ROLE


def forbidden(what: str) -> ApiError:
    return ApiError(403, "forbidden", f"only {what} may do this")


def require_platform_admin(caller: Caller) -> None:
    if not caller.platformAdmin:
        raise forbidden("platform admins")


def require_member(caller: Caller, org_id: str, store: SyncStore) -> None:
    if not (caller.platformAdmin or is_member(caller, org_id, store)):
        raise forbidden("members of this organization and platform admins")


def require_org_admin(caller: Caller, org_id: str, store: SyncStore) -> None:
    if not (caller.platformAdmin or is_org_admin(caller, org_id, store)):
        raise forbidden("admins of this organization and platform admins")


def require_self_or_org_admin(caller: Caller, org_id: str, user_id: str, store: SyncStore) -> None:
    if caller.userId == user_id or caller.platformAdmin or is_org_admin(caller, org_id, store):
        return
    raise forbidden("the member themself, admins of this organization and platform admins")
