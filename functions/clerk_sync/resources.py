"""Table and queue definitions shared by the local stack and the CDK stack (one source of truth)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from clerk_sync import keys

# Body limit for POST /api/webhooks/clerk. Clerk payloads are a few KiB (each metadata blob is capped
# at 8 KiB); the limit keeps the queued message, body plus envelope, under SQS's 256 KiB.
WEBHOOK_MAX_BODY_BYTES: Final = 128 * 1024
SQS_MAX_MESSAGE_BYTES: Final = 256 * 1024


@dataclass(frozen=True)
class QueueDefinition:
    """The event queue and its DLQ, as the worker's event source mapping sees them."""

    worker_timeout_seconds: int = 30
    # AWS asks for a visibility timeout of at least 6x the function timeout for SQS event sources.
    visibility_timeout_seconds: int = 6 * 30
    max_receive_count: int = 5
    dlq_retention_seconds: int = 14 * 24 * 3600
    batch_size: int = 10
    batching_window_seconds: int = 1


EVENT_QUEUE: Final = QueueDefinition()


def table_create_kwargs(table_name: str) -> dict[str, Any]:
    """boto3 `create_table` arguments for the local stack and tests; the CDK stack mirrors them."""
    string = "S"
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": keys.PK, "AttributeType": string},
            {"AttributeName": keys.SK, "AttributeType": string},
            {"AttributeName": keys.GSI1_PK, "AttributeType": string},
            {"AttributeName": keys.GSI1_SK, "AttributeType": string},
        ],
        "KeySchema": [
            {"AttributeName": keys.PK, "KeyType": "HASH"},
            {"AttributeName": keys.SK, "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": keys.GSI1_NAME,
                "KeySchema": [
                    {"AttributeName": keys.GSI1_PK, "KeyType": "HASH"},
                    {"AttributeName": keys.GSI1_SK, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }
