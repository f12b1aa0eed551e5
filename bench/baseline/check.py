"""The baseline's table against Clerk's state: the comparable check to clerk-sync's `convergence.differences`."""

from __future__ import annotations

from typing import Any

from .store import NaiveTable, membership_item, organization_item, user_item

# The fields the baseline keeps that Clerk changes with a new version (not the volatile ones, as for clerk-sync).
_COMPARED = ("first_name", "last_name", "username", "name", "slug", "role", "membership_id")


def _scan(table: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def differences(table: NaiveTable, snapshot: dict[str, Any]) -> list[str]:
    """Every record that is missing, extra, still live after a delete, or unlike Clerk's in a compared field."""
    expected = {
        (item["PK"], item["SK"]): item
        for item in (
            *(user_item(u) for u in snapshot["users"]),
            *(organization_item(o) for o in snapshot["organizations"]),
            *(membership_item(m) for m in snapshot["memberships"]),
        )
    }
    live = {(item["PK"], item["SK"]): item for item in _scan(table.table) if not item.get("deleted")}
    found = [f"missing {pk} {sk}" for pk, sk in sorted(expected.keys() - live.keys())]
    found += [f"not in Clerk {pk} {sk}" for pk, sk in sorted(live.keys() - expected.keys())]
    for key in sorted(expected.keys() & live.keys()):
        changed = [name for name in _COMPARED if expected[key].get(name) != live[key].get(name)]
        if changed:
            found.append(f"differs {key[0]} {key[1]}: {', '.join(changed)}")
    return found
