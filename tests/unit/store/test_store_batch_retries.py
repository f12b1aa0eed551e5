"""Batch retry paths moto never takes: BatchWriteItem `UnprocessedItems` and BatchGetItem `UnprocessedKeys`.

botocore's Stubber plays DynamoDB: each test queues the exact responses and, where it matters, the exact
request it expects, so a resend of the wrong items fails. Sleeps are recorded, never taken.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import ANY, Stubber

from clerk_sync import keys
from clerk_sync.store import StoreError, SyncStore, Table
from clerk_sync.store.table import UNPROCESSED_ATTEMPTS, unprocessed_backoff

TABLE = "clerk-sync-unit"
USER = "user_gone"
_serializer = TypeSerializer()
# 50 ms doubling, capped at 2 s, between the 8 attempts: 7 waits.
ALL_WAITS = [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


def _raw(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def stubbed() -> Iterator[tuple[SyncStore, Stubber, Recorder]]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    sleep = Recorder()
    with Stubber(client) as stubber:
        yield SyncStore(Table(client, TABLE, sleep=sleep)), stubber, sleep
        stubber.assert_no_pending_responses()


def _membership_key(number: int) -> dict[str, str]:
    return keys.membership_key(f"org_{number:02d}", USER)


def _deletes(item_keys: list[dict[str, str]]) -> dict[str, Any]:
    return {TABLE: [{"DeleteRequest": {"Key": _raw(key)}} for key in item_keys]}


def _queue_user_cascade_reads(stubber: Stubber, memberships: int) -> list[dict[str, str]]:
    """The GSI1 query listing the user's memberships, then the read that finds the user's tombstone."""
    found = [_membership_key(n) for n in range(memberships)]
    listed = [_raw({**key, "org_id": key[keys.PK][len(keys.ORG_PREFIX) :], "user_id": USER}) for key in found]
    stubber.add_response("query", {"Items": listed}, {"TableName": TABLE, "IndexName": keys.GSI1_NAME, **_any_query()})
    tombstone = _raw({**keys.user_key(USER), "deleted": True, "user_id": USER})
    stubber.add_response("get_item", {"Item": tombstone}, {"TableName": TABLE, "Key": ANY, "ConsistentRead": True})
    return found


def _any_query() -> dict[str, Any]:
    return {"KeyConditionExpression": ANY, "ExpressionAttributeValues": ANY}


def test_unprocessed_backoff_doubles_from_50ms_to_a_2s_cap() -> None:
    assert [unprocessed_backoff(retry) for retry in range(UNPROCESSED_ATTEMPTS - 1)] == ALL_WAITS


def test_delete_keys_partial_unprocessed_then_success_resends_only_the_rest(
    stubbed: tuple[SyncStore, Stubber, Recorder],
) -> None:
    store, stubber, sleep = stubbed
    found = _queue_user_cascade_reads(stubber, 30)
    first, second = found[:25], found[25:]
    left = first[-3:]
    stubber.add_response("batch_write_item", {"UnprocessedItems": _deletes(left)}, {"RequestItems": _deletes(first)})
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": _deletes(left)})
    stubber.add_response("batch_write_item", {}, {"RequestItems": _deletes(second)})
    removed = store.cascade_user(USER)
    assert removed == [f"org_{n:02d}" for n in range(30)]
    assert sleep.sleeps == [0.05]


def test_delete_keys_always_unprocessed_raises_store_error_after_all_attempts(
    stubbed: tuple[SyncStore, Stubber, Recorder],
) -> None:
    store, stubber, sleep = stubbed
    found = _queue_user_cascade_reads(stubber, 2)
    for _ in range(UNPROCESSED_ATTEMPTS):
        stubber.add_response(
            "batch_write_item", {"UnprocessedItems": _deletes(found)}, {"RequestItems": _deletes(found)}
        )
    with pytest.raises(StoreError, match="unprocessed items after 8 attempts"):
        store.cascade_user(USER)
    assert sleep.sleeps == ALL_WAITS


def test_delete_keys_throttled_request_raises_store_error(stubbed: tuple[SyncStore, Stubber, Recorder]) -> None:
    store, stubber, sleep = stubbed
    _queue_user_cascade_reads(stubber, 1)
    stubber.add_client_error("batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400)
    with pytest.raises(StoreError, match="cascade delete failed"):
        store.cascade_user(USER)
    assert sleep.sleeps == []


def _gets(item_keys: list[dict[str, str]]) -> dict[str, Any]:
    return {TABLE: {"Keys": [_raw(key) for key in item_keys], "ConsistentRead": True}}


def _profile(key: dict[str, str]) -> dict[str, Any]:
    return _raw({**key, "deleted": False})


def test_get_many_partial_unprocessed_then_success_returns_every_item(
    stubbed: tuple[SyncStore, Stubber, Recorder],
) -> None:
    store, stubber, sleep = stubbed
    wanted = [keys.user_key(f"user_{n}") for n in range(3)]
    stubber.add_response(
        "batch_get_item",
        {"Responses": {TABLE: [_profile(wanted[0])]}, "UnprocessedKeys": _gets(wanted[1:])},
        {"RequestItems": _gets(wanted)},
    )
    stubber.add_response(
        "batch_get_item",
        {"Responses": {TABLE: [_profile(key) for key in wanted[1:]]}, "UnprocessedKeys": {}},
        {"RequestItems": _gets(wanted[1:])},
    )
    found = store.get_many(wanted)
    assert sorted(item[keys.PK] for item in found) == [key[keys.PK] for key in wanted]
    assert sleep.sleeps == [0.05]


def test_get_many_always_unprocessed_raises_store_error_after_all_attempts(
    stubbed: tuple[SyncStore, Stubber, Recorder],
) -> None:
    store, stubber, sleep = stubbed
    wanted = [keys.user_key("user_a"), keys.org_key("org_a")]
    for _ in range(UNPROCESSED_ATTEMPTS):
        stubber.add_response(
            "batch_get_item",
            {"Responses": {TABLE: []}, "UnprocessedKeys": _gets(wanted)},
            {"RequestItems": _gets(wanted)},
        )
    with pytest.raises(StoreError, match="batch read left unprocessed items after 8 attempts"):
        store.get_many(wanted)
    assert sleep.sleeps == ALL_WAITS
