"""Who may sync what: the caller themself, members and admins of an organization, platform admins.

A role comes from one of two sources, never from a caller's request: the verified session token, for the session's
active organization (a minute old at most, so it wins over anything on record: a demoted admin loses admin routes
at once), and for any other organization the membership on record as Clerk confirmed it, read through the sync
layer (`StoredRoles`, the SyncService), never from the table directly.
"""

from __future__ import annotations

from typing import Protocol

from clerk_sync.api.caller import Caller
from clerk_sync.api.errors import ApiError

ORG_ADMIN_ROLE = "org:admin"


class StoredRoles(Protocol):
    def stored_role(self, org_id: str, user_id: str) -> str | None:
        """The role of the user's live membership as Clerk confirmed it, or None."""


def role_in(caller: Caller, org_id: str, roles: StoredRoles) -> str | None:
    """The caller's role in the organization: the token's for its active organization, else Clerk's on record."""
    if caller.orgId == org_id:
        return caller.orgRole or None
    return roles.stored_role(org_id, caller.userId)


def is_member(caller: Caller, org_id: str, roles: StoredRoles) -> bool:
    return role_in(caller, org_id, roles) is not None


def is_org_admin(caller: Caller, org_id: str, roles: StoredRoles) -> bool:
    return role_in(caller, org_id, roles) == ORG_ADMIN_ROLE


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
