"""Any JSON a Clerk record's metadata can hold is stored and read back, through the store on moto.

Metadata is free-form and partly written from the browser (a user's unsafe_metadata): numbers DynamoDB cannot
hold (1e200, 5e-324, more than 38 digits), maps nested past its 32 levels, empty keys, anything. Every user,
organization and membership write must be applied (never an error), read back as the same JSON (numbers compared
by value), and compare equal to Clerk's fields; metadata nested deeper than MAX_JSON_DEPTH is the one thing
not kept, and then the item says so (docs/decisions/0015).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from clerk_sync import items, resources
from clerk_sync.items import METADATA_TRUNCATED, ItemPolicy, WriteContext
from clerk_sync.jsondata import MAX_JSON_DEPTH, nesting_depth
from clerk_sync.models import Membership, Organization, User
from clerk_sync.outcomes import Outcome
from clerk_sync.store import SyncStore, Table
from clerk_sync.vocabulary import SyncSource

POLICY = ItemPolicy(store_private_metadata=True)
EDGE_NUMBERS = [
    1e200,
    -1e200,
    1.7976931348623157e308,
    5e-324,
    1e-130,
    9e-131,
    1e126,
    9.999e125,
    10**38 - 1,
    10**38,
    -(10**40),
    123456789012345678901234567890123456789,
    0.1,
    -0.0,
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(EDGE_NUMBERS),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=16,
)
# Levels of nesting around a value: none, within DynamoDB's 32, past them, and around MAX_JSON_DEPTH.
depths = st.one_of(st.just(0), st.integers(1, 40), st.integers(MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH + 3))


def _nest(value: Any, depth: int, kinds: list[bool]) -> Any:
    for as_list in itertools.islice(itertools.cycle(kinds or [False]), depth):
        value = [value] if as_list else {"k": value}
    return value


@st.composite
def metadata(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
    depth = draw(depths)
    if depth:
        body["deep"] = _nest(draw(json_values), depth, draw(st.lists(st.booleans(), max_size=3)))
    return body


@pytest.fixture(scope="module")
def store() -> Iterator[SyncStore]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        name = f"meta-{uuid.uuid4().hex[:12]}"
        dynamodb.create_table(**resources.table_create_kwargs(name))
        yield SyncStore(Table(dynamodb, name), POLICY)


def _same_json(left: Any, right: Any) -> bool:
    """Equal as JSON: numbers by decimal value (the table gives 1e23 back as the integer 10**23)."""
    return bool(items.to_dynamo_value(left) == items.to_dynamo_value(right))


def _assert_kept(item: dict[str, Any], sent: dict[str, dict[str, Any]], fields: dict[str, Any]) -> None:
    view = items.readable(item)
    too_deep = [name for name, value in sent.items() if nesting_depth(value) > MAX_JSON_DEPTH]
    for name, value in sent.items():
        if name in too_deep:
            assert view[name] == {}, name
        else:
            assert _same_json(view[name], value), name
    assert item.get(METADATA_TRUNCATED, False) is bool(too_deep)
    if not too_deep:
        assert items.clerk_fields(item) == items.to_dynamo_value(fields)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.fixed_dictionaries({name: metadata() for name in ("public", "unsafe", "private", "org", "member")}))
def test_any_metadata_is_written_and_read_back(store: SyncStore, drawn: dict[str, dict[str, Any]]) -> None:
    """Fails before the fix: boto3's serializer raised decimal.Overflow/Inexact/Rounded for such numbers, so
    the write, and with it the webhook or login, failed."""
    public, unsafe, private = drawn["public"], drawn["unsafe"], drawn["private"]
    org_public, member_public = drawn["org"], drawn["member"]
    suffix = uuid.uuid4().hex[:10]
    user_id, org_id = f"user_{suffix}", f"org_{suffix}"
    ctx = WriteContext(SyncSource.WEBHOOK, 1_700_000_000_000)
    user = User.model_validate(
        {
            "id": user_id,
            "created_at": 1,
            "updated_at": 2,
            "public_metadata": public,
            "unsafe_metadata": unsafe,
            "private_metadata": private,
        }
    )
    org = Organization.model_validate(
        {"id": org_id, "name": "Acme", "created_at": 1, "updated_at": 2, "public_metadata": org_public}
    )
    membership = Membership.model_validate(
        {
            "id": f"orgmem_{suffix}",
            "role": "org:member",
            "organization": org.model_dump(),
            "public_user_data": {"user_id": user_id},
            "public_metadata": member_public,
            "private_metadata": private,
            "created_at": 1,
            "updated_at": 2,
        }
    )

    assert store.put_user(user, ctx).outcome is Outcome.APPLIED
    assert store.put_organization(org, ctx).outcome is Outcome.APPLIED
    assert store.put_membership(membership, ctx).outcome is Outcome.APPLIED

    stored_user = store.get_user(user_id)
    stored_org = store.get_organization(org_id)
    stored_membership = store.get_membership(org_id, user_id)
    assert stored_user is not None
    assert stored_org is not None
    assert stored_membership is not None
    _assert_kept(
        stored_user,
        {"public_metadata": public, "unsafe_metadata": unsafe, "private_metadata": private},
        items.user_fields(user, POLICY),
    )
    _assert_kept(stored_org, {"public_metadata": org_public}, items.organization_fields(org, POLICY))
    _assert_kept(
        stored_membership,
        {"public_metadata": member_public, "private_metadata": private},
        items.membership_fields(membership, POLICY),
    )
    # Idempotence holds for such records too: the same write again is a duplicate, not a conflict.
    assert store.put_user(user, ctx).outcome is Outcome.DUPLICATE
