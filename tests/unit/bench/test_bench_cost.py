"""The cost model's arithmetic: item sizes, request units, SQS chunks and the per-million prices."""

from __future__ import annotations

import math

import pytest

from clerk_sync_local.bench import prices
from clerk_sync_local.bench.cost import (
    Capacity,
    CostInputs,
    FunctionUse,
    cost_per_million,
    dynamodb_capacity,
    item_size,
    sqs_sends,
    value_size,
)
from clerk_sync_local.bench.meter import AwsRequest, belongs_to


def _dynamodb(operation: str, request: dict, answer: dict | None = None, *, ok: bool = True) -> AwsRequest:
    return AwsRequest("dynamodb", operation, request, answer or {}, ok)


def _item(pk: str, sk: str, padding: int, *, indexed: bool = False) -> dict:
    item = {"PK": {"S": pk}, "SK": {"S": sk}, "pad": {"S": "x" * padding}}
    if indexed:
        item["GSI1PK"] = {"S": "USER#u"}
    return item


def test_value_size_counts_names_strings_numbers_and_nesting() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 1 + 3  # one byte per two digits, plus one
    assert value_size({"BOOL": True}) == 1
    assert value_size({"M": {"ab": {"S": "cd"}}}) == 3 + 2 + 2
    assert value_size({"L": [{"S": "a"}, {"NULL": True}]}) == 3 + (1 + 1) + (1 + 1)
    assert item_size({"PK": {"S": "USER#1"}, "n": {"N": "7"}}) == (2 + 6) + (1 + 2)


def test_put_of_a_two_kb_item_with_index_keys_costs_two_wru_and_two_index_wru() -> None:
    put = _dynamodb("PutItem", {"TableName": "t", "Item": _item("ORG#o", "MEMBER#u", 1500, indexed=True)})
    used = dynamodb_capacity([put], {})
    assert (used.write_units, used.index_write_units, used.read_units, used.requests) == (2.0, 2.0, 0.0, 1)


def test_failed_condition_still_costs_the_write_but_writes_no_index() -> None:
    put = _dynamodb("PutItem", {"TableName": "t", "Item": _item("ORG#o", "MEMBER#u", 10, indexed=True)}, ok=False)
    used = dynamodb_capacity([put], {})
    assert (used.write_units, used.index_write_units) == (1.0, 0.0)


def test_transaction_doubles_every_part_and_sizes_named_items_from_the_table() -> None:
    membership = _item("ORG#o", "MEMBER#u", 100, indexed=True)
    transaction = _dynamodb(
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": membership}},
                {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "USER#u"}, "SK": {"S": "PROFILE"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "ORG#o"}, "SK": {"S": "PROFILE"}}}},
            ]
        },
    )
    stored = {("USER#u", "PROFILE"): 3000, ("ORG#o", "PROFILE"): 500}
    used = dynamodb_capacity([transaction], stored)
    # put 2 x 1 KB, user check 2 x 3 KB, org check 2 x 1 KB; the index once for the membership
    assert used.write_units == 2 + 6 + 2
    assert used.index_write_units == 1


def test_reads_cost_per_four_kb_half_when_eventually_consistent() -> None:
    big = _item("USER#u", "PROFILE", 5000)
    strong = _dynamodb("GetItem", {"TableName": "t", "Key": {}, "ConsistentRead": True}, {"Item": big})
    eventual = _dynamodb("GetItem", {"TableName": "t", "Key": {}}, {"Item": big})
    missing = _dynamodb("GetItem", {"TableName": "t", "Key": {}}, {})
    query = _dynamodb("Query", {"TableName": "t"}, {"Items": [big, big]})
    assert dynamodb_capacity([strong], {}).read_units == 2.0
    assert dynamodb_capacity([eventual], {}).read_units == 1.0
    assert dynamodb_capacity([missing], {}).read_units == 0.5
    assert dynamodb_capacity([query], {}).read_units == math.ceil(2 * item_size(big) / 4096) / 2


def test_sqs_sends_are_billed_per_64_kb_chunk() -> None:
    small = AwsRequest("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": "x" * 1000}, {}, True)
    large = AwsRequest("sqs", "SendMessage", {"QueueUrl": "q", "MessageBody": "x" * (65 * 1024)}, {}, True)
    receive = AwsRequest("sqs", "ReceiveMessage", {"QueueUrl": "q"}, {}, True)
    assert sqs_sends([small, large, receive]) == (1 + 2, 2, 1000 + 65 * 1024)


def test_cost_per_million_prices_each_line() -> None:
    inputs = CostInputs(
        events=1000,
        api_requests=1000,
        api_bytes=1000 * 3000,
        functions=(
            FunctionUse("webhook", 512, [10.2] * 1000, init_ms=800, cold_share=0.01),  # billed 11 ms each
            FunctionUse("worker", 1024, [100.0] * 100, init_ms=1000, cold_share=0.0),
        ),
        sqs_send_requests=1000,
        worker_batches=100,
        worker_batch_bytes=100 * 30_000,
        dynamodb=Capacity(write_units=2000, index_write_units=500, read_units=1000),
    )
    cost = cost_per_million(inputs)
    million = 1000  # 1,000 events scaled to a million
    assert cost.api_gateway == pytest.approx(1000 * million * prices.API_GATEWAY_HTTP_REQUEST.usd)
    assert cost.lambda_requests == pytest.approx(1100 * million * prices.LAMBDA_REQUEST.usd)
    gb_s = 0.5 * 1000 * 0.011 + 1.0 * 100 * 0.1
    assert cost.lambda_duration == pytest.approx(gb_s * million * prices.LAMBDA_ARM_GB_SECOND.usd)
    assert cost.lambda_init == pytest.approx(0.5 * 1000 * 0.01 * 0.8 * million * prices.LAMBDA_ARM_GB_SECOND.usd)
    assert cost.sqs == pytest.approx((1000 + 100 * 2) * million * prices.SQS_REQUEST.usd)
    assert cost.dynamodb_writes == pytest.approx(2000 * million * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd)
    assert cost.dynamodb_index_writes == pytest.approx(500 * million * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd)
    assert cost.dynamodb_reads == pytest.approx(1000 * million * prices.DYNAMODB_READ_REQUEST_UNIT.usd)
    assert cost.total == pytest.approx(sum(v for k, v in cost.as_json().items() if k != "total"), abs=1e-3)


def test_cost_of_no_events_is_refused() -> None:
    with pytest.raises(ValueError, match="no events"):
        cost_per_million(CostInputs(0, 0, 0, (), 0, 0, 0))


def test_requests_are_told_apart_by_table_and_queue() -> None:
    ours = _dynamodb("PutItem", {"TableName": "ours", "Item": {}})
    theirs = _dynamodb("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": "theirs", "Item": {}}}]})
    send = AwsRequest("sqs", "SendMessage", {"QueueUrl": "http://h/123/theirs-events"}, {}, True)
    assert belongs_to(ours, "ours", "http://h/123/ours-events")
    assert not belongs_to(theirs, "ours", "http://h/123/ours-events")
    assert belongs_to(theirs, "theirs", "http://h/123/theirs-events")
    assert belongs_to(send, "theirs", "http://h/123/theirs-events")
