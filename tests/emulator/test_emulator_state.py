"""The emulator's data model through its Python API: ids, versions, cascades, memberships, seeding."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from clerk_sync.models import Membership, Organization, User
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.errors import NotFoundError, UnprocessableError
from clerk_sync_local.emulator.state import MsClock


def test_ids_new_objects_have_clerk_prefixes(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="Jane", email="jane@example.com")
    org = clerk.create_organization("Acme", created_by=user["id"])
    membership = clerk.state_snapshot()["memberships"][0]
    assert re.fullmatch(r"user_[0-9A-Za-z]{27}", user["id"])
    assert re.fullmatch(r"org_[0-9A-Za-z]{27}", org["id"])
    assert re.fullmatch(r"orgmem_[0-9A-Za-z]{27}", membership["id"])
    assert re.fullmatch(r"idn_[0-9A-Za-z]{27}", user["primary_email_address_id"])


def test_clock_same_wall_millisecond_still_increases() -> None:
    clock = MsClock(now=lambda: 1_700_000_000.0)
    ticks = [clock.tick() for _ in range(5)]
    assert ticks == sorted(set(ticks))
    assert ticks[0] == 1_700_000_000_000


def test_updated_at_every_change_strictly_increases_across_objects(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="A")
    versions = [user["updated_at"]]
    org = clerk.create_organization("Org")
    versions.append(org["updated_at"])
    versions.append(clerk.add_membership(org["id"], user["id"])["updated_at"])
    versions.append(clerk.update_user(user["id"], first_name="B")["updated_at"])
    versions.append(clerk.update_organization(org["id"], name="Org 2")["updated_at"])
    versions.append(clerk.update_membership(org["id"], user["id"], role="org:admin")["updated_at"])
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)


def test_update_user_only_given_fields_change(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="Jane", last_name="Doe", email="jane@example.com", public_metadata={"a": 1})
    updated = clerk.update_user(user["id"], last_name="Roe")
    assert (updated["first_name"], updated["last_name"]) == ("Jane", "Roe")
    assert updated["public_metadata"] == {"a": 1}
    assert updated["primary_email_address_id"] == user["primary_email_address_id"]
    assert updated["created_at"] == user["created_at"] < updated["updated_at"]


def test_update_user_new_primary_email_keeps_old_address(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(email="old@example.com")
    updated = clerk.update_user(user["id"], email="new@example.com")
    addresses = {e["id"]: e["email_address"] for e in updated["email_addresses"]}
    assert addresses[updated["primary_email_address_id"]] == "new@example.com"
    assert "old@example.com" in addresses.values()


def test_create_user_duplicate_email_is_rejected(clerk: ClerkEmulator) -> None:
    clerk.create_user(email="jane@example.com")
    with pytest.raises(UnprocessableError) as raised:
        clerk.create_user(email="JANE@example.com")
    assert raised.value.code == "form_identifier_exists"


def test_create_organization_creator_becomes_admin_member(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="Jane")
    org = clerk.create_organization("Acme Corp", created_by=user["id"])
    (membership,) = clerk.state_snapshot()["memberships"]
    assert org["members_count"] == 1
    assert org["slug"] == "acme-corp"
    assert org["created_by"] == user["id"]
    assert (membership["role"], membership["role_name"]) == ("org:admin", "Admin")
    assert [e["type"] for e in clerk.events] == [
        "user.created",
        "organization.created",
        "organizationMembership.created",
    ]


def test_create_organization_same_name_gets_distinct_slug(clerk: ClerkEmulator) -> None:
    first = clerk.create_organization("Acme")
    second = clerk.create_organization("Acme")
    assert (first["slug"], second["slug"]) == ("acme", "acme-2")
    with pytest.raises(UnprocessableError):
        clerk.create_organization("Other", slug="acme")


def test_members_count_follows_adds_and_removals(clerk: ClerkEmulator) -> None:
    users = [clerk.create_user(first_name=str(i)) for i in range(3)]
    org = clerk.create_organization("Acme")
    for user in users:
        clerk.add_membership(org["id"], user["id"])
    clerk.remove_membership(org["id"], users[0]["id"])
    assert clerk.state.get_organization(org["id"])["members_count"] == 2


def test_remove_membership_then_add_again_gets_new_id_and_timestamps(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="Jane")
    org = clerk.create_organization("Acme")
    first = clerk.add_membership(org["id"], user["id"])
    removed = clerk.remove_membership(org["id"], user["id"])
    again = clerk.add_membership(org["id"], user["id"])
    assert removed["id"] == first["id"]
    assert again["id"] != first["id"]
    assert again["created_at"] > removed["updated_at"] > first["updated_at"]


def test_add_membership_twice_is_rejected(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme")
    clerk.add_membership(org["id"], user["id"])
    with pytest.raises(UnprocessableError) as raised:
        clerk.add_membership(org["id"], user["id"])
    assert raised.value.code == "already_a_member_in_organization"


def test_add_membership_unknown_role_is_rejected(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme")
    with pytest.raises(UnprocessableError):
        clerk.add_membership(org["id"], user["id"], role="admin")


def test_add_membership_over_quota_is_rejected(clerk: ClerkEmulator) -> None:
    org = clerk.create_organization("Small", max_allowed_memberships=1)
    clerk.add_membership(org["id"], clerk.create_user()["id"])
    with pytest.raises(UnprocessableError):
        clerk.add_membership(org["id"], clerk.create_user()["id"])


def test_delete_user_removes_memberships_then_sends_user_deleted(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(external_id="ext-1")
    orgs = [clerk.create_organization(f"Org {i}") for i in range(2)]
    for org in orgs:
        clerk.add_membership(org["id"], user["id"])
    before = len(clerk.events)
    deleted = clerk.delete_user(user["id"])
    events = clerk.events[before:]
    assert deleted == {"object": "user", "id": user["id"], "deleted": True, "external_id": "ext-1"}
    assert [e["type"] for e in events] == ["organizationMembership.deleted"] * 2 + ["user.deleted"]
    assert all(o["members_count"] == 0 for o in clerk.state_snapshot()["organizations"])
    assert clerk.state_snapshot()["deleted_user_ids"] == [user["id"]]
    with pytest.raises(NotFoundError):
        clerk.state.get_user(user["id"])


def test_delete_organization_cascades_memberships(clerk: ClerkEmulator) -> None:
    users = [clerk.create_user() for _ in range(2)]
    org = clerk.create_organization("Acme", created_by=users[0]["id"])
    clerk.add_membership(org["id"], users[1]["id"])
    before = len(clerk.events)
    deleted = clerk.delete_organization(org["id"])
    events = clerk.events[before:]
    assert deleted == {"object": "organization", "id": org["id"], "slug": "acme", "deleted": True}
    assert [e["type"] for e in events] == ["organizationMembership.deleted"] * 2 + ["organization.deleted"]
    # The embedded org counts down as members go.
    assert [e["payload"]["data"]["organization"]["members_count"] for e in events[:2]] == [1, 0]
    assert clerk.state_snapshot()["memberships"] == []


def test_delete_user_cascade_webhooks_off_sends_only_user_deleted(clerk: ClerkEmulator) -> None:
    clerk.set_knobs(cascade_webhooks=False)
    user = clerk.create_user()
    org = clerk.create_organization("Acme", created_by=user["id"])
    before = len(clerk.events)
    clerk.delete_user(user["id"])
    assert [e["type"] for e in clerk.events[before:]] == ["user.deleted"]
    assert clerk.state.get_organization(org["id"])["members_count"] == 0


def test_remove_membership_bump_off_keeps_last_updated_at(clerk: ClerkEmulator) -> None:
    clerk.set_knobs(bump_deleted_membership=False)
    user = clerk.create_user()
    org = clerk.create_organization("Acme")
    added = clerk.add_membership(org["id"], user["id"])
    assert clerk.remove_membership(org["id"], user["id"])["updated_at"] == added["updated_at"]


def test_membership_user_rename_shows_in_public_user_data_without_new_version(clerk: ClerkEmulator) -> None:
    user = clerk.create_user(first_name="Jane", email="jane@example.com")
    org = clerk.create_organization("Acme")
    added = clerk.add_membership(org["id"], user["id"])
    clerk.update_user(user["id"], first_name="Janet")
    (membership,) = clerk.state_snapshot()["memberships"]
    assert membership["public_user_data"]["first_name"] == "Janet"
    assert membership["public_user_data"]["identifier"] == "jane@example.com"
    assert membership["updated_at"] == added["updated_at"]


def test_snapshot_objects_parse_with_product_models(clerk: ClerkEmulator) -> None:
    clerk.seed_data(users=5, organizations=2, memberships_per_org=3)
    snapshot = clerk.state_snapshot()
    assert len([User.model_validate(u) for u in snapshot["users"]]) == 5
    assert len([Organization.model_validate(o) for o in snapshot["organizations"]]) == 2
    assert len([Membership.model_validate(m) for m in snapshot["memberships"]]) == 6


def test_seed_same_seed_gives_same_people_and_structure(signing_key_pem: str) -> None:
    def shape(emulator: ClerkEmulator) -> tuple[object, ...]:
        summary = emulator.seed_data(users=8, organizations=3, memberships_per_org=3, seed=7)
        snapshot = emulator.state_snapshot()
        index = {uid: i for i, uid in enumerate(summary["users"])}
        users = [(u["first_name"], u["last_name"], u["username"], u["public_metadata"]) for u in snapshot["users"]]
        members = [
            (m["organization"]["name"], index[m["public_user_data"]["user_id"]], m["role"])
            for m in snapshot["memberships"]
        ]
        return users, members

    first = ClerkEmulator(signing_key_pem=signing_key_pem)
    second = ClerkEmulator(signing_key_pem=signing_key_pem)
    assert shape(first) == shape(second)
    assert first.state_snapshot()["users"][0]["id"] != second.state_snapshot()["users"][0]["id"]


def test_seed_webhooks_off_records_no_events(clerk: ClerkEmulator) -> None:
    summary = clerk.seed_data(users=4, organizations=2, memberships_per_org=2, webhooks=False)
    assert summary["memberships"] == 4
    assert clerk.events == []


def test_reset_forgets_data_but_never_reuses_ids(clerk: ClerkEmulator) -> None:
    first = clerk.create_user()
    clerk.reset()
    assert clerk.state_snapshot()["users"] == []
    assert clerk.create_user()["id"] != first["id"]


def test_concurrent_writers_and_readers_events_follow_version_order(clerk: ClerkEmulator) -> None:
    def write(worker: int) -> None:
        for i in range(25):
            user = clerk.create_user(first_name=f"{worker}-{i}")
            clerk.update_user(user["id"], last_name="x")

    def read() -> None:
        headers = {"Authorization": f"Bearer {clerk.secret_key}"}
        with httpx.Client(base_url=clerk.api_url, headers=headers) as client:
            for _ in range(25):
                assert client.get("/users", params={"limit": 500}).status_code == 200

    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(write, w) for w in range(4)] + [pool.submit(read) for _ in range(2)]
        for future in futures:
            future.result()
    timestamps = [e["timestamp_ms"] for e in clerk.events]
    assert len(timestamps) == 200
    assert timestamps == sorted(set(timestamps))  # published in version order, no version shared
    assert len(clerk.state_snapshot()["users"]) == 100
