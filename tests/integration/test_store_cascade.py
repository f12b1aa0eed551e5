"""The user cascade's second pass (docs/decisions/0004): what GSI1 did not list at the first pass is removed later.

GSI1 lag is simulated by writing a live membership item directly after the user's tombstone, as if the
index had not shown it to the first pass yet.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from clerk_sync import items
from clerk_sync.aws import RequestMeter
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.models import Membership
from clerk_sync.store import ParentCascade
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import membership_data

CTX = WriteContext(SyncSource.WEBHOOK, now_ms=1_000, event_id="msg_1")
USER = "user_gone"


def _membership(org_id: str, user_id: str = USER) -> Membership:
    return Membership.model_validate(membership_data(org_id, user_id, membership_id=f"orgmem_{org_id}", updated_at=5))


def _plant_live_membership(aws: Any, org_id: str, user_id: str = USER) -> None:
    """A membership that reached the table unseen by the first cascade pass (GSI1 lag)."""
    item = items.membership_item(_membership(org_id, user_id), CTX, ItemPolicy())
    serializer = TypeSerializer()
    raw = {name: serializer.serialize(value) for name, value in item.items()}
    aws.dynamodb.put_item(TableName=aws.resources.table_name, Item=raw)


def test_store_cascade_user_removes_membership_left_under_tombstone(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership("org_a"), CTX)
    assert store.delete_user(USER, CTX).cascaded == 1
    _plant_live_membership(aws, "org_late")
    assert store.cascade_user(USER) == ["org_late"]
    assert store.get_membership("org_late", USER) is None
    assert store.user_memberships(USER) == []


def test_store_cascade_user_for_live_user_removes_nothing(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership("org_a", "user_live"), CTX)
    assert store.cascade_user("user_live") == []
    assert [m["org_id"] for m in store.user_memberships("user_live")] == ["org_a"]


def test_store_cascade_user_with_nothing_left_costs_one_query(aws: Any) -> None:
    store = aws.store()
    store.delete_user(USER, CTX)
    meter = RequestMeter()
    meter.attach(aws.dynamodb, "dynamodb")
    assert store.cascade_user(USER) == []
    assert dict(meter.calls) == {"Query": 1}


def test_store_cascade_deleted_parents_names_deleted_users_and_removes_their_memberships(aws: Any) -> None:
    store = aws.store()
    store.delete_user(USER, CTX)
    store.put_membership(_membership("org_a", "user_live"), CTX)
    _plant_live_membership(aws, "org_a")  # as a fetched write (no parents' transaction) would leave it
    result = store.cascade_deleted_parents([USER, "user_live"], ["org_a"])
    assert result == ParentCascade(removed=1, deleted_users=(USER,))
    assert store.get_membership("org_a", USER) is None
    assert store.get_membership("org_a", "user_live") is not None
