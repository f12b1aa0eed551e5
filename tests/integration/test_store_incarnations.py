"""Membership incarnations (docs/decisions/0003): a delete is final for its membership id, versions decide between ids.

Every membership write (event upsert, event delete, fetched write) is tried over every kind of item it can meet:
nothing, a provisional record, a live record or a tombstone of the same id or of another id (a re-add), and a
sync-removal tombstone (with or without the id it removed, written before or after the write's read of Clerk
began), each older, equal or newer than the write.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from clerk_sync import items
from clerk_sync.aws import RequestMeter
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.models import Membership
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store import SyncStore
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import membership_data

CTX = WriteContext(SyncSource.WEBHOOK, now_ms=1_000, event_id="msg_1")
USER = "user_alice"
ORG = "org_acme"
THIS = "orgmem_this"  # the incarnation being written
OTHER = "orgmem_other"  # another incarnation of the same (organization, user) pair
WRITE_VERSION = 7


def _membership(version: int, membership_id: str = THIS, role: str = "org:member") -> Membership:
    data = membership_data(ORG, USER, membership_id=membership_id, updated_at=version, role=role)
    return Membership.model_validate(data)


# A sync removal written after the write's read of Clerk began (CTX.now_ms), and one written before it.
REMOVED_AFTER_READ = 2_000
REMOVED_BEFORE_READ = 500


def _prior_item(prior: str) -> dict[str, Any] | None:
    """The item on record before the write: `<kind>:<id>@<version>`, `provisional`, `none`, or a sync removal
    `removed[-earlier][:this]@<version>` (`-earlier`: written before the write's read began; `:this`: of this id)."""
    if prior == "none":
        return None
    if prior == "provisional":
        return items.provisional_membership_item(ORG, USER, "org:member", WriteContext(SyncSource.FALLBACK, 1))
    if prior.startswith("removed"):
        head, version = prior.split("@")
        name, _, incarnation = head.partition(":")
        removed_at = REMOVED_BEFORE_READ if name == "removed-earlier" else REMOVED_AFTER_READ
        membership_id = THIS if incarnation == "this" else None
        return items.removed_membership_item(
            ORG, USER, int(version), CTX, removed_at=removed_at, membership_id=membership_id
        )
    kind, rest = prior.split(":")
    membership_id, version = rest.split("@")
    membership = _membership(int(version), {"this": THIS, "other": OTHER}[membership_id], role="org:admin")
    if kind == "live":
        return items.membership_item(membership, CTX, ItemPolicy())
    return items.membership_tombstone_item(membership, CTX, ItemPolicy())


def _plant(aws: Any, item: dict[str, Any] | None) -> None:
    """Writes the prior item directly, with no condition: the store's rules are what is under test."""
    if item is not None:
        aws.dynamodb.put_item(TableName=aws.resources.table_name, Item=_serialized(item))


def _serialized(item: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


def _write(store: SyncStore, write: str) -> WriteResult:
    membership = _membership(WRITE_VERSION)
    match write:
        case "upsert":
            return store.put_membership(membership, CTX)
        case "delete":
            return store.delete_membership(membership, CTX)
        case _:
            return store.put_membership(membership, CTX, fetched=True)


# (write, prior item, expected outcome, whether the write replaced the prior item)
CASES = [
    # Event upsert: newer version over live records and over other incarnations' tombstones; never over its own.
    ("upsert", "none", Outcome.APPLIED, True),
    ("upsert", "provisional", Outcome.APPLIED, True),
    ("upsert", "live:this@5", Outcome.APPLIED, True),
    ("upsert", "live:this@9", Outcome.STALE, False),
    ("upsert", "tombstone:this@5", Outcome.TOMBSTONED, False),  # no resurrection of a deleted incarnation
    ("upsert", "tombstone:this@9", Outcome.TOMBSTONED, False),
    ("upsert", "live:other@5", Outcome.APPLIED, True),
    ("upsert", "live:other@9", Outcome.STALE, False),
    ("upsert", "tombstone:other@5", Outcome.APPLIED, True),  # re-added after an older removal
    ("upsert", "tombstone:other@7", Outcome.STALE, False),  # a tie goes to the delete
    ("upsert", "tombstone:other@9", Outcome.STALE, False),
    ("upsert", "removed@5", Outcome.APPLIED, True),
    ("upsert", "removed@9", Outcome.STALE, False),
    ("upsert", "removed:this@5", Outcome.APPLIED, True),  # a sync removal does not make its incarnation final
    ("upsert", "removed:this@9", Outcome.STALE, False),
    # Event delete: its own incarnation whatever the versions; others by version, a tie to the delete.
    ("delete", "none", Outcome.APPLIED, True),
    ("delete", "provisional", Outcome.APPLIED, True),
    ("delete", "live:this@5", Outcome.APPLIED, True),
    ("delete", "live:this@9", Outcome.APPLIED, True),  # its deletion supersedes its updates
    ("delete", "tombstone:this@5", Outcome.DUPLICATE, False),
    ("delete", "tombstone:this@9", Outcome.DUPLICATE, False),
    ("delete", "live:other@5", Outcome.APPLIED, True),
    ("delete", "live:other@7", Outcome.APPLIED, True),
    ("delete", "live:other@9", Outcome.STALE, False),  # a late removal of an older incarnation
    ("delete", "tombstone:other@5", Outcome.APPLIED, True),
    ("delete", "tombstone:other@9", Outcome.STALE, False),
    ("delete", "removed@5", Outcome.APPLIED, True),
    ("delete", "removed@9", Outcome.STALE, False),
    ("delete", "removed:this@9", Outcome.APPLIED, True),  # Clerk's delete of the removed incarnation: final now
    ("delete", "removed-earlier@9", Outcome.STALE, False),
    # Fetched write: wins ties over live records, never brings back its own incarnation.
    ("fetched", "none", Outcome.APPLIED, True),
    ("fetched", "provisional", Outcome.APPLIED, True),
    ("fetched", "live:this@5", Outcome.APPLIED, True),
    ("fetched", "live:this@9", Outcome.STALE, False),
    ("fetched", "tombstone:this@5", Outcome.TOMBSTONED, False),
    ("fetched", "tombstone:this@9", Outcome.TOMBSTONED, False),
    ("fetched", "live:other@5", Outcome.APPLIED, True),
    ("fetched", "live:other@7", Outcome.APPLIED, True),
    ("fetched", "live:other@9", Outcome.STALE, False),
    ("fetched", "tombstone:other@5", Outcome.APPLIED, True),
    ("fetched", "tombstone:other@7", Outcome.STALE, False),
    ("fetched", "tombstone:other@9", Outcome.STALE, False),
    ("fetched", "removed@5", Outcome.APPLIED, True),
    ("fetched", "removed@9", Outcome.STALE, False),  # its read began before the removal
    ("fetched", "removed:this@9", Outcome.STALE, False),
    ("fetched", "removed-earlier@9", Outcome.APPLIED, True),  # a read begun after a sync removal repairs it
    ("fetched", "removed-earlier:this@9", Outcome.APPLIED, True),
]


@pytest.mark.parametrize(("write", "prior", "outcome", "replaced"), CASES, ids=[f"{w}-over-{p}" for w, p, *_ in CASES])
def test_store_membership_write_over_each_prior_item_follows_incarnation_rule(
    aws: Any, write: str, prior: str, outcome: Outcome, replaced: bool
) -> None:
    store = aws.store()
    before = _prior_item(prior)
    _plant(aws, before)
    assert _write(store, write).outcome is outcome
    stored = store.get_membership(ORG, USER)
    assert stored is not None
    if replaced:
        assert (stored["membership_id"], stored["version"]) == (THIS, WRITE_VERSION)
        assert stored["deleted"] is (write == "delete")
    else:
        assert before is not None
        assert {name: stored[name] for name in before} == before
    # GSI1 lists the pair exactly when a live record is on record.
    listed = [m["org_id"] for m in store.user_memberships(USER)]
    assert listed == ([] if stored["deleted"] else [ORG])


def test_store_membership_late_update_of_deleted_incarnation_is_tombstoned(aws: Any) -> None:
    # The bundled Clerk examples: updated at ...500000, then deleted with the created-time payload (...200000).
    store = aws.store()
    assert store.put_membership(_membership(500, role="org:admin"), CTX).outcome is Outcome.APPLIED
    assert store.delete_membership(_membership(200), CTX).outcome is Outcome.APPLIED
    assert store.put_membership(_membership(500, role="org:admin"), CTX).outcome is Outcome.TOMBSTONED
    assert store.put_membership(_membership(200), CTX).outcome is Outcome.TOMBSTONED
    stored = store.get_membership(ORG, USER)
    assert (stored["deleted"], stored["membership_id"]) == (True, THIS)
    assert store.user_memberships(USER) == []


def test_store_membership_tombstone_keeps_membership_id_with_or_without_scrub(aws: Any) -> None:
    for policy in (ItemPolicy(), ItemPolicy(scrub_pii_on_delete=False)):
        store = aws.store(policy)
        store.delete_membership(_membership(5), CTX)
        stored = store.get_membership(ORG, USER)
        assert (stored["deleted"], stored["membership_id"]) == (True, THIS)
        # The id is what keeps the deleted incarnation from coming back.
        assert store.put_membership(_membership(9), CTX).outcome is Outcome.TOMBSTONED


def test_store_membership_readded_with_new_id_replaces_tombstone_and_late_old_events_lose(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership(5, THIS), CTX)
    store.delete_membership(_membership(3, THIS), CTX)  # a delete payload older than the last update
    assert store.put_membership(_membership(9, OTHER), CTX).outcome is Outcome.APPLIED
    assert store.put_membership(_membership(5, THIS), CTX).outcome is Outcome.STALE
    assert store.delete_membership(_membership(3, THIS), CTX).outcome is Outcome.STALE
    stored = store.get_membership(ORG, USER)
    assert (stored["deleted"], stored["membership_id"], stored["version"]) == (False, OTHER, 9)


_PLACEHOLDER = re.compile(r":[A-Za-z_][A-Za-z0-9_]*")


def test_store_membership_conditions_bind_exactly_their_placeholders(aws: Any) -> None:
    """DynamoDB refuses unused or missing expression values; moto accepts unused ones, so check them here."""
    seen: list[tuple[str, set[str]]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests = [params] + [
            entry.get("Put") or entry.get("ConditionCheck") or {} for entry in params.get("TransactItems", [])
        ]
        for request in requests:
            if "ConditionExpression" in request:
                seen.append((request["ConditionExpression"], set(request.get("ExpressionAttributeValues", {}))))

    aws.dynamodb.meta.events.register("provide-client-params.dynamodb.*", record)
    try:
        store = aws.store()
        for write in ("upsert", "delete", "fetched"):
            _write(store, write)
        store.put_provisional_membership(ORG, "user_bob", "org:member", CTX)
        store.remove_unlisted_membership(ORG, USER, 2_000, CTX, removed_at=2_001)
        store.put_membership(_membership(9), CTX, fetched=True)
        store.remove_unlisted_membership(ORG, USER, 2_000, CTX, removed_at=2_001, membership_id=THIS)
    finally:
        aws.dynamodb.meta.events.unregister("provide-client-params.dynamodb.*", record)
    assert len(seen) >= 10
    for expression, values in seen:
        assert set(_PLACEHOLDER.findall(expression)) == values, expression


def test_store_membership_write_rules_expressed_without_a_read(aws: Any) -> None:
    store = aws.store()
    _plant(aws, _prior_item("tombstone:this@5"))
    meter = RequestMeter()
    meter.attach(aws.dynamodb, "dynamodb")
    store.put_membership(_membership(9), CTX)
    store.delete_membership(_membership(9), CTX)
    store.put_membership(_membership(9), CTX, fetched=True)
    # Refused by the incarnation rule in the write itself: no GetItem first, no extra read after.
    assert dict(meter.calls) == {"TransactWriteItems": 2, "PutItem": 1}
