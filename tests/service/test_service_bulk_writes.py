"""Bulk syncs write only what changed: a re-sync of unchanged data reads and does not write, a changed subset writes
exactly that subset, concurrent writes keep the version gate, and nothing a bulk sync does resurrects a tombstone.
User webhooks cost one DynamoDB write each, the membership sync they may queue included (docs/decisions/0026)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.keys import HISTORY_PREFIX, OUTCOMES_PREFIX
from clerk_sync.models import Envelope
from clerk_sync.outcomes import Outcome
from clerk_sync.reports import ChangeOutcome
from clerk_sync.store.records import SyncStore
from tests.service.conftest import Harness

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


@contextmanager
def recorded() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every DynamoDB request of the service's client: (operation, its parameters)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    events = wiring.dynamodb_client().meta.events

    def before(model: Any, params: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events.register("before-parameter-build.dynamodb", before)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", before)


def _keys_of(name: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if name == "BatchWriteItem":
        puts = [r["PutRequest"]["Item"] for rs in params["RequestItems"].values() for r in rs if "PutRequest" in r]
        return [(item["PK"]["S"], item["SK"]["S"]) for item in puts]
    if name == "TransactWriteItems":
        parts = [part for entry in params["TransactItems"] for op, part in entry.items() if op != "ConditionCheck"]
        return [((k := part.get("Key") or part["Item"])["PK"]["S"], k["SK"]["S"]) for part in parts]
    key = params.get("Key") or params["Item"]
    return [(key["PK"]["S"], key["SK"]["S"])]


def _is_history(name: str, params: dict[str, Any]) -> bool:
    return any(pk.startswith((HISTORY_PREFIX, OUTCOMES_PREFIX)) for pk, _ in _keys_of(name, params))


def _written_keys(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    """The records written (history's own writes are counted apart: `_history_writes`)."""
    return [
        key
        for name, params in calls
        if name in WRITES and not _is_history(name, params)
        for key in _keys_of(name, params)
    ]


def _history_writes(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The write requests history made (entries, counts, hourly sums)."""
    return [name for name, params in calls if name in WRITES and _is_history(name, params)]


def _org_with_members(harness: Harness, members: int) -> tuple[str, list[str]]:
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org_id = clerk.create_organization("Acme", created_by=owner)["id"]
    users = [owner]
    for number in range(members - 1):
        user = clerk.create_user(first_name=f"M{number}")["id"]
        clerk.add_membership(org_id, user)
        users.append(user)
    return org_id, users


def test_unchanged_member_resync_reads_and_writes_only_the_organization(harness: Harness) -> None:
    org_id, users = _org_with_members(harness, 6)
    first = harness.service.sync_organization_members(org_id)
    assert first.count(ChangeOutcome.APPLIED, "membership") == 6
    with recorded() as calls:
        again = harness.service.sync_organization_members(org_id)
    assert again.count(ChangeOutcome.UNCHANGED, "membership") == 6
    # The organization's own profile is refreshed (its synced_at); no membership and no embedded copy is written.
    assert _written_keys(calls) == [(f"ORG#{org_id}", "PROFILE")]
    assert _history_writes(calls) == []  # unchanged: summed in memory, no entry and no count
    assert "BatchGetItem" in [name for name, _ in calls]
    assert {m["user_id"] for m in harness.store.organization_memberships(org_id)} == set(users)


def test_unchanged_full_user_resync_writes_only_the_profile(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Joiner")["id"]
    orgs = [clerk.create_organization(f"Org {n}", created_by=user_id)["id"] for n in range(4)]
    harness.service.full_user_sync(user_id)
    with recorded() as calls:
        again = harness.service.full_user_sync(user_id)
    assert again.count(ChangeOutcome.UNCHANGED, "membership") == 4
    assert again.count(ChangeOutcome.UNCHANGED, "organization") == 4
    # The profile's synced_at is what a login's freshness reads: that one write stays.
    assert _written_keys(calls) == [(f"USER#{user_id}", "PROFILE")]
    assert _history_writes(calls) == []
    assert {m["org_id"] for m in harness.store.user_memberships(user_id)} == set(orgs)


def test_a_changed_subset_writes_exactly_that_subset(harness: Harness) -> None:
    org_id, users = _org_with_members(harness, 6)
    harness.service.sync_organization_members(org_id)
    changed = users[2:4]
    for user_id in changed:  # missed webhooks: only the sync brings the new roles
        harness.clerk.update_membership(org_id, user_id, role="org:admin")
    with recorded() as calls:
        report = harness.service.sync_organization_members(org_id)
    written = _written_keys(calls)
    assert sorted(written) == sorted(
        [(f"ORG#{org_id}", "PROFILE")] + [(f"ORG#{org_id}", f"MEMBER#{u}") for u in changed]
    )
    assert report.count(ChangeOutcome.APPLIED, "membership") == 2
    assert report.count(ChangeOutcome.UNCHANGED, "membership") == 4
    assert _history_writes(calls) == ["BatchWriteItem"]  # the two changed memberships' entries, one request
    for user_id in changed:
        [entry] = wiring.history().entries("membership", f"{org_id}/{user_id}", limit=1)
        assert (entry.source, entry.outcome, entry.change) == ("api", "applied", "sync")
    for user_id in changed:
        stored = harness.store.get_membership(org_id, user_id)
        assert stored is not None
        assert stored["role"] == "org:admin"


def _after_the_read(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Runs `change` once, right after a bulk write has read what the table holds and before it writes."""
    original = SyncStore.held_unchanged
    done: list[bool] = []

    def held_unchanged(self: SyncStore, records: Any, ctx: Any) -> Any:
        found = original(self, records, ctx)
        if not done:
            done.append(True)
            change()
        return found

    monkeypatch.setattr(SyncStore, "held_unchanged", held_unchanged)


def test_a_newer_webhook_landing_during_the_sync_wins(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, users = _org_with_members(harness, 6)
    harness.service.sync_organization_members(org_id)
    listed_change, racing = users[1], users[2]
    harness.clerk.update_membership(org_id, listed_change, role="org:admin")  # the sync lists and writes it
    # `racing` is listed unchanged (not written), then changed by a webhook before the writes.

    def newer_webhooks() -> None:
        since = len(harness.clerk.events)
        harness.clerk.update_membership(org_id, listed_change, role="org:member")
        harness.clerk.update_membership(org_id, racing, role="org:admin")
        harness.deliver(since=since)

    _after_the_read(monkeypatch, newer_webhooks)
    report = harness.service.sync_organization_members(org_id)
    assert report.count(ChangeOutcome.STALE, "membership") == 1  # the listed change, refused as older
    for user_id, role in ((listed_change, "org:member"), (racing, "org:admin")):
        stored = harness.store.get_membership(org_id, user_id)
        assert stored is not None
        assert stored["role"] == role  # the newer version on record is never replaced by the listing


def test_a_bulk_sync_never_resurrects_tombstones(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    org_id, users = _org_with_members(harness, 6)
    harness.service.sync_organization_members(org_id)
    changed, unchanged = users[1], users[2]
    harness.clerk.update_membership(org_id, changed, role="org:admin")

    def deletes() -> None:
        since = len(harness.clerk.events)
        harness.clerk.remove_membership(org_id, changed)
        harness.clerk.remove_membership(org_id, unchanged)
        harness.deliver(since=since)

    _after_the_read(monkeypatch, deletes)
    report = harness.service.sync_organization_members(org_id)
    assert report.count(ChangeOutcome.TOMBSTONED, "membership") == 1  # the changed one, refused by its tombstone
    for user_id in (changed, unchanged):
        stored = harness.store.get_membership(org_id, user_id)
        assert stored is not None
        assert stored["deleted"] is True


def test_a_bulk_sync_leaves_a_deleted_organization_deleted(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Joiner")["id"]
    orgs = [clerk.create_organization(f"Org {n}", created_by=user_id)["id"] for n in range(3)]
    harness.service.full_user_sync(user_id)
    tombstone = Envelope.model_validate(
        {
            "type": "organization.deleted",
            "object": "event",
            "data": {"id": orgs[0], "object": "organization", "deleted": True},
        }
    )
    assert harness.service.apply_event(tombstone, "msg_gone").outcome is Outcome.APPLIED
    report = harness.service.full_user_sync(user_id)  # Clerk (the emulator) still lists it
    assert report.count(ChangeOutcome.TOMBSTONED, "organization") == 1
    stored = harness.store.get_organization(orgs[0])
    assert stored is not None
    assert stored["deleted"] is True
    membership = harness.store.get_membership(orgs[0], user_id)
    assert membership is None or membership["deleted"] is True


# ---- user webhooks: one write each -------------------------------------------------------------------------------


def _user_events(harness: Harness, since: int = 0) -> list[tuple[Envelope, str]]:
    return [(Envelope.model_validate(e["payload"]), e["msg_id"]) for e in harness.clerk.events[since:]]


def test_user_webhooks_cost_one_write_each_and_queue_one_membership_sync(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    since = len(harness.clerk.events)  # a user from before the webhook endpoint: its memberships are unknown
    harness.clerk.update_user(user_id, first_name="Ada L.")
    harness.clerk.update_user(user_id, first_name="Ada Lovelace")
    for envelope, msg_id in _user_events(harness, since):
        with recorded() as calls:
            assert harness.service.apply_event(envelope, msg_id).outcome is Outcome.APPLIED
        # The profile and the request, no read; history's entry is its own write (docs/decisions/0028).
        assert [name for name, params in calls if not _is_history(name, params)] == ["UpdateItem"]
        assert _history_writes(calls) == ["PutItem"]
    assert len(harness.queued_syncs()) == 1


def test_user_created_costs_one_write_and_marks_the_memberships_known(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.update_user(user_id, first_name="Ada L.")
    for envelope, msg_id in _user_events(harness):
        with recorded() as calls:
            assert harness.service.apply_event(envelope, msg_id).outcome is Outcome.APPLIED
        assert [name for name, params in calls if not _is_history(name, params)] == ["UpdateItem"]
        assert _history_writes(calls) == ["PutItem"]
    # Its memberships arrive by their own webhooks: no sync now, none on the first update.
    assert harness.queued_syncs() == []
    assert wiring.membership_sync_claims().state(user_id).synced_at is not None


def test_a_lost_membership_sync_request_is_asked_again_once_after_the_retry_window(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    since = len(harness.clerk.events)  # a user from before the webhook endpoint
    harness.clerk.update_user(user_id, first_name="Ada A.")
    harness.deliver(since=since)
    assert len(harness.queued_syncs()) == 1  # taken off the queue and never run: lost
    # As if that request was made longer ago than the retry window (15 minutes).
    wiring.table().update({"PK": f"USER#{user_id}", "SK": "PROFILE"}, {"memberships_requested_at": 1})
    since = len(harness.clerk.events)
    harness.clerk.update_user(user_id, first_name="Ada B.")
    harness.clerk.update_user(user_id, first_name="Ada C.")
    with recorded() as calls:
        harness.deliver(since=since)
    assert len(harness.queued_syncs()) == 1  # asked again once, not once per event
    assert [name for name, _ in calls].count("UpdateItem") == 3  # the two profiles and the one new request


def test_a_profile_from_before_the_state_moved_reads_its_old_state_item_once(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.service.sync_user(user_id)  # a profile without membership-sync state
    wiring.table().update({"PK": f"USER#{user_id}", "SK": "MEMBERSHIPS"}, {"synced_at": 1, "entity": "sync_state"})
    since = len(harness.clerk.events)
    harness.clerk.update_user(user_id, first_name="Ada B.")
    harness.deliver(since=since)
    assert harness.queued_syncs() == []  # the old item said the memberships were synced
    assert wiring.membership_sync_claims().state(user_id).synced_at is not None
