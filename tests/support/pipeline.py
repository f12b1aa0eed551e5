"""Drives the real handlers: webhook in, SQS between, worker out (what the event source mapping does)."""

from __future__ import annotations

import itertools
from typing import Any

from clerk_sync.handlers import webhook, worker
from clerk_sync_local.lambda_events import LocalLambdaContext, http_event
from clerk_sync_local.stack.poller import SqsPoller
from tests.support.signing import signed

_ids = itertools.count(1)


def post_webhook(payload: dict[str, Any], *, msg_id: str | None = None, **sign: Any) -> dict[str, Any]:
    body, headers = signed(payload, msg_id=msg_id or f"msg_{next(_ids):06d}", **sign)
    response: dict[str, Any] = webhook.handler(http_event(body, headers), LocalLambdaContext())
    return response


def drain(aws: Any, *, max_batches: int = 100) -> int:
    """Runs the worker over the queue until a receive comes back empty; returns the batches handled."""
    return SqsPoller(aws.sqs, aws.resources.queue_url, worker.handler).drain(max_batches)
