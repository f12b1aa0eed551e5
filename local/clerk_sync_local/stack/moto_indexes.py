"""Indexes for moto's DynamoDB, so the local stack answers in constant time as its table grows.

moto answers every Query by walking (and sorting) the whole table, base-table queries by partition key included,
and every TransactWriteItems deep-copies each table it touches first. With a backfill's 32,000 items that made
one GSI query cost ~0.25 s and one at 50,000 items over a second (docs/decisions/0023). DynamoDB does neither.
`install()` changes what moto walks, copies and serializes in the moto server's process, never what it answers:

- a base-table Query reads only its partition, and a Scan page walks the keys in order from its start key;
- a GSI Query reads only the items whose index hash key it asks for, from an index kept on every write
  (put, update, delete, through any API) and rebuilt whenever moto replaced the table's items wholesale;
- a transaction keeps copies of the items it touches instead of the whole table, and puts them back if it is
  cancelled (moto's own rollback, a whole-table copy, also wiped other clients' writes made meanwhile);
- the items a read answers are written as JSON directly, not through moto's generic serializer.

moto's own code still evaluates every key condition, filter, page and projection: the candidates it walks are
the only difference. Requests are serialised by the server (`_OneTableWriterAtATime`), so nothing here locks.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

_INDEX_ATTRIBUTE: Final = "_clerk_sync_gsi_index"
_installed = False
_transaction_depth = 0  # > 0 while a transaction runs: moto's whole-table copy is skipped


class TableIndex:
    """For one table: (index hash attribute, value) → the primary keys holding that value, and all primary keys
    in moto's order (sorted again only after a key was added or removed)."""

    def __init__(self, table: Any) -> None:
        self._items_ref = table.items
        self._attributes = sorted(
            {key["AttributeName"] for index in table.global_indexes for key in index.schema if key["KeyType"] == "HASH"}
        )
        self._keys: dict[tuple[str, Any], dict[tuple[Any, Any], None]] = {}
        self._entries: dict[tuple[Any, Any], list[tuple[str, Any]]] = {}
        self._present: set[tuple[Any, Any]] = set()
        self._order: list[tuple[Any, Any]] | None = None
        for hash_key, partition in table.items.items():
            for range_key in partition:
                self.reindex(table, hash_key, range_key)

    def is_for(self, table: Any) -> bool:
        return self._items_ref is table.items

    def reindex(self, table: Any, hash_key: Any, range_key: Any) -> None:
        """Brings the entries of one primary key up to date with what the table holds now."""
        primary = (hash_key, range_key)
        for entry in self._entries.pop(primary, []):
            held = self._keys.get(entry)
            if held is not None:
                held.pop(primary, None)
                if not held:
                    del self._keys[entry]
        item = _stored(table, hash_key, range_key)
        if (item is not None) != (primary in self._present):
            self._order = None
            (self._present.add if item is not None else self._present.discard)(primary)
        if item is None:
            return
        entries = [(name, item.attrs[name]) for name in self._attributes if item.attrs.get(name) is not None]
        for entry in entries:
            self._keys.setdefault(entry, {})[primary] = None
        if entries:
            self._entries[primary] = entries

    def candidates(self, table: Any, attribute: str, value: Any) -> list[Any]:
        found = (_stored(table, hash_key, range_key) for hash_key, range_key in self._keys.get((attribute, value), {}))
        return [item for item in found if item is not None]

    def after(self, table: Any, start: tuple[Any, Any] | None, count: int | None = None) -> list[Any]:
        """Up to `count` items after primary key `start` (from the first for None), in moto's order (hash key,
        then range key)."""
        if self._order is None:
            self._order = sorted(self._present, key=_sort_key)
        position = 0 if start is None else bisect.bisect_right(self._order, _sort_key(start), key=_sort_key)
        following = self._order[position:] if count is None else self._order[position : position + count]
        found = [item for item in (_stored(table, *primary) for primary in following) if item is not None]
        if count is not None and len(found) < len(following):  # a key gone unseen: never cut a page short
            return self.after(table, start)
        return found


def _stored(table: Any, hash_key: Any, range_key: Any) -> Any:
    return table.items[hash_key].get(range_key) if hash_key in table.items else None


def _sort_key(primary: tuple[Any, Any]) -> tuple[Any, Any]:
    return primary[0].cast_value, primary[1].cast_value


def _index(table: Any, *, build: bool) -> TableIndex | None:
    index: TableIndex | None = table.__dict__.get(_INDEX_ATTRIBUTE)
    if index is not None and index.is_for(table):
        return index
    if not build or not table.range_key_attr or not table.global_indexes:
        return None
    index = TableIndex(table)
    table.__dict__[_INDEX_ATTRIBUTE] = index
    return index


def _reindex(table: Any, hash_key: Any, range_key: Any) -> None:
    index = _index(table, build=False)  # no index yet: the first GSI query builds it from the items
    if index is not None and range_key is not None:
        index.reindex(table, hash_key, range_key)


@contextmanager
def _walking(table: Any, candidates: list[Any], *, ordered: bool = False) -> Iterator[None]:
    """moto's query and scan walk `table.all_items()`: for one call, that is the candidates, in moto's order."""
    walked = candidates if ordered else sorted(candidates, key=lambda item: (item.hash_key, item.range_key))
    table.__dict__["all_items"] = lambda: walked
    try:
        yield
    finally:
        del table.__dict__["all_items"]


def _patched_query(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(self, *args, **kwargs).arguments
        hash_key, index_name = asked.get("hash_key"), asked.get("index_name")
        conditions = asked.get("hash_key_conditions") or []
        candidates: list[Any] | None = None
        if index_name is None and hash_key is not None and self.range_key_attr:
            candidates = list(self.items[hash_key].values()) if hash_key in self.items else []
        elif len(conditions) == 1 and index_name in {index.name for index in self.global_indexes}:
            index = _index(self, build=True)
            if index is not None:
                candidates = index.candidates(self, *conditions[0])
        if candidates is None:
            return original(self, *args, **kwargs)
        with _walking(self, candidates):
            return original(self, *args, **kwargs)

    return query


def _patched_scan(original: Callable[..., Any]) -> Callable[..., Any]:
    """A base-table page walks the keys in order from its start key, not every item sorted again."""
    signature = inspect.signature(original)

    def scan(self: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.dynamodb.models.dynamo_type import DynamoType

        asked = signature.bind(self, *args, **kwargs).arguments
        start = asked.get("exclusive_start_key") or {}
        whole = (
            asked.get("index_name") or not self.range_key_attr or asked.get("segments", (None, None)) != (None, None)
        )
        index = None if whole else _index(self, build=True)
        if index is None:
            return original(self, *args, **kwargs)
        # moto stops after `limit` items (plus one, to see there are more) unless legacy ScanFilters skip some.
        limit = asked.get("limit")
        count = limit + 1 if limit and not asked.get("filters") else None
        if start:
            hash_value, range_value = start.get(self.hash_key_attr), start.get(self.range_key_attr)
            if hash_value is None or range_value is None:
                return original(self, *args, **kwargs)
            walked = index.after(self, (DynamoType(hash_value), DynamoType(range_value)), count)
        else:
            walked = index.after(self, None, count)
        with _walking(self, walked, ordered=True):
            return original(self, *args, **kwargs)

    return scan


def _patched_put(original: Callable[..., Any]) -> Callable[..., Any]:
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        _reindex(self, item.hash_key, item.range_key)
        return item

    return put_item


def _patched_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        try:
            return original(self, hash_key, range_key)
        finally:
            _reindex(self, hash_key, range_key)

    return delete_item


def _keys_of(backend: Any, table_name: str, key: dict[str, Any]) -> tuple[Any, Any, Any]:
    table = backend.get_table(table_name)
    hash_key, range_key = backend.get_keys_value(table, key)
    return table, hash_key, range_key


def _patched_update(original: Callable[..., Any]) -> Callable[..., Any]:
    """Updates change an item in place, unseen by the table: reindex its key afterwards."""

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, table_name, key, *args, **kwargs)
        finally:
            with contextlib.suppress(Exception):  # no such table or key: moto's own error is the answer
                _reindex(*_keys_of(self, table_name, key))

    return update_item


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, a copy of the item or None) for every item a transaction names."""
    touched = []
    for part in transact_items:
        _, operation = next(iter(part.items()))
        table_name = operation.get("TableName")
        if not table_name or table_name not in backend.tables:
            continue
        table = backend.tables[table_name]
        key = operation.get("Key")
        if key is None:
            attributes = operation.get("Item", {})
            key = {name: attributes[name] for name in (table.hash_key_attr, table.range_key_attr) if name in attributes}
        try:
            _, hash_key, range_key = _keys_of(backend, table_name, key)
        except Exception:  # noqa: BLE001, S112 - a malformed key: moto's own validation answers it
            continue
        touched.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return touched


def _restore(touched: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, saved in reversed(touched):
        if saved is None:
            if hash_key in table.items:
                table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = saved
        _reindex(table, hash_key, range_key)


def _patched_transact(original: Callable[..., Any]) -> Callable[..., Any]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        global _transaction_depth  # noqa: PLW0603 - requests are serialised; a counter, not shared state
        touched = _touched(self, transact_items)
        _transaction_depth += 1
        try:
            original(self, transact_items)
        except BaseException:
            _restore(touched)
            raise
        finally:
            _transaction_depth -= 1

    return transact_write_items


def _patched_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    if _transaction_depth:
        return table  # the transaction's own copies of what it touches replace moto's whole-table copy
    copied = copy.copy(table)
    memo[id(table)] = copied
    for name, value in table.__dict__.items():
        if name != _INDEX_ATTRIBUTE:
            setattr(copied, name, copy.deepcopy(value, memo))
    return copied


# Answers that are items and counts, already in DynamoDB's wire format once moto made them plain dicts: moto's
# generic, shape-driven serializer spent ~4 ms per returned item on them (most of a 500-item Scan page's 2 s).
_ITEM_ANSWERS: Final = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def _patched_result(original: Callable[..., Any]) -> Callable[..., Any]:
    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in _ITEM_ANSWERS or not isinstance(self.result, dict):
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result)

    return execute_result


def install() -> None:
    """Patches moto's DynamoDB models in this process; idempotent. Only the moto server's process calls it."""
    global _installed  # noqa: PLW0603 - once per process
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    table: Any = Table
    backend: Any = DynamoDBBackend
    table.query = _patched_query(Table.query)
    table.scan = _patched_scan(Table.scan)
    table.put_item = _patched_put(Table.put_item)
    table.delete_item = _patched_delete(Table.delete_item)
    table.__deepcopy__ = _patched_deepcopy
    backend.update_item = _patched_update(DynamoDBBackend.update_item)
    backend.transact_write_items = _patched_transact(DynamoDBBackend.transact_write_items)
    result: Any = DynamoResult
    result.execute_result = _patched_result(DynamoResult.execute_result)
    _installed = True
