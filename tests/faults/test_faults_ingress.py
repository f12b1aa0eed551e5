"""SQS failing at the webhook: no 2xx until the event is on the queue (invariant 6), so Svix retries the same signed
delivery and the event is applied once. The emulator's own sender delivers here (retries re-signed at each
attempt, with the same svix-id and body, as Svix does), through the gateway into the real webhook handler.
"""

from __future__ import annotations

import time

import pytest

from clerk_sync.aws import QUEUE_ATTEMPTS
from clerk_sync_local.soak.aws_faults import HANG, LOST_RESPONSE, SERVER_ERROR, TIMEOUT, Fault
from clerk_sync_local.soak.world import SoakWorld
from infra.endpoints import WEBHOOK_PATH
from tests.faults.conftest import assert_settled

SDK_ATTEMPTS = QUEUE_ATTEMPTS  # the SQS client's attempts of one send
SVIX_TIMEOUT_SECONDS = 15  # Svix counts an attempt failed without a 2xx in this time
SEND = frozenset({"SendMessage"})


def _sending(world: SoakWorld) -> None:
    """The emulator's sender on: every change is POSTed (the transport leads into the gateway, no socket)."""
    world.clerk.set_webhook(f"http://clerk-sync.local{WEBHOOK_PATH}")
    world.clerk.set_knobs(webhook_max_attempts=8, webhook_retry_backoff_ms=20)


@pytest.mark.parametrize("kind", [SERVER_ERROR, TIMEOUT])
def test_sqs_unavailable_gets_503_and_the_svix_retry_of_the_same_delivery_is_applied_once(
    world: SoakWorld, kind: str
) -> None:
    _sending(world)
    world.faults.plan(Fault(kind, "sqs", SEND, times=SDK_ATTEMPTS))  # the first delivery's every SDK attempt
    user_id = world.clerk.create_user(first_name="Ada")["id"]
    world.clerk.wait_for_deliveries()

    [delivery] = world.clerk.deliveries
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [503, 202]
    trail = world.ledger.events[delivery["msg_id"]]
    assert (trail.attempts, trail.accepted, trail.refused) == (2, 1, 1)
    world.drain()
    assert trail.outcomes == ["applied"]
    assert world.check_store().get_user(user_id) is not None
    world.new_events()  # the sender delivered them all
    assert_settled(world)


def test_sqs_outage_across_a_burst_refuses_each_event_until_it_is_queued_and_none_is_lost(world: SoakWorld) -> None:
    _sending(world)
    world.clerk.set_knobs(webhook_duplicate_probability=0.5, webhook_shuffle_window_ms=50)
    world.faults.plan(Fault(SERVER_ERROR, "sqs", SEND, times=4 * SDK_ATTEMPTS))
    owner = world.clerk.create_user(first_name="Owner")["id"]
    org = world.clerk.create_organization("Acme", created_by=owner)["id"]
    for n in range(3):
        world.clerk.add_membership(org, world.clerk.create_user(first_name=f"Member {n}")["id"])
    world.clerk.wait_for_deliveries(timeout=30)
    world.drain()

    statuses = [attempt["status_code"] for d in world.clerk.deliveries for attempt in d["attempts"]]
    assert statuses.count(503) == 4
    assert all(d["status"] == "delivered" for d in world.clerk.deliveries)
    for trail in world.ledger.events.values():
        assert trail.outcomes.count("applied") == 1, trail
    world.new_events()
    assert_settled(world)


def test_sqs_storing_the_message_but_losing_the_answer_queues_it_twice_and_it_is_applied_once(
    world: SoakWorld,
) -> None:
    _sending(world)
    world.faults.plan(Fault(LOST_RESPONSE, "sqs", SEND, times=1))
    user_id = world.clerk.create_user(first_name="Ada")["id"]
    world.clerk.wait_for_deliveries()

    [delivery] = world.clerk.deliveries
    assert [attempt["status_code"] for attempt in delivery["attempts"]] == [202]  # the SDK's resend made it
    world.drain()
    trail = world.ledger.events[delivery["msg_id"]]
    assert trail.outcomes == ["applied", "duplicate"]  # two messages for one event, one effect
    assert world.check_store().get_user(user_id) is not None
    world.new_events()
    assert_settled(world)


def test_webhook_answers_within_svix_15_s_when_sqs_takes_the_connection_and_never_answers(world: SoakWorld) -> None:
    """Fails before the fix: the SQS client made 5 attempts with a 5 s read timeout each, so the 503 came after
    ~26 s, when Svix had long given up on the attempt."""
    world.faults.plan(Fault(HANG, "sqs", SEND, times=QUEUE_ATTEMPTS))
    world.clerk.create_user(first_name="Ada")
    started = time.monotonic()
    [[status]] = world.deliver(attempts=1)
    elapsed = time.monotonic() - started
    assert status == 503
    assert elapsed < SVIX_TIMEOUT_SECONDS, f"answered after {elapsed:.1f} s"
