"""SQS → DynamoDB: applies queued Clerk events and runs queued syncs through the SyncService.

Partial batch failures: a record that raises is reported failed alone; SQS redelivers it and, after the
queue's receive count, moves it to the DLQ. Its reason is logged here with its svix_id or sync target, and noted
beside its message id (one put, on failure only), where `clerk-sync dlq list|show` reads it as the last error.
Each processed webhook event also refreshes the webhook freshness item (at most one put a minute per container).
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from clerk_sync.clerk.errors import ClerkError
from clerk_sync.deadletters import FailureNote, describe_failure
from clerk_sync.messages import QueuedEvent, QueuedSync, decode_message
from clerk_sync.models import Envelope
from clerk_sync.observability import count, log_metrics, logger, metrics
from clerk_sync.store.errors import StoreError
from clerk_sync.sync.queued import Delivery
from clerk_sync.wiring import dynamodb_meter, failure_notes, flushing_history, sync_service, webhook_freshness

# Report every failed record, even when all failed, instead of raising: SQS handles both the same, and
# the function does not count an error for a batch of poison records.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_RECORD_KEYS = ["svix_id", "event_type", "outcome", "sync_target", "user_id", "org_id", "job_id"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _receive_count(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


def _invalid(error: ValueError, record: SQSRecord, what: str) -> None:
    """A poison record: it fails alone and, once its receives are spent, waits in the DLQ."""
    fields = (
        sorted({".".join(map(str, e["loc"])) for e in error.errors()}) if isinstance(error, ValidationError) else []
    )
    logger.warning(f"{what} failed: invalid payload", extra={"invalid_fields": fields, "message_id": record.message_id})
    metrics.add_metric("EventFailed", MetricUnit.Count, 1)


def _apply_event(message: QueuedEvent, envelope: Envelope, record: SQSRecord, started: float) -> None:
    logger.set_correlation_id(message.svix_id)
    logger.append_keys(svix_id=message.svix_id, event_type=envelope.type)
    try:
        result = sync_service().apply_event(envelope, event_id=message.svix_id)
    except ValidationError as error:
        # The event's data does not fit our models (a Clerk change we do not read yet): DLQ, replayable.
        _invalid(error, record, "event")
        raise
    except Exception:
        logger.exception("event failed", extra={"message_id": record.message_id})
        metrics.add_metric("EventFailed", MetricUnit.Count, 1)
        raise
    elapsed_ms = (time.perf_counter() - started) * 1000
    count("EventProcessed", EventType=envelope.type, Outcome=result.outcome.value)
    metrics.add_metric("ProcessingTime", MetricUnit.Milliseconds, elapsed_ms)
    metrics.add_metric("DynamoDBLatency", MetricUnit.Milliseconds, dynamodb_meter().total_ms)
    if envelope.timestamp:
        metrics.add_metric("EventLag", MetricUnit.Milliseconds, max(0, _now_ms() - envelope.timestamp))
    logger.info(
        "event processed",
        extra={
            "outcome": result.outcome.value,
            "entity_id": result.entity_id,
            "cascaded": result.cascaded,
            "dynamodb_requests": dynamodb_meter().requests,
            "duration_ms": round(elapsed_ms, 1),
        },
    )
    # Any outcome counts: a stale or duplicate event still shows that Clerk's webhooks arrive.
    metrics.add_metric("WebhookProcessed", MetricUnit.Count, 1)
    try:
        webhook_freshness().record(envelope.type, _now_ms())
    except StoreError as error:
        # The event is applied; a freshness time a minute late is no reason to apply it again.
        logger.warning("webhook freshness not recorded", extra={"error": type(error).__name__})


def _run_sync(request: QueuedSync, record: SQSRecord, started: float, lambda_context: LambdaContext | None) -> None:
    logger.set_correlation_id(request.correlation_id)
    logger.append_keys(
        sync_target=request.target.value, user_id=request.user_id, org_id=request.org_id, job_id=request.job_id
    )
    remaining_ms = lambda_context.get_remaining_time_in_millis() if lambda_context is not None else None
    delivery = Delivery(_receive_count(record), remaining_ms)
    try:
        report = sync_service().run_queued(request, delivery)
    except Exception as error:
        count("SyncFailed", Trigger=request.trigger.value)
        if isinstance(error, ClerkError):
            # Expected when Clerk is down or rate limiting: the queue retries it later.
            logger.warning("sync failed", extra={"error": str(error), "message_id": record.message_id})
        else:
            logger.exception("sync failed", extra={"message_id": record.message_id})
        raise
    count("SyncCompleted", Trigger=request.trigger.value)
    logger.info(
        "sync processed",
        extra={
            "summary": report.summary,
            "clerk_calls": report.clerk_calls,
            "found": report.found,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def _note_failure(record: SQSRecord, error: Exception) -> None:
    """Notes the record's error beside its message id (`clerk-sync dlq` shows it); never hides the failure itself."""
    note = FailureNote(record.message_id, describe_failure(error), _receive_count(record), _now_ms())
    try:
        failure_notes().record(note)
    except StoreError as store_error:
        extra = {"error": type(store_error).__name__, "message_id": record.message_id}
        logger.warning("failure note not recorded", extra=extra)


def record_handler(record: SQSRecord, lambda_context: LambdaContext | None = None) -> None:
    started = time.perf_counter()
    dynamodb_meter().reset()
    logger.remove_keys(_RECORD_KEYS)
    try:
        _handle(record, lambda_context, started)
    except Exception as error:
        _note_failure(record, error)
        raise


def _handle(record: SQSRecord, lambda_context: LambdaContext | None, started: float) -> None:
    try:
        message = decode_message(record.body)
        envelope = Envelope.model_validate(message.event) if isinstance(message, QueuedEvent) else None
    except ValueError as error:  # pydantic's ValidationError and json's errors are ValueErrors
        _invalid(error, record, "message")
        raise
    if isinstance(message, QueuedEvent) and envelope is not None:
        _apply_event(message, envelope, record, started)
    elif isinstance(message, QueuedSync):
        _run_sync(message, record, started, lambda_context)


@log_metrics
@logger.inject_lambda_context(clear_state=True)
@flushing_history
def handler(event: dict[str, Any], context: LambdaContext) -> Any:
    # Every batch emits at least this, so a batch of queued syncs alone still has metrics to flush.
    metrics.add_metric("QueueMessages", MetricUnit.Count, len(event.get("Records") or []))
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
