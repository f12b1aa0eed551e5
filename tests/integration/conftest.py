"""Integration tier: moto in-process (no sockets), the real handlers and store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clerk_sync.items import ItemPolicy
from clerk_sync.store import SyncStore, Table
from clerk_sync.store.failures import FAILURE_ENTITY
from clerk_sync.store.freshness import FRESHNESS_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from clerk_sync.sync.service import SyncService
from clerk_sync_local.stack.moto import LocalResources, create_resources
from tests.support.signing import TEST_SECRET

WORKER_NOTES = frozenset({FAILURE_ENTITY, FRESHNESS_ENTITY}) | HISTORY_ENTITIES


@dataclass
class Aws:
    dynamodb: Any
    sqs: Any
    resources: LocalResources

    def store(self, policy: ItemPolicy | None = None) -> SyncStore:
        return SyncStore(Table(self.dynamodb, self.resources.table_name, sleep=lambda _: None), policy)

    def service(self, policy: ItemPolicy | None = None) -> SyncService:
        return SyncService(self.store(policy))

    def items(self) -> list[dict[str, Any]]:
        """The table's items but the worker's own notes (failures, webhook freshness, history)."""
        return [item for item in self.all_items() if item.get("entity") not in WORKER_NOTES]

    def all_items(self) -> list[dict[str, Any]]:
        return list(self.store().scan())

    def receive(self, queue_url: str | None = None, count: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.resources.queue_url,
            MaxNumberOfMessages=count,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def queue_depth(self, queue_url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        created = create_resources(dynamodb, sqs)
        monkeypatch.setenv("TABLE_NAME", created.table_name)
        monkeypatch.setenv("EVENTS_QUEUE_URL", created.queue_url)
        monkeypatch.setenv("CLERK_WEBHOOK_SIGNING_SECRET", TEST_SECRET)
        monkeypatch.delenv("CLERK_WEBHOOK_SECRET", raising=False)
        monkeypatch.delenv("CLERK_INSTANCE_ID", raising=False)
        # No Clerk in this tier: user webhooks must not queue membership syncs (tests/service covers them).
        monkeypatch.setenv("USER_EVENT_MEMBERSHIP_SYNC", "never")
        yield Aws(dynamodb, sqs, created)
