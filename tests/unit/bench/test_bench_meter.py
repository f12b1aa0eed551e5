"""The cost model's meter sees the functions' own requests: their clients come from botocore sessions of their own
(`clerk_sync.aws.new_session`), not from boto3's default session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from clerk_sync import aws, resources, wiring
from clerk_sync_local.bench.meter import AwsMeter


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    wiring.reset()
    with mock_aws():
        yield
    wiring.reset()


def test_the_meter_records_what_the_functions_clients_send_and_lets_go_after(aws_environment: None) -> None:
    original = aws.new_session
    with AwsMeter() as meter:
        client = wiring.dynamodb_client()
        client.create_table(**resources.table_create_kwargs("metered"))
        client.put_item(TableName="metered", Item={"PK": {"S": "USER#u"}, "SK": {"S": "PROFILE"}})
    assert [(r.service, r.operation) for r in meter.requests][-2:] == [
        ("dynamodb", "CreateTable"),
        ("dynamodb", "PutItem"),
    ]
    assert meter.requests[-1].request["Item"]["PK"] == {"S": "USER#u"}
    assert aws.new_session is original
    client.get_item(TableName="metered", Key={"PK": {"S": "USER#u"}, "SK": {"S": "PROFILE"}})
    assert [r.operation for r in meter.requests][-1] == "PutItem"  # uninstalled: nothing more recorded
