"""Fault tier: the product's promises under Clerk, DynamoDB, SQS and worker faults, each test ending with the table
compared with the emulator's state and every webhook event accounted for.

moto runs in server mode here (one per test session), so the fault hooks in the product's own boto3 clients can
answer for it (`clerk_sync_local.soak.aws_faults`); the emulator is shared and emptied per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.soak.world import GatewayTransport, SoakWorld
from clerk_sync_local.stack.moto import LocalMoto


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalMoto]:
    # An in-thread moto server shares moto's backends with everything else in this process (an in-process local
    # stack of another tier may have left its tables): its first resources get names of their own.
    moto = LocalMoto(prefix=f"clerk-sync-faults-{uuid.uuid4().hex[:8]}")
    moto.start()
    yield moto
    moto.stop()


@pytest.fixture(scope="session")
def webhook_transport() -> GatewayTransport:
    return GatewayTransport()


@pytest.fixture(scope="session")
def session_clerk(webhook_transport: GatewayTransport) -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=2024, webhook_transport=webhook_transport) as emulator:
        yield emulator


@pytest.fixture
def world(
    moto_server: LocalMoto,
    session_clerk: ClerkEmulator,
    webhook_transport: GatewayTransport,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SoakWorld]:
    """An empty deployment: the handlers' environment set for this test only, faults attached, ledger empty."""
    world = SoakWorld(moto_server, session_clerk)
    world.reset()
    for name, value in world.environment().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    world.wire()
    webhook_transport.world = world
    yield world
    webhook_transport.world = None
    world.faults.clear()
    session_clerk.set_webhook(None)
    session_clerk.reset()


def assert_settled(world: SoakWorld) -> None:
    """The end every fault test reaches: faults off, everything delivered and drained, dead letters replayed;
    then the table equals Clerk and no accepted event is unaccounted for."""
    assert world.settle() == []
    assert world.ledger.lost() == []
    assert world.ledger.undelivered() == []
    assert world.ledger.still_dead_lettered() == []
    assert world.queue_depth(world.resources.dlq_url)[0] == 0
