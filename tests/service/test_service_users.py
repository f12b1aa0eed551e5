"""sync_user, sync_user_organizations, full_user_sync against the emulator: writes, removals, call counts."""

from __future__ import annotations

import pytest

from clerk_sync import keys, wiring
from clerk_sync.reports import ChangeOutcome
from tests.service.conftest import Harness

USER_ROUTE = "GET /v1/users/{user_id}"
USER_MEMBERSHIPS_ROUTE = "GET /v1/users/{user_id}/organization_memberships"


def _user_with_orgs(harness: Harness, orgs: int) -> tuple[str, list[str]]:
    clerk = harness.clerk
    user = clerk.create_user(first_name="Ada", email="ada@example.com")["id"]
    org_ids = []
    for number in range(orgs):
        org = clerk.create_organization(f"Org {number}")["id"]
        clerk.add_membership(org, user, "org:admin" if number == 0 else "org:member")
        org_ids.append(org)
    harness.clerk.reset_stats()
    return user, org_ids


def test_sync_user_fetches_and_stores_the_user(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada", last_name="Lovelace", email="ada@example.com")["id"]
    report = harness.service.sync_user(user_id)
    item = harness.store.get_user(user_id)
    assert item is not None
    assert (item["first_name"], item["primary_email"], item["sync_source"]) == ("Ada", "ada@example.com", "api")
    assert report.changes[0].outcome is ChangeOutcome.APPLIED
    assert report.clerk_calls == 1 == harness.calls(USER_ROUTE)


def test_sync_user_twice_reports_unchanged_and_refreshes_synced_at(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Ada")["id"]
    harness.service.sync_user(user_id)
    first = harness.store.get_user(user_id)
    second_report = harness.service.sync_user(user_id)
    second = harness.store.get_user(user_id)
    assert first is not None
    assert second is not None
    assert second_report.summary == {"unchanged": 1}
    assert second["synced_at"] >= first["synced_at"]
    assert second["content_hash"] == first["content_hash"]


def test_sync_user_deleted_in_clerk_tombstones_and_cascades(harness: Harness) -> None:
    user_id, orgs = _user_with_orgs(harness, 2)
    harness.service.full_user_sync(user_id)
    assert len(harness.store.user_memberships(user_id)) == 2
    harness.clerk.delete_user(user_id)
    report = harness.service.sync_user(user_id)
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["deleted"] is True
    assert "first_name" not in item  # scrubbed
    assert report.found is False
    assert report.changes[0].outcome is ChangeOutcome.DELETED
    for org in orgs:
        assert harness.store.get_membership(org, user_id) is None


def test_full_user_sync_stores_user_orgs_and_memberships_with_one_listing(harness: Harness) -> None:
    user_id, orgs = _user_with_orgs(harness, 3)
    report = harness.service.full_user_sync(user_id)
    assert report.clerk_calls == 2
    assert harness.calls(USER_ROUTE) == 1
    assert harness.calls(USER_MEMBERSHIPS_ROUTE) == 1
    assert harness.calls("GET /v1/organizations/{organization_id}") == 0  # no per-org fetch
    assert report.count(ChangeOutcome.APPLIED, "organization") == 3
    assert report.count(ChangeOutcome.APPLIED, "membership") == 3
    roles = {m["org_id"]: m["role"] for m in harness.store.user_memberships(user_id)}
    assert roles == {orgs[0]: "org:admin", orgs[1]: "org:member", orgs[2]: "org:member"}
    for org in orgs:
        stored = harness.store.get_organization(org)
        assert stored is not None
        assert stored["name"].startswith("Org ")
    state = wiring.membership_sync_claims().state(user_id)
    assert state.synced_at is not None
    assert state.synced_at > 0


def test_sync_user_organizations_removes_memberships_clerk_no_longer_lists(harness: Harness) -> None:
    user_id, orgs = _user_with_orgs(harness, 3)
    harness.service.full_user_sync(user_id)
    harness.clerk.remove_membership(orgs[1], user_id)
    report = harness.service.sync_user_organizations(user_id)
    assert report.count(ChangeOutcome.REMOVED) == 1
    removed = harness.store.get_membership(orgs[1], user_id)
    assert removed is not None
    assert removed["deleted"] is True
    assert {m["org_id"] for m in harness.store.user_memberships(user_id)} == {orgs[0], orgs[2]}


def test_removed_membership_comes_back_when_clerk_re_adds_it(harness: Harness) -> None:
    user_id, orgs = _user_with_orgs(harness, 1)
    harness.service.full_user_sync(user_id)
    harness.clerk.remove_membership(orgs[0], user_id)
    harness.service.sync_user_organizations(user_id)
    harness.clerk.add_membership(orgs[0], user_id, "org:member")
    harness.service.sync_user_organizations(user_id)
    again = harness.store.get_membership(orgs[0], user_id)
    assert again is not None
    assert again["deleted"] is False
    assert again["role"] == "org:member"


def test_full_user_sync_of_unknown_user_reports_not_found_and_writes_nothing(harness: Harness) -> None:
    report = harness.service.full_user_sync("user_doesnotexist")
    assert report.found is False
    assert report.clerk_calls == 1  # no membership listing for a user Clerk does not have
    assert report.changes == []
    assert harness.records() == []


@pytest.mark.parametrize(("memberships", "calls"), [(0, 2), (3, 2), (500, 2), (501, 3)])
def test_full_user_sync_costs_one_plus_a_request_per_500_memberships(
    harness: Harness, memberships: int, calls: int
) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Many")["id"]
    for number in range(memberships):
        org = clerk.create_organization(f"O{number}")["id"]
        clerk.add_membership(org, user_id)
    clerk.reset_stats()
    report = harness.service.full_user_sync(user_id)
    assert report.clerk_calls == calls == harness.calls()
    assert len(harness.store.user_memberships(user_id)) == memberships


def test_sync_racing_a_newer_webhook_keeps_the_newer_data(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Old")["id"]
    harness.deliver()
    client = harness.service.clerk
    real_get_user = client.get_user

    def get_user_then_race(user: str, **kwargs: object) -> object:
        fetched = real_get_user(user, **kwargs)  # type: ignore[arg-type]
        # While the sync holds its answer, Clerk changes the user and the webhook lands first.
        since = len(harness.clerk.events)
        harness.clerk.update_user(user_id, first_name="New")
        harness.deliver(since=since)
        return fetched

    client.get_user = get_user_then_race  # type: ignore[method-assign,assignment]
    try:
        report = harness.service.sync_user(user_id)
    finally:
        del client.get_user
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["first_name"] == "New"
    assert report.changes[0].outcome is ChangeOutcome.STALE


def test_webhook_after_sync_with_older_version_is_stale(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Old")["id"]
    harness.clerk.update_user(user_id, first_name="New")
    harness.service.sync_user(user_id)
    results = harness.deliver()  # created (v1) and updated (v2) arrive after the sync stored v2
    assert [r.outcome.value for r in results] == ["stale", "duplicate"]
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["first_name"] == "New"
    assert item[keys.SK] == keys.PROFILE_SK
