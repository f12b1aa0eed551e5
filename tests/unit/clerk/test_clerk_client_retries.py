"""Retries, backoff and deadlines of ClerkClient: which failures are retried, how long it waits, when it gives up."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_sync.clerk import (
    ClerkBadRequestError,
    ClerkClient,
    ClerkDeadlineExceededError,
    ClerkError,
    ClerkNotFoundError,
    ClerkRateLimitedError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
    RetryPolicy,
)

if TYPE_CHECKING:
    from conftest import FakeClerk, FakeClock, RecordingMetrics

MakeClient = Callable[..., ClerkClient]
SEED = 7  # make_client seeds its jitter with random.Random(7)
POLICY = RetryPolicy(max_attempts=4, base_seconds=0.5, cap_seconds=8.0)


def expected_waits(retry_afters: list[float | None], policy: RetryPolicy = POLICY) -> list[float]:
    """The waits the client must choose, drawn from the same seeded generator."""
    rng = random.Random(SEED)
    return [policy.wait(retry, rng, retry_after) for retry, retry_after in enumerate(retry_afters)]


def rate_limited(clerk: FakeClerk, retry_after: str | None = "2") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return clerk.error_response(429, "too_many_requests", "Too many requests", **headers)


def test_get_user_429_with_retry_after_then_success_waits_at_least_retry_after(
    clerk: FakeClerk, clock: FakeClock, metrics: RecordingMetrics, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(rate_limited(clerk, "2"))
    client = make_client()

    user = client.get_user("user_a")

    assert user.id == "user_a"
    assert clock.slept == pytest.approx(expected_waits([2.0]))
    assert clock.slept[0] >= 2.0
    assert clerk.seen[1].at - clerk.seen[0].at >= 2.0
    stats = client.stats
    assert (stats.requests, stats.rate_limited, stats.retries) == (2, 1, 1)
    assert stats.backoff_seconds == pytest.approx(sum(clock.slept))
    assert metrics.values("ClerkRateLimited") == [1]
    assert metrics.values("ClerkRetries") == [1]
    assert len(metrics.values("ClerkCallLatency")) == 2


def test_get_user_5xx_burst_then_success_follows_capped_full_jitter(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(
        clerk.error_response(500, "internal", "boom"),
        httpx.Response(502, text="<html>bad gateway</html>"),
        httpx.Response(503),
    )

    user = make_client().get_user("user_a")

    assert user.id == "user_a"
    assert len(clerk.seen) == 4
    assert clock.slept == pytest.approx(expected_waits([None, None, None]))
    assert [wait <= ceiling for wait, ceiling in zip(clock.slept, (0.5, 1.0, 2.0), strict=True)] == [True] * 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.DecodingError("corrupt gzip"),
    ],
    ids=["read-timeout", "connect-timeout", "connect-error", "stale-keepalive", "decoding"],
)
def test_get_user_transport_error_then_success_retries(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient, failure: Exception
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(failure)
    client = make_client()

    assert client.get_user("user_a").id == "user_a"
    assert len(clerk.seen) == 2
    assert clock.slept == pytest.approx(expected_waits([None]))
    assert (client.stats.requests, client.stats.retries, client.stats.rate_limited) == (2, 1, 0)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (404, ClerkNotFoundError),
        (401, ClerkUnauthorizedError),
        (403, ClerkUnauthorizedError),
        (400, ClerkBadRequestError),
        (402, ClerkBadRequestError),
        (422, ClerkBadRequestError),
    ],
)
def test_get_user_non_retryable_4xx_raises_typed_error_after_one_request(
    *,
    clerk: FakeClerk,
    clock: FakeClock,
    metrics: RecordingMetrics,
    make_client: MakeClient,
    status: int,
    error: type[ClerkError],
) -> None:
    clerk.fail_next(clerk.error_response(status, "some_code", "Some message"))

    with pytest.raises(error) as raised:
        make_client().get_user("user_a")

    assert len(clerk.seen) == 1
    assert clock.slept == []
    assert metrics.values("ClerkRetries") == []
    assert (raised.value.status, raised.value.code, raised.value.attempts) == (status, "some_code", 1)
    assert "Some message" in str(raised.value)


def test_get_user_401_calls_on_unauthorized_hook(clerk: FakeClerk, make_client: MakeClient) -> None:
    calls: list[str] = []
    clerk.fail_next(clerk.error_response(401, "authentication_invalid", "Invalid key"))

    with pytest.raises(ClerkUnauthorizedError):
        make_client(on_unauthorized=lambda: calls.append("reset")).get_user("user_a")

    assert calls == ["reset"]


def test_get_user_5xx_until_attempts_run_out_raises_unavailable_not_deadline(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    clerk.fail_next(*[clerk.error_response(503, "unavailable", "down")] * 10)

    with caplog.at_level(logging.WARNING), pytest.raises(ClerkUnavailableError) as raised:
        make_client().get_user("user_a")

    assert type(raised.value) is ClerkUnavailableError
    assert (raised.value.attempts, raised.value.status) == (4, 503)
    assert len(clerk.seen) == 4
    assert clock.slept == pytest.approx(expected_waits([None, None, None]))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [(r.getMessage(), vars(r)["status"], vars(r)["attempt"]) for r in warnings] == [
        ("clerk call retrying", 503, 1),
        ("clerk call retrying", 503, 2),
        ("clerk call retrying", 503, 3),
    ]
    assert [vars(r)["wait_seconds"] for r in warnings] == [round(w, 3) for w in clock.slept]
    assert [(r.getMessage(), vars(r)["reason"], vars(r)["attempts"]) for r in errors] == [
        ("clerk call gave up", "attempts", 4)
    ]


def test_get_user_5xx_with_short_budget_never_sleeps_past_deadline_and_raises_deadline_exceeded(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.fail_next(*[httpx.Response(500)] * 20)
    clerk.latency = 0.1
    client = make_client(retry=RetryPolicy(max_attempts=20, base_seconds=0.2, cap_seconds=1.0))
    deadline = clock() + 1.5

    with pytest.raises(ClerkDeadlineExceededError) as raised:
        client.get_user("user_a", deadline=deadline)

    assert isinstance(raised.value, ClerkUnavailableError)
    assert raised.value.status == 500
    assert clock.sleeps, "some retries fit in the budget"
    assert all(started + seconds < deadline for started, seconds in clock.sleeps)
    assert clock() <= deadline + clerk.latency  # at most the last request's own latency past it
    assert raised.value.attempts == len(clerk.seen) < 20


def test_get_user_retry_after_beyond_deadline_raises_rate_limited_at_once(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.fail_next(rate_limited(clerk, "5"))

    with pytest.raises(ClerkRateLimitedError) as raised:
        make_client().get_user("user_a", timeout_budget=1.5)

    assert clock.slept == []
    assert len(clerk.seen) == 1
    assert raised.value.retry_after == 5.0
    assert not isinstance(raised.value, ClerkUnavailableError)


def test_get_user_deadline_already_passed_raises_without_a_request(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    with pytest.raises(ClerkDeadlineExceededError) as raised:
        make_client().get_user("user_a", deadline=clock() - 0.01)

    assert clerk.seen == []
    assert raised.value.attempts == 0


def test_get_user_deadline_and_budget_together_raise_value_error(clock: FakeClock, make_client: MakeClient) -> None:
    with pytest.raises(ValueError, match="not both"):
        make_client().get_user("user_a", deadline=clock() + 1, timeout_budget=1)


def test_get_user_short_budget_clamps_request_timeouts(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_user("user_a")
    client = make_client(connect_timeout=2.0, read_timeout=5.0)

    client.get_user("user_a", timeout_budget=1.25)
    client.get_user("user_a", timeout_budget=60)

    assert clerk.seen[0].timeout == {"connect": 1.25, "read": 1.25, "write": 1.25, "pool": 1.25}
    assert clerk.seen[1].timeout == {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 2.0}


def test_list_user_memberships_deadline_spans_all_pages(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_memberships("user_a", 1200)
    clerk.latency = 0.6

    with pytest.raises(ClerkDeadlineExceededError):
        make_client().list_user_memberships("user_a", timeout_budget=1.0)

    assert len(clerk.seen) == 2  # the third page had no time left


def test_get_user_429_storm_reports_total_backoff_and_raises_rate_limited(
    clerk: FakeClerk, clock: FakeClock, metrics: RecordingMetrics, make_client: MakeClient
) -> None:
    clerk.fail_next(*[rate_limited(clerk, "1")] * 10)
    client = make_client()

    with pytest.raises(ClerkRateLimitedError) as raised:
        client.get_user("user_a")

    waits = expected_waits([1.0, 1.0, 1.0])
    assert clock.slept == pytest.approx(waits)
    assert client.stats.backoff_seconds == pytest.approx(sum(waits))
    # Retry-After 1 s plus jitter of at most 0.5 + 1 + 2 s over the three retries.
    assert 3.0 <= client.stats.backoff_seconds <= 6.5
    assert (client.stats.requests, client.stats.rate_limited, client.stats.retries) == (4, 4, 3)
    assert (raised.value.attempts, raised.value.retry_after) == (4, 1.0)
    assert metrics.values("ClerkRateLimited") == [1, 1, 1, 1]


def test_get_user_429_storm_within_authorizer_budget_backs_off_less_than_budget(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.fail_next(*[rate_limited(clerk, "1")] * 10)
    clerk.latency = 0.05
    client = make_client()
    started = clock()

    with pytest.raises(ClerkRateLimitedError):
        client.get_user("user_a", timeout_budget=1.5)

    assert clock() - started < 1.5
    assert client.stats.backoff_seconds == pytest.approx(sum(clock.slept))
    assert client.stats.backoff_seconds < 1.5


def test_get_user_429_without_retry_after_uses_plain_backoff(
    clerk: FakeClerk, clock: FakeClock, make_client: MakeClient
) -> None:
    clerk.add_user("user_a")
    clerk.fail_next(rate_limited(clerk, None))

    make_client().get_user("user_a")

    assert clock.slept == pytest.approx(expected_waits([None]))


def test_clerk_client_stats_accumulate_across_calls(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_memberships("user_a", 600)
    clerk.fail_next(rate_limited(clerk, "1"))
    client = make_client()

    client.get_user("user_a")
    listing = client.list_user_memberships("user_a")

    assert listing.calls == 2
    assert (client.stats.requests, client.stats.rate_limited, client.stats.retries) == (4, 1, 1)


Failure = tuple[str, float]  # ("429", retry_after) | ("500", 0) | ("timeout", 0)

failures = st.lists(
    st.one_of(
        st.tuples(st.just("429"), st.floats(min_value=0, max_value=5)),
        st.tuples(st.sampled_from(["500", "timeout"]), st.just(0.0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    script=failures,
    budget=st.floats(min_value=0.01, max_value=20),
    latency=st.floats(min_value=0, max_value=1),
    seed=st.integers(min_value=0, max_value=2**32),
    max_attempts=st.integers(min_value=1, max_value=8),
)
def test_clerk_client_under_any_failure_script_never_sleeps_past_deadline(
    *,
    clerk: FakeClerk,
    clock: FakeClock,
    make_client: MakeClient,
    script: list[Failure],
    budget: float,
    latency: float,
    seed: int,
    max_attempts: int,
) -> None:
    clerk.users.clear()
    clerk.seen.clear()
    clerk.faults.clear()
    clock.sleeps.clear()
    clerk.add_user("user_a")
    clerk.latency = latency
    for kind, retry_after in script:
        if kind == "429":
            clerk.fail_next(rate_limited(clerk, f"{retry_after:.3f}"))
        elif kind == "500":
            clerk.fail_next(httpx.Response(500))
        else:
            clerk.fail_next(httpx.ReadTimeout("timed out"))
    client = make_client(rng=random.Random(seed), retry=RetryPolicy(max_attempts=max_attempts))
    deadline = clock() + budget

    error = outcome(client, deadline)

    assert all(started + seconds < deadline for started, seconds in clock.sleeps)
    assert 1 <= len(clerk.seen) <= max_attempts
    assert client.stats.backoff_seconds == pytest.approx(sum(clock.slept))
    for (kind, retry_after), slept in zip(script, clock.slept, strict=False):
        if kind == "429":
            assert slept >= round(retry_after, 3)
    last_failure = script[len(clerk.seen) - 1][0] if len(clerk.seen) <= len(script) else None
    if error is None:
        assert len(clock.sleeps) == len(clerk.seen) - 1
    elif last_failure == "429":
        # Giving up on 429s always reads as rate limiting, never as Clerk being down.
        assert isinstance(error, ClerkRateLimitedError)
    else:
        assert isinstance(error, ClerkUnavailableError)


def outcome(client: ClerkClient, deadline: float) -> ClerkError | None:
    """The error a call ends with, or None if it succeeded."""
    try:
        client.get_user("user_a", deadline=deadline)
    except ClerkError as error:
        return error
    return None
