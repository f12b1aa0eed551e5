"""apply_event's Clerk side: refetch on a version tie, and membership syncs queued by user webhooks."""

from __future__ import annotations

import copy

import pytest

from clerk_sync.messages import SyncTarget
from clerk_sync.models import Envelope
from clerk_sync.outcomes import Outcome
from tests.service.conftest import Harness


def _user_event(harness: Harness, index: int = -1) -> Envelope:
    return Envelope.model_validate(harness.clerk.events[index]["payload"])


def test_tie_with_different_content_is_settled_by_clerk_not_arrival_order(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Real", email="real@example.com")["id"]
    genuine = _user_event(harness)
    forged_data = copy.deepcopy(genuine.data)
    forged_data["first_name"] = "Tie"  # same updated_at, different content
    tie = genuine.model_copy(update={"data": forged_data})
    assert harness.service.apply_event(tie, "msg_tie").outcome is Outcome.APPLIED
    harness.clerk.reset_stats()
    result = harness.service.apply_event(genuine, "msg_genuine")
    assert result.outcome is Outcome.NEEDS_REFETCH
    assert harness.calls("GET /v1/users/{user_id}") == 1
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["first_name"] == "Real"


def test_user_webhooks_queue_one_membership_sync_per_user(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    since = len(harness.clerk.events)  # a user from before the webhook endpoint: its memberships are unknown
    harness.clerk.update_user(user_id, first_name="Ada L.")
    harness.clerk.update_user(user_id, first_name="Ada Lovelace")
    harness.deliver(since=since)
    queued = harness.queued_syncs()
    assert [(q.target, q.user_id, q.trigger) for q in queued] == [(SyncTarget.USER_ORGANIZATIONS, user_id, "webhook")]
    assert harness.calls() == 0  # queued, not called inline


def test_queued_membership_sync_runs_in_the_worker_and_stops_further_requests(harness: Harness) -> None:
    clerk = harness.clerk
    clerk.set_webhook(None)
    user_id = clerk.create_user(first_name="Ada")["id"]
    # A membership from before the webhook endpoint existed: no event of it reaches clerk-sync.
    org_id = clerk.create_organization("Acme", created_by=user_id)["id"]
    since = len(clerk.events)
    clerk.update_user(user_id, first_name="Ada L.")
    harness.deliver(since=since)
    poller = harness.run_worker()
    assert (poller.stats.succeeded, poller.stats.failed) == (1, 0)
    assert [m["org_id"] for m in harness.store.user_memberships(user_id)] == [org_id]
    since = len(clerk.events)
    clerk.update_user(user_id, first_name="Ada B.")
    harness.deliver(since=since)
    assert harness.queued_syncs() == []  # membership state is on record now


@pytest.mark.parametrize(
    ("mode", "created", "expected"),
    [
        ("never", False, 0),
        ("missing", False, 1),
        ("always", False, 1),
        ("never", True, 0),
        ("missing", True, 0),
        ("always", True, 1),
    ],
)
def test_membership_sync_mode_decides_whether_user_webhooks_queue_syncs(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, mode: str, created: bool, expected: int
) -> None:
    """`created`: user.created is delivered too (a user Clerk just created: in `missing` mode, nothing to sync)."""
    from clerk_sync import wiring

    monkeypatch.setenv("USER_EVENT_MEMBERSHIP_SYNC", mode)
    wiring.reset()
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    since = 0 if created else len(harness.clerk.events)
    for number in range(3):
        harness.clerk.update_user(user_id, first_name=f"Ada {number}")
    harness.deliver(since=since)
    assert len(harness.queued_syncs()) == expected  # coalesced per user


def test_stale_user_webhook_queues_nothing(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.update_user(user_id, first_name="Ada B.")
    harness.service.full_user_sync(user_id)  # holds the newest version and the membership state
    results = harness.deliver()
    assert [r.outcome for r in results] == [Outcome.STALE, Outcome.DUPLICATE]
    assert harness.queued_syncs() == []
