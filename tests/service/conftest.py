"""Service tier: the SyncService against the Clerk emulator over HTTP (127.0.0.1) and moto in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.handlers import worker
from clerk_sync.messages import QueuedSync, decode_message
from clerk_sync.models import Envelope
from clerk_sync.outcomes import WriteResult
from clerk_sync.store import SyncStore
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from clerk_sync.sync.service import SyncService
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.tokens import TokenSigner
from clerk_sync_local.stack.moto import LocalResources
from clerk_sync_local.stack.poller import SqsPoller
from tests.support.handlers_on_emulator import emptied, handlers_on

NOT_RECORDS = HISTORY_ENTITIES | {BUDGET_ENTITY}


@pytest.fixture(scope="session")
def session_clerk() -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=4321, signing_key_pem=TokenSigner().private_key_pem) as emulator:
        yield emulator


@pytest.fixture
def clerk(session_clerk: ClerkEmulator) -> Iterator[ClerkEmulator]:
    """The shared emulator, emptied, default knobs, recording webhooks without sending them."""
    yield from emptied(session_clerk)


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

    def records(self) -> list[dict[str, Any]]:
        """The table's items but the shared Clerk budget's (bookkeeping every Clerk request touches) and history."""
        return [item for item in self.store.scan() if item.get("entity") not in NOT_RECORDS]

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        return self.store.get({"PK": pk, "SK": sk})


@pytest.fixture
def harness(clerk: ClerkEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    overrides = {
        "CLERK_MAX_ATTEMPTS": "3",
        "CLERK_BACKOFF_CAP_SECONDS": "0.05",
        "CLERK_TIMEOUT_BUDGET_SECONDS": "5",
        "USER_EVENT_MEMBERSHIP_SYNC": None,
    }
    with handlers_on(clerk, monkeypatch, **overrides) as aws:
        yield Harness(clerk, aws.dynamodb, aws.sqs, aws.resources)
