"""The event queue (SQS): where verified webhooks and queued syncs wait for the worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync.messages import QueuedEvent, QueuedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class QueueUnavailableError(Exception):
    """SQS refused or could not be reached; the message was not enqueued."""


class EventQueue(Protocol):
    def send(self, message: QueuedMessage) -> None: ...


def encode(message: QueuedMessage) -> str:
    return message.model_dump_json()


class SqsEventQueue:
    """Sends one message per event; a return means SQS has durably stored it."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: QueuedMessage) -> None:
        if isinstance(message, QueuedEvent):
            attributes = {"svix_id": message.svix_id, "event_type": str(message.event.get("type", "unknown"))}
        else:
            attributes = {"sync_target": message.target.value, "trigger": message.trigger}
        try:
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=encode(message),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
                },
            )
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailableError(type(error).__name__) from error
