"""The store's attribute-value conversion gives what boto3's TypeSerializer / TypeDeserializer give (it replaces
them so that the functions never import boto3), for every value an item of ours can hold and for the refusals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import Binary
from boto3.dynamodb.types import TypeDeserializer as Boto3Deserializer
from boto3.dynamodb.types import TypeSerializer as Boto3Serializer
from hypothesis import given
from hypothesis import strategies as st

from clerk_sync.store.attributes import TypeDeserializer, TypeSerializer, deserialize_value, serialize_value

numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
    st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**20), max_value=10**20),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=20), st.binary(max_size=8))
sets = st.one_of(
    st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4),
    st.frozensets(st.text(max_size=5), min_size=1, max_size=4),
    st.frozensets(st.binary(min_size=1, max_size=4), min_size=1, max_size=4),
)
values = st.recursive(
    st.one_of(scalars, sets),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)


def _plain(value: Any) -> Any:
    """boto3's deserialized value with its Binary wrappers unwrapped (ours gives bytes)."""
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, dict):
        return {key: _plain(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_plain(member) for member in value]
    if isinstance(value, set):
        return {_plain(member) for member in value}
    return value


def _sorted_sets(attribute: Any) -> Any:
    """Set members in a fixed order: a set's iteration order is not part of what DynamoDB stores."""
    if isinstance(attribute, dict):
        return {
            kind: sorted(member) if kind in ("SS", "NS", "BS") else _sorted_sets(member)
            for kind, member in attribute.items()
        }
    if isinstance(attribute, list):
        return [_sorted_sets(member) for member in attribute]
    return attribute


@given(values)
def test_serialize_equals_boto3(value: Any) -> None:
    assert _sorted_sets(serialize_value(value)) == _sorted_sets(Boto3Serializer().serialize(value))


@given(values)
def test_deserialize_equals_boto3_and_round_trips(value: Any) -> None:
    attribute = Boto3Serializer().serialize(value)
    ours = deserialize_value(attribute)
    assert ours == _plain(Boto3Deserializer().deserialize(attribute))
    assert _sorted_sets(serialize_value(ours)) == _sorted_sets(attribute)


@pytest.mark.parametrize(
    "value",
    [
        1.5,  # floats: Decimal only
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("1" * 39),  # more than 38 significant digits
        Decimal("1E+200"),  # out of the context's range
        object(),
        {1, "mixed"},
    ],
    ids=["float", "nan", "infinity", "39-digits", "out-of-range", "object", "mixed-set"],
)
def test_refuses_what_boto3_refuses_with_the_same_error(value: Any) -> None:
    with pytest.raises(Exception) as boto3_error:  # noqa: PT011 - the class is what is compared
        Boto3Serializer().serialize(value)
    with pytest.raises(boto3_error.type):
        serialize_value(value)


def test_deserialize_refuses_empty_and_unknown_types_as_boto3() -> None:
    for attribute in ({}, {"X": "1"}):
        with pytest.raises(TypeError):
            Boto3Deserializer().deserialize(attribute)
        with pytest.raises(TypeError):
            deserialize_value(attribute)


def test_classes_keep_boto3s_interface() -> None:
    assert TypeSerializer().serialize({"a": [1, "b"]}) == {"M": {"a": {"L": [{"N": "1"}, {"S": "b"}]}}}
    assert TypeDeserializer().deserialize({"N": "2"}) == Decimal(2)
