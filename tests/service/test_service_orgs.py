"""sync_organization, sync_membership, member syncs and jobs against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.clerk.errors import ClerkUnavailableError
from clerk_sync.jobs import JobStatus
from clerk_sync.messages import SyncTarget
from clerk_sync.reports import ChangeOutcome, RoleMismatch
from tests.service.conftest import Harness

MEMBERS_ROUTE = "GET /v1/organizations/{organization_id}/memberships"
ORG_ROUTE = "GET /v1/organizations/{organization_id}"


def _org_with_members(harness: Harness, members: int) -> tuple[str, list[str]]:
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org_id = clerk.create_organization("Big", created_by=owner)["id"]
    users = [owner]
    for number in range(members - 1):
        user = clerk.create_user(first_name=f"M{number}")["id"]
        clerk.add_membership(org_id, user)
        users.append(user)
    clerk.reset_stats()
    return org_id, users


def test_sync_organization_stores_it(harness: Harness) -> None:
    org_id = harness.clerk.create_organization("Acme", slug="acme")["id"]
    report = harness.service.sync_organization(org_id)
    org = harness.store.get_organization(org_id)
    assert org is not None
    assert (org["name"], org["slug"]) == ("Acme", "acme")
    assert report.clerk_calls == 1
    assert report.summary == {"applied": 1}


def test_sync_organization_by_slug_records_the_id(harness: Harness) -> None:
    org_id = harness.clerk.create_organization("Acme", slug="acme")["id"]
    report = harness.service.sync_organization("acme")
    assert report.org_id == org_id
    assert harness.store.get_organization(org_id) is not None


def test_sync_organization_deleted_in_clerk_warns_tombstones_and_reports(harness: Harness, log_records: Any) -> None:
    org_id = harness.clerk.create_organization("Gone")["id"]
    harness.service.sync_organization(org_id)
    harness.clerk.delete_organization(org_id)
    report = harness.service.sync_organization(org_id)
    assert report.found is False
    assert report.changes[0].outcome is ChangeOutcome.DELETED
    org = harness.store.get_organization(org_id)
    assert org is not None
    assert org["deleted"] is True
    assert any(r["level"] == "WARNING" and "not found" in r["message"] for r in log_records())


def test_sync_of_organization_never_seen_anywhere_reports_not_found_and_writes_nothing(harness: Harness) -> None:
    report = harness.service.sync_organization("org_mistyped")
    assert report.found is False
    assert report.changes == []
    assert harness.records() == []


def test_sync_membership_matching_role_reports_no_mismatch(harness: Harness) -> None:
    clerk = harness.clerk
    user = clerk.create_user(first_name="Ada")["id"]
    org = clerk.create_organization("Acme", created_by=user)["id"]
    report = harness.service.sync_membership(org, user, role="admin")
    assert report.role_mismatch is None
    assert report.clerk_calls == 1
    stored = harness.store.get_membership(org, user)
    assert stored is not None
    assert stored["role"] == "org:admin"


def test_sync_membership_role_mismatch_is_reported_and_clerk_wins(harness: Harness) -> None:
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Ada")["id"]
    user = clerk.create_user(first_name="Grace")["id"]
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org, user, "org:member")
    report = harness.service.sync_membership(org, user, role="org:admin")
    assert report.role_mismatch == RoleMismatch(requested="org:admin", clerk="org:member")
    stored = harness.store.get_membership(org, user)
    assert stored is not None
    assert stored["role"] == "org:member"


def test_sync_membership_not_in_clerk_removes_ours(harness: Harness) -> None:
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Ada")["id"]
    user = clerk.create_user(first_name="Grace")["id"]
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.add_membership(org, user)
    harness.service.sync_membership(org, user)
    clerk.remove_membership(org, user)
    report = harness.service.sync_membership(org, user, role="org:member")
    assert report.found is False
    assert report.role_mismatch == RoleMismatch(requested="org:member", clerk=None)
    stored = harness.store.get_membership(org, user)
    assert stored is not None
    assert stored["deleted"] is True


def test_sync_membership_with_role_during_outage_writes_nothing(harness: Harness) -> None:
    """A role a caller states is never stored (issue: trust, point 1).

    Fails before the fix: the stated `org:admin` was stored as a provisional membership while Clerk was down.
    """
    clerk = harness.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    user = clerk.create_user(first_name="Ada")["id"]
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    clerk.set_knobs(outage=True)
    with pytest.raises(ClerkUnavailableError):
        harness.service.sync_membership(org, user, role="org:admin")
    assert harness.store.get_membership(org, user) is None
    assert harness.store.get_organization(org) is None
    assert harness.queued_syncs() == []


def test_sync_membership_without_role_during_outage_raises(harness: Harness) -> None:
    clerk = harness.clerk
    user = clerk.create_user(first_name="Ada")["id"]
    org = clerk.create_organization("Acme", created_by=user)["id"]
    clerk.set_knobs(outage=True)
    with pytest.raises(ClerkUnavailableError):
        harness.service.sync_membership(org, user)
    assert harness.store.get_membership(org, user) is None


def test_sync_organization_members_costs_one_plus_a_request_per_page(harness: Harness) -> None:
    org_id, _users = _org_with_members(harness, 501)
    report = harness.service.sync_organization_members(org_id)
    assert report.clerk_calls == 3
    assert (harness.calls(ORG_ROUTE), harness.calls(MEMBERS_ROUTE)) == (1, 2)
    assert len(harness.store.organization_memberships(org_id)) == 501


def test_sync_organization_members_removes_members_clerk_dropped(harness: Harness) -> None:
    org_id, users = _org_with_members(harness, 4)
    harness.service.sync_organization_members(org_id)
    harness.clerk.remove_membership(org_id, users[2])
    report = harness.service.sync_organization_members(org_id)
    assert report.count(ChangeOutcome.REMOVED) == 1
    live = {m["user_id"] for m in harness.store.organization_memberships(org_id)}
    assert live == {users[0], users[1], users[3]}


def test_member_sync_of_one_page_finishes_inline(harness: Harness) -> None:
    org_id, _ = _org_with_members(harness, 3)
    result = harness.service.start_members_sync(org_id, requested_by="user_admin")
    assert result.job is None
    assert result.report.count(ChangeOutcome.APPLIED, "membership") == 3
    assert harness.queued_syncs() == []


def test_member_sync_of_many_pages_becomes_a_job_of_one_page_per_message(harness: Harness) -> None:
    org_id, _ = _org_with_members(harness, 1201)
    result = harness.service.start_members_sync(org_id, requested_by="user_admin")
    assert result.job is not None
    assert result.job.status is JobStatus.RUNNING
    assert result.report.count(ChangeOutcome.APPLIED, "membership") == 500
    job_id = result.job.job_id
    assert [job.job_id for job in wiring.job_store().started_by("user_admin")] == [job_id]
    offsets = []
    while pages := harness.queued_syncs():
        [page] = pages
        offsets.append(page.offset)
        harness.service.run_queued(page)
    assert offsets == [500, 1000]
    job = harness.service.get_job(job_id)
    assert job is not None
    assert (job.status, job.pages, job.synced, job.total, job.next_offset) == (JobStatus.SUCCEEDED, 3, 1201, 1201, None)
    assert job.clerk_calls == 4 == harness.calls()  # the organization, then three pages of 500
    assert len(harness.store.organization_memberships(org_id)) == 1201


def test_member_job_page_delivered_twice_changes_nothing_the_second_time(harness: Harness) -> None:
    org_id, _ = _org_with_members(harness, 600)
    result = harness.service.start_members_sync(org_id, requested_by="user_admin")
    assert result.job is not None
    [page] = harness.queued_syncs()
    assert (page.target, page.offset) == (SyncTarget.ORGANIZATION_MEMBERS, 500)
    harness.service.run_queued(page)
    harness.clerk.reset_stats()
    repeat = harness.service.run_queued(page)
    assert repeat.changes == []
    assert harness.calls() == 0
    job = harness.service.get_job(result.job.job_id)
    assert job is not None
    assert (job.status, job.pages) == (JobStatus.SUCCEEDED, 2)


def test_member_job_runs_through_the_worker_and_removes_dropped_members(harness: Harness) -> None:
    org_id, users = _org_with_members(harness, 700)
    harness.service.sync_organization_members(org_id)
    harness.clerk.remove_membership(org_id, users[650])
    result = harness.service.start_members_sync(org_id, requested_by="user_admin")
    assert result.job is not None
    poller = harness.run_worker()
    # The second page, then the lookup that confirms the member no page returned is gone (docs/decisions/0013).
    assert (poller.stats.succeeded, poller.stats.failed) == (2, 0)
    job = harness.service.get_job(result.job.job_id)
    assert job is not None
    assert (job.status, job.removed, job.checked) == (JobStatus.SUCCEEDED, 1, 1)
    assert len(harness.store.organization_memberships(org_id)) == 699
