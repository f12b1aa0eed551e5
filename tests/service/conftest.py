"""Service tier: the SyncService against the Clerk emulator over HTTP (127.0.0.1) and moto in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clerk_sync import wiring
from clerk_sync.handlers import worker
from clerk_sync.messages import QueuedSync, decode_message
from clerk_sync.models import Envelope
from clerk_sync.service import SyncService
from clerk_sync.store import SyncStore, WriteResult
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.tokens import TokenSigner
from clerk_sync_local.local_aws import LocalResources, create_resources
from clerk_sync_local.poller import SqsPoller
from tests.support.signing import TEST_SECRET


@pytest.fixture(scope="session")
def session_clerk() -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=4321, signing_key_pem=TokenSigner().private_key_pem) as emulator:
        yield emulator


@pytest.fixture
def clerk(session_clerk: ClerkEmulator) -> Iterator[ClerkEmulator]:
    """The shared emulator, emptied, default knobs, recording webhooks without sending them."""
    session_clerk.set_webhook(None)
    session_clerk.reset()
    yield session_clerk
    session_clerk.reset()


@dataclass
class Harness:
    clerk: ClerkEmulator
    dynamodb: Any
    sqs: Any
    resources: LocalResources

    @property
    def service(self) -> SyncService:
        """The service exactly as the Lambda handlers build it from the environment."""
        return wiring.sync_service()

    @property
    def store(self) -> SyncStore:
        return wiring.sync_store()

    def deliver(self, *, since: int = 0) -> list[WriteResult]:
        """Applies the emulator's recorded webhooks (from index `since`) in order, as the worker would."""
        return [
            self.service.apply_event(Envelope.model_validate(event["payload"]), event["msg_id"])
            for event in self.clerk.events[since:]
        ]

    def queued_syncs(self) -> list[QueuedSync]:
        """Takes every message off the event queue; returns the sync requests among them."""
        found: list[QueuedSync] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.resources.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                decoded = decode_message(message["Body"])
                if isinstance(decoded, QueuedSync):
                    found.append(decoded)
                self.sqs.delete_message(QueueUrl=self.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def run_worker(self) -> SqsPoller:
        """Drives the real worker handler over the queue until it is empty."""
        poller = SqsPoller(self.sqs, self.resources.queue_url, worker.handler)
        poller.drain()
        return poller

    def calls(self, route: str | None = None) -> int:
        return self.clerk.request_count(route)

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.store.get({"PK": pk, "SK": sk})


@pytest.fixture
def harness(clerk: ClerkEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        created = create_resources(dynamodb, sqs)
        env = {
            "TABLE_NAME": created.table_name,
            "EVENTS_QUEUE_URL": created.queue_url,
            "CLERK_WEBHOOK_SIGNING_SECRET": TEST_SECRET,
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_API_URL": clerk.url,
            # Fast, bounded retries: outage tests must not sleep for the production budget.
            "CLERK_MAX_ATTEMPTS": "3",
            "CLERK_BACKOFF_BASE_SECONDS": "0.01",
            "CLERK_BACKOFF_CAP_SECONDS": "0.05",
            "CLERK_TIMEOUT_BUDGET_SECONDS": "5",
            "CLERK_READ_TIMEOUT_SECONDS": "1",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for name in ("CLERK_WEBHOOK_SECRET", "CLERK_INSTANCE_ID", "USER_EVENT_MEMBERSHIP_SYNC"):
            monkeypatch.delenv(name, raising=False)
        wiring.reset()
        clerk.reset_stats()
        yield Harness(clerk, dynamodb, sqs, created)
        wiring.reset()
