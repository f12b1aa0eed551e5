"""Fault knobs: what the Backend API (`/v1` only) and the webhook sender do besides answering correctly.

`FaultInjector.admit` decides, per `/v1` request, between outage, rate limit, latency and injected errors;
`RequestStats` counts requests per route so tests can assert how often Clerk was called.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import errors

# Clerk's Backend API limits per instance, per 10-second window.
RATE_LIMIT_PRESETS: dict[str, int | None] = {"off": None, "development": 100, "production": 1000}


class Knobs(BaseModel):
    """Every knob with its default (all faults off)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Backend API
    latency_ms: int = Field(default=0, ge=0)
    latency_jitter_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    error_statuses: tuple[int, ...] = Field(default=(500, 503), min_length=1)
    outage: bool = False
    # "unavailable": every /v1 request gets 503; "drop": the connection is cut mid-response (a transport error).
    outage_mode: Literal["unavailable", "drop"] = "unavailable"
    # Requests per window; accepts "off", "development" (100), "production" (1000) or a number.
    rate_limit: int | None = Field(default=None, ge=1)
    rate_limit_window_s: float = Field(default=10.0, gt=0)
    # A 429 storm: every authenticated /v1 request gets 429 with this Retry-After (seconds), whatever the limit.
    rate_limit_storm_retry_after_s: int | None = Field(default=None, ge=0)

    # Webhooks
    webhook_delay_ms: int = Field(default=0, ge=0)
    webhook_duplicate_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_duplicate_count: int = Field(default=1, ge=1)
    # Hold deliveries for this long after the first one of a batch, then send the batch in random order.
    webhook_shuffle_window_ms: int = Field(default=0, ge=0)
    webhook_drop_probability: float = Field(default=0.0, ge=0.0, le=1.0)
    webhook_max_attempts: int = Field(default=3, ge=1)
    webhook_retry_backoff_ms: int = Field(default=50, ge=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhooks_paused: bool = False
    # Deliveries in flight at once, as Svix sends an endpoint's messages concurrently; 1 sends them one at a time.
    webhook_concurrency: int = Field(default=1, ge=1, le=32)
    # Clerk's envelope `timestamp` is ms in some real payloads and seconds in others.
    webhook_timestamp_unit: Literal["ms", "s"] = "ms"

    # Data semantics Clerk does not document
    cascade_webhooks: bool = True  # send organizationMembership.deleted for memberships removed by a user/org delete
    bump_deleted_membership: bool = True  # a deleted membership's payload carries a fresh updated_at

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _preset(cls, value: Any) -> Any:
        if isinstance(value, str) and value in RATE_LIMIT_PRESETS:
            return RATE_LIMIT_PRESETS[value]
        return value

    @field_validator("error_statuses")
    @classmethod
    def _server_errors(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 500 <= s <= 599 for s in value):
            raise ValueError("error_statuses must be 5xx")
        return value

    def with_changes(self, changes: dict[str, Any]) -> Knobs:
        """A validated copy with `changes` applied; raises pydantic's ValidationError."""
        return Knobs.model_validate({**self.model_dump(), **changes})


class RateLimiter:
    """Sliding-window log: at most `limit` admitted requests in any `window_s` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, limit: int, window_s: float) -> int | None:
        """None when admitted, else the whole seconds until a slot frees (Retry-After)."""
        with self._lock:
            now = self._clock()
            while self._admitted and self._admitted[0] <= now - window_s:
                self._admitted.popleft()
            if len(self._admitted) < limit:
                self._admitted.append(now)
                return None
            wait = self._admitted[-limit] + window_s - now
            return max(1, math.ceil(wait))

    def reset(self) -> None:
        with self._lock:
            self._admitted.clear()


@dataclass(frozen=True)
class Verdict:
    """What to do with one /v1 request before (or instead of) answering it."""

    latency_s: float = 0.0
    error: errors.EmulatorError | None = None
    drop: bool = False


class FaultInjector:
    """Holds the current knobs and decides the fate of each Backend API request."""

    def __init__(self, rng: random.Random, knobs: Knobs | None = None) -> None:
        self._rng = rng
        self._rng_lock = threading.Lock()
        self._knobs = knobs or Knobs()
        self._knobs_lock = threading.Lock()  # two concurrent set() calls must not lose either change
        self.rate_limiter = RateLimiter()

    @property
    def knobs(self) -> Knobs:
        return self._knobs

    def set(self, changes: dict[str, Any]) -> Knobs:
        with self._knobs_lock:
            self._knobs = self._knobs.with_changes(changes)
            return self._knobs

    def reset(self) -> None:
        with self._knobs_lock:
            self._knobs = Knobs()
        self.rate_limiter.reset()

    def random(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def choice(self, options: tuple[int, ...]) -> int:
        with self._rng_lock:
            return self._rng.choice(options)

    def before_auth(self) -> Verdict:
        """Outage and latency: they hit every request, authenticated or not."""
        knobs = self._knobs
        if knobs.outage:
            return Verdict(error=errors.service_unavailable(), drop=knobs.outage_mode == "drop")
        latency = knobs.latency_ms + (self.random() * knobs.latency_jitter_ms if knobs.latency_jitter_ms else 0)
        return Verdict(latency_s=latency / 1000)

    def after_auth(self) -> errors.EmulatorError | None:
        """Rate limit, then the error rate, for an authenticated request."""
        knobs = self._knobs
        if knobs.rate_limit_storm_retry_after_s is not None:
            return errors.RateLimitedError(knobs.rate_limit_storm_retry_after_s)
        if knobs.rate_limit is not None:
            retry_after = self.rate_limiter.acquire(knobs.rate_limit, knobs.rate_limit_window_s)
            if retry_after is not None:
                return errors.RateLimitedError(retry_after)
        if knobs.error_rate and self.random() < knobs.error_rate:
            return errors.injected_error(self.choice(knobs.error_statuses))
        return None


class RequestStats:
    """Backend API requests per route template (`GET /v1/users/{user_id}`) and per response status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, dict[str, int]] = {}

    def record(self, route: str, status: str) -> None:
        with self._lock:
            by_status = self._routes.setdefault(route, {})
            by_status[status] = by_status.get(status, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            routes = {
                route: {"count": sum(by_status.values()), "by_status": dict(by_status)}
                for route, by_status in sorted(self._routes.items())
            }
        return {"total": sum(r["count"] for r in routes.values()), "routes": routes}

    def count(self, route: str | None = None) -> int:
        with self._lock:
            if route is None:
                return sum(sum(s.values()) for s in self._routes.values())
            return sum(self._routes.get(route, {}).values())

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
