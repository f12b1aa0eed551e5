"""Drives the real handlers: webhook in, SQS between, worker out (what the event source mapping does)."""

from __future__ import annotations

import itertools
from typing import Any

from clerk_sync.handlers import webhook, worker
from tests.support.lambda_events import FakeLambdaContext, http_event, sqs_event
from tests.support.signing import signed

_ids = itertools.count(1)


def post_webhook(payload: dict[str, Any], *, msg_id: str | None = None, **sign: Any) -> dict[str, Any]:
    body, headers = signed(payload, msg_id=msg_id or f"msg_{next(_ids):06d}", **sign)
    response: dict[str, Any] = webhook.handler(http_event(body, headers), FakeLambdaContext())
    return response


def drain(aws: Any, *, max_batches: int = 100) -> list[dict[str, Any]]:
    """Runs the worker over the queue until it is empty; deletes what succeeded, returns each batch's answer."""
    answers = []
    for _ in range(max_batches):
        messages = aws.receive()
        if not messages:
            break
        answer = worker.handler(sqs_event(messages), FakeLambdaContext())
        failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                aws.sqs.delete_message(QueueUrl=aws.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
            else:
                # Make it visible again at once, as the end of its visibility timeout would.
                aws.sqs.change_message_visibility(
                    QueueUrl=aws.resources.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        answers.append(answer)
    return answers
