"""ClerkClient and the shared budget: a token before every request (retries included) at the view's priority, the
wait bounded by the call's deadline, a refusal answered as rate limiting, 429s penalising, waits in the stats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
import pytest

from clerk_sync.clerk import ClerkBudgetExhaustedError, ClerkClient, ClerkRateLimitedError
from clerk_sync.vocabulary import ClerkPriority

if TYPE_CHECKING:
    from conftest import FakeClerk, FakeClock, RecordingMetrics

MakeClient = Callable[..., ClerkClient]


@dataclass
class FakeBudget:
    """Records every take and penalty; waits `wait` seconds on the clock, or refuses when that is past `max_wait`."""

    clock: FakeClock
    wait: float = 0.0
    takes: list[tuple[ClerkPriority, float, float]] = field(default_factory=list)  # (priority, max_wait, at)
    penalties: list[float | None] = field(default_factory=list)

    def take(self, priority: ClerkPriority, max_wait: float) -> float:
        self.takes.append((priority, max_wait, self.clock()))
        if self.wait > max_wait:
            raise ClerkBudgetExhaustedError("no room", retry_after=self.wait, waited=0.0)
        self.clock.sleep(self.wait)
        return self.wait

    def penalise(self, retry_after: float | None) -> None:
        self.penalties.append(retry_after)


def test_each_request_takes_a_token_first_retries_included(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(httpx.Response(503))
    budget = FakeBudget(clock)
    client = make_client(budget=budget)

    client.get_user("user_a")

    assert len(budget.takes) == len(clerk.seen) == 2
    assert [at for _, _, at in budget.takes] == [seen.at for seen in clerk.seen]  # no wait: taken just before


def test_views_take_their_own_priority_and_share_the_budget(clock: FakeClock, make_client: MakeClient) -> None:
    budget = FakeBudget(clock)
    client = make_client(budget=budget)
    assert client.priority is ClerkPriority.MANUAL
    bulk = client.metered(priority=ClerkPriority.BULK)
    assert (bulk.priority, bulk.budget) == (ClerkPriority.BULK, budget)
    assert bulk.metered().priority is ClerkPriority.BULK  # a view of a view keeps it
    assert client.priority is ClerkPriority.MANUAL


def test_paged_listing_takes_at_the_views_priority_for_every_page(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_memberships("user_a", 1200)
    budget = FakeBudget(clock)
    view = make_client(budget=budget).metered(priority=ClerkPriority.QUEUED)

    view.list_user_memberships("user_a")

    assert [priority for priority, _, _ in budget.takes] == [ClerkPriority.QUEUED] * 3


def test_the_wait_is_bounded_so_the_request_keeps_its_share_of_the_deadline(
    clock: FakeClock, clerk: FakeClerk, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    budget = FakeBudget(clock)
    client = make_client(budget=budget)

    client.get_user("user_a", timeout_budget=10.0)
    client.get_user("user_a", timeout_budget=1.5)

    # 10 s: the request keeps 1 s (at most); 1.5 s (a login): it keeps a quarter.
    assert [max_wait for _, max_wait, _ in budget.takes] == pytest.approx([9.0, 1.125])


def test_budget_waits_are_in_the_stats_and_the_metrics(
    clerk: FakeClerk, clock: FakeClock, metrics: RecordingMetrics, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    client = make_client(budget=FakeBudget(clock, wait=0.75))
    view = client.metered()

    view.get_user("user_a")
    view.get_user("user_a")

    assert (view.spent.budget_waits, view.spent.budget_wait_seconds) == (2, pytest.approx(1.5))
    assert (client.stats.budget_waits, client.stats.budget_wait_seconds) == (2, pytest.approx(1.5))
    assert metrics.values("ClerkBudgetWait") == [0.75, 0.75]
    assert clerk.seen[1].at - clerk.seen[0].at == pytest.approx(0.75)


def test_a_budget_refusal_is_rate_limiting_with_its_retry_after_and_sends_nothing(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    client = make_client(budget=FakeBudget(clock, wait=30.0))

    with pytest.raises(ClerkRateLimitedError) as refused:
        client.get_user("user_a", timeout_budget=5.0)

    assert isinstance(refused.value, ClerkBudgetExhaustedError)
    assert (refused.value.retry_after, refused.value.operation, refused.value.code) == (
        30.0,
        "GetUser",
        "budget_exhausted",
    )
    assert clerk.seen == []
    assert client.stats.requests == 0


def test_a_429_penalises_the_budget_with_clerks_retry_after(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(clerk.error_response(429, "too_many_requests", "slow down", **{"Retry-After": "2"}))
    budget = FakeBudget(clock)
    client = make_client(budget=budget)

    client.get_user("user_a")

    assert budget.penalties == [2.0]
    assert len(budget.takes) == 2  # the retry took a token too


def test_without_a_budget_requests_go_out_at_once(clerk: FakeClerk, clock: FakeClock, make_client: MakeClient) -> None:
    clerk.add_user("user_a")
    client = make_client()
    client.get_user("user_a")
    assert (client.budget, client.stats.budget_waits, clock.slept) == (None, 0, [])
