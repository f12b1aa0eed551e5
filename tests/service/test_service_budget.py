"""The shared Clerk budget against the emulator at Clerk's development limit (100 requests / 10 s, a sliding window):
a backfill in one process and logins in another share the table's bucket; the backfill keeps to its half, logins are
served at once, Clerk answers no 429. A 429 storm lowers the bucket's rate for every writer, and the wait shows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import boto3
import httpx
import pytest

from clerk_sync import keys, wiring
from clerk_sync.budget.shared import SharedClerkBudget
from clerk_sync.clerk.client import ClerkClient
from clerk_sync.clerk.errors import ClerkRateLimitedError
from clerk_sync.store import ClerkBudgetItem, Table
from clerk_sync.vocabulary import ClerkPriority
from clerk_sync_local.emulator import ClerkEmulator
from tests.service.conftest import Harness
from tests.support.handlers_on_emulator import handlers_on

DEVELOPMENT_LIMIT = 100
WINDOW_SECONDS = 10.0
RUN_SECONDS = 12.0  # longer than one window, so every 10 s window of the run is a full one
LOGIN_EVERY_SECONDS = 0.5
LOGIN_BUDGET_SECONDS = 1.5


@pytest.fixture
def limited(clerk: ClerkEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The handlers' world with the budget at the development limit, and the emulator enforcing it."""
    overrides = {"CLERK_RATE_LIMIT": str(DEVELOPMENT_LIMIT), "CLERK_TIMEOUT_BUDGET_SECONDS": "10"}
    with handlers_on(clerk, monkeypatch, **overrides) as aws:
        clerk.set_knobs(rate_limit="development")
        yield Harness(clerk, aws.dynamodb, aws.sqs, aws.resources)


def most_in_any_window(stamps: list[float], window: float = WINDOW_SECONDS) -> int:
    """The largest number of `stamps` inside any `window` seconds."""
    ordered, most, start = sorted(stamps), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def statuses(clerk: ClerkEmulator, status: str) -> int:
    return sum(route["by_status"].get(status, 0) for route in clerk.stats["routes"].values())


def test_backfill_keeps_to_its_share_while_logins_are_served_and_clerk_never_says_429(
    limited: Harness, record_property: pytest.RecordProperty
) -> None:
    users = [limited.clerk.create_user(first_name=f"Login{i}")["id"] for i in range(int(RUN_SECONDS / 0.5) + 2)]
    limited.clerk.reset_stats()
    settings = wiring.clerk_settings()

    # The backfill: another process (the operator CLI), with its own budget object on the same table.
    backfill_budget = SharedClerkBudget(
        ClerkBudgetItem(Table(boto3.client("dynamodb"), limited.resources.table_name)), settings.budget_limits
    )
    bulk_stamps: list[float] = []
    recorder = {"response": [lambda response: bulk_stamps.append(time.monotonic())]}
    backfill = ClerkClient.from_settings(
        settings, budget=backfill_budget, priority=ClerkPriority.BULK, http_client=httpx.Client(event_hooks=recorder)
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def run_backfill() -> None:
        offset: int | None = 0
        try:
            while not stop.is_set():
                page = backfill.list_users(limit=10, offset=offset or 0, timeout_budget=30)
                offset = page.next_offset
        except BaseException as error:  # noqa: BLE001  # reported by the test below
            failures.append(error)

    worker = threading.Thread(target=run_backfill, name="backfill")
    started = time.monotonic()
    worker.start()
    # Logins in this process (the authorizer's container): a first login each, a user and their organizations.
    service, login_seconds, sources = limited.service, [], []
    for user_id in users:
        if time.monotonic() - started >= RUN_SECONDS:
            break
        began = time.monotonic()
        login = service.ensure_login_user(user_id, deadline=service.deadline_in(LOGIN_BUDGET_SECONDS))
        login_seconds.append(time.monotonic() - began)
        sources.append(login.source)
        time.sleep(max(0.0, LOGIN_EVERY_SECONDS - (time.monotonic() - began)))
    stop.set()
    worker.join(timeout=30)
    login_budget = wiring.clerk_budget()
    assert login_budget is not None

    bulk_most = most_in_any_window(bulk_stamps)
    record_property("bulk requests, most in any 10 s", bulk_most)
    record_property("bulk requests", len(bulk_stamps))
    record_property("logins", len(login_seconds))
    record_property("slowest login s", round(max(login_seconds), 3))
    record_property("login budget wait s", round(login_budget.stats.wait_seconds, 3))
    record_property("backfill budget wait s", round(backfill_budget.stats.wait_seconds, 1))
    print(  # the measurement, for `pytest -rP`
        f"bulk: {len(bulk_stamps)} requests, at most {bulk_most} in any 10 s; logins: {len(login_seconds)}, slowest "
        f"{max(login_seconds):.3f} s, {login_budget.stats.wait_seconds:.3f} s waited for the budget; "
        f"429s: {statuses(limited.clerk, '429')}"
    )
    assert failures == []
    assert statuses(limited.clerk, "429") == 0
    # At most half of the limit in any window; and the backfill was not starved to get there.
    assert bulk_most <= DEVELOPMENT_LIMIT // 2
    assert bulk_most >= DEVELOPMENT_LIMIT // 2 * 0.8
    assert backfill_budget.stats.waits > 0
    # Every login went to Clerk and came back well within its budget, barely waiting.
    assert len(login_seconds) >= 20
    assert set(sources) == {"clerk"}
    assert max(login_seconds) < 1.0
    assert login_budget.stats.wait_seconds < 1.0
    assert login_budget.stats.refused == 0


def test_a_429_storm_lowers_the_shared_rate_and_the_stats_show_the_wait(limited: Harness) -> None:
    user_id = limited.clerk.create_user(first_name="Storm")["id"]
    limited.clerk.set_knobs(rate_limit_storm_retry_after_s=1)
    stormed = limited.service.clerk.metered(priority=ClerkPriority.QUEUED)

    with pytest.raises(ClerkRateLimitedError):
        stormed.get_user(user_id, timeout_budget=2.5)

    assert stormed.spent.rate_limited >= 1
    item = Table(limited.dynamodb, limited.resources.table_name).get(keys.budget_key())
    assert item is not None
    assert float(item["penalty_factor"]) == 0.5
    assert int(item["penalty_until_ms"]) > time.time() * 1000 + 5000
    assert float(item["tokens"]) <= 0.5

    limited.clerk.set_knobs(rate_limit_storm_retry_after_s=None)
    after = limited.service.clerk.metered(priority=ClerkPriority.QUEUED)
    began = time.monotonic()
    for _ in range(10):
        after.get_user(user_id, timeout_budget=10)
    elapsed = time.monotonic() - began

    assert after.spent.rate_limited == 0
    assert after.spent.budget_waits >= 9
    assert after.spent.budget_wait_seconds > 2.0
    # Half of 8 tokens/s: 9 requests after the first take 2.25 s; at the normal rate they would take 1.1 s.
    assert elapsed >= 2.0
