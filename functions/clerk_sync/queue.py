"""The event queue (SQS): where verified webhooks and queued syncs wait for the worker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync.messages import QueuedEvent

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class QueueUnavailableError(Exception):
    """SQS refused or could not be reached; the message was not enqueued."""


class EventQueue(Protocol):
    def send(self, message: QueuedEvent) -> None: ...


def encode(message: QueuedEvent) -> str:
    return message.model_dump_json()


class SqsEventQueue:
    """Sends one message per event; a return means SQS has durably stored it."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: QueuedEvent) -> None:
        event_type = str(message.event.get("type", "unknown"))
        try:
            self._client.send_message(
                QueueUrl=self._queue_url,
                MessageBody=encode(message),
                MessageAttributes={
                    "svix_id": {"DataType": "String", "StringValue": message.svix_id},
                    "event_type": {"DataType": "String", "StringValue": event_type},
                },
            )
        except (BotoCoreError, ClientError) as error:
            raise QueueUnavailableError(type(error).__name__) from error
