"""Removals a sync inferred (Clerk no longer listed the membership) against later reads and events (invariant 3:
an inferred removal is repairable by a later read from Clerk that lists the membership; a delete is final)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeSerializer

from clerk_sync import keys
from clerk_sync.items import WriteContext
from clerk_sync.models import Membership
from clerk_sync.outcomes import Outcome
from clerk_sync.store import SyncStore
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import membership_data

ORG = "org_acme"
USER = "user_ada"
THIS = "orgmem_this"
# Clerk's updated_at of the membership: long before any of our clocks below.
VERSION = 5
SYNCED = WriteContext(SyncSource.API, 1_000)
LISTED_AT = 2_000  # the listing that did not return it began
REMOVED_AT = 2_500  # ... and the removal was written


def _membership(membership_id: str = THIS, version: int = VERSION) -> Membership:
    return Membership.model_validate(membership_data(ORG, USER, membership_id=membership_id, updated_at=version))


def _removed(store: SyncStore) -> None:
    """A live membership on record, then removed by a sync whose listing did not return it."""
    store.put_membership(_membership(), SYNCED, fetched=True)
    ctx = WriteContext(SyncSource.API, LISTED_AT)
    result = store.remove_unlisted_membership(ORG, USER, LISTED_AT, ctx, removed_at=REMOVED_AT, membership_id=THIS)
    assert result.outcome is Outcome.APPLIED


def _serialized(item: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


def _live(store: SyncStore) -> bool:
    stored = store.get_membership(ORG, USER)
    assert stored is not None
    return not stored["deleted"]


def test_store_sync_removal_is_repaired_by_a_read_begun_after_it(aws: Any) -> None:
    """Fails before the fix: the removal's version (our clock) outranked Clerk's updated_at of the unchanged
    membership, so every later fetch of it was refused and a wrong removal was permanent."""
    store = aws.store()
    _removed(store)
    later = WriteContext(SyncSource.API, REMOVED_AT + 1)
    assert store.put_membership(_membership(), later, fetched=True).outcome is Outcome.APPLIED
    assert _live(store)
    stored = store.get_membership(ORG, USER)
    assert stored is not None
    assert "unlisted" not in stored
    assert [m["org_id"] for m in store.user_memberships(USER)] == [ORG]  # back in GSI1


def test_store_sync_removal_written_before_the_fix_is_repaired_too(aws: Any) -> None:
    """Fails before the fix: the old removals (ids only, no membership id, at the listing's time) were final.
    Delete events always carry the membership id, so an id-less tombstone is a sync's inference."""
    store = aws.store()
    store.put_membership(_membership(), SYNCED, fetched=True)
    legacy = {**keys.membership_key(ORG, USER), "org_id": ORG, "user_id": USER, "entity": "membership"}
    legacy |= {"version": LISTED_AT, "deleted": True, "deleted_at": LISTED_AT, "synced_at": LISTED_AT}
    aws.dynamodb.put_item(TableName=aws.resources.table_name, Item=_serialized(legacy))
    later = WriteContext(SyncSource.API, LISTED_AT + 1)
    assert store.put_membership(_membership(), later, fetched=True).outcome is Outcome.APPLIED
    assert _live(store)


def test_store_sync_removal_stands_against_a_read_begun_before_it(aws: Any) -> None:
    store = aws.store()
    _removed(store)
    earlier = WriteContext(SyncSource.API, REMOVED_AT - 1)  # this read may predate Clerk's removal
    assert store.put_membership(_membership(), earlier, fetched=True).outcome is Outcome.STALE
    assert not _live(store)


def test_store_sync_removal_still_yields_to_a_newer_event(aws: Any) -> None:
    store = aws.store()
    _removed(store)
    readded = _membership("orgmem_readded", version=LISTED_AT + 10)
    assert store.put_membership(readded, WriteContext(SyncSource.WEBHOOK, 1_500)).outcome is Outcome.APPLIED
    assert _live(store)


def test_store_delete_event_after_a_sync_removal_makes_it_final(aws: Any) -> None:
    """Fails before the fix: the delete event (its updated_at older than the removal's version) was refused, so the
    key kept a repairable removal instead of Clerk's final delete of that incarnation."""
    store = aws.store()
    _removed(store)
    assert store.delete_membership(_membership(), WriteContext(SyncSource.WEBHOOK, 3_000)).outcome is Outcome.APPLIED
    later = WriteContext(SyncSource.API, 4_000)
    assert store.put_membership(_membership(), later, fetched=True).outcome is Outcome.TOMBSTONED
    assert not _live(store)


def test_store_webhook_delete_is_never_repaired_by_a_later_read(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership(), SYNCED, fetched=True)
    store.delete_membership(_membership(), WriteContext(SyncSource.WEBHOOK, 1_500))
    later = WriteContext(SyncSource.API, 9_000)
    assert store.put_membership(_membership(), later, fetched=True).outcome is Outcome.TOMBSTONED
    assert not _live(store)


def test_store_sync_removal_removes_only_the_incarnation_it_looked_at(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership("orgmem_other"), SYNCED, fetched=True)
    ctx = WriteContext(SyncSource.API, LISTED_AT)
    result = store.remove_unlisted_membership(ORG, USER, LISTED_AT, ctx, removed_at=REMOVED_AT, membership_id=THIS)
    assert result.outcome is Outcome.STALE
    assert _live(store)
