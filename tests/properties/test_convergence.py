"""Invariants 1-5 as properties: any delivery order, with duplicates, converges on Clerk's final state.

1 convergence, 2 no stale overwrite, 3 no resurrection (and membership re-add), 4 cascade, 5 idempotence.
Membership deletes may carry an `updated_at` older than the membership's last update (or the deletion
time), and re-adds get a new membership id (tests/support/clerk_history.py). Provisional login records of
users and memberships are mixed into the deliveries: any real version must replace them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from clerk_sync import items, keys, resources
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.models import Envelope, Membership, Organization, User
from clerk_sync.store import SyncStore, Table
from clerk_sync.sync.service import SyncService
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_history import ClerkHistory

USERS = ("user_ann", "user_bob", "user_cy")
ORGS = ("org_red", "org_blue")
POLICY = ItemPolicy()

# Which state a membership delete's payload carries: 0 as it last was, n an earlier state, -1 the deletion time.
payload_ages = st.integers(min_value=-1, max_value=3)

operations = st.one_of(
    st.tuples(st.just("upsert_user"), st.sampled_from(USERS), st.sampled_from(["Ann", "Bo", "Cy"])),
    st.tuples(st.just("upsert_user"), st.sampled_from(USERS), st.text(max_size=5)),
    st.tuples(st.just("upsert_org"), st.sampled_from(ORGS), st.sampled_from(["Red", "Blue", "Green"])),
    st.tuples(
        st.just("set_membership"),
        st.sampled_from(ORGS),
        st.sampled_from(USERS),
        st.sampled_from(["org:admin", "org:member"]),
    ),
    st.tuples(st.just("set_membership"), st.sampled_from(ORGS), st.sampled_from(USERS), st.just("org:member")),
    st.tuples(
        st.just("update_nth_membership"), st.integers(min_value=0, max_value=5), st.sampled_from(["org:admin", "org:x"])
    ),
    st.tuples(st.just("churn_membership"), st.sampled_from(ORGS), st.sampled_from(USERS), payload_ages),
    st.tuples(st.just("remove_membership"), st.sampled_from(ORGS), st.sampled_from(USERS), payload_ages),
    st.tuples(st.just("remove_nth_membership"), st.integers(min_value=0, max_value=5), payload_ages),
    st.tuples(st.just("delete_user"), st.sampled_from(USERS), st.booleans(), payload_ages),
    st.tuples(st.just("delete_org"), st.sampled_from(ORGS), st.booleans(), payload_ages),
)


# Every history starts with the users and organizations in place, so memberships, removals, re-adds and
# cascades make up most of what is drawn (without it, most histories were a few creates).
SETUP = [("upsert_user", user_id, "Initial") for user_id in USERS] + [("upsert_org", org, "Initial") for org in ORGS]
histories = st.lists(operations, min_size=5, max_size=30).map(lambda drawn: SETUP + drawn)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _fresh_store(dynamodb: Any) -> SyncStore:
    name = f"prop-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(**resources.table_create_kwargs(name))
    return SyncStore(Table(dynamodb, name), POLICY)


def _expected_fields(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    match kind:
        case "user":
            fields = items.user_fields(User.model_validate(data), POLICY)
        case "organization":
            fields = items.organization_fields(Organization.model_validate(data), POLICY)
        case _:
            fields = items.membership_fields(Membership.model_validate(data), POLICY)
    result: dict[str, Any] = items.to_dynamo_value(fields)
    return result


def _deliver(service: SyncService, store: SyncStore, delivery: list[Any]) -> None:
    fallback = WriteContext(SyncSource.FALLBACK, 1)
    for entry in delivery:
        if entry[0] == "login":
            store.put_provisional_user(entry[1], {"first_name": "from-claims"}, fallback)
        elif entry[0] == "login_membership":
            store.put_provisional_membership(entry[1], entry[2], "org:member", fallback)
        else:
            svix_id, event = entry
            service.apply_event(Envelope.model_validate(event), event_id=svix_id)


def _assert_table_matches(store: SyncStore, clerk: ClerkHistory) -> None:
    table = {(item[keys.PK], item[keys.SK]): item for item in store.scan()}
    live = {key: item for key, item in table.items() if not item["deleted"]}

    expected_live: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for user_id, data in clerk.users.items():
        expected_live[(keys.USER_PREFIX + user_id, keys.PROFILE_SK)] = ("user", data)
    for org_id, data in clerk.orgs.items():
        expected_live[(keys.ORG_PREFIX + org_id, keys.PROFILE_SK)] = ("organization", data)
    for (org_id, user_id), data in clerk.memberships.items():
        expected_live[(keys.ORG_PREFIX + org_id, keys.MEMBER_PREFIX + user_id)] = ("membership", data)

    # 1 convergence and 4 cascade: exactly Clerk's live objects are live, with Clerk's final fields.
    assert set(live) == set(expected_live)
    for key, (kind, data) in expected_live.items():
        assert items.clerk_fields(live[key]) == _expected_fields(kind, data), key
        assert live[key]["version"] == data["updated_at"]
        assert live[key]["provisional"] is False
    # 3 no resurrection: every deleted user and organization is a tombstone.
    for user_id in clerk.deleted_users:
        assert table[(keys.USER_PREFIX + user_id, keys.PROFILE_SK)]["deleted"] is True
    for org_id in clerk.deleted_orgs:
        assert table[(keys.ORG_PREFIX + org_id, keys.PROFILE_SK)]["deleted"] is True
    # The user → organizations index lists exactly the live memberships.
    for user_id in USERS:
        listed = {m["org_id"] for m in store.user_memberships(user_id)}
        assert listed == {org for org, member in clerk.memberships if member == user_id}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories, data=st.data())
def test_any_delivery_order_with_duplicates_converges(dynamodb: Any, history: list[Any], data: st.DataObject) -> None:
    clerk = ClerkHistory()
    for operation in history:
        clerk.apply(operation)
    events: list[Any] = list(clerk.events)
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    created = sorted({event["data"]["id"] for _, event in events if event["type"] == "user.created"})
    logins = (
        [("login", user_id) for user_id in data.draw(st.lists(st.sampled_from(created), max_size=3))] if created else []
    )
    # A provisional membership only for a pair Clerk sent events about: one of them replaces or removes it.
    pairs = sorted(
        {
            (event["data"]["organization"]["id"], event["data"]["public_user_data"]["user_id"])
            for _, event in events
            if event["type"].startswith("organizationMembership.")
        }
    )
    logins += (
        [("login_membership", *pair) for pair in data.draw(st.lists(st.sampled_from(pairs), max_size=3))]
        if pairs
        else []
    )
    delivery = data.draw(st.permutations(events + duplicates + logins))

    store = _fresh_store(dynamodb)
    service = SyncService(store)
    _deliver(service, store, delivery)
    _assert_table_matches(store, clerk)

    # 5 idempotence: delivering everything again changes nothing at all.
    before = sorted(store.scan(), key=lambda item: (item[keys.PK], item[keys.SK]))
    _deliver(service, store, [entry for entry in delivery if not entry[0].startswith("login")])
    assert sorted(store.scan(), key=lambda item: (item[keys.PK], item[keys.SK])) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, data=st.data())
def test_older_event_after_newer_never_overwrites(dynamodb: Any, history: list[Any], data: st.DataObject) -> None:
    """2 no stale overwrite: after the newest event, any older one leaves the item untouched."""
    clerk = ClerkHistory()
    for operation in history:
        clerk.apply(operation)
    store = _fresh_store(dynamodb)
    service = SyncService(store)
    _deliver(service, store, list(clerk.events))
    settled = sorted(store.scan(), key=lambda item: (item[keys.PK], item[keys.SK]))
    replay = data.draw(st.lists(st.sampled_from(clerk.events), max_size=10)) if clerk.events else []
    _deliver(service, store, replay)
    assert sorted(store.scan(), key=lambda item: (item[keys.PK], item[keys.SK])) == settled


def test_history_membership_delete_may_be_older_than_last_update_and_readd_gets_new_id() -> None:
    """The model emits the hard cases the properties rely on (a generator change must not lose them)."""
    clerk = ClerkHistory()
    for operation in [
        *SETUP,
        ("churn_membership", "org_red", "user_ann", 2),
        ("set_membership", "org_red", "user_ann", "org:admin"),
    ]:
        clerk.apply(operation)
    memberships = [event["data"] for _, event in clerk.events if event["type"].startswith("organizationMembership.")]
    kinds = [
        event["type"].split(".")[1] for _, event in clerk.events if event["type"].startswith("organizationMembership.")
    ]
    assert kinds == ["created", "updated", "updated", "deleted", "created"]
    deleted, readded = memberships[3], memberships[4]
    assert deleted["updated_at"] < memberships[2]["updated_at"]  # the created state, two updates back
    assert deleted["updated_at"] == memberships[0]["updated_at"]
    assert readded["id"] != deleted["id"]
    assert readded["updated_at"] > memberships[2]["updated_at"]
