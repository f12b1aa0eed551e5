"""Python values to DynamoDB's attribute values and back, as boto3's TypeSerializer / TypeDeserializer do.

The same rules as `boto3.dynamodb.types`, restated here because importing that module imports all of boto3 (and
s3transfer), the larger half of a cold start's SDK import; the store otherwise needs botocore alone
(docs/decisions/0025). None, bool, int/Decimal (within DynamoDB's 38-digit context; floats refused), str,
bytes, sets of numbers / strings / bytes, mappings and lists or tuples; anything else is a TypeError. Numbers
come back as Decimal; binary comes back as bytes (boto3 wraps it in its `Binary`; no item of ours holds any).
tests/unit/store/test_store_attributes.py checks both directions against boto3's own.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping, Set
from decimal import Decimal
from typing import Any, Final

# boto3's DYNAMODB_CONTEXT: a number it cannot hold exactly raises instead of being rounded.
DYNAMODB_CONTEXT: Final = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
_BINARY: Final = (bytes, bytearray)


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _all(values: Set[Any], test: Callable[[Any], bool]) -> bool:
    return all(test(value) for value in values)


def serialize_value(value: Any) -> dict[str, Any]:
    """`{"S": "x"}`, `{"N": "1"}`, `{"M": {...}}`, ... for one Python value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, _BINARY):
        return {"B": value}
    if isinstance(value, Set):
        if _all(value, _is_number):
            return {"NS": [_number(number) for number in value]}
        if _all(value, lambda member: isinstance(member, str)):
            return {"SS": list(value)}
        if _all(value, lambda member: isinstance(member, _BINARY)):
            return {"BS": list(value)}
    if isinstance(value, Mapping):
        return {"M": {key: serialize_value(member) for key, member in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize_value(member) for member in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def deserialize_value(value: Mapping[str, Any]) -> Any:
    """The Python value of one attribute value: Decimal for numbers, sets for sets, bytes for binary."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, data = next(iter(value.items()))
    if kind == "S":
        return data
    if kind == "N":
        return DYNAMODB_CONTEXT.create_decimal(data)
    if kind == "M":
        return {key: deserialize_value(member) for key, member in data.items()}
    if kind == "L":
        return [deserialize_value(member) for member in data]
    if kind == "BOOL":
        return data
    if kind == "NULL":
        return None
    if kind == "B":
        return bytes(data)
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {DYNAMODB_CONTEXT.create_decimal(number) for number in data}
    if kind == "BS":
        return {bytes(member) for member in data}
    raise TypeError(f"Dynamodb type {kind} is not supported")


class TypeSerializer:
    """boto3's `TypeSerializer` interface over `serialize_value`."""

    def serialize(self, value: Any) -> dict[str, Any]:
        return serialize_value(value)


class TypeDeserializer:
    """boto3's `TypeDeserializer` interface over `deserialize_value`."""

    def deserialize(self, value: Mapping[str, Any]) -> Any:
        return deserialize_value(value)
