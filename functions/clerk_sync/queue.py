"""The event queue (SQS): where verified webhooks and queued syncs wait for the worker.

`SqsEventQueue` sends messages; `QueuedFollowUps` is the sync layer's follow-ups port on top of it, so every piece
of work a use case leaves for later becomes one `QueuedSync` the worker runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync.jobs import Job, JobKind
from clerk_sync.messages import USER_CASCADE_DELAY_SECONDS, QueuedEvent, QueuedMessage, QueuedSync, SyncTarget
from clerk_sync.observability import child_logger
from clerk_sync.vocabulary import SyncSource

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = child_logger()


class QueueUnavailableError(Exception):
    """SQS refused or could not be reached; the message was not enqueued."""


# SQS holds a message back for at most 15 minutes (DelaySeconds).
MAX_DELAY_SECONDS = 900


class MessageQueue(Protocol):
    def send(self, message: QueuedMessage, *, delay_seconds: int = 0) -> None: ...


def encode(message: QueuedMessage) -> str:
    return message.model_dump_json()


class SqsEventQueue:
    """Sends one message per event; a return means SQS has durably stored it."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: QueuedMessage, *, delay_seconds: int = 0) -> None:
        """`delay_seconds` (0-900) keeps the message invisible that long; 0 leaves the queue's default."""
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be 0-{MAX_DELAY_SECONDS}, not {delay_seconds}")
        if isinstance(message, QueuedEvent):
            attributes = {"svix_id": message.svix_id, "event_type": str(message.event.get("type", "unknown"))}
        else:
            attributes = {"sync_target": message.target.value, "trigger": message.trigger.value}
        request: dict[str, Any] = {
            "QueueUrl": self._queue_url,
            "MessageBody": encode(message),
            "MessageAttributes": {
                name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
            },
        }
        if delay_seconds:
            request["DelaySeconds"] = delay_seconds
        try:
            self._client.send_message(**request)
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailableError(type(error).__name__) from error


class QueuedFollowUps:
    """The sync layer's follow-ups (`clerk_sync.sync.followups.FollowUps`) as messages on the event queue.

    A follow-up is best effort: when SQS refuses it, it is logged and the caller's answer stands. A `required` one
    raises `QueueUnavailableError` instead, so the event that asked for it is retried. Without a queue (tests,
    tools) follow-ups are logged and dropped, except job pages: a job without its next page could never finish.
    """

    def __init__(self, queue: MessageQueue | None) -> None:
        self._queue = queue

    @property
    def delivered(self) -> bool:
        return self._queue is not None

    def sync_user(self, user_id: str, source: SyncSource, requested_at: int) -> None:
        self._send(QueuedSync(target=SyncTarget.USER, user_id=user_id, trigger=source, requested_at=requested_at))

    def sync_memberships(self, user_id: str, source: SyncSource, requested_at: int) -> None:
        target = SyncTarget.USER_ORGANIZATIONS
        self._send(QueuedSync(target=target, user_id=user_id, trigger=source, requested_at=requested_at))

    def sync_membership(self, org_id: str, user_id: str, source: SyncSource, requested_at: int) -> None:
        target = SyncTarget.MEMBERSHIP
        self._send(QueuedSync(target=target, org_id=org_id, user_id=user_id, trigger=source, requested_at=requested_at))

    def cascade_pass(self, user_id: str, source: SyncSource, requested_at: int, *, required: bool = False) -> None:
        target = SyncTarget.USER_CASCADE
        message = QueuedSync(target=target, user_id=user_id, trigger=source, requested_at=requested_at)
        self._send(message, delay_seconds=USER_CASCADE_DELAY_SECONDS, required=required)

    def job_page(self, job: Job, offset: int, requested_at: int) -> None:
        target = (
            SyncTarget.ORGANIZATION_MEMBERS if job.kind is JobKind.ORGANIZATION_MEMBERS else SyncTarget.USER_MEMBERSHIPS
        )
        message = QueuedSync(
            target=target,
            org_id=job.org_id,
            user_id=job.user_id,
            job_id=job.job_id,
            offset=offset,
            trigger=SyncSource.JOB,
            requested_at=requested_at,
        )
        if self._queue is None:
            raise QueueUnavailableError("no event queue configured for membership jobs")
        self._send(message, required=True)

    def run_step(self, kind: str, run_id: str, step: int, requested_at: int) -> None:
        message = QueuedSync(
            target=SyncTarget(kind), job_id=run_id, offset=step, trigger=SyncSource(kind), requested_at=requested_at
        )
        if self._queue is None:
            raise QueueUnavailableError("no event queue configured for bulk runs")
        self._send(message, required=True)

    def _send(self, message: QueuedSync, *, delay_seconds: int = 0, required: bool = False) -> None:
        fields = {"target": message.target.value, "user_id": message.user_id, "org_id": message.org_id}
        if self._queue is None:
            logger.error("no event queue configured: follow-up not queued", extra=fields)
            return
        try:
            self._queue.send(message, delay_seconds=delay_seconds)
        except QueueUnavailableError:
            if required:
                raise
            logger.error("follow-up could not be queued", extra=fields)
