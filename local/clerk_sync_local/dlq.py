"""The operator's dead-letter queue: the product's look and replay (`clerk_sync.dlq`), plus what only the operator
does: purge, and a deployed stage's `replay_all` through SQS's own StartMessageMoveTask (the same send-then-delete,
run by SQS). moto does not implement move tasks, so a local stack's moves go message by message. The target says
which it is (`Target.local_aws`): no error is caught to find out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from clerk_sync.dlq import (
    BATCH,
    PEEK_VISIBILITY_SECONDS,
    DeadLetter,
    DeadLetterError,
    Progress,
    ReplayResult,
    move_message,
    string_attributes,
)
from clerk_sync.dlq import DeadLetterQueue as ProductDeadLetterQueue
from clerk_sync.store import FailureNotes

__all__ = [
    "BATCH",
    "PEEK_VISIBILITY_SECONDS",
    "DeadLetter",
    "DeadLetterError",
    "DeadLetterQueue",
    "Progress",
    "ReplayResult",
    "move_message",
    "string_attributes",
]

# How often a move task's progress is read.
MOVE_TASK_POLL_SECONDS: Final = 2.0
MOVE_TASK_DONE: Final = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


class DeadLetterQueue(ProductDeadLetterQueue):
    """The product's DLQ with the operator's purge and move tasks (`move_tasks`: a deployed stage)."""

    def __init__(
        self,
        sqs: Any,
        *,
        dlq_url: str,
        queue_url: str,
        notes: FailureNotes | None,
        move_tasks: bool,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(sqs, dlq_url=dlq_url, queue_url=queue_url, notes=notes)
        self.move_tasks = move_tasks
        self._sleep = sleep

    def replay_all(self, progress: Progress | None = None) -> ReplayResult:
        """Moves every dead letter back to the event queue: SQS's move task on AWS, message by message on moto."""
        if not self.move_tasks:
            return self.replay_each(progress=progress)
        started = time.monotonic()
        result = self._move_task(progress)
        result.seconds = time.monotonic() - started
        return result

    def purge(self) -> int:
        """Deletes every dead letter (SQS finishes within 60 s); returns how many there were."""
        before = self.count()
        self._call("purge the DLQ", self._sqs.purge_queue, QueueUrl=self.dlq_url)
        return before

    def _move_task(self, progress: Progress | None) -> ReplayResult:
        source, destination = self._arn(self.dlq_url), self._arn(self.queue_url)
        self._call(
            "start a message move task", self._sqs.start_message_move_task, SourceArn=source, DestinationArn=destination
        )
        while True:
            answer = self._call("read the move task", self._sqs.list_message_move_tasks, SourceArn=source, MaxResults=1)
            (task,) = answer["Results"]
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            total = int(task.get("ApproximateNumberOfMessagesToMove", moved))
            if progress:
                progress(moved, total)
            if task["Status"] in MOVE_TASK_DONE:
                break
            self._sleep(MOVE_TASK_POLL_SECONDS)
        result = ReplayResult("move task", total, moved=moved, left=self.count())
        if task["Status"] != "COMPLETED":
            result.problem = f"the move task ended {task['Status']}: {task.get('FailureReason') or 'no reason given'}"
        return result

    def _arn(self, url: str) -> str:
        answer = self._call(
            "read a queue's ARN", self._sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return str(answer["Attributes"]["QueueArn"])
