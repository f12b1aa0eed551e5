"""Clerk misbehaving (the emulator's knobs) on every path that calls it: the worker's queued syncs and refetches,
sync on login and the manual sync routes. Each test ends with the table equal to Clerk's state and every webhook
event accounted for; tests/service/test_service_faults.py covers the client's behaviour on one call.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from clerk_sync.store.limits import SYNC_LIMIT_ENTITY
from clerk_sync_local.soak.world import CLERK_READ_TIMEOUT_SECONDS, SoakWorld
from tests.faults.conftest import assert_settled


def _team(world: SoakWorld, members: int = 3) -> tuple[str, str, list[str]]:
    """An organization, its creator (an admin) and members."""
    clerk = world.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    others = [clerk.create_user(first_name=f"Member {n}")["id"] for n in range(members)]
    for user_id in others:
        clerk.add_membership(org, user_id)
    return owner, org, others


def _statuses(world: SoakWorld) -> dict[str, int]:
    """Backend API answers by status, over every route."""
    counted: dict[str, int] = {}
    for route in world.clerk.stats["routes"].values():
        for status, number in route["by_status"].items():
            counted[status] = counted.get(status, 0) + number
    return counted


def _tie(event: dict[str, Any], msg_id: str, **changes: Any) -> dict[str, Any]:
    """Another event at the same `updated_at` with different content: only Clerk can say which is current."""
    payload = json.loads(json.dumps(event["payload"]))
    payload["data"].update(changes)
    return {"msg_id": msg_id, "type": event["type"], "payload": payload}


def test_429_storm_while_the_worker_syncs_new_users_memberships_is_waited_out(world: SoakWorld) -> None:
    owner, _, members = _team(world, members=4)
    # Users from before the webhook endpoint (their user.created never came): each one's first user.updated queues
    # a sync of its memberships, five syncs against one request a second.
    world.deliver([event for event in world.new_events() if event["type"] != "user.created"])
    for user_id in [owner, *members]:
        world.clerk.update_user(user_id, last_name="Known")
    world.deliver()
    world.clerk.set_knobs(rate_limit=1, rate_limit_window_s=1.0)
    world.drain()
    world.clerk.set_knobs(rate_limit=None)

    assert _statuses(world).get("429", 0) >= 1
    memberships = world.ledger.syncs["user_organizations"]
    assert memberships.run - memberships.failed == 5  # every queued sync finished, waiting Retry-After
    assert world.differences() == []
    assert_settled(world)


def test_5xx_burst_during_manual_syncs_answers_503_with_retry_after_never_500_then_converges(
    world: SoakWorld,
) -> None:
    owner, org, members = _team(world)
    world.new_events()  # these webhooks are lost: only the syncs can bring the data
    # The owner's session has the organization active: the members route needs its org:admin role.
    tokens = {user_id: world.token(user_id, org if user_id == owner else None) for user_id in [owner, *members]}
    paths = [
        *(("/api/sync/user", token) for token in tokens.values()),
        (f"/api/sync/organization/{org}/members", tokens[owner]),
    ]
    world.clerk.set_knobs(error_rate=1.0, error_statuses=[500, 502, 503])
    failing = [world.call("POST", path, token=token) for path, token in paths]
    world.clerk.set_knobs(error_rate=0.5)
    flaky = [world.call("POST", path, token=token) for path, token in paths]

    assert {reply.status for reply in failing} == {503}
    assert {reply.status for reply in flaky} <= {200, 503}
    for reply in failing + flaky:
        if reply.status == 503:
            assert reply.error_code == "clerk_unavailable", reply
            assert int(reply.headers["retry-after"]) > 0

    world.clerk.set_knobs(error_rate=0.0)
    world.drain()  # provisional logins queued real syncs
    for token in tokens.values():
        assert world.call("POST", "/api/sync/user", token=token).status == 200
    assert world.differences() == []  # without a single webhook
    assert_settled(world)


def test_clerk_timeouts_during_a_tie_refetch_fail_the_event_until_clerk_answers(world: SoakWorld) -> None:
    user_id = world.clerk.create_user(first_name="Ada")["id"]
    [created] = world.new_events()
    world.deliver([created])
    world.drain()
    impostor = _tie(created, "msg_tie_timeout", first_name="Not Ada")
    world.clerk.set_knobs(latency_ms=int(CLERK_READ_TIMEOUT_SECONDS * 1000) + 300)
    world.deliver([impostor])
    world.run_batch()
    world.run_batch()

    assert world.ledger.events["msg_tie_timeout"].failures == 2  # the refetch timed out: SQS retries the event
    user = world.check_store().get_user(user_id)
    assert user is not None
    assert user["first_name"] == "Ada"  # arrival order never settles a tie

    world.clerk.set_knobs(latency_ms=0)
    world.drain()
    assert world.ledger.events["msg_tie_timeout"].outcomes == ["needs_refetch"]
    assert_settled(world)


def test_outage_during_a_tie_refetch_dead_letters_the_event_and_its_replay_converges(world: SoakWorld) -> None:
    user_id = world.clerk.create_user(first_name="Ada")["id"]
    [created] = world.new_events()
    world.deliver([created])
    world.drain()
    world.clerk.update_user(user_id, first_name="Ada L.")
    [updated] = world.new_events()
    world.deliver([updated])
    world.drain()
    world.clerk.set_knobs(outage=True)
    world.deliver([_tie(updated, "msg_tie_outage", first_name="Someone else")])
    world.drain()  # five receives, five failures: SQS moves it to the DLQ

    assert world.ledger.events["msg_tie_outage"].failures == EVENT_QUEUE.max_receive_count
    dead = world.dead_letters()
    assert [json.loads(m["Body"])["svix_id"] for m in dead] == ["msg_tie_outage"]
    assert world.ledger.still_dead_lettered() == ["msg_tie_outage"]
    assert world.ledger.lost() == []  # in the DLQ, with its reason logged: not lost

    world.clerk.set_knobs(outage=False)
    world.replay(dead)
    world.drain()
    stored = world.check_store().get_user(user_id)
    assert stored is not None
    assert stored["first_name"] == "Ada L."  # the refetch read Clerk: the tie's other content never lands
    assert world.ledger.events["msg_tie_outage"].outcomes == ["needs_refetch"]
    assert_settled(world)


@pytest.mark.parametrize("mode", ["unavailable", "drop"])
def test_full_outage_during_logins_gives_provisional_records_that_queued_syncs_replace(
    world: SoakWorld, mode: str
) -> None:
    owner, org, members = _team(world, members=2)
    world.new_events()  # lost webhooks: the login's fallback and its queued syncs must do it alone
    world.clerk.set_knobs(outage=True, outage_mode=mode)
    for user_id in [owner, *members]:
        reply = world.call("GET", "/api/sync/status", token=world.token(user_id, org))
        assert reply.status == 200, reply
        assert reply.body["provisional"] is True
        assert reply.body["user"]["version"] == 0

    world.drain()  # Clerk still down: the queued syncs fail and wait on the queue (or in the DLQ)
    assert world.differences() != []
    world.clerk.set_knobs(outage=False)
    dead = world.dead_letters()
    world.replay(dead)
    world.drain()

    assert world.differences() == []
    reply = world.call("GET", "/api/sync/status", token=world.token(owner, org))
    assert reply.body["provisional"] is False
    assert_settled(world)


def _records(world: SoakWorld) -> list[str]:
    """The table's items but the per-caller sync counters, the shared Clerk budget and history (bookkeeping)."""
    items = world.check_store().scan()
    bookkeeping = HISTORY_ENTITIES | {SYNC_LIMIT_ENTITY, BUDGET_ENTITY}
    return sorted(json.dumps(i, sort_keys=True, default=str) for i in items if i.get("entity") not in bookkeeping)


def test_outage_during_manual_sync_answers_503_writes_nothing_and_the_retry_converges(world: SoakWorld) -> None:
    owner, org, _ = _team(world, members=2)
    world.deliver()
    world.drain()
    token = world.token(owner, org)
    world.clerk.update_user(owner, first_name="Owner Renamed")
    world.clerk.update_organization(org, name="Acme Renamed")
    world.new_events()  # missed webhooks: what manual syncs are for
    before = _records(world)

    world.clerk.set_knobs(outage=True)
    for path in ("/api/sync/user", f"/api/sync/organization/{org}", f"/api/sync/organization/{org}/members"):
        reply = world.call("POST", path, token=token)
        assert reply.status == 503, (path, reply)
        assert reply.error_code == "clerk_unavailable"
        assert int(reply.headers["retry-after"]) > 0
    assert _records(world) == before

    world.clerk.set_knobs(outage=False)
    assert world.call("POST", "/api/sync/user", token=token).status == 200
    assert world.call("POST", f"/api/sync/organization/{org}", token=token).status == 200
    assert world.differences() == []
    assert_settled(world)


def test_429_storm_longer_than_the_budgets_gives_fallback_logins_and_429_syncs_then_converges(
    world: SoakWorld,
) -> None:
    owner, org, members = _team(world, members=2)
    world.new_events()  # lost webhooks
    # One request per 10 s, so Retry-After runs past every budget. The owner's login takes the one slot.
    world.clerk.set_knobs(rate_limit=1, rate_limit_window_s=10.0)
    logins = [world.call("GET", "/api/sync/status", token=world.token(user_id)) for user_id in [owner, *members]]
    sync = world.call("POST", "/api/sync/user", token=world.token(owner, org))

    assert [reply.status for reply in logins] == [200, 200, 200]  # the login falls back instead of waiting
    assert all(reply.body["provisional"] for reply in logins[1:])
    assert sync.status == 429
    assert sync.error_code == "clerk_rate_limited"
    assert 1 <= int(sync.headers["retry-after"]) <= 10

    world.clerk.set_knobs(rate_limit=None)
    world.drain()
    assert world.call("POST", "/api/sync/user", token=world.token(owner, org)).status == 200
    assert world.differences() == []
    assert_settled(world)
