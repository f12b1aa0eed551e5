"""The local stack's indexed moto answers exactly as moto's own code does, whatever was written before.

Two moto servers, each in its own process: the local stack's (`moto_indexes` installed) and a plain one. Random
histories of the writes the product makes (conditional puts, updates that add or remove the GSI keys, deletes,
transactions that go through or are cancelled, batch writes) go to both; then every query the product makes, by
partition and by GSI1 value, and a Scan walked page by page, must answer the same items in the same order.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_sync import keys

PARTITIONS = ["USER#u1", "USER#u2", "ORG#o1", "ORG#o2"]
SORTS = ["PROFILE", "MEMBER#u1", "MEMBER#u2", "MEMBERSHIPS"]
INDEX_VALUES = ["USER#u1", "USER#u2", "USER#u3"]

keys_ = st.tuples(st.sampled_from(PARTITIONS), st.sampled_from(SORTS))
index_value = st.one_of(st.none(), st.sampled_from(INDEX_VALUES))
versions = st.integers(min_value=0, max_value=3)
operations = st.one_of(
    st.tuples(st.just("put"), keys_, index_value, versions),
    st.tuples(st.just("update"), keys_, index_value, versions),
    st.tuples(st.just("delete"), keys_, st.none(), st.none()),
    st.tuples(st.just("transact"), st.lists(keys_, min_size=1, max_size=3, unique=True), index_value, versions),
    st.tuples(st.just("batch"), st.lists(keys_, min_size=1, max_size=4, unique=True), index_value, versions),
)


def _key(pair: tuple[str, str]) -> dict[str, Any]:
    return {keys.PK: {"S": pair[0]}, keys.SK: {"S": pair[1]}}


def _item(pair: tuple[str, str], gsi: str | None, version: int) -> dict[str, Any]:
    item = _key(pair) | {"version": {"N": str(version)}}
    if gsi is not None:
        item |= {keys.GSI1_PK: {"S": gsi}, keys.GSI1_SK: {"S": pair[0] + pair[1]}}
    return item


def _apply(client: Any, table: str, operation: tuple[Any, ...]) -> str:
    """Runs one operation; what it answered (an error code or "ok"), which must match between the two."""
    kind, target, gsi, version = operation
    guard = {"ConditionExpression": "attribute_not_exists(version) OR version <= :v"}
    values = {":v": {"N": str(version)}} if version is not None else {}
    try:
        if kind == "put":
            client.put_item(
                TableName=table, Item=_item(target, gsi, version), **guard, ExpressionAttributeValues=values
            )
        elif kind == "update":
            if gsi is None:
                expression = f"SET version = :v REMOVE {keys.GSI1_PK}, {keys.GSI1_SK}"
            else:
                expression = f"SET version = :v, {keys.GSI1_PK} = :g, {keys.GSI1_SK} = :s"
                values |= {":g": {"S": gsi}, ":s": {"S": "".join(target)}}
            client.update_item(
                TableName=table, Key=_key(target), UpdateExpression=expression, ExpressionAttributeValues=values
            )
        elif kind == "delete":
            client.delete_item(TableName=table, Key=_key(target))
        elif kind == "transact":
            parts = [
                {
                    "Put": {
                        "TableName": table,
                        "Item": _item(pair, gsi, version),
                        **guard,
                        "ExpressionAttributeValues": values,
                    }
                }
                for pair in target
            ]
            client.transact_write_items(TransactItems=parts)
        else:
            requests = [{"PutRequest": {"Item": _item(pair, gsi, version)}} for pair in target]
            client.batch_write_item(RequestItems={table: requests})
    except client.exceptions.ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def _empty(client: Any, table: str) -> None:
    for pair in [(partition, sort) for partition in PARTITIONS for sort in SORTS]:
        client.delete_item(TableName=table, Key=_key(pair))


def _everything(client: Any, table: str) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for partition in PARTITIONS:
        answers[f"query {partition}"] = client.query(
            TableName=table,
            KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :m)",
            ExpressionAttributeValues={":pk": {"S": partition}, ":m": {"S": "M"}},
            ConsistentRead=True,
        )["Items"]
    for value in INDEX_VALUES:
        answers[f"gsi {value}"] = client.query(
            TableName=table,
            IndexName=keys.GSI1_NAME,
            KeyConditionExpression=f"{keys.GSI1_PK} = :pk",
            ExpressionAttributeValues={":pk": {"S": value}},
        )["Items"]
    pages, start = [], None
    while True:
        page = client.scan(TableName=table, Limit=3, **({"ExclusiveStartKey": start} if start else {}))
        pages.append(page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    answers["scan"] = pages
    return answers


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.lists(operations, max_size=14))
def test_indexed_moto_answers_as_moto_does(motos: list[tuple[Any, str]], history: list[tuple[Any, ...]]) -> None:
    for client, table in motos:
        _empty(client, table)
    outcomes = [[_apply(client, table, operation) for operation in history] for client, table in motos]
    assert outcomes[0] == outcomes[1]
    indexed, plain = (_everything(client, table) for client, table in motos)
    assert indexed == plain


def test_a_cancelled_transaction_keeps_what_others_wrote(motos: list[tuple[Any, str]]) -> None:
    """moto's own rollback put back a copy of the whole table; the indexed one puts back only what it touched."""
    client, table = motos[0]
    _empty(client, table)
    client.put_item(TableName=table, Item=_item(("ORG#o1", "PROFILE"), None, 5))
    client.put_item(TableName=table, Item=_item(("USER#u1", "PROFILE"), "USER#u1", 1))
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": _item(("ORG#o1", "MEMBER#u1"), "USER#u1", 1)}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": _item(("ORG#o1", "PROFILE"), None, 1),
                        "ConditionExpression": "version <= :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}},
                    }
                },
            ]
        )
    assert "Item" not in client.get_item(TableName=table, Key=_key(("ORG#o1", "MEMBER#u1")))
    assert client.get_item(TableName=table, Key=_key(("ORG#o1", "PROFILE")))["Item"]["version"] == {"N": "5"}
    found = client.query(
        TableName=table,
        IndexName=keys.GSI1_NAME,
        KeyConditionExpression=f"{keys.GSI1_PK} = :pk",
        ExpressionAttributeValues={":pk": {"S": "USER#u1"}},
    )["Items"]
    assert [item[keys.SK]["S"] for item in found] == ["PROFILE"]
