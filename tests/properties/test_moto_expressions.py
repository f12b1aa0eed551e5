"""The local stack's moto answers update expressions exactly as moto's own code does, valid or not.

`moto_expressions` keeps parsed expressions, remembers subtree searches while two validators walk the tree and
keeps each traverser's answers about node classes. Random UpdateItems (SET with plain values, `if_not_exists`,
arithmetic and nested paths, REMOVE, ADD, DELETE, repeated clause keywords, the same attribute twice, key
attributes, missing placeholders) go to the local stack's moto and to a plain one; each must answer the same (the
old and new item, or the same error code and message) and leave the same items. The product's own shape, a user
profile's ~30 SETs with `if_not_exists` and a REMOVE list, is among them.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_sync import keys
from clerk_sync.items import WriteContext
from clerk_sync.models import User
from clerk_sync.store.records import SyncStore
from clerk_sync.store.table import Table
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import user_data

NAMES = ["a", "b", "c", keys.PK, keys.SK, keys.GSI1_PK]  # the key attributes may not be updated
PARTITIONS = ["USER#u1", "USER#u2"]

name = st.sampled_from(NAMES)
value_name = st.sampled_from([":n", ":s", ":e", ":l", ":missing"])
set_action = st.one_of(
    st.builds(lambda n, v: f"#{n} = {v}", name, value_name),
    st.builds(lambda n, v: f"#{n} = if_not_exists(#{n}, {v})", name, value_name),
    st.builds(lambda n, m: f"#{n} = #{m} + :n", name, name),
    st.builds(lambda n: f"#{n} = list_append(#{n}, :l)", name),
    st.builds(lambda n, v: f"#{n}.inner = {v}", name, value_name),
)
clause = st.one_of(
    st.builds(lambda actions: "SET " + ", ".join(actions), st.lists(set_action, min_size=1, max_size=6)),
    st.builds(lambda names: "REMOVE " + ", ".join(f"#{n}" for n in names), st.lists(name, min_size=1, max_size=3)),
    st.builds(lambda n: f"ADD #{n} :n", name),
    st.builds(lambda n: f"DELETE #{n} :ss", name),
)
expression = st.builds(" ".join, st.lists(clause, min_size=1, max_size=3))
update = st.tuples(st.sampled_from(PARTITIONS), expression, st.booleans())
VALUES = {
    ":n": {"N": "2"},
    ":s": {"S": "x"},
    ":e": {"S": ""},
    ":l": {"L": [{"S": "y"}]},
    ":ss": {"SS": ["x"]},
}


def _key(partition: str) -> dict[str, Any]:
    return {keys.PK: {"S": partition}, keys.SK: {"S": keys.PROFILE_SK}}


def _update(client: Any, table: str, partition: str, text: str, conditional: bool) -> Any:
    used = {f"#{n}": n for n in NAMES if f"#{n}" in text}
    values = {k: v for k, v in VALUES.items() if k in text}
    request: dict[str, Any] = {
        "TableName": table,
        "Key": _key(partition),
        "UpdateExpression": text,
        "ReturnValues": "ALL_NEW",
        **({"ExpressionAttributeNames": used} if used else {}),
        **({"ExpressionAttributeValues": values} if values else {}),
    }
    if conditional:
        request["ConditionExpression"] = f"attribute_not_exists({keys.PK}) OR attribute_exists({keys.PK})"
    try:
        return client.update_item(**request).get("Attributes")
    except client.exceptions.ClientError as error:
        return (error.response["Error"]["Code"], error.response["Error"]["Message"])


def _items(client: Any, table: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=table)["Items"], key=lambda item: item[keys.PK]["S"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(updates=st.lists(update, min_size=1, max_size=6))
def test_update_expressions_answer_as_moto_does(motos: list[tuple[Any, str]], updates: list[Any]) -> None:
    for client, table in motos:
        for partition in PARTITIONS:
            client.delete_item(TableName=table, Key=_key(partition))
    answers = [[_update(client, table, *one) for one in updates] for client, table in motos]
    assert answers[0] == answers[1]
    assert _items(*motos[0]) == _items(*motos[1])


def test_a_user_profile_write_answers_as_moto_does(motos: list[tuple[Any, str]]) -> None:
    """The product's own UpdateItem (a user's ~30 SETs, `if_not_exists` and a REMOVE list), new and then over the
    item it made, through the store on both servers."""
    ctx = WriteContext(SyncSource.WEBHOOK, 1_000)
    first = User.model_validate(user_data("user_shape", updated_at=5, username="first"))
    second = User.model_validate(user_data("user_shape", updated_at=6, username=None))
    results, stored = [], []
    for client, table in motos:
        store = SyncStore(Table(client, table))
        client.delete_item(TableName=table, Key=_key("USER#user_shape"))
        results.append(
            [
                store.put_user(first, ctx, memberships_known_at=900),
                store.put_user(second, ctx, fetched=True),
                store.put_user(first, ctx),
            ]
        )
        stored.append(store.get_user("user_shape"))
    assert results[0] == results[1]
    assert stored[0] == stored[1]
    assert stored[0] is not None
    assert stored[0]["version"] == 6
    assert stored[0]["memberships_synced_at"] == 900
