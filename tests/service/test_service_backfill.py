"""Backfill against the emulator with thousands of entities: complete, resumable, safe while Clerk changes and
webhooks flow, and in the worker a step per message."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import keys
from clerk_sync.clerk.client import ClerkClient
from clerk_sync.models import Envelope
from clerk_sync.runs import Run, RunKind, RunStatus
from clerk_sync.sync.bulk import PAGE_SIZE
from clerk_sync_local.convergence import differences
from tests.service.conftest import Harness
from tests.support.runs import walk_to_the_end

USERS, ORGS, PER_ORG = 1_600, 120, 10  # 4 user pages, 1 organization page, 3 membership pages
SMALL_PAGE = 50


@pytest.fixture
def small(harness: Harness) -> Harness:
    """Fewer entities walked in pages of 50: as many pages, a tenth of the writes."""
    harness.clerk.seed_data(users=300, organizations=30, memberships_per_org=5, seed=8, webhooks=False)
    harness.clerk.reset_stats()
    return harness


@pytest.fixture
def seeded(harness: Harness) -> Harness:
    harness.clerk.seed_data(users=USERS, organizations=ORGS, memberships_per_org=PER_ORG, seed=7, webhooks=False)
    harness.clerk.reset_stats()
    return harness


def _deliver_new(harness: Harness, since: int) -> int:
    """Applies the webhooks Clerk published from index `since`, as the worker would; returns the new index."""
    events = harness.clerk.events
    for event in events[since:]:
        harness.service.apply_event(Envelope.model_validate(event["payload"]), event["msg_id"])
    return len(events)


def test_a_backfill_killed_half_way_resumes_and_imports_everything_in_pages_of_500(seeded: Harness) -> None:
    runner, run = seeded.service.runs.start(RunKind.BACKFILL)
    for _ in range(4):  # about half of the pages
        run = runner.step(run)
    half = run.step
    # The process dies here: nothing of the runner survives but what it saved.
    runner, resumed = seeded.service.runs.start(RunKind.BACKFILL)
    assert resumed.run_id == run.run_id
    assert resumed.step == half
    assert resumed.resumed == 1
    resumed = walk_to_the_end(runner, resumed)
    assert resumed.status is RunStatus.COMPLETED
    assert differences(seeded.store, seeded.clerk.state_snapshot()) == []
    memberships = len(seeded.clerk.state_snapshot()["memberships"])
    assert resumed.counts["user"].created == USERS
    assert resumed.counts["organization"].created == ORGS
    assert resumed.counts["membership"].created == memberships
    # Never a call per entity: the pages (each repeating a few entries of the one before), the user count, and
    # the second short pass over organizations and users; the resume read nothing twice.
    # Every Clerk call but the instance guard's one lookup (before the run starts) is the run's.
    assert resumed.clerk_calls == seeded.calls() - seeded.calls("GET /v1/instance")
    assert resumed.clerk_calls <= USERS // PAGE_SIZE + 1 + 1 + memberships // PAGE_SIZE + 1 + 1 + 2
    assert sum(c.reread for c in resumed.cursors.values()) == 0
    item = seeded.item(keys.USER_PREFIX + seeded.clerk.state_snapshot()["users"][0]["id"], keys.PROFILE_SK)
    assert item is not None
    assert item["sync_source"] == "backfill"

    # `--restart` begins a new run from the start.
    _, fresh = seeded.service.runs.start(RunKind.BACKFILL, restart=True)
    assert fresh.run_id != run.run_id
    assert fresh.step == 0


def test_entities_deleted_and_created_during_the_walk_are_neither_missed_nor_resurrected(small: Harness) -> None:
    seeded = small
    clerk = seeded.clerk
    snapshot = clerk.state_snapshot()
    users = [u["id"] for u in snapshot["users"]]
    orgs = [o["id"] for o in snapshot["organizations"]]
    delivered = len(clerk.events)
    created: list[str] = []

    def churn(run: Run) -> None:
        nonlocal delivered
        # Deletions everywhere in the lists, before and after where the walk is, then new entities.
        for user_id in users[run.step * 37 % len(users) :][:15]:
            if clerk.state.has_user(user_id):
                clerk.delete_user(user_id)
        org_id = orgs[run.step * 7 % len(orgs)]
        if org_id in {o["id"] for o in clerk.state_snapshot()["organizations"]}:
            clerk.delete_organization(org_id)
        new_user = clerk.create_user(first_name=f"New {run.step}")["id"]
        created.append(new_user)
        live_org = clerk.state_snapshot()["organizations"][0]["id"]
        clerk.add_membership(live_org, new_user)
        delivered = _deliver_new(seeded, delivered)

    runner, run = seeded.service.runs.start(RunKind.BACKFILL, page_size=SMALL_PAGE)
    run = walk_to_the_end(runner, run, churn)
    assert run.status is RunStatus.COMPLETED
    _deliver_new(seeded, delivered)
    assert differences(seeded.store, clerk.state_snapshot()) == []
    assert all(seeded.item(keys.USER_PREFIX + u, keys.PROFILE_SK) for u in created)


def test_webhooks_during_the_backfill_the_newest_version_wins(small: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    seeded = small
    clerk = seeded.clerk
    delivered = len(clerk.events)
    original = ClerkClient.list_users

    def list_then_change(self: ClerkClient, **kwargs: Any) -> Any:
        # Between the backfill's read of a page and its writes, two of the page's users change in Clerk and their
        # webhooks land first: the backfill holds an older version of them.
        nonlocal delivered
        page = original(self, **kwargs)
        for user in page.items[:2]:
            if clerk.state.has_user(user.id):
                clerk.update_user(user.id, first_name=f"Renamed {user.id[-4:]}")
        delivered = _deliver_new(seeded, delivered)
        return page

    monkeypatch.setattr(ClerkClient, "list_users", list_then_change)
    runner, run = seeded.service.runs.start(RunKind.BACKFILL, page_size=SMALL_PAGE)
    run = walk_to_the_end(runner, run)
    assert run.counts["user"].stale >= 300 // SMALL_PAGE
    assert differences(seeded.store, clerk.state_snapshot()) == []


def test_as_a_job_the_worker_walks_it_a_step_per_message(small: Harness) -> None:
    seeded = small
    _, run = seeded.service.runs.start(RunKind.BACKFILL, as_job=True, page_size=SMALL_PAGE)
    seeded.run_worker()
    done = seeded.service.runs.runner(RunKind.BACKFILL).get(run.run_id)
    assert done.status is RunStatus.COMPLETED, done.error
    assert done.as_job
    assert done.step >= 300 // SMALL_PAGE + 150 // SMALL_PAGE
    assert differences(seeded.store, seeded.clerk.state_snapshot()) == []


def test_a_rate_limited_clerk_delays_the_backfill_which_says_how_long_it_waited(small: Harness) -> None:
    seeded = small
    seeded.clerk.set_knobs(rate_limit=2, rate_limit_window_s=1.0)
    runner, run = seeded.service.runs.start(RunKind.BACKFILL, page_size=SMALL_PAGE)
    run = walk_to_the_end(runner, run)
    assert run.status is RunStatus.COMPLETED
    assert run.waited_seconds > 0
    assert differences(seeded.store, seeded.clerk.state_snapshot()) == []
