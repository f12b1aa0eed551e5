"""The worker dies or is doubled: SQS redelivers, and every write is idempotent, so each event takes effect once.

Lambda deletes a batch's messages only after the function answers. A process that dies after its writes and before
that answer, or in the middle of a batch, leaves every message to come back once its visibility timeout passes;
SQS's at-least-once delivery can also hand one message to two workers at a time.
"""

from __future__ import annotations

import pytest

from clerk_sync_local.soak.world import SoakWorld
from tests.faults.conftest import assert_settled


def _burst(world: SoakWorld) -> None:
    """Users, an organization with members, a rename, a role change and a removal: ten events, one batch."""
    clerk = world.clerk
    users = [clerk.create_user(first_name=name)["id"] for name in ("Ada", "Grace", "Linus")]
    org = clerk.create_organization("Acme", created_by=users[0])["id"]
    clerk.add_membership(org, users[1])
    clerk.add_membership(org, users[2], role="org:admin")
    clerk.update_user(users[1], first_name="Grace H.")
    clerk.update_membership(org, users[2], role="org:member")
    clerk.remove_membership(org, users[1])
    assert all(statuses[-1] == 202 for statuses in world.deliver())


def _outcomes(world: SoakWorld) -> dict[str, list[str]]:
    return {msg_id: trail.outcomes for msg_id, trail in world.ledger.events.items()}


def test_crash_after_the_writes_before_the_delete_redelivers_and_changes_nothing_more(world: SoakWorld) -> None:
    _burst(world)
    assert world.run_batch("before_delete") == 10
    assert world.differences() == []  # the writes were done
    assert world.queue_depth()[0] >= 10  # and every message is back

    world.drain()

    # Each event was applied by the worker that died and judged a duplicate (or stale: a later event of the same
    # record got there in between) by the one that took it over.
    for msg_id, outcomes in _outcomes(world).items():
        assert outcomes[0] == "applied", msg_id
        assert len(outcomes) == 2, msg_id
        assert outcomes[1] in {"duplicate", "stale", "tombstoned"}, (msg_id, outcomes)
    assert world.worker.crashes == 1
    assert_settled(world)


@pytest.mark.parametrize("writes_before_crash", [0, 4, 8])
def test_crash_mid_batch_redelivers_the_whole_batch_and_each_event_takes_effect_once(
    world: SoakWorld, writes_before_crash: int
) -> None:
    _burst(world)
    assert world.run_batch("mid_batch", writes_before_crash=writes_before_crash) == 10
    assert world.worker.crashes == 1
    assert world.faults.fired["worker_crash_mid_batch"] == 1

    world.drain()

    for msg_id, outcomes in _outcomes(world).items():
        assert outcomes.count("applied") <= 1, (msg_id, outcomes)  # never twice: the second time is a duplicate
    applied = sum("applied" in outcomes for outcomes in _outcomes(world).values())
    # The event whose write landed just before the crash never returned its outcome; its redelivery found the write
    # already there (duplicate). Every other event of the batch was applied by one of the two invocations.
    assert applied >= 10 - 1
    assert_settled(world)


def test_second_worker_on_the_same_messages_after_the_visibility_timeout_applies_each_event_once(
    world: SoakWorld,
) -> None:
    _burst(world)
    first = world.receive()
    assert len(first) == 10
    world.expire(first)  # the first worker is still at it when its visibility timeout passes
    second = world.receive()
    assert {m["MessageId"] for m in second} == {m["MessageId"] for m in first}
    assert {m["ReceiptHandle"] for m in second}.isdisjoint(m["ReceiptHandle"] for m in first)

    world.conclude(second, world.invoke_worker(second))  # the second worker finishes first
    world.conclude(first, world.invoke_worker(first))  # then the first, deleting with outdated receipt handles

    for msg_id, outcomes in _outcomes(world).items():
        assert outcomes[0] == "applied", msg_id
        assert outcomes[1:], msg_id
        assert "applied" not in outcomes[1:], (msg_id, outcomes)
    assert world.worker.failed_records == 0
    assert_settled(world)


def test_first_worker_answering_before_the_second_receive_is_deleted_leaves_one_effect(world: SoakWorld) -> None:
    _burst(world)
    first = world.receive()
    failed = world.invoke_worker(first)
    assert failed == set()
    world.expire(first)  # the answer came after the visibility timeout: SQS already handed them out again
    second = world.receive()
    world.conclude(first, failed)  # the first worker's deletes land now, with its outdated handles
    world.conclude(second, world.invoke_worker(second))

    for msg_id, outcomes in _outcomes(world).items():
        assert outcomes.count("applied") == 1, (msg_id, outcomes)
    assert_settled(world)
