"""Walks of more than one Clerk page against the emulator: a membership that leaves between two pages shifts the
rest, and nothing Clerk still lists may be removed for it; a removal a sync inferred is repaired by a later sync;
a user's memberships beyond one page become a job like an organization's members."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from clerk_sync import items, keys
from clerk_sync.clerk.client import ClerkClient
from clerk_sync.items import WriteContext
from clerk_sync.jobs import JobKind, JobStatus
from clerk_sync.messages import QueuedSync, SyncTarget
from clerk_sync.reports import ChangeOutcome
from clerk_sync.vocabulary import Entity, SyncSource
from tests.service.conftest import Harness

PAGE = 500


def _org_with_members(harness: Harness, members: int) -> tuple[str, list[str]]:
    """An organization and its members, newest first (Clerk's order)."""
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org_id = clerk.create_organization("Big", created_by=owner)["id"]
    users = [owner]
    for number in range(members - 1):
        user = clerk.create_user(first_name=f"M{number}")["id"]
        clerk.add_membership(org_id, user)
        users.append(user)
    return org_id, users[::-1]


def _user_in_organizations(harness: Harness, count: int) -> tuple[str, list[str]]:
    """A user and the organizations they belong to, newest membership first."""
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Joiner")["id"]
    orgs = [clerk.create_organization(f"Org {number}", created_by=user_id)["id"] for number in range(count)]
    return user_id, orgs[::-1]


def _after_first_page(monkeypatch: pytest.MonkeyPatch, change: Callable[[], Any]) -> None:
    """Runs `change` in Clerk once, right after the first page of a membership list is answered."""
    original = ClerkClient._data_page
    done: list[bool] = []

    def data_page(self: ClerkClient, operation: str, path: str, *args: Any, **kwargs: Any) -> Any:
        page = original(self, operation, path, *args, **kwargs)
        if "memberships" in path and kwargs.get("offset") == 0 and not done:
            done.append(True)
            change()
        return page

    monkeypatch.setattr(ClerkClient, "_data_page", data_page)


def _live_members(harness: Harness, org_id: str) -> set[str]:
    return {str(m["user_id"]) for m in harness.store.organization_memberships(org_id)}


def _live_organizations(harness: Harness, user_id: str) -> set[str]:
    return {str(m["org_id"]) for m in harness.store.user_memberships(user_id)}


def test_member_job_keeps_the_member_shifted_across_the_page_boundary(harness: Harness) -> None:
    """Fails before the fix: the job's end removed every member on record that no page had returned, and the
    member that moved from position 500 to 499 when an earlier one left was never returned."""
    org_id, members = _org_with_members(harness, PAGE + 2)
    harness.service.sync_organization_members(org_id)  # all on record
    result = harness.service.start_members_sync(org_id, requested_by="user_admin")
    assert result.job is not None
    harness.clerk.remove_membership(org_id, members[0])  # between page 1 and page 2
    while steps := harness.queued_syncs():
        for step in steps:
            harness.service.run_queued(step)
    assert members[PAGE] in _live_members(harness, org_id)
    job = harness.service.get_job(result.job.job_id)
    assert job is not None
    assert (job.status, job.removed, job.checked, job.kept) == (JobStatus.SUCCEEDED, 0, 1, 1)


def test_inline_member_sync_keeps_the_member_shifted_across_the_page_boundary(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the fix: the inline walk (all pages in one call) removed the shifted member."""
    org_id, members = _org_with_members(harness, PAGE + 2)
    harness.service.sync_organization_members(org_id)
    _after_first_page(monkeypatch, lambda: harness.clerk.remove_membership(org_id, members[0]))
    report = harness.service.sync_organization_members(org_id)
    assert report.count(ChangeOutcome.REMOVED) == 0
    assert members[PAGE] in _live_members(harness, org_id)


def test_inline_user_sync_keeps_the_membership_shifted_across_the_page_boundary(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the fix: `sync_user_organizations` removed the membership that moved onto the read page."""
    user_id, orgs = _user_in_organizations(harness, PAGE + 2)
    harness.service.sync_user_organizations(user_id)
    gone = orgs[PAGE + 1]
    harness.clerk.remove_membership(gone, user_id)  # before the walk: this one must go
    _after_first_page(monkeypatch, lambda: harness.clerk.remove_membership(orgs[0], user_id))
    harness.clerk.reset_stats()
    report = harness.service.sync_user_organizations(user_id)
    assert orgs[PAGE] in _live_organizations(harness, user_id)
    assert gone not in _live_organizations(harness, user_id)
    assert report.count(ChangeOutcome.REMOVED) == 1
    # Two pages, then one lookup for each of the two memberships neither page returned.
    assert harness.calls("GET /v1/organizations/{organization_id}/memberships") == 2


def test_sync_removal_is_repaired_by_a_later_sync_of_the_unchanged_membership(harness: Harness) -> None:
    """Fails before the fix: the removal's tombstone (version: our clock when its listing began) outranked the
    unchanged membership's updated_at, so no later sync could bring back a membership a shifted page had removed
    while Clerk still had it."""
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org_id, user_id)
    for sync in (
        lambda: harness.service.sync_membership(org_id, user_id),
        lambda: harness.service.sync_organization_members(org_id),
        lambda: harness.service.sync_user_organizations(user_id),
    ):
        _plant_wrong_removal(harness, org_id, user_id)
        assert user_id not in _live_members(harness, org_id)
        sync()
        assert user_id in _live_members(harness, org_id)


def _plant_wrong_removal(harness: Harness, org_id: str, user_id: str) -> None:
    """The tombstone a sync removal wrote before the fix (ids only, at the listing's start), though Clerk still
    has the membership: what a page shift left behind."""
    now = time.time_ns() // 1_000_000
    ids = {"org_id": org_id, "user_id": user_id}
    key = keys.membership_key(org_id, user_id)
    # Written a millisecond ago, at a version (our clock) newer than Clerk's updated_at of the membership.
    item = items.tombstone_item(key, Entity.MEMBERSHIP, ids, now, WriteContext(SyncSource.API, now - 1))
    serializer = TypeSerializer()
    harness.dynamodb.put_item(
        TableName=harness.resources.table_name, Item={name: serializer.serialize(v) for name, v in item.items()}
    )


def test_webhook_delete_stays_final_against_later_syncs(harness: Harness) -> None:
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org_id, user_id)
    harness.service.sync_organization_members(org_id)
    since = len(clerk.events)
    clerk.remove_membership(org_id, user_id)
    harness.deliver(since=since)
    harness.service.sync_organization_members(org_id)
    stored = harness.store.get_membership(org_id, user_id)
    assert stored is not None
    assert stored["deleted"] is True
    assert "unlisted" not in stored  # Clerk's delete, with its membership id


def test_user_sync_beyond_one_page_becomes_a_job_of_one_page_per_message(harness: Harness) -> None:
    user_id, orgs = _user_in_organizations(harness, PAGE + 1)
    harness.clerk.reset_stats()
    result = harness.service.start_full_user_sync(user_id, requested_by=user_id)
    assert result.job is not None
    assert (result.job.kind, result.job.user_id, result.job.org_id) == (JobKind.USER_MEMBERSHIPS, user_id, None)
    assert result.report.count(ChangeOutcome.APPLIED, "membership") == PAGE
    [step] = harness.queued_syncs()
    assert (step.target, step.offset, step.job_id) == (SyncTarget.USER_MEMBERSHIPS, PAGE, result.job.job_id)
    harness.service.run_queued(step)
    assert harness.queued_syncs() == []
    job = harness.service.get_job(result.job.job_id)
    assert job is not None
    assert (job.status, job.pages, job.synced, job.removed) == (JobStatus.SUCCEEDED, 2, PAGE + 1, 0)
    assert job.clerk_calls == 3 == harness.calls()  # the user, then two pages
    assert _live_organizations(harness, user_id) == set(orgs)
    profile = harness.store.get_user(user_id)
    assert profile is not None
    assert "memberships_synced_at" in profile  # user webhooks need not list the memberships again


def test_user_job_removes_what_clerk_dropped_only_after_the_whole_walk(harness: Harness) -> None:
    user_id, orgs = _user_in_organizations(harness, PAGE + 3)
    harness.service.full_user_sync(user_id)
    harness.clerk.remove_membership(orgs[-1], user_id)  # the oldest, on the last page
    result = harness.service.start_user_organizations_sync(user_id, requested_by=user_id)
    assert result.job is not None
    assert result.report.count(ChangeOutcome.REMOVED) == 0  # nothing removed on the first page's word
    harness.run_worker()
    job = harness.service.get_job(result.job.job_id)
    assert job is not None
    assert (job.status, job.checked, job.removed) == (JobStatus.SUCCEEDED, 1, 1)
    assert _live_organizations(harness, user_id) == set(orgs[:-1])


def test_queued_user_sync_of_many_memberships_leaves_the_rest_to_a_job(harness: Harness) -> None:
    user_id, orgs = _user_in_organizations(harness, PAGE + 1)
    report = harness.service.run_queued(
        QueuedSync(target=SyncTarget.USER_ORGANIZATIONS, user_id=user_id, trigger=SyncSource.WEBHOOK, requested_at=1)
    )
    assert report.count(ChangeOutcome.APPLIED, "membership") == PAGE
    [step] = harness.queued_syncs()
    assert (step.target, step.offset, step.user_id) == (SyncTarget.USER_MEMBERSHIPS, PAGE, user_id)
    harness.service.run_queued(step)
    assert _live_organizations(harness, user_id) == set(orgs)
