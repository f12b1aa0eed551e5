"""Fault knobs on the Backend API: rate limit, error rate, outage, latency; request stats; /_emulator untouched."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import ValidationError

from clerk_sync_local.emulator import ClerkEmulator, Knobs
from clerk_sync_local.emulator.knobs import RateLimiter


def test_rate_limit_over_budget_returns_429_with_retry_after(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.set_knobs(rate_limit=5, rate_limit_window_s=10)
    statuses = [api.get("/users/count").status_code for _ in range(5)]
    limited = api.get("/users/count")
    assert statuses == [200] * 5
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 10
    assert limited.json()["errors"][0]["code"] == "too_many_requests"
    assert clerk.stats["routes"]["GET /v1/users/count"]["by_status"] == {"200": 5, "429": 1}


def test_rate_limit_window_passed_admits_again(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.set_knobs(rate_limit=2, rate_limit_window_s=0.3)
    assert [api.get("/users/count").status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert api.get("/users/count").status_code == 200


def test_rate_limiter_retry_after_counts_to_oldest_slot() -> None:
    now = [100.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert limiter.acquire(2, 10) is None
    now[0] = 104.0
    assert limiter.acquire(2, 10) is None
    now[0] = 105.2
    assert limiter.acquire(2, 10) == 5  # the first slot frees at 110.0
    now[0] = 110.0
    assert limiter.acquire(2, 10) is None


@pytest.mark.parametrize(("preset", "limit"), [("development", 100), ("production", 1000), ("off", None)])
def test_knobs_rate_limit_preset_maps_to_clerk_limits(preset: str, limit: int | None) -> None:
    assert Knobs().with_changes({"rate_limit": preset}).rate_limit == limit


def test_rate_limit_never_applies_to_admin_routes(clerk: ClerkEmulator, admin: httpx.Client) -> None:
    clerk.set_knobs(rate_limit=1, outage=True, error_rate=1.0, latency_ms=2000)
    started = time.monotonic()
    assert all(admin.get("/state").status_code == 200 for _ in range(5))
    assert time.monotonic() - started < 1.0
    assert clerk.request_count() == 0


def test_error_rate_one_fails_every_request_with_5xx(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.set_knobs(error_rate=1.0, error_statuses=[500, 503])
    responses = [api.get("/users") for _ in range(20)]
    assert {r.status_code for r in responses} == {500, 503}
    assert all("errors" in r.json() for r in responses)


def test_error_rate_half_fails_about_half(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.set_knobs(error_rate=0.5, error_statuses=[500])
    statuses = [api.get("/users/count").status_code for _ in range(200)]
    assert 60 <= statuses.count(500) <= 140
    assert statuses.count(500) + statuses.count(200) == 200


def test_outage_every_v1_request_gets_503(clerk: ClerkEmulator, api: httpx.Client) -> None:
    user = clerk.create_user()
    clerk.set_knobs(outage=True)
    assert {api.get(p).status_code for p in ("/users", f"/users/{user['id']}", "/organizations")} == {503}
    assert httpx.get(f"{clerk.api_url}/users").status_code == 503  # before authentication
    clerk.set_knobs(outage=False)
    assert api.get(f"/users/{user['id']}").status_code == 200


def test_outage_drop_mode_cuts_connection(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.set_knobs(outage=True, outage_mode="drop")
    with pytest.raises(httpx.TransportError):
        api.get("/users")
    assert clerk.stats["routes"]["GET /v1/users"]["by_status"] == {"dropped": 1}
    clerk.set_knobs(outage=False)
    assert api.get("/users").status_code == 200


def test_latency_delays_each_v1_response(clerk: ClerkEmulator, api: httpx.Client) -> None:
    api.get("/users/count")  # warm the connection
    clerk.set_knobs(latency_ms=200)
    started = time.monotonic()
    assert api.get("/users/count").status_code == 200
    assert time.monotonic() - started >= 0.2


def test_stats_count_requests_per_route_template(clerk: ClerkEmulator, api: httpx.Client) -> None:
    user = clerk.create_user()
    api.get(f"/users/{user['id']}")
    api.get("/users/user_missing")
    api.get("/users")
    stats = clerk.stats
    assert stats["total"] == 3
    assert stats["routes"]["GET /v1/users/{user_id}"] == {"count": 2, "by_status": {"200": 1, "404": 1}}
    clerk.reset_stats()
    assert clerk.request_count() == 0


def test_knobs_unknown_or_invalid_value_is_rejected(clerk: ClerkEmulator) -> None:
    with pytest.raises(ValidationError):
        clerk.set_knobs(error_rate=2.0)
    with pytest.raises(ValidationError):
        clerk.set_knobs(no_such_knob=True)
    with pytest.raises(ValidationError):
        clerk.set_knobs(error_statuses=[404])
    assert clerk.knobs == Knobs()


def test_rate_limit_storm_answers_every_v1_request_429_with_its_retry_after(
    clerk: ClerkEmulator, api: httpx.Client
) -> None:
    clerk.set_knobs(rate_limit_storm_retry_after_s=30)
    responses = [api.get(path) for path in ("/users/count", "/users", "/instance", "/organizations")]
    assert {r.status_code for r in responses} == {429}
    assert {r.headers["Retry-After"] for r in responses} == {"30"}
    clerk.set_knobs(rate_limit_storm_retry_after_s=None)
    assert api.get("/users/count").status_code == 200
