"""The single DynamoDB table, built from the same definition the local stack creates."""

from __future__ import annotations

from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from clerk_sync import keys, resources

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _key_attributes(
    key_schema: list[dict[str, str]], types: dict[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    by_role = {part["KeyType"]: part["AttributeName"] for part in key_schema}

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=_ATTRIBUTE_TYPES[types[name]])

    return attribute(by_role["HASH"]), attribute(by_role["RANGE"]) if "RANGE" in by_role else None


class ClerkTable(Construct):
    """On-demand TableV2 mirroring `resources.table_create_kwargs()`: keys, GSI1, TTL, PITR, encryption."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        # Derived from the local stack's definition rather than restated, so the two cannot drift.
        definition: dict[str, Any] = resources.table_create_kwargs("unused")
        types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
        partition_key, sort_key = _key_attributes(definition["KeySchema"], types)
        indexes = []
        for index in definition["GlobalSecondaryIndexes"]:
            index_pk, index_sk = _key_attributes(index["KeySchema"], types)
            indexes.append(
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index["IndexName"],
                    partition_key=index_pk,
                    sort_key=index_sk,
                    projection_type=dynamodb.ProjectionType[index["Projection"]["ProjectionType"]],
                )
            )
        if definition["BillingMode"] != "PAY_PER_REQUEST":
            raise ValueError("the shared table definition changed billing mode; update ClerkTable")

        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=partition_key,
            sort_key=sort_key,
            global_secondary_indexes=indexes,
            billing=dynamodb.Billing.on_demand(),
            time_to_live_attribute=keys.TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # KMS with the AWS-managed key: key use shows in CloudTrail, no key to pay for or manage.
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        self.index_names: tuple[str, ...] = tuple(index.index_name for index in indexes)
