"""The DynamoDB table as the repositories use it: conditional writes that hand back the old item, reads, batches.

The one module of the store that talks to botocore. Every request goes through `_request`, which turns any
botocore failure into the store's own `StoreUnavailableError`; a failed condition is a result, not an error.
BatchGetItem and BatchWriteItem resend what DynamoDB left unprocessed, with backoff, before giving up.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync import keys
from clerk_sync.store.attributes import TypeDeserializer, TypeSerializer
from clerk_sync.store.errors import StoreUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

Item = dict[str, Any]

_BATCH_WRITE_LIMIT: Final = 25
_BATCH_GET_LIMIT: Final = 100
# BatchGetItem / BatchWriteItem hand back what they could not do under load: 8 attempts in all, with a
# backoff of 50 ms doubling to a 2 s cap between them (~5 s at worst), then the event is retried instead.
UNPROCESSED_ATTEMPTS: Final = 8
_BACKOFF_BASE_SECONDS: Final = 0.05
_BACKOFF_CAP_SECONDS: Final = 2.0

_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_TRANSACTION_CANCELLED: Final = "TransactionCanceledException"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def unprocessed_backoff(retry: int) -> float:
    """Seconds to wait before the `retry`-th resend (0-based) of unprocessed batch items."""
    return min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2.0**retry)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def placeholders(**values: Any) -> dict[str, Any]:
    """`ExpressionAttributeValues` for a condition: `version=3` binds `:version`."""
    return {f":{name}": _serializer.serialize(value) for name, value in values.items()}


def key_of(item: Mapping[str, Any]) -> dict[str, str]:
    return {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}


@dataclass(frozen=True)
class Conditional:
    """What a conditional write did: `applied`, and the item it replaced (applied) or found in its way (not)."""

    applied: bool
    old: Item | None = None


@dataclass(frozen=True)
class Cancelled:
    """A transaction DynamoDB cancelled: per part, its reason code (None when it passed) and the item it saw."""

    codes: list[str | None] = field(default_factory=list)
    old_items: list[Item | None] = field(default_factory=list)


@dataclass(frozen=True)
class ConditionCheck:
    """A transaction part that writes nothing: `condition` must hold on the item at `key`."""

    key: dict[str, str]
    condition: str
    values: dict[str, Any]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Table:
    """One DynamoDB table; takes its client so tests pass moto's or a stubbed one."""

    def __init__(self, client: DynamoDBClient, name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self.name = name
        self._sleep = sleep

    # ---- writes ------------------------------------------------------------------------------

    def put(self, item: Item, condition: str, values: dict[str, Any], *, replacing: bool = False) -> Conditional:
        """One conditional put; the old item comes back on failure (no read first), and on success if `replacing`."""
        request = self._put_request(item, condition, values)
        if replacing:
            request["ReturnValues"] = "ALL_OLD"
        with self._request("put failed", tolerate=_CONDITION_FAILED) as failed:
            response = self._client.put_item(**request)
        if failed.error is not None:
            raw: Any = failed.error.response.get("Item")
            return Conditional(False, _old_item(raw))
        return Conditional(True, _old_item(response.get("Attributes")))

    def replace(
        self,
        item: Item,
        condition: str,
        values: dict[str, Any],
        *,
        remove: Iterable[str] = (),
        if_absent: Mapping[str, Any] | None = None,
    ) -> Conditional:
        """One conditional UpdateItem that leaves the item as a put of `item` would (`remove`: what such a put would
        drop), except for attributes it neither sets nor removes, which it keeps; `if_absent` ones are set only where
        the item has none. The old item comes back on success and on failure (ALL_OLD), as `put(replacing=True)`."""
        key = key_of(item)
        names: dict[str, str] = {}
        bound: dict[str, Any] = {}
        sets: list[str] = []
        for number, (name, value) in enumerate((n, v) for n, v in item.items() if n not in key):
            names[f"#s{number}"], bound[f":s{number}"] = name, _serializer.serialize(value)
            sets.append(f"#s{number} = :s{number}")
        for number, (name, value) in enumerate((if_absent or {}).items()):
            names[f"#i{number}"], bound[f":i{number}"] = name, _serializer.serialize(value)
            sets.append(f"#i{number} = if_not_exists(#i{number}, :i{number})")
        expression = "SET " + ", ".join(sets)
        dropped = sorted(set(remove) - item.keys() - set(if_absent or {}))
        if dropped:
            names.update({f"#r{number}": name for number, name in enumerate(dropped)})
            expression += " REMOVE " + ", ".join(f"#r{number}" for number in range(len(dropped)))
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {**bound, **values},
            "ReturnValues": "ALL_OLD",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        with self._request("update failed", tolerate=_CONDITION_FAILED) as failed:
            response = self._client.update_item(**request)
        if failed.error is not None:
            raw: Any = failed.error.response.get("Item")
            return Conditional(False, _old_item(raw))
        return Conditional(True, _old_item(response.get("Attributes")))

    def update(
        self, key: dict[str, str], assignments: Mapping[str, Any], condition: str | None = None, **bound: Any
    ) -> bool:
        """SET the given attributes; False when `condition` (with `bound` placeholder values) failed."""
        names = {f"#a{i}": name for i, name in enumerate(assignments)}
        values = {f":a{i}": _serializer.serialize(value) for i, value in enumerate(assignments.values())}
        values.update(placeholders(**bound))
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        with self._request("update failed", tolerate=_CONDITION_FAILED) as failed:
            self._client.update_item(**request)
        return failed.error is None

    def increment(self, key: dict[str, str], counter: str, condition: str, **bound: Any) -> Conditional:
        """Adds one to `counter` where `condition` holds; on failure the item in the way comes back (no read first)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Key": serialize(key),
            "UpdateExpression": "SET #counter = #counter + :one",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#counter": counter},
            "ExpressionAttributeValues": placeholders(one=1, **bound),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        with self._request("increment failed", tolerate=_CONDITION_FAILED) as failed:
            self._client.update_item(**request)
        if failed.error is not None:
            raw: Any = failed.error.response.get("Item")
            return Conditional(False, _old_item(raw))
        return Conditional(True)

    def transact(
        self, item: Item, condition: str, values: dict[str, Any], checks: Sequence[ConditionCheck]
    ) -> Cancelled | None:
        """The put and the condition checks as one transaction; what cancelled it, or None when it went through."""
        parts: list[TransactWriteItemTypeDef] = [{"Put": self._put_request(item, condition, values)}]  # type: ignore[typeddict-item]
        for check in checks:
            parts.append(
                {
                    "ConditionCheck": {
                        "TableName": self.name,
                        "Key": serialize(check.key),
                        "ConditionExpression": check.condition,
                        "ExpressionAttributeValues": check.values,
                    }
                }
            )
        with self._request("transaction failed", tolerate=_TRANSACTION_CANCELLED) as failed:
            self._client.transact_write_items(TransactItems=parts)
        if failed.error is None:
            return None
        reasons = failed.error.response.get("CancellationReasons", [])
        return Cancelled(
            codes=[reason.get("Code") for reason in reasons],
            old_items=[_old_item(reason.get("Item")) for reason in reasons],
        )

    def add(self, key: dict[str, str], counters: Mapping[str, int], assignments: Mapping[str, Any]) -> None:
        """One UpdateItem that ADDs to `counters` (from 0 where absent) and SETs `assignments`, unconditionally."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        added, assigned = [], []
        for i, (name, amount) in enumerate(counters.items()):
            names[f"#c{i}"], values[f":c{i}"] = name, _serializer.serialize(amount)
            added.append(f"#c{i} :c{i}")
        for i, (name, value) in enumerate(assignments.items()):
            names[f"#s{i}"], values[f":s{i}"] = name, _serializer.serialize(value)
            assigned.append(f"#s{i} = :s{i}")
        expression = " ".join(
            part
            for part in ("ADD " + ", ".join(added) if added else "", "SET " + ", ".join(assigned) if assigned else "")
            if part
        )
        with self._request("update failed"):
            self._client.update_item(
                TableName=self.name,
                Key=serialize(key),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def put_many(self, new_items: Sequence[Item], what: str = "batch put") -> int:
        """Unconditional batch puts, 25 items a request; returns how many items were given."""
        for start in range(0, len(new_items), _BATCH_WRITE_LIMIT):
            chunk = new_items[start : start + _BATCH_WRITE_LIMIT]
            pending: dict[str, Any] = {self.name: [{"PutRequest": {"Item": serialize(item)}} for item in chunk]}
            self._until_processed(self._batch_write, pending, what)
        return len(new_items)

    def delete_keys(self, item_keys: Sequence[dict[str, str]], what: str = "batch delete") -> int:
        """Unconditional batch deletes, 25 keys a request; returns how many keys were given."""
        for start in range(0, len(item_keys), _BATCH_WRITE_LIMIT):
            chunk = item_keys[start : start + _BATCH_WRITE_LIMIT]
            pending: dict[str, Any] = {self.name: [{"DeleteRequest": {"Key": serialize(key)}} for key in chunk]}
            self._until_processed(self._batch_write, pending, what)
        return len(item_keys)

    # ---- reads -------------------------------------------------------------------------------

    def get(self, key: dict[str, str], *, consistent: bool = True) -> Item | None:
        with self._request("read failed"):
            response = self._client.get_item(TableName=self.name, Key=serialize(key), ConsistentRead=consistent)
        return _old_item(response.get("Item"))

    def get_many(self, item_keys: Sequence[dict[str, str]]) -> list[Item]:
        """The items that exist among `item_keys` (BatchGetItem, 100 keys a request, consistent), in no order."""
        found: list[Item] = []
        unique = list({(key[keys.PK], key[keys.SK]): key for key in item_keys}.values())
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            chunk = unique[start : start + _BATCH_GET_LIMIT]
            pending: dict[str, Any] = {self.name: {"Keys": [serialize(key) for key in chunk], "ConsistentRead": True}}

            def read(request: dict[str, Any]) -> dict[str, Any]:
                response = self._client.batch_get_item(RequestItems=request)
                found.extend(deserialize(raw) for raw in response.get("Responses", {}).get(self.name, []))
                return dict(response.get("UnprocessedKeys") or {})

            self._until_processed(read, pending, "batch read")
        return found

    def query(self, **request: Any) -> Iterator[Item]:
        """Every item a Query returns, page after page."""
        return self._paginate("query", request, "query failed")

    def query_page(self, **request: Any) -> list[Item]:
        """The items of one Query request (its `Limit` at most): a newest-first listing, never the whole partition."""
        with self._request("query failed"):
            response = self._client.query(TableName=self.name, **request)
        return [deserialize(raw) for raw in response.get("Items", [])]

    def scan(self) -> Iterator[Item]:
        """Every item in the table, consistently read; for export, tests and reconcile, never for a request path."""
        return self._paginate("scan", {"ConsistentRead": True}, "scan failed")

    def scan_page(
        self,
        *,
        start_key: dict[str, str] | None = None,
        limit: int = 1000,
        filter_expression: str | None = None,
        fields: Sequence[str] = (),
        consistent: bool = True,
        **bound: Any,
    ) -> tuple[list[Item], dict[str, str] | None]:
        """One Scan request of up to `limit` items read (fewer returned when filtered) and the key to continue
        from (None at the end): a checkpointable walk of the whole table. `fields`: only these attributes (and the
        keys) of each item; `consistent` False halves the read cost where a count a moment old will do."""
        request: dict[str, Any] = {"TableName": self.name, "ConsistentRead": consistent, "Limit": limit}
        if fields:
            names = list(dict.fromkeys((keys.PK, keys.SK, *fields)))
            # Every name aliased: some (`deleted`, ...) may be reserved words.
            aliases = {f"#f{number}": name for number, name in enumerate(names)}
            request["ProjectionExpression"] = ", ".join(aliases)
            request["ExpressionAttributeNames"] = aliases
        if start_key is not None:
            request["ExclusiveStartKey"] = serialize(start_key)
        if filter_expression:
            request["FilterExpression"] = filter_expression
            request["ExpressionAttributeValues"] = placeholders(**bound)
        with self._request("scan failed"):
            response = self._client.scan(**request)
        last = response.get("LastEvaluatedKey")
        return [deserialize(raw) for raw in response.get("Items", [])], (key_of(deserialize(last)) if last else None)

    # ---- internals ---------------------------------------------------------------------------

    def _put_request(self, item: Item, condition: str, values: dict[str, Any]) -> dict[str, Any]:
        """A conditional put that hands back the old item when its condition fails (no read first)."""
        request: dict[str, Any] = {
            "TableName": self.name,
            "Item": serialize(item),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return request

    def _batch_write(self, request: dict[str, Any]) -> dict[str, Any]:
        response = self._client.batch_write_item(RequestItems=request)
        return dict(response.get("UnprocessedItems") or {})

    def _paginate(self, operation: str, request: dict[str, Any], what: str) -> Iterator[Item]:
        paginator = self._client.get_paginator(operation)  # type: ignore[call-overload]
        pages = iter(paginator.paginate(TableName=self.name, **request))
        while True:
            with self._request(what):
                page = next(pages, None)
            if page is None:
                return
            for raw in page.get("Items", []):
                yield deserialize(raw)

    def _until_processed(
        self, send: Callable[[dict[str, Any]], dict[str, Any]], pending: dict[str, Any], what: str
    ) -> None:
        """Sends a batch request, then what it left unprocessed, with backoff, until none is left or attempts end."""
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                self._sleep(unprocessed_backoff(attempt - 1))
            with self._request(f"{what} failed"):
                pending = send(pending)
            if not pending:
                return
        raise StoreUnavailableError(f"{what} left unprocessed items after {UNPROCESSED_ATTEMPTS} attempts")

    @contextmanager
    def _request(self, what: str, *, tolerate: str | None = None) -> Iterator[_Failure]:
        """Runs one request: a `tolerate`d error code is handed back in the yielded `_Failure`; any other
        botocore failure becomes `StoreUnavailableError`."""
        failure = _Failure()
        try:
            yield failure
        except ClientError as error:
            if tolerate is None or _error_code(error) != tolerate:
                raise StoreUnavailableError(f"{what}: {error}") from error
            failure.error = error
        except BotoCoreError as error:
            raise StoreUnavailableError(f"{what}: {error}") from error


@dataclass
class _Failure:
    """Set by `Table._request` when the request failed with the tolerated error (a condition, a cancellation)."""

    error: ClientError | None = None


def _old_item(raw: Mapping[str, Any] | None) -> Item | None:
    return deserialize(raw) if raw else None
