"""The table matches the local stack's definition and is protected as its stage asks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clerk_sync import keys, resources

if TYPE_CHECKING:
    from conftest import Synth


def _table(synth: Synth, stage: str) -> dict[str, Any]:
    (table,) = synth.resources(stage, "AWS::DynamoDB::GlobalTable").values()
    return table


def _sorted(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: item[key])


def test_table_matches_local_table_create_kwargs(synth: Synth, stage: str) -> None:
    expected = resources.table_create_kwargs("ignored")
    props = _table(synth, stage)["Properties"]
    assert props["BillingMode"] == expected["BillingMode"] == "PAY_PER_REQUEST"
    assert _sorted(props["AttributeDefinitions"], "AttributeName") == _sorted(
        expected["AttributeDefinitions"], "AttributeName"
    )
    assert props["KeySchema"] == expected["KeySchema"]
    assert props["GlobalSecondaryIndexes"] == expected["GlobalSecondaryIndexes"]
    assert props["GlobalSecondaryIndexes"][0]["IndexName"] == keys.GSI1_NAME


def test_table_has_ttl_pitr_and_kms_encryption(synth: Synth, stage: str) -> None:
    props = _table(synth, stage)["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": keys.TTL_ATTRIBUTE, "Enabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_prod_table_is_retained_and_deletion_protected(synth: Synth) -> None:
    table = _table(synth, "prod")
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    assert table["Properties"]["Replicas"][0]["DeletionProtectionEnabled"] is True


def test_dev_table_is_deletable(synth: Synth) -> None:
    table = _table(synth, "dev")
    assert table["DeletionPolicy"] == "Delete"
    assert table["Properties"]["Replicas"][0].get("DeletionProtectionEnabled", False) is False
