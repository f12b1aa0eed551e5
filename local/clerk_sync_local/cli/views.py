"""Read-only views of a deployment's table: the JSON-lines export and one user's status.

Both read through the runtime's `SyncStore`, on the table a `Target` names (a local stack or a deployed stage).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from clerk_sync import keys
from clerk_sync.store import SyncStore
from clerk_sync_local.cli.targets import Target, from_ready
from clerk_sync_local.stack.ready import ReadyInfo

# What the copy holds; jobs and sync-state items are bookkeeping and stay out of exports.
EXPORTED_ENTITIES: Final = frozenset({"user", "organization", "membership"})


class CopyStore(SyncStore):
    """A store whose scan yields only the copy (users, organizations, memberships), no bookkeeping items."""

    def scan(self) -> Iterator[dict[str, Any]]:
        return (item for item in super().scan() if item.get("entity") in EXPORTED_ENTITIES)


def copy_store(target: Target) -> CopyStore:
    """The target's table, read as the handlers would (through SyncStore) but scanning the copy only."""
    store = target.store()
    return CopyStore(store.table, store.policy)


def store_for(ready: ReadyInfo) -> CopyStore:
    """`copy_store` of a running local stack."""
    return copy_store(from_ready(ready))


def plain(value: Any) -> Any:
    """DynamoDB's Python values as JSON data: Decimals as numbers, sets as sorted lists, binary as base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: plain(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain(item) for item in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return base64.b64encode(value.value).decode()
    return value


def export_records(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Users, organizations and memberships sorted by key, each with `deleted` set (true marks a tombstone)."""
    records = [
        {**plain(item), "deleted": bool(item.get("deleted", False))}
        for item in items
        if item.get("entity") in EXPORTED_ENTITIES
    ]
    return sorted(records, key=lambda record: (record[keys.PK], record[keys.SK]))


def export_lines(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per line with sorted keys, so two exports diff line by line."""
    for record in export_records(items):
        yield json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class UserStatus:
    user: dict[str, Any] | None
    memberships: list[dict[str, Any]]
    organizations: dict[str, dict[str, Any] | None]

    def as_json(self) -> dict[str, Any]:
        return {
            "user": plain(self.user),
            "memberships": plain(self.memberships),
            "organizations": plain(self.organizations),
        }


def user_status(store: SyncStore, user_id: str) -> UserStatus:
    """The user's record, their live memberships and those organizations' records."""
    # The user's GSI1 partition may also list jobs they started: keep the memberships.
    found = [item for item in store.user_memberships(user_id) if item.get("entity", "membership") == "membership"]
    memberships = sorted(found, key=lambda item: str(item.get("org_id", "")))
    org_ids = [str(item.get("org_id") or item[keys.PK].removeprefix(keys.ORG_PREFIX)) for item in memberships]
    organizations = {org_id: store.get_organization(org_id) for org_id in org_ids}
    return UserStatus(store.get_user(user_id), memberships, organizations)
