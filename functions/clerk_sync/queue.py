"""The event queue (SQS): where verified webhooks and queued syncs wait for the worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync.messages import QueuedEvent, QueuedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class QueueUnavailableError(Exception):
    """SQS refused or could not be reached; the message was not enqueued."""


# SQS holds a message back for at most 15 minutes (DelaySeconds).
MAX_DELAY_SECONDS = 900


class EventQueue(Protocol):
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
            attributes = {"sync_target": message.target.value, "trigger": message.trigger}
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
