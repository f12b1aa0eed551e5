"""Who may sync what: the caller themself, members and admins of an organization, platform admins.

A role on record is read through the sync layer (`StoredRoles`, the SyncService), never from the table directly.
"""

from __future__ import annotations

from typing import Protocol

from clerk_sync.api.caller import Caller
from clerk_sync.api.errors import ApiError

ORG_ADMIN_ROLE = "org:admin"


class StoredRoles(Protocol):
    def stored_role(self, org_id: str, user_id: str) -> str | None:
        """The role of the user's live membership on record, or None."""


def is_member(caller: Caller, org_id: str, roles: StoredRoles) -> bool:
    """The session's active organization (verified minutes ago at most) or a live membership on record."""
    return caller.orgId == org_id or roles.stored_role(org_id, caller.userId) is not None


def is_org_admin(caller: Caller, org_id: str, roles: StoredRoles) -> bool:
    if caller.orgId == org_id and caller.orgRole == ORG_ADMIN_ROLE:
        return True
    return roles.stored_role(org_id, caller.userId) == ORG_ADMIN_ROLE


def forbidden(what: str) -> ApiError:
    return ApiError(403, "forbidden", f"only {what} may do this")


def require_platform_admin(caller: Caller) -> None:
    if not caller.platformAdmin:
        raise forbidden("platform admins")


def require_member(caller: Caller, org_id: str, roles: StoredRoles) -> None:
    if not (caller.platformAdmin or is_member(caller, org_id, roles)):
        raise forbidden("members of this organization and platform admins")


def require_org_admin(caller: Caller, org_id: str, roles: StoredRoles) -> None:
    if not (caller.platformAdmin or is_org_admin(caller, org_id, roles)):
        raise forbidden("admins of this organization and platform admins")


def require_self_or_org_admin(caller: Caller, org_id: str, user_id: str, roles: StoredRoles) -> None:
    if caller.userId == user_id or caller.platformAdmin or is_org_admin(caller, org_id, roles):
        return
    raise forbidden("the member themself, admins of this organization and platform admins")
