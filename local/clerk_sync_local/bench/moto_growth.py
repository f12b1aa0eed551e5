"""`clerk-sync bench moto`: what one DynamoDB request costs on the local stack's moto as its table grows.

The table is filled with users, organizations and memberships in a backfill's proportions (10 : 2 : 20), then
each request shape the product makes is timed (median of `repeats`): a consistent GetItem, a conditional PutItem,
a user profile's conditional UpdateItem (every stored field SET, the sync state `if_not_exists`), a BatchGetItem of
100 keys, a user's memberships from GSI1, an organization's members from the base table, a membership's
TransactWriteItems with its two parent checks, and a 500-item Scan page. Once against the stack's
indexed moto and once against moto's own code (`--plain`), each in a process of its own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from clerk_sync import items, keys
from clerk_sync import resources as definitions
from clerk_sync.store import conditions
from clerk_sync.store.table import Table, placeholders
from clerk_sync_local.stack.moto import LocalMoto, LocalResources

DEFAULT_SIZES: Final = (0, 10_000, 50_000)
_BATCH: Final = 25


@dataclass(frozen=True)
class Shape:
    name: str
    request: Callable[[Any, str, int], Any]  # (client, table, entities) → one request


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(key: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: _s(value) for name, value in key.items()}


def _counts(size: int) -> tuple[int, int, int]:
    """Users, organizations and memberships making `size` items in a backfill's proportions."""
    return size * 10 // 32, size * 2 // 32, size - size * 10 // 32 - size * 2 // 32


def _items(size: int) -> Iterator[dict[str, Any]]:
    users, orgs, memberships = _counts(size)
    profile = {"version": {"N": "1"}, "deleted": {"BOOL": False}, "name": _s("x" * 120)}
    for index in range(users):
        yield _key(keys.user_key(f"user_{index}")) | profile
    for index in range(orgs):
        yield _key(keys.org_key(f"org_{index}")) | profile
    for index in range(memberships):
        org, user = f"org_{index % max(orgs, 1)}", f"user_{index % max(users, 1)}"
        index_keys = keys.membership_index_key(org, user)
        yield _key(keys.membership_key(org, user)) | _key(index_keys) | profile | {"role": _s("org:member")}


def fill(client: Any, table: str, size: int) -> None:
    batch: list[dict[str, Any]] = []
    for item in _items(size):
        batch.append({"PutRequest": {"Item": item}})
        if len(batch) == _BATCH:
            client.batch_write_item(RequestItems={table: batch})
            batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def _user(size: int) -> str:
    return f"user_{max(_counts(size)[0] // 2, 0)}"


def _profile_update(client: Any, table: str, size: int) -> Any:
    """The request `SyncStore.put_user` makes: an UpdateItem of every stored field, through the store's table."""
    version = time.time_ns()
    fields = {name: f"value of {name}" for name in sorted(items.user_attributes())}
    item = {**keys.user_key("user_probe"), **fields, "version": version, "deleted": False}
    return Table(client, table).replace(
        item,
        conditions.UPSERT_PROFILE,
        placeholders(version=version, false=False),
        remove=items.user_attributes(),
        if_absent={items.MEMBERSHIPS_SYNCED_AT: version},
    )


def _org(size: int) -> str:
    return f"org_{max(_counts(size)[1] // 2, 0)}"


SHAPES: Final = (
    Shape(
        "GetItem",
        lambda c, t, n: c.get_item(TableName=t, Key=_key(keys.user_key(_user(n))), ConsistentRead=True),
    ),
    Shape(
        "PutItem (conditional)",
        lambda c, t, n: c.put_item(
            TableName=t,
            Item=_key(keys.user_key("user_probe")) | {"version": {"N": str(time.time_ns())}},
            ConditionExpression="attribute_not_exists(PK) OR version < :v",
            ExpressionAttributeValues={":v": {"N": str(time.time_ns())}},
        ),
    ),
    Shape("UpdateItem (a user profile)", _profile_update),
    Shape(
        "BatchGetItem (100 keys)",
        lambda c, t, n: c.batch_get_item(
            RequestItems={t: {"Keys": [_key(keys.user_key(f"user_{i}")) for i in range(100)], "ConsistentRead": True}}
        ),
    ),
    Shape(
        "Query GSI1 (a user's memberships)",
        lambda c, t, n: c.query(
            TableName=t,
            IndexName=keys.GSI1_NAME,
            KeyConditionExpression=f"{keys.GSI1_PK} = :pk AND begins_with({keys.GSI1_SK}, :prefix)",
            ExpressionAttributeValues={":pk": _s(keys.USER_PREFIX + _user(n)), ":prefix": _s(keys.ORG_PREFIX)},
        ),
    ),
    Shape(
        "Query (an organization's members)",
        lambda c, t, n: c.query(
            TableName=t,
            KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :member)",
            ExpressionAttributeValues={":pk": _s(keys.ORG_PREFIX + _org(n)), ":member": _s(keys.MEMBER_PREFIX)},
            ConsistentRead=True,
        ),
    ),
    Shape(
        "TransactWriteItems (membership + 2 checks)",
        lambda c, t, n: c.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": t,
                        "Item": _key(keys.membership_key(_org(n), "user_probe")) | {"version": {"N": "1"}},
                    }
                },
                *(
                    {
                        "ConditionCheck": {
                            "TableName": t,
                            "Key": _key(parent),
                            "ConditionExpression": "attribute_not_exists(deleted) OR deleted = :false",
                            "ExpressionAttributeValues": {":false": {"BOOL": False}},
                        }
                    }
                    for parent in (keys.user_key(_user(n)), keys.org_key(_org(n)))
                ),
            ]
        ),
    ),
    Shape("Scan (500-item page)", lambda c, t, n: c.scan(TableName=t, Limit=500)),
)


@dataclass
class Growth:
    """Median milliseconds per request shape, by engine ("indexed", "plain") and table size."""

    sizes: Sequence[int]
    repeats: int
    medians: dict[str, dict[int, dict[str, float]]] = field(default_factory=dict)

    def ratio(self, shape: str, size: int) -> float:
        """How many times slower moto's own code answers than the indexed engine."""
        return self.medians["plain"][size][shape] / max(self.medians["indexed"][size][shape], 1e-6)

    def worst(self, engine: str, size: int) -> tuple[str, float]:
        shape, value = max(self.medians[engine][size].items(), key=lambda pair: pair[1])
        return shape, value

    def as_json(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "repeats": self.repeats,
            "median_ms": {
                engine: {str(size): dict(shapes) for size, shapes in by_size.items()}
                for engine, by_size in self.medians.items()
            },
        }


@contextmanager
def _moto(indexed: bool) -> Iterator[tuple[LocalMoto, LocalResources]]:
    moto = LocalMoto(prefix="clerk-sync-bench-moto", indexed=indexed)
    resources = moto.start()
    try:
        yield moto, resources
    finally:
        moto.stop()


def _median_ms(request: Callable[[], Any], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        request()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 2)


def measure_growth(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    repeats: int = 15,
    engines: Sequence[str] = ("indexed", "plain"),
    progress: Callable[[str], None] = lambda _: None,
) -> Growth:
    growth = Growth(sorted(sizes), repeats)
    for engine in engines:
        growth.medians[engine] = {}
        with _moto(indexed=engine == "indexed") as (moto, resources):
            client, table = moto.client("dynamodb"), resources.table_name
            for size in growth.sizes:
                progress(f"{engine} moto: a table of {size:,} items")
                client.delete_table(TableName=table)
                client.create_table(**definitions.table_create_kwargs(table))
                fill(client, table, size)
                growth.medians[engine][size] = {
                    shape.name: _median_ms(partial(shape.request, client, table, size), repeats) for shape in SHAPES
                }
    return growth
