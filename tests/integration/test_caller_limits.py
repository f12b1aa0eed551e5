"""CallerLimits on moto: a window opens with the caller's first sync, counts up to the limit, and ends."""

from __future__ import annotations

from clerk_sync import keys
from clerk_sync.store import CallerLimits, Table
from tests.integration.conftest import Aws

WINDOW_MS = 10_000


def _limits(aws: Aws) -> CallerLimits:
    return CallerLimits(Table(aws.dynamodb, aws.resources.table_name))


def test_limits_count_up_to_the_limit_then_say_when_the_window_ends(aws: Aws) -> None:
    limits = _limits(aws)
    taken = [limits.take("user_a", 1_000_000 + i, limit=3, window_ms=WINDOW_MS) for i in range(5)]
    assert [d.allowed for d in taken] == [True, True, True, False, False]
    assert taken[4].retry_after_ms == 1_000_000 + WINDOW_MS - 1_000_004


def test_a_window_opens_at_the_first_sync_not_on_a_clock_boundary(aws: Aws) -> None:
    limits = _limits(aws)
    first = 1_009_999  # a fixed 10 s window would end 1 ms later
    assert limits.take("user_a", first, limit=1, window_ms=WINDOW_MS).allowed
    assert not limits.take("user_a", first + 2, limit=1, window_ms=WINDOW_MS).allowed
    assert not limits.take("user_a", first + WINDOW_MS - 1, limit=1, window_ms=WINDOW_MS).allowed
    assert limits.take("user_a", first + WINDOW_MS, limit=1, window_ms=WINDOW_MS).allowed


def test_callers_have_their_own_windows_and_items_expire(aws: Aws) -> None:
    limits = _limits(aws)
    assert limits.take("user_a", 5_000, limit=1, window_ms=WINDOW_MS).allowed
    assert limits.take("user_b", 5_001, limit=1, window_ms=WINDOW_MS).allowed
    item = Table(aws.dynamodb, aws.resources.table_name).get(keys.sync_limit_key("user_a"))
    assert item is not None
    assert int(item[keys.TTL_ATTRIBUTE]) * 1000 >= 5_000 + WINDOW_MS


def test_a_window_opened_by_another_request_counts_this_one_within_it(aws: Aws) -> None:
    """Two first requests at the same instant: one opens the window, the other is counted in it, not refused."""
    limits = _limits(aws)
    decisions = [limits.take("user_a", 7_000, limit=2, window_ms=WINDOW_MS) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
