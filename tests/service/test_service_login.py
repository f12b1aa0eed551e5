"""ensure_login_user and ensure_login_membership: the login path and each of its fallback tiers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from clerk_sync.messages import SyncTarget
from clerk_sync.reports import ChangeOutcome
from clerk_sync.vocabulary import Fallback
from tests.service.conftest import Harness

USER_ROUTE = "GET /v1/users/{user_id}"


def _stored_user(harness: Harness) -> str:
    user_id = harness.clerk.create_user(first_name="Ada", email="ada@example.com")["id"]
    harness.service.sync_user(user_id)
    harness.clerk.reset_stats()
    return user_id


def _age(harness: Harness, user_id: str, seconds: int) -> None:
    """Makes the stored record look `seconds` old."""
    item = harness.store.get_user(user_id)
    assert item is not None
    harness.store.table.update(
        {"PK": item["PK"], "SK": item["SK"]}, {"synced_at": int(item["synced_at"]) - seconds * 1000}
    )


def test_login_with_fresh_record_costs_one_read_and_no_clerk_call(harness: Harness) -> None:
    from clerk_sync.wiring import dynamodb_meter

    user_id = _stored_user(harness)
    dynamodb_meter().reset()
    login = harness.service.ensure_login_user(user_id)
    assert login.source == "store"
    assert harness.calls() == 0
    assert dict(dynamodb_meter().calls) == {"GetItem": 1}


def test_login_of_unknown_user_fetches_and_stores_them_with_their_orgs(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Grace")["id"]
    org_id = harness.clerk.create_organization("Navy", created_by=user_id)["id"]
    harness.clerk.reset_stats()
    login = harness.service.ensure_login_user(user_id, deadline=harness.service.deadline_in(1.5))
    assert login.source == "clerk"
    assert login.clerk_calls == 2  # the user, then one page of memberships
    assert login.item is not None
    assert login.item["first_name"] == "Grace"
    assert login.item["sync_source"] == "login"
    assert [m["org_id"] for m in harness.store.user_memberships(user_id)] == [org_id]


def test_login_refreshing_a_stale_user_fetches_only_the_user(harness: Harness) -> None:
    user_id = _stored_user(harness)
    _age(harness, user_id, 3600)
    login = harness.service.ensure_login_user(user_id)
    assert login.clerk_calls == 1


def test_first_login_whose_membership_listing_fails_queues_it(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Grace")["id"]
    client = harness.service.clerk
    client.list_user_memberships_page = _unavailable  # type: ignore[method-assign]
    try:
        login = harness.service.ensure_login_user(user_id)
    finally:
        del client.list_user_memberships_page
    assert login.source == "clerk"
    [queued] = harness.queued_syncs()
    assert (queued.target, queued.user_id, queued.trigger) == (SyncTarget.USER_ORGANIZATIONS, user_id, "login")


def _unavailable(*args: object, **kwargs: object) -> object:
    from clerk_sync.clerk.errors import ClerkUnavailableError

    raise ClerkUnavailableError("down", operation="UsersGetOrganizationMemberships")


def test_login_with_stale_record_refetches(harness: Harness) -> None:
    user_id = _stored_user(harness)
    _age(harness, user_id, 3600)
    harness.clerk.update_user(user_id, first_name="Ada B.")
    login = harness.service.ensure_login_user(user_id)
    assert login.source == "clerk"
    assert login.item is not None
    assert login.item["first_name"] == "Ada B."


def test_login_during_outage_with_stale_record_uses_it(harness: Harness, log_records: Any) -> None:
    user_id = _stored_user(harness)
    _age(harness, user_id, 3600)
    harness.clerk.set_knobs(outage=True)
    login = harness.service.ensure_login_user(user_id, deadline=harness.service.deadline_in(1.0))
    assert login.source == "stale"
    assert login.item is not None
    assert login.item["first_name"] == "Ada"
    assert any(r["message"].startswith("clerk unreachable at login") and r["level"] == "WARNING" for r in log_records())
    assert harness.queued_syncs() == []  # a real record needs no healing sync


def test_login_during_outage_without_record_writes_provisional_and_queues_sync(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Linus", email="linus@example.com")["id"]
    harness.clerk.set_knobs(outage=True)
    login = harness.service.ensure_login_user(
        user_id, {"first_name": "Linus"}, deadline=harness.service.deadline_in(1.0)
    )
    assert login.source == "provisional"
    assert login.provisional
    assert login.item is not None
    assert login.item["version"] == 0
    assert login.item["sync_source"] == "fallback"
    [queued] = harness.queued_syncs()
    assert (queued.target, queued.user_id, queued.trigger) == (SyncTarget.USER, user_id, "login")


def test_provisional_user_is_replaced_by_the_queued_sync_once_clerk_is_back(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Linus", email="linus@example.com")["id"]
    harness.clerk.add_membership(harness.clerk.create_organization("Acme")["id"], user_id)
    harness.clerk.set_knobs(outage=True)
    harness.service.ensure_login_user(user_id, {}, deadline=harness.service.deadline_in(1.0))
    harness.clerk.set_knobs(outage=False)
    poller = harness.run_worker()
    assert (poller.stats.succeeded, poller.stats.failed) == (1, 0)
    item = harness.store.get_user(user_id)
    assert item is not None
    assert (item["provisional"], item["first_name"], item["primary_email"]) == (False, "Linus", "linus@example.com")
    assert len(harness.store.user_memberships(user_id)) == 1  # the heal is a full user sync


def test_provisional_user_is_replaced_by_a_later_webhook(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Linus")["id"]
    harness.clerk.set_knobs(outage=True)
    harness.service.ensure_login_user(user_id, {}, deadline=harness.service.deadline_in(1.0))
    [result] = harness.deliver()
    assert result.outcome.value == "applied"
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["provisional"] is False
    assert item["first_name"] == "Linus"


def test_login_of_deleted_user_is_denied_without_clerk_call(harness: Harness) -> None:
    user_id = _stored_user(harness)
    harness.clerk.delete_user(user_id)
    harness.deliver(since=len(harness.clerk.events) - 1)
    harness.clerk.reset_stats()
    login = harness.service.ensure_login_user(user_id)
    assert login.deleted
    assert harness.calls() == 0


def test_login_of_user_clerk_has_deleted_tombstones_and_denies(harness: Harness) -> None:
    user_id = _stored_user(harness)
    _age(harness, user_id, 3600)
    harness.clerk.delete_user(user_id)
    login = harness.service.ensure_login_user(user_id)
    assert login.deleted
    item = harness.store.get_user(user_id)
    assert item is not None
    assert item["deleted"] is True


def test_login_respects_its_deadline_when_clerk_hangs(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Slow")["id"]
    harness.clerk.set_knobs(latency_ms=3000)
    started = time.monotonic()
    login = harness.service.ensure_login_user(user_id, {}, deadline=harness.service.deadline_in(0.5))
    elapsed = time.monotonic() - started
    assert login.source == "provisional"
    assert elapsed < 1.5  # the 3 s Clerk answer was not waited for


def test_login_racing_user_created_webhook_leaves_one_correct_record(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Race", email="race@example.com")["id"]
    login = harness.service.ensure_login_user(user_id)
    [webhook] = harness.deliver()
    assert login.source == "clerk"
    assert webhook.outcome.value == "duplicate"
    users = [item for item in harness.store.scan() if item["PK"] == f"USER#{user_id}" and item["SK"] == "PROFILE"]
    assert len(users) == 1
    assert users[0]["first_name"] == "Race"


def test_active_org_on_record_needs_nothing(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme", created_by=user_id)["id"]
    harness.service.full_user_sync(user_id)
    clerk.reset_stats()
    assert harness.service.ensure_login_membership(org_id, user_id, role="admin") is None
    assert harness.calls() == 0


def test_active_org_missing_is_synced_at_login(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme", created_by=user_id)["id"]
    report = harness.service.ensure_login_membership(org_id, user_id, role="admin")
    assert report is not None
    assert report.clerk_calls == 1
    membership = harness.store.get_membership(org_id, user_id)
    org = harness.store.get_organization(org_id)
    assert membership is not None
    assert membership["role"] == "org:admin"
    assert org is not None
    assert org["name"] == "Acme"


def test_active_org_during_outage_is_provisional_from_the_token(harness: Harness) -> None:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme", created_by=user_id)["id"]
    clerk.set_knobs(outage=True)
    report = harness.service.ensure_login_membership(
        org_id, user_id, role="admin", slug="acme", deadline=harness.service.deadline_in(0.5)
    )
    assert report is not None
    assert report.fallbacks == [Fallback.PROVISIONAL]
    membership = harness.store.get_membership(org_id, user_id)
    assert membership is not None
    assert (membership["provisional"], membership["role"]) == (True, "org:admin")
    org = harness.store.get_organization(org_id)
    assert org is not None
    assert (org["provisional"], org["slug"]) == (True, "acme")
    [queued] = harness.queued_syncs()
    assert (queued.target, queued.org_id, queued.user_id) == (SyncTarget.MEMBERSHIP, org_id, user_id)
    assert report.count(ChangeOutcome.PROVISIONAL) == 2


def test_logins_right_after_a_failed_one_skip_clerk_and_fall_back_at_once(harness: Harness) -> None:
    first = harness.clerk.create_user(first_name="First")["id"]
    second = harness.clerk.create_user(first_name="Second")["id"]
    harness.clerk.set_knobs(outage=True)
    harness.service.ensure_login_user(first, {}, deadline=harness.service.deadline_in(1.0))
    harness.clerk.reset_stats()
    started = time.monotonic()
    login = harness.service.ensure_login_user(second, {}, deadline=harness.service.deadline_in(1.0))
    assert login.source == "provisional"
    assert harness.calls() == 0
    assert time.monotonic() - started < 0.5


def test_logins_call_clerk_again_once_the_pause_is_over(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from clerk_sync.sync import login_pause

    monkeypatch.setattr(login_pause, "LOGIN_CLERK_PAUSE_SECONDS", 0.2)
    user_id = harness.clerk.create_user(first_name="Back")["id"]
    harness.clerk.set_knobs(outage=True)
    assert harness.service.ensure_login_user(user_id, {}, deadline=harness.service.deadline_in(0.5)).provisional
    harness.clerk.set_knobs(outage=False)
    time.sleep(0.3)
    login = harness.service.ensure_login_user(user_id)
    assert login.source == "clerk"
    assert not login.provisional


def test_paused_logins_do_not_extend_the_pause(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from clerk_sync.sync import login_pause

    monkeypatch.setattr(login_pause, "LOGIN_CLERK_PAUSE_SECONDS", 0.4)
    user_id = harness.clerk.create_user(first_name="Member")["id"]
    org_id = harness.clerk.create_organization("Acme", created_by=user_id)["id"]
    harness.clerk.set_knobs(outage=True)
    assert harness.service.ensure_login_user(user_id, {}, deadline=harness.service.deadline_in(0.3)).provisional
    time.sleep(0.25)
    # Paused: falls back at once, and must not push the end of the pause further out.
    report = harness.service.ensure_login_membership(org_id, user_id, role="admin")
    assert report is not None
    assert report.clerk_calls == 0
    harness.clerk.set_knobs(outage=False)
    time.sleep(0.25)  # past the first pause, not past one restarted by the paused login
    login = harness.service.ensure_login_user(user_id)
    assert login.source == "clerk"
