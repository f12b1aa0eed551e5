"""POST /api/webhooks/clerk (API Gateway HTTP API, payload v2): verify, enqueue, answer."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from clerk_sync.intake import IntakeResult
from clerk_sync.observability import count, log_metrics, logger, metrics
from clerk_sync.vocabulary import error_body
from clerk_sync.wiring import receive_webhook


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _record(result: IntakeResult) -> None:
    if result.svix_id:
        logger.set_correlation_id(result.svix_id)
    fields = {"status": result.status, "reason": result.reason, "event_type": result.event_type, **result.extra}
    if result.reason == "queued":
        metrics.add_metric("WebhookEnqueued", MetricUnit.Count, 1)
        logger.info("webhook enqueued", extra=fields)
    elif result.reason.startswith("ignored"):
        # event_type is intake's bounded label: Clerk's own type names, or one label for anything else.
        count("WebhookIgnored", Reason=result.reason, EventType=result.event_type or "none")
        logger.info("webhook ignored", extra=fields)
    elif result.reason == "other_instance":
        # A misrouted endpoint or a wrong CLERK_INSTANCE_ID / key: Svix retries it ~27 h, so this can be fixed.
        count("WebhookRejected", Reason=result.reason)
        logger.warning("webhook refused: another clerk instance", extra=fields)
    elif result.status >= 500:
        count("WebhookRejected", Reason=result.reason)
        logger.error("webhook not enqueued", extra=fields)
    else:
        count("WebhookRejected", Reason=result.reason)
        logger.info("webhook rejected", extra=fields)


@log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric("WebhookReceived", MetricUnit.Count, 1)
    raw = event.get("body") or ""
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
    except (binascii.Error, ValueError):
        count("WebhookRejected", Reason="malformed_body")
        return _response(400, error_body("malformed_body", "body is not valid base64"))
    result = receive_webhook(body, event.get("headers") or {})
    _record(result)
    return _response(result.status, result.body)
