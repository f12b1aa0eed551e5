"""items.py: metadata is stored in a form DynamoDB holds, and read back as the client's JSON (docs/decisions/0015)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeSerializer

from clerk_sync import items, keys
from clerk_sync.items import METADATA_TRUNCATED, ItemPolicy, WriteContext
from clerk_sync.jsondata import MAX_JSON_DEPTH
from clerk_sync.models import Membership, Organization, User
from clerk_sync.vocabulary import SyncSource

CTX = WriteContext(SyncSource.WEBHOOK, 1_700_000_000_000, "msg_1")
POLICY = ItemPolicy()


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _user(**metadata: Any) -> User:
    return User.model_validate({"id": "user_1", "created_at": 1, "updated_at": 2, **metadata})


def _serializes(item: dict[str, Any]) -> bool:
    serializer = TypeSerializer()
    for value in item.values():
        serializer.serialize(value)
    return True


def test_restated_number_context_is_boto3s() -> None:
    """The domain's copy of DYNAMODB_CONTEXT must not drift from the serializer it predicts."""
    restated = items._DYNAMODB_NUMBERS
    assert (restated.Emin, restated.Emax, restated.prec) == (DYNAMODB_CONTEXT.Emin, DYNAMODB_CONTEXT.Emax, 38)
    assert {name for name, on in restated.traps.items() if on} == {
        name for name, on in DYNAMODB_CONTEXT.traps.items() if on
    }


@pytest.mark.parametrize(
    "metadata",
    [
        {"x": 1e200},
        {"x": -1.7976931348623157e308},
        {"x": 5e-324},
        {"x": 9e-131},
        {"x": 10**38},
        {"x": 123456789012345678901234567890123456789},
        {"x": [1, {"y": 10**40}]},
        _nested(40),
        {"": "an empty key"},
    ],
    ids=[
        "1e200",
        "-max-float",
        "min-subnormal",
        "below-1e-130",
        "39-digits",
        "39-digit-int",
        "nested",
        "40-deep",
        "empty-key",
    ],
)
def test_metadata_dynamodb_cannot_hold_is_stored_as_json_text(metadata: dict[str, Any]) -> None:
    """Fails before the fix: user_item kept the map, and boto3's serializer raised decimal.Overflow (or
    Inexact/Rounded/Underflow) on it: the authorizer answered 500 and every webhook of the user was poison."""
    item = items.user_item(_user(unsafe_metadata=metadata), CTX, POLICY)
    assert isinstance(item["unsafe_metadata"], str)
    assert json.loads(item["unsafe_metadata"]) == metadata
    assert _serializes(item)
    assert items.readable(item)["unsafe_metadata"] == metadata
    assert METADATA_TRUNCATED not in item


def test_metadata_dynamodb_holds_stays_a_native_map() -> None:
    metadata = {"plan": "pro", "seats": 12, "ratio": 0.25, "tags": ["a", None, True], "deep": _nested(30)}
    item = items.user_item(_user(public_metadata=metadata), CTX, POLICY)
    assert isinstance(item["public_metadata"], dict)
    assert item["public_metadata"]["ratio"] == Decimal("0.25")
    assert _serializes(item)
    assert items.readable(item)["public_metadata"] == metadata


def test_json_text_keeps_a_lone_surrogate_readable() -> None:
    item = items.user_item(_user(unsafe_metadata={"x": "\ud800"}), CTX, POLICY)
    assert isinstance(item["unsafe_metadata"], str)
    item["unsafe_metadata"].encode("utf-8")  # what DynamoDB stores must be UTF-8
    assert items.readable(item)["unsafe_metadata"] == {"x": "\ud800"}


def test_every_metadata_field_of_every_record_is_encoded() -> None:
    """Fails before the fix: organization and membership metadata went to the serializer unchecked too."""
    huge = {"n": 1e200}
    policy = ItemPolicy(store_private_metadata=True)
    user = _user(public_metadata=huge, unsafe_metadata=huge, private_metadata=huge)
    org = Organization.model_validate(
        {
            "id": "org_1",
            "name": "Acme",
            "created_at": 1,
            "updated_at": 2,
            "public_metadata": huge,
            "private_metadata": huge,
        }
    )
    membership = Membership.model_validate(
        {
            "id": "orgmem_1",
            "role": "org:member",
            "organization": org.model_dump(),
            "public_user_data": {"user_id": "user_1"},
            "public_metadata": huge,
            "private_metadata": huge,
            "created_at": 1,
            "updated_at": 2,
        }
    )
    kept = ItemPolicy(scrub_pii_on_delete=False, store_private_metadata=True)
    for item in (
        items.user_item(user, CTX, policy),
        items.organization_item(org, CTX, policy),
        items.membership_item(membership, CTX, policy),
        items.membership_tombstone_item(membership, CTX, kept),
    ):
        names = [name for name in items.METADATA_FIELDS if name in item]
        assert names, item
        assert all(isinstance(item[name], str) for name in names), item
        assert _serializes(item)


def test_over_size_item_drops_its_largest_metadata_with_a_marker_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fails before the fix: the put went to DynamoDB, which refuses items over 400 KB (every retry, then DLQ)."""
    user = _user(unsafe_metadata={"blob": "x" * 300_000}, public_metadata={"blob": "y" * 150_000, "role": "admin"})
    with caplog.at_level("WARNING", logger="clerk-sync.items"):
        item = items.user_item(user, CTX, POLICY)
    assert item["unsafe_metadata"] == {}
    assert item["public_metadata"]["role"] == "admin"  # the smaller one still fits
    assert item[METADATA_TRUNCATED] is True
    assert items.item_size(item) <= items.ITEM_SIZE_BUDGET
    [warning] = [record for record in caplog.records if record.getMessage() == "metadata not stored"]
    assert warning.levelname == "WARNING"
    assert warning.__dict__["dropped"] == {"unsafe_metadata": "item over 400 KB"}
    # The marker is bookkeeping, not a Clerk field; the content hash still covers what Clerk sent.
    assert METADATA_TRUNCATED not in items.clerk_fields(item)
    assert item["content_hash"] == items.content_hash(items.user_fields(user, POLICY))


def test_metadata_past_max_json_depth_is_dropped_not_failed() -> None:
    """Fails before the fix: pydantic's model_dump raised PydanticSerializationError past 255 levels."""
    too_deep = _nested(300)
    item = items.user_item(_user(unsafe_metadata=too_deep, public_metadata={"ok": 1}), CTX, POLICY)
    assert item["unsafe_metadata"] == {}
    assert item["public_metadata"] == {"ok": 1}
    assert item[METADATA_TRUNCATED] is True
    assert _serializes(item)
    within = items.user_item(_user(unsafe_metadata=_nested(MAX_JSON_DEPTH)), CTX, POLICY)
    assert items.readable(within)["unsafe_metadata"] == _nested(MAX_JSON_DEPTH)


def test_clerk_fields_compare_json_text_metadata_as_the_table_would_hold_it() -> None:
    user = _user(unsafe_metadata={"x": 1e200, "n": 0.1})
    item = items.user_item(user, CTX, POLICY)
    assert items.clerk_fields(item) == items.to_dynamo_value(items.user_fields(user, POLICY))


def test_stored_metadata_reads_maps_and_json_text() -> None:
    assert items.stored_metadata({"public_metadata": {"role": "admin"}}, "public_metadata") == {"role": "admin"}
    assert (
        items.stored_metadata({"public_metadata": '{"role":"admin","n":1e200}'}, "public_metadata")["role"] == "admin"
    )
    assert items.stored_metadata({"public_metadata": "not json"}, "public_metadata") == {}
    assert items.stored_metadata(None, "public_metadata") == {}


def test_user_stores_deprovisioned_banned_and_locked() -> None:
    item = items.user_item(_user(banned=True, locked=True, deprovisioned=True), CTX, POLICY)
    assert (item["banned"], item["locked"], item["deprovisioned"]) == (True, True, True)
    assert items.user_item(_user(), CTX, POLICY)["deprovisioned"] is False


def test_a_user_profile_write_names_every_attribute_any_user_item_carries() -> None:
    """A profile write removes by name what it does not set (decision 0026): an attribute missing from
    `user_attributes()` would outlive the rewrite that should drop it."""
    payload = json.loads((Path(__file__).parents[1] / "clerk" / "webhook-examples" / "user.created.json").read_text())
    user = User.model_validate(payload["data"])
    everything = ItemPolicy(store_private_metadata=True, scrub_pii_on_delete=False)
    carried = (
        set(items.user_item(user, CTX, everything))
        | set(items.user_item(user, CTX, POLICY))
        | set(items.provisional_user_item(user.id, {"email": "a@example.com", "username": "a"}, CTX))
    )
    keys_only = {keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK}
    assert carried - keys_only <= items.user_attributes()
