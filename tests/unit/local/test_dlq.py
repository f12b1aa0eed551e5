"""`clerk_sync_local.dlq` against a fake SQS: a deployed stage's `replay --all` is SQS's move task (moto has none),
followed to its end; a failed task or a refused call is reported, never a traceback; the target decides the method."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync_local.cli.targets import AwsAccess, Target, from_ready
from clerk_sync_local.dlq import DeadLetterError, DeadLetterQueue
from tests.unit.local.conftest import ready_info

DLQ_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/clerk-sync-prod-dlq"
QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/clerk-sync-prod-events"


def _arn(url: str) -> str:
    return "arn:aws:sqs:eu-west-1:123456789012:" + url.rsplit("/", 1)[1]


class FakeSqs:
    """SQS's move-task calls and queue attributes, with a task that moves `to_move` messages over `steps` reads."""

    def __init__(self, to_move: int, *, steps: int = 3, ends: str = "COMPLETED", reason: str | None = None) -> None:
        self.to_move, self.steps, self.ends, self.reason = to_move, steps, ends, reason
        self.started: list[dict[str, Any]] = []
        self.reads = 0

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:  # noqa: N803
        if AttributeNames == ["QueueArn"]:
            return {"Attributes": {"QueueArn": _arn(QueueUrl)}}
        left = 0 if self.ends == "COMPLETED" else self.to_move
        return {"Attributes": {"ApproximateNumberOfMessages": str(left), "ApproximateNumberOfMessagesNotVisible": "0"}}

    def start_message_move_task(self, **request: Any) -> dict[str, str]:
        self.started.append(request)
        return {"TaskHandle": "handle"}

    def list_message_move_tasks(self, SourceArn: str, MaxResults: int) -> dict[str, Any]:  # noqa: N803
        self.reads += 1
        done = self.reads >= self.steps
        task: dict[str, Any] = {
            "Status": self.ends if done else "RUNNING",
            "SourceArn": SourceArn,
            "ApproximateNumberOfMessagesMoved": self.to_move * min(self.reads, self.steps) // self.steps,
            "ApproximateNumberOfMessagesToMove": self.to_move,
        }
        if done and self.reason:
            task["FailureReason"] = self.reason
        return {"Results": [task]}


def _queue(sqs: Any) -> DeadLetterQueue:
    return DeadLetterQueue(sqs, dlq_url=DLQ_URL, queue_url=QUEUE_URL, notes=None, move_tasks=True, sleep=lambda _: None)


def test_replay_all_on_a_stage_starts_a_move_task_from_the_dlq_to_the_event_queue_and_follows_it() -> None:
    sqs = FakeSqs(to_move=120)
    seen: list[tuple[int, int]] = []
    result = _queue(sqs).replay_all(lambda done, total: seen.append((done, total)))
    assert sqs.started == [{"SourceArn": _arn(DLQ_URL), "DestinationArn": _arn(QUEUE_URL)}]
    assert seen == [(40, 120), (80, 120), (120, 120)]
    assert (result.method, result.requested, result.moved, result.left) == ("move task", 120, 120, 0)
    assert result.complete


def test_a_move_task_that_fails_is_an_incomplete_replay_with_its_reason() -> None:
    sqs = FakeSqs(to_move=10, steps=2, ends="FAILED", reason="AWS.SimpleQueueService.NonExistentQueue")
    result = _queue(sqs).replay_all()
    assert not result.complete
    assert result.problem == "the move task ended FAILED: AWS.SimpleQueueService.NonExistentQueue"
    assert result.left == 10


def test_a_refused_move_task_is_a_dead_letter_error_naming_the_call() -> None:
    from botocore.exceptions import ClientError

    class Refusing(FakeSqs):
        def start_message_move_task(self, **request: Any) -> dict[str, str]:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "StartMessageMoveTask")

    with pytest.raises(DeadLetterError, match="could not start a message move task: AccessDenied: not allowed"):
        _queue(Refusing(to_move=1)).replay_all()


def test_a_local_stacks_target_moves_message_by_message_and_a_stages_by_move_task() -> None:
    from clerk_sync_local.cli.dlq import _dead_letters

    assert not _dead_letters(from_ready(ready_info())).move_tasks
    stage = Target("stage prod", AwsAccess(region="eu-west-1"), "t", QUEUE_URL, DLQ_URL, "https://api.clerk.com")
    assert _dead_letters(stage).move_tasks
