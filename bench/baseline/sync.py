"""What the baseline does with each Clerk event, and its full user sync."""

from __future__ import annotations

from typing import Any

from .clerk import NaiveClerk
from .store import MEMBER, ORG, USER, NaiveTable, membership_item, organization_item, user_item


def full_user_sync(clerk: NaiveClerk, table: NaiveTable, user_id: str) -> int:
    """The user, their memberships and each organization fetched from Clerk and written one by one; Clerk calls."""
    before = clerk.calls
    user = clerk.user(user_id)
    memberships = clerk.user_memberships(user_id)
    organizations = [clerk.organization(m["organization"]["id"]) for m in memberships]
    table.upsert(user_item(user))
    for org in organizations:
        table.upsert(organization_item(org))
    for membership in memberships:
        table.upsert(membership_item(membership))
    return clerk.calls - before


def apply_event(clerk: NaiveClerk, table: NaiveTable, event: dict[str, Any]) -> None:
    """One webhook event, as the recipe handles it; raises on any failure (the whole batch is then retried)."""
    kind, data = event["type"], event["data"]
    if kind in {"user.created", "user.updated"}:
        full_user_sync(clerk, table, data["id"])
    elif kind == "user.deleted":
        table.mark_deleted(USER + data["id"])
        for pk, sk in table.user_membership_keys(data["id"]):
            table.delete(pk, sk)
    elif kind in {"organization.created", "organization.updated"}:
        table.upsert(organization_item(data))
    elif kind == "organization.deleted":
        table.mark_deleted(ORG + data["id"])
        for pk, sk in table.organization_membership_keys(data["id"]):
            table.delete(pk, sk)
    elif kind in {"organizationMembership.created", "organizationMembership.updated"}:
        table.upsert(membership_item(data))
    elif kind == "organizationMembership.deleted":
        table.delete(ORG + data["organization"]["id"], MEMBER + data["public_user_data"]["user_id"])
