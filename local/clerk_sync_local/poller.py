"""Drives the worker handler from SQS the way Lambda's event source mapping does.

Receives batches, calls the handler, deletes what succeeded and leaves reported failures on the
queue, where SQS's redrive policy moves a record to the DLQ after its receive count. Locally a failed
record becomes visible again after `retry_delay_seconds` instead of the full visibility timeout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clerk_sync import resources
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class PollStats:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0


@dataclass
class SqsPoller:
    sqs: Any
    queue_url: str
    handler: Handler
    batch_size: int = resources.EVENT_QUEUE.batch_size
    wait_seconds: int = 1
    retry_delay_seconds: int = 0
    stats: PollStats = field(default_factory=PollStats)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive and one handler call; returns how many messages the batch held."""
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        answer = self.handler(sqs_event(messages), LocalLambdaContext())
        failed = {failure["itemIdentifier"] for failure in (answer or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay_seconds,
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.stats.batches += 1
        self.stats.failed += len(failed)
        self.stats.succeeded += len(messages) - len(failed)
        return len(messages)

    def drain(self, max_batches: int = 1000) -> int:
        """Polls until a receive comes back empty; returns the number of batches handled."""
        for batch in range(max_batches):
            if not self.poll_once():
                return batch
        return max_batches

    def start(self) -> SqsPoller:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqs-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll_once(self.wait_seconds)
