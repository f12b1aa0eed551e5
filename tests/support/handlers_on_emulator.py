"""The handlers' world for the service and api tiers: moto in-process, the Clerk emulator over HTTP, and the
environment the handlers read, pointed at both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from clerk_sync import wiring
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.stack.moto import LocalResources, create_resources
from tests.support.signing import TEST_SECRET


@dataclass
class Aws:
    dynamodb: Any
    sqs: Any
    resources: LocalResources


def emptied(emulator: ClerkEmulator) -> Iterator[ClerkEmulator]:
    """A shared emulator for one test: no data, default knobs, webhooks recorded but not sent."""
    emulator.set_webhook(None)
    emulator.reset()
    yield emulator
    emulator.reset()


@contextmanager
def handlers_on(clerk: ClerkEmulator, monkeypatch: pytest.MonkeyPatch, **overrides: str | None) -> Iterator[Aws]:
    """moto with the table and queues, and the handlers' environment; `overrides` set (or, as None, unset) more."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        sqs = boto3.client("sqs")
        created = create_resources(dynamodb, sqs)
        environment: dict[str, str | None] = {
            "TABLE_NAME": created.table_name,
            "EVENTS_QUEUE_URL": created.queue_url,
            "DLQ_URL": created.dlq_url,
            "CLERK_WEBHOOK_SIGNING_SECRET": TEST_SECRET,
            "CLERK_WEBHOOK_SECRET": None,
            "CLERK_INSTANCE_ID": None,
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_API_URL": clerk.url,
            # Fast, bounded retries: outage tests must not sleep for the production budget.
            "CLERK_BACKOFF_BASE_SECONDS": "0.01",
            "CLERK_READ_TIMEOUT_SECONDS": "1",
            # The emulator limits no rate unless a test sets its knobs: the shared budget at a production
            # instance's limit (tests/service/test_service_budget.py sets its own).
            "CLERK_RATE_LIMIT": "1000",
            **overrides,
        }
        for name, value in environment.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        wiring.reset()
        clerk.reset_stats()
        yield Aws(dynamodb, sqs, created)
        wiring.reset()
