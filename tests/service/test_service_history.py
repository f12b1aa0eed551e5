"""Each record's history as the sync layer writes it (docs/decisions/0028): webhook deliveries in order with their
Svix ids, redelivered and stale ones counted not stored, syncs' entries, HISTORY_TTL_DAYS=0 without a request, and a
history that cannot be written never failing the change."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clerk_sync import keys, wiring
from clerk_sync.models import Envelope
from clerk_sync.outcomes import Outcome
from clerk_sync.store.errors import StoreUnavailableError
from clerk_sync.store.table import Table
from tests.service.conftest import Harness
from tests.service.test_service_bulk_writes import _history_writes, recorded


def _deliver_one_by_one(harness: Harness) -> list[tuple[str, Outcome]]:
    """The recorded events in order, a few ms apart so each entry has its own time."""
    applied = []
    for event in harness.clerk.events:
        result = harness.service.apply_event(Envelope.model_validate(event["payload"]), event["msg_id"])
        applied.append((event["msg_id"], result.outcome))
        time.sleep(0.003)
    return applied


def test_user_created_updated_deleted_leave_entries_newest_first_with_their_svix_ids(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.update_user(user_id, first_name="Ada L.")
    harness.clerk.delete_user(user_id)
    applied = _deliver_one_by_one(harness)
    assert [outcome for _, outcome in applied] == [Outcome.APPLIED] * 3
    entries = wiring.history().entries("user", user_id)
    assert [(e.change, e.event_id) for e in entries] == [
        ("user.deleted", applied[2][0]),
        ("user.updated", applied[1][0]),
        ("user.created", applied[0][0]),
    ]
    assert {(e.source, e.outcome) for e in entries} == {("webhook", "applied")}
    created, updated = entries[2], entries[1]
    assert created.version is not None
    assert updated.version is not None
    assert created.version < updated.version
    assert entries[0].version is None  # Clerk's user.deleted carries the id only


def test_a_redelivered_and_a_stale_event_are_counted_not_stored(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.update_user(user_id, first_name="Ada L.")
    harness.clerk.update_user(user_id, first_name="Ada Lovelace")
    [created, older, newer] = [(Envelope.model_validate(e["payload"]), e["msg_id"]) for e in harness.clerk.events]
    for envelope, msg_id in (created, newer):
        assert harness.service.apply_event(envelope, msg_id).outcome is Outcome.APPLIED
    assert harness.service.apply_event(*newer).outcome is Outcome.DUPLICATE  # Svix redelivers
    assert harness.service.apply_event(*older).outcome is Outcome.STALE  # late, behind a newer version
    history = wiring.history()
    assert [e.event_id for e in history.entries("user", user_id)] == [newer[1], created[1]]
    counts = history.counts("user", user_id)
    assert (counts.duplicate, counts.stale) == (1, 1)
    assert counts.last_duplicate_at is not None
    assert counts.last_stale_at is not None


def test_a_tombstone_shows_its_cascade_on_the_users_entry(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.create_organization("Acme", created_by=user_id)
    harness.service.full_user_sync(user_id)
    harness.clerk.set_webhook(None)
    harness.clerk.delete_user(user_id)  # its webhooks missed: the next sync finds the user gone (404)
    harness.service.sync_user(user_id)
    [latest, *_] = wiring.history().entries("user", user_id)
    assert (latest.change, latest.outcome, latest.cascaded) == ("deleted", "applied", 1)


def test_syncs_leave_entries_for_what_they_changed_only(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    org_id = harness.clerk.create_organization("Acme", created_by=user_id)["id"]
    harness.service.full_user_sync(user_id)
    history = wiring.history()
    [user_entry] = history.entries("user", user_id)
    assert (user_entry.source, user_entry.change, user_entry.outcome, user_entry.event_id) == (
        "api",
        "sync",
        "applied",
        None,
    )
    assert [e.change for e in history.entries("membership", f"{org_id}/{user_id}")] == ["sync"]
    harness.service.full_user_sync(user_id)  # nothing changed: no entry, no count
    assert len(history.entries("user", user_id)) == 1
    assert history.counts("user", user_id).duplicate == 0


def test_a_membership_clerk_no_longer_lists_leaves_a_removed_entry(harness: Harness) -> None:
    owner = harness.clerk.create_user(first_name="Owner")["id"]
    member = harness.clerk.create_user(first_name="Member")["id"]
    org_id = harness.clerk.create_organization("Acme", created_by=owner)["id"]
    harness.clerk.add_membership(org_id, member)
    harness.service.sync_organization_members(org_id)
    harness.clerk.set_webhook(None)
    harness.clerk.remove_membership(org_id, member)
    harness.service.sync_organization_members(org_id)
    [latest, *_] = wiring.history().entries("membership", f"{org_id}/{member}")
    assert (latest.change, latest.outcome) == ("removed", "applied")


def test_history_ttl_days_0_makes_no_history_request(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISTORY_TTL_DAYS", "0")
    wiring.reset()
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.clerk.update_user(user_id, first_name="Ada L.")
    org_id = harness.clerk.create_organization("Acme", created_by=user_id)["id"]
    with recorded() as calls:
        harness.deliver()
        harness.deliver()  # duplicates too: not even counted
        harness.service.sync_organization_members(org_id)
    assert _history_writes(calls) == []
    assert not [i for i in wiring.table().scan() if str(i[keys.PK]).startswith(keys.HISTORY_PREFIX)]


def test_a_history_write_that_fails_never_fails_the_change(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_history_writes(monkeypatch)
    failed: list[str] = []
    monkeypatch.setattr("clerk_sync.sync.history.count", lambda name, *_, **__: failed.append(name))
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    [result] = harness.deliver()
    assert result.outcome is Outcome.APPLIED
    assert harness.service.apply_event(*_first_event(harness)).outcome is Outcome.DUPLICATE  # its count fails too
    harness.service.flush_history()
    stored = harness.store.get_user(user_id)
    assert stored is not None
    assert stored["first_name"] == "Ada"
    assert failed == ["HistoryWriteFailed"] * 3  # the entry, the duplicate's count, the hourly sums


def _first_event(harness: Harness) -> tuple[Envelope, str]:
    event = harness.clerk.events[0]
    return Envelope.model_validate(event["payload"]), event["msg_id"]


def _refuse_history_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table refuses every write of a history item (as a throttled or broken table would); records still land."""

    def refusing(name: str) -> Any:
        original = getattr(Table, name)

        def write(self: Table, first: Any, *args: Any, **kwargs: Any) -> Any:
            items = first if isinstance(first, list) else [first]
            if any(
                str(item.get(keys.PK, "")).startswith((keys.HISTORY_PREFIX, keys.OUTCOMES_PREFIX)) for item in items
            ):
                raise StoreUnavailableError("history refused")
            return original(self, first, *args, **kwargs)

        return write

    for name in ("put", "put_many", "add"):
        monkeypatch.setattr(Table, name, refusing(name))
