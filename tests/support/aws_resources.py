"""The table and queues of a deployment, created on moto from the shared definitions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clerk_sync import resources


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    queue_url: str
    dlq_url: str


def create_resources(dynamodb: Any, sqs: Any, prefix: str = "clerk-sync-test") -> LocalResources:
    table_name = f"{prefix}-table"
    dynamodb.create_table(**resources.table_create_kwargs(table_name))
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-dlq",
        Attributes={"MessageRetentionPeriod": str(resources.EVENT_QUEUE.dlq_retention_seconds)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-events",
        Attributes={
            "VisibilityTimeout": str(resources.EVENT_QUEUE.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": resources.EVENT_QUEUE.max_receive_count}
            ),
        },
    )["QueueUrl"]
    return LocalResources(table_name, queue_url, dlq_url)
