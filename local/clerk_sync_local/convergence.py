"""Compares the table with a Clerk state snapshot: what `demo`, end-to-end tests and reconcile check."""

from __future__ import annotations

from typing import Any

from clerk_sync import items, keys
from clerk_sync.models import Membership, Organization, User
from clerk_sync.store import SyncStore
from clerk_sync.vocabulary import Entity


def _expected(snapshot: dict[str, Any], policy: items.ItemPolicy) -> dict[tuple[str, str], dict[str, Any]]:
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for raw in snapshot["users"]:
        user = User.model_validate(raw)
        expected[(keys.USER_PREFIX + user.id, keys.PROFILE_SK)] = items.user_fields(user, policy)
    for raw in snapshot["organizations"]:
        org = Organization.model_validate(raw)
        expected[(keys.ORG_PREFIX + org.id, keys.PROFILE_SK)] = items.organization_fields(org, policy)
    for raw in snapshot["memberships"]:
        membership = Membership.model_validate(raw)
        key = keys.membership_key(membership.org_id, membership.user_id)
        expected[(key[keys.PK], key[keys.SK])] = items.membership_fields(membership, policy)
    return expected


def _comparable(fields: dict[str, Any]) -> dict[str, Any]:
    stable = {name: value for name, value in fields.items() if name not in items.VOLATILE_FIELDS}
    result: dict[str, Any] = items.to_dynamo_value(stable)
    return result


def differences(store: SyncStore, snapshot: dict[str, Any]) -> list[str]:
    """Every way the table differs from Clerk's live state; empty when they agree on every stored field."""
    # Clerk's data only: jobs and sync-state items are clerk-sync's own bookkeeping.
    clerk_entities = {entity.value for entity in Entity}
    table = {(item[keys.PK], item[keys.SK]): item for item in store.scan() if item.get("entity") in clerk_entities}
    live = {key: item for key, item in table.items() if not item.get("deleted")}
    expected = _expected(snapshot, store.policy)
    found = [f"missing {pk} {sk}" for pk, sk in sorted(expected.keys() - live.keys())]
    found += [f"not in Clerk {pk} {sk}" for pk, sk in sorted(live.keys() - expected.keys())]
    for key in sorted(expected.keys() & live.keys()):
        want, have = _comparable(expected[key]), _comparable(items.clerk_fields(live[key]))
        changed = sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))
        if changed:
            found.append(f"differs {key[0]} {key[1]}: {', '.join(changed)}")
    for user_id in snapshot.get("deleted_user_ids", []):
        item = table.get((keys.USER_PREFIX + user_id, keys.PROFILE_SK))
        if item is not None and not item.get("deleted"):
            found.append(f"deleted in Clerk but live USER#{user_id}")
    for org_id in snapshot.get("deleted_organization_ids", []):
        item = table.get((keys.ORG_PREFIX + org_id, keys.PROFILE_SK))
        if item is not None and not item.get("deleted"):
            found.append(f"deleted in Clerk but live ORG#{org_id}")
    return found
