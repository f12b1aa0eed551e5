"""The baseline's two functions, as the recipe writes them: a webhook Lambda that verifies and enqueues, and a
worker Lambda that applies each record of its batch in turn (no partial batch responses: an error fails all)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

from .clerk import NaiveClerk
from .store import NaiveTable
from .sync import apply_event

Handler = Callable[[dict[str, Any], Any], Any]
Applied = Callable[[str, int], None]  # (svix id, finished at in Unix ms)


def webhook_handler(sqs: Any, queue_url: str, secret: str) -> Handler:
    """API Gateway (payload 2.0) → verify the Svix signature with the svix library → one SendMessage."""
    from svix.webhooks import Webhook, WebhookVerificationError

    verifier = Webhook(secret)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            body = base64.b64decode(body).decode()
        headers = event.get("headers") or {}
        try:
            verifier.verify(body, headers)
        except (WebhookVerificationError, ValueError):
            return {"statusCode": 400, "body": "bad signature"}
        message = {"svix_id": headers.get("svix-id"), "event": json.loads(body)}
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        return {"statusCode": 200, "body": "ok"}

    return handler


def worker_handler(clerk: NaiveClerk, table: NaiveTable, applied: Applied | None = None) -> Handler:
    """SQS batch → `apply_event` per record, in order."""

    def handler(event: dict[str, Any], context: Any) -> None:
        for record in event.get("Records", []):
            message = json.loads(record["body"])
            apply_event(clerk, table, message["event"])
            if applied is not None:
                applied(str(message.get("svix_id")), time.time_ns() // 1_000_000)

    return handler
