"""Drives the worker handler from SQS the way Lambda's event source mapping does.

Receives batches, calls the handler, deletes what succeeded and leaves reported failures on the
queue, where SQS's redrive policy moves a record to the DLQ after its receive count. Locally a failed
record becomes visible again after `retry_delay_seconds` instead of the full visibility timeout.
With `batching_window_seconds`, a batch that is not full waits up to that long for more records
(MaximumBatchingWindowInSeconds); a handler that raises fails its whole batch, as a function error does.

One poller handles one batch at a time, as one warm container of the function does. Lambda's SQS event source
runs several batches at once (up to the function's maximum concurrency): the local stack starts one poller per
container it emulates, each calling its own copy of the handler (`gateway.invoke.container_handler`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clerk_sync import resources
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event

Handler = Callable[[dict[str, Any], Any], Any]

log = logging.getLogger("clerk_sync_local.stack.poller")
# How often a batch that is still filling asks SQS for more records.
_FILL_INTERVAL_SECONDS = 0.05


@dataclass
class PollStats:
    batches: int = 0
    succeeded: int = 0
    failed: int = 0
    # Each handler call's duration and record count, in order: what Lambda would bill per invocation.
    batch_ms: list[float] = field(default_factory=list)
    batch_records: list[int] = field(default_factory=list)

    def _record(self, started: float, records: int) -> None:
        self.batch_ms.append((time.perf_counter() - started) * 1000)
        self.batch_records.append(records)


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
    batching_window_seconds: float = 0.0

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def _fill(self, messages: list[dict[str, Any]]) -> None:
        """Gathers more records until the batch is full or the batching window, counted from the first, closes."""
        deadline = time.monotonic() + self.batching_window_seconds
        while len(messages) < self.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            more = self._receive(self.batch_size - len(messages), 0)
            if more:
                messages.extend(more)
            else:
                self._stop.wait(min(remaining, _FILL_INTERVAL_SECONDS))

    def _retry_later(self, message: dict[str, Any]) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self.retry_delay_seconds
        )

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One batch (receive, fill within the window) and one handler call; returns how many messages it held."""
        messages = self._receive(self.batch_size, wait_seconds)
        if not messages:
            return 0
        if self.batching_window_seconds > 0:
            self._fill(messages)
        started = time.perf_counter()
        try:
            answer = self.handler(sqs_event(messages), LocalLambdaContext())
        except Exception:
            self.stats._record(started, len(messages))
            # A function error fails the whole batch: every record is retried (and counts a receive).
            for message in messages:
                self._retry_later(message)
            self.stats.batches += 1
            self.stats.failed += len(messages)
            raise
        self.stats._record(started, len(messages))
        failed = {failure["itemIdentifier"] for failure in (answer or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self._retry_later(message)
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

    def start(self, name: str = "sqs-poller") -> SqsPoller:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.wait_seconds + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(self.wait_seconds)
            except Exception:
                # The event source mapping keeps polling after a function error or an SQS hiccup.
                log.exception("batch failed; polling again in %s s", max(1, self.retry_delay_seconds))
                self._stop.wait(max(1, self.retry_delay_seconds))
