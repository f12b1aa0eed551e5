"""Ids a step of a long walk read, kept under the walk's own partition (`<prefix><id>`/`SEEN#<n>`), for jobs and
runs alike: one item per step (a redelivered step replaces its own), expiring with the walk."""

from __future__ import annotations

from collections.abc import Iterable

from clerk_sync import keys
from clerk_sync.store.table import Table, placeholders


def keep_ids(table: Table, key: dict[str, str], ids: Iterable[str], *, entity: str, expires_at: int) -> None:
    # An empty list is kept as [""]: the item still says the step ran and found nothing to keep.
    fields = {"ids": sorted(set(ids)) or [""], "entity": entity, keys.TTL_ATTRIBUTE: expires_at}
    table.update(key, fields)


def ids_under(table: Table, partition: str) -> set[str]:
    """Every id kept under `partition` (consistent: a step's own write is seen by the next)."""
    found = table.query(
        KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :prefix)",
        ExpressionAttributeValues=placeholders(pk=partition, prefix=keys.SEEN_PREFIX),
        ConsistentRead=True,
    )
    return {one for item in found for one in item.get("ids", []) if one}
