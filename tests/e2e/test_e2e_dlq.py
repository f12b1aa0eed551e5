"""A poison message fails on every receive and SQS's redrive moves it to the DLQ after maxReceiveCount."""

from __future__ import annotations

import time

from clerk_sync.resources import EVENT_QUEUE
from tests.e2e.conftest import Stack


def test_poison_message_ends_in_the_dlq_after_max_receives(stack: Stack) -> None:
    body = '{"svix_id": "msg_poison", "event": not json'
    stack.sqs.send_message(QueueUrl=stack.ready.queue_url, MessageBody=body)
    deadline = time.monotonic() + 10 * EVENT_QUEUE.max_receive_count
    moved: list[dict[str, object]] = []
    while not moved and time.monotonic() < deadline:
        response = stack.sqs.receive_message(
            QueueUrl=stack.ready.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        moved = [m for m in response.get("Messages", []) if m["Body"] == body]
    assert moved, f"not in the DLQ after {EVENT_QUEUE.max_receive_count} receives"
    (message,) = moved
    assert stack.queue_depth() == 0
    stack.sqs.delete_message(QueueUrl=stack.ready.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    # Every receive failed; the stack's log shows each attempt and the last one's warning.
    log = stack.log.read_text()
    assert f"receive {EVENT_QUEUE.max_receive_count}/{EVENT_QUEUE.max_receive_count}" in log
