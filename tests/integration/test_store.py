"""The store's typed outcomes against DynamoDB semantics (moto): version gate, tombstones, cascade, re-add."""

from __future__ import annotations

from typing import Any

from clerk_sync import keys
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.models import Membership, Organization, User
from clerk_sync.outcomes import Outcome
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import membership_data, org_data, user_data

CTX = WriteContext(SyncSource.WEBHOOK, now_ms=1_000, event_id="msg_1")
USER = "user_alice"
ORG = "org_acme"


def _user(updated_at: int, **fields: Any) -> User:
    return User.model_validate(user_data(USER, updated_at=updated_at, **fields))


def _org(updated_at: int, **fields: Any) -> Organization:
    return Organization.model_validate(org_data(ORG, updated_at=updated_at, **fields))


def _membership(updated_at: int, role: str = "org:member", membership_id: str = "orgmem_1") -> Membership:
    data = membership_data(ORG, USER, membership_id=membership_id, updated_at=updated_at, role=role)
    return Membership.model_validate(data)


def test_store_newer_user_version_is_applied(aws: Any) -> None:
    store = aws.store()
    assert store.put_user(_user(10, first_name="Old"), CTX).outcome is Outcome.APPLIED
    assert store.put_user(_user(20, first_name="New"), CTX).outcome is Outcome.APPLIED
    assert store.get_user(USER)["first_name"] == "New"


def test_store_older_user_version_is_stale_and_not_written(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(20, first_name="New"), CTX)
    assert store.put_user(_user(10, first_name="Old"), CTX).outcome is Outcome.STALE
    assert store.get_user(USER)["first_name"] == "New"


def test_store_same_version_same_content_is_duplicate(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10), CTX)
    later = WriteContext(SyncSource.API, now_ms=2_000, event_id="msg_2")
    assert store.put_user(_user(10), later).outcome is Outcome.DUPLICATE
    assert store.get_user(USER)["synced_at"] == 1_000


def test_store_same_version_other_content_needs_refetch_and_is_recorded(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10, first_name="One"), CTX)
    other = WriteContext(SyncSource.WEBHOOK, now_ms=3_000, event_id="msg_tie")
    assert store.put_user(_user(10, first_name="Two"), other).outcome is Outcome.NEEDS_REFETCH
    stored = store.get_user(USER)
    assert stored["first_name"] == "One"  # never decided by arrival order
    assert (stored["refetch_requested_at"], stored["refetch_event_id"]) == (3_000, "msg_tie")


def test_store_organization_member_count_change_at_same_version_is_duplicate(aws: Any) -> None:
    # Clerk changes members_count without bumping updated_at (see the real membership payloads).
    store = aws.store()
    store.put_organization(_org(10, members_count=1), CTX)
    assert store.put_organization(_org(10, members_count=2), CTX).outcome is Outcome.DUPLICATE


def test_store_deleted_user_is_not_resurrected_by_any_version(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10), CTX)
    assert store.delete_user(USER, CTX).outcome is Outcome.APPLIED
    # Even a version newer than the tombstone itself (stamped at CTX.now_ms) cannot bring it back.
    assert store.put_user(_user(CTX.now_ms * 1000), CTX).outcome is Outcome.TOMBSTONED
    assert store.get_user(USER)["deleted"] is True


def test_store_delete_before_create_still_blocks_create(aws: Any) -> None:
    store = aws.store()
    store.delete_user(USER, CTX)
    assert store.put_user(_user(10), CTX).outcome is Outcome.TOMBSTONED
    assert store.delete_user(USER, CTX).outcome is Outcome.DUPLICATE


def test_store_user_tombstone_is_scrubbed_by_default(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10, first_name="Alice", public_metadata={"plan": "pro"}), CTX)
    store.delete_user(USER, CTX)
    stored = store.get_user(USER)
    assert {"first_name", "email_addresses", "primary_email", "public_metadata"}.isdisjoint(stored)
    assert stored["user_id"] == USER


def test_store_user_tombstone_keeps_fields_when_scrub_disabled(aws: Any) -> None:
    store = aws.store(ItemPolicy(scrub_pii_on_delete=False))
    store.put_user(_user(10, first_name="Alice"), CTX)
    store.delete_user(USER, CTX)
    stored = store.get_user(USER)
    assert (stored["deleted"], stored["first_name"]) == (True, "Alice")
    assert store.put_user(_user(11), CTX).outcome is Outcome.TOMBSTONED


def test_store_private_metadata_kept_only_when_configured(aws: Any) -> None:
    user = _user(10, private_metadata={"stripe": "cus_1"})
    aws.store().put_user(user, CTX)
    assert "private_metadata" not in aws.store().get_user(USER)
    kept = aws.store(ItemPolicy(store_private_metadata=True))
    kept.put_user(_user(11, private_metadata={"stripe": "cus_1"}), CTX)
    assert kept.get_user(USER)["private_metadata"] == {"stripe": "cus_1"}


def test_store_user_delete_cascades_to_all_memberships(aws: Any) -> None:
    store = aws.store()
    for org in ("org_a", "org_b", "org_c"):
        data = membership_data(org, USER, membership_id=f"orgmem_{org}", updated_at=5)
        assert store.put_membership(Membership.model_validate(data), CTX).outcome is Outcome.APPLIED
    result = store.delete_user(USER, CTX)
    assert result.cascaded == 3
    assert store.user_memberships(USER) == []
    assert [item for item in aws.items() if item["entity"] == "membership"] == []


def test_store_organization_delete_cascades_to_members_and_blocks_late_membership(aws: Any) -> None:
    store = aws.store()
    for user in ("user_a", "user_b"):
        data = membership_data(ORG, user, membership_id=f"orgmem_{user}", updated_at=5)
        store.put_membership(Membership.model_validate(data), CTX)
    assert store.delete_organization(ORG, CTX).cascaded == 2
    late = Membership.model_validate(membership_data(ORG, "user_c", membership_id="orgmem_c", updated_at=9))
    assert store.put_membership(late, CTX).outcome is Outcome.TOMBSTONED
    assert store.delete_membership(late, CTX).outcome is Outcome.TOMBSTONED
    assert store.organization_memberships(ORG, include_deleted=True) == []


def test_store_membership_for_deleted_user_is_tombstoned(aws: Any) -> None:
    store = aws.store()
    store.delete_user(USER, CTX)
    assert store.put_membership(_membership(5), CTX).outcome is Outcome.TOMBSTONED
    assert store.get_membership(ORG, USER) is None


def test_store_membership_delete_beats_update_of_same_version(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership(5), CTX)
    assert store.delete_membership(_membership(7, role="org:admin"), CTX).outcome is Outcome.APPLIED
    # Same membership id: its delete is final (docs/decisions/0003), so the late update is refused as deleted.
    assert store.put_membership(_membership(7, role="org:admin"), CTX).outcome is Outcome.TOMBSTONED
    assert store.delete_membership(_membership(7, role="org:admin"), CTX).outcome is Outcome.DUPLICATE
    assert store.get_membership(ORG, USER)["deleted"] is True
    assert store.user_memberships(USER) == []


def test_store_membership_readded_after_removal_is_live_again(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership(5), CTX)
    store.delete_membership(_membership(5), CTX)
    readded = _membership(9, role="org:admin", membership_id="orgmem_2")
    assert store.put_membership(readded, CTX).outcome is Outcome.APPLIED
    stored = store.get_membership(ORG, USER)
    assert (stored["deleted"], stored["role"], stored["membership_id"]) == (False, "org:admin", "orgmem_2")
    assert [m["org_id"] for m in store.user_memberships(USER)] == [ORG]
    # The removal arriving late is older than the re-add.
    assert store.delete_membership(_membership(5), CTX).outcome is Outcome.STALE


def test_store_membership_same_version_other_role_needs_refetch(aws: Any) -> None:
    store = aws.store()
    store.put_membership(_membership(5, role="org:member"), CTX)
    assert store.put_membership(_membership(5, role="org:admin"), CTX).outcome is Outcome.NEEDS_REFETCH
    assert store.get_membership(ORG, USER)["role"] == "org:member"
    assert store.get_membership(ORG, USER)["refetch_event_id"] == "msg_1"


def test_store_provisional_user_replaced_by_any_real_version(aws: Any) -> None:
    store = aws.store()
    login = WriteContext(SyncSource.FALLBACK, now_ms=1)
    assert store.put_provisional_user(USER, {"first_name": "From claims"}, login).outcome is Outcome.APPLIED
    assert store.get_user(USER)["provisional"] is True
    assert store.put_user(_user(1, first_name="Real"), CTX).outcome is Outcome.APPLIED
    stored = store.get_user(USER)
    assert (stored["provisional"], stored["first_name"]) == (False, "Real")


def test_store_provisional_user_never_overwrites_a_real_record(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10, first_name="Real"), CTX)
    result = store.put_provisional_user(USER, {"first_name": "Claims"}, WriteContext(SyncSource.FALLBACK, 1))
    assert result.outcome is Outcome.STALE
    assert store.get_user(USER)["first_name"] == "Real"
    store.delete_user(USER, CTX)
    result = store.put_provisional_user(USER, {}, WriteContext(SyncSource.FALLBACK, 1))
    assert result.outcome is Outcome.TOMBSTONED


def test_store_metadata_floats_round_trip(aws: Any) -> None:
    store = aws.store()
    store.put_user(_user(10, public_metadata={"score": 1.5, "tags": ["a"], "nested": {"n": None}}), CTX)
    stored = store.get_user(USER)["public_metadata"]
    assert (float(stored["score"]), stored["tags"], stored["nested"]) == (1.5, ["a"], {"n": None})


def test_store_one_request_per_upsert(aws: Any) -> None:
    from clerk_sync.aws import RequestMeter

    meter = RequestMeter()
    meter.attach(aws.dynamodb, "dynamodb")
    store = aws.store()
    store.put_user(_user(10), CTX)
    store.put_organization(_org(10), CTX)
    store.put_membership(_membership(10), CTX)
    assert dict(meter.calls) == {"UpdateItem": 1, "PutItem": 1, "TransactWriteItems": 1}  # a user profile: UpdateItem
    assert keys.user_key(USER) == {"PK": f"USER#{USER}", "SK": "PROFILE"}
