"""SQS → DynamoDB: applies each queued Clerk event through the SyncService, with partial batch failures.

A record that raises is reported failed alone; SQS redelivers it and, after the queue's receive count,
moves it to the DLQ. Its reason is logged here with its svix_id.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from clerk_sync.aws import dynamodb_meter
from clerk_sync.messages import QueuedEvent
from clerk_sync.models import Envelope
from clerk_sync.observability import count, logger, metrics
from clerk_sync.wiring import sync_service

# Report every failed record, even when all failed, instead of raising: SQS handles both the same, and
# the function does not count an error for a batch of poison records.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def record_handler(record: SQSRecord) -> None:
    started = time.perf_counter()
    dynamodb_meter.reset()
    logger.remove_keys(["svix_id", "event_type", "outcome"])
    try:
        message = QueuedEvent.model_validate_json(record.body)
        logger.set_correlation_id(message.svix_id)
        envelope = Envelope.model_validate(message.event)
        logger.append_keys(svix_id=message.svix_id, event_type=envelope.type)
        result = sync_service().apply_event(envelope, event_id=message.svix_id)
    except ValidationError as error:
        # A poison record: it fails alone and, once its receives are spent, waits in the DLQ.
        fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
        extra = {"invalid_fields": fields, "message_id": record.message_id}
        logger.warning("event failed: invalid payload", extra=extra)
        metrics.add_metric("EventFailed", MetricUnit.Count, 1)
        raise
    except Exception:
        logger.exception("event failed", extra={"message_id": record.message_id})
        metrics.add_metric("EventFailed", MetricUnit.Count, 1)
        raise

    elapsed_ms = (time.perf_counter() - started) * 1000
    count("EventProcessed", EventType=envelope.type, Outcome=result.outcome.value)
    metrics.add_metric("ProcessingTime", MetricUnit.Milliseconds, elapsed_ms)
    metrics.add_metric("DynamoDBLatency", MetricUnit.Milliseconds, dynamodb_meter.total_ms)
    if envelope.timestamp:
        metrics.add_metric("EventLag", MetricUnit.Milliseconds, max(0, _now_ms() - envelope.timestamp))
    logger.info(
        "event processed",
        extra={
            "outcome": result.outcome.value,
            "entity_id": result.entity_id,
            "cascaded": result.cascaded,
            "dynamodb_requests": dynamodb_meter.requests,
            "duration_ms": round(elapsed_ms, 1),
        },
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
