"""A fake Clerk Backend API on `httpx.MockTransport`, a fake clock and a metrics recorder: no sockets, no sleeping."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.metrics import MetricUnit

from clerk_sync.clerk.client import ClerkClient
from clerk_sync.clerk.retry import RetryPolicy

SECRET_KEY = "sk_test_unitTESTsecret0123456789"
BASE_URL = "https://clerk.test"

Fault = httpx.Response | Exception


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps or a request takes time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[tuple[float, float]] = []  # (time the sleep started, seconds)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append((self.now, seconds))
        self.now += seconds

    @property
    def slept(self) -> list[float]:
        return [seconds for _, seconds in self.sleeps]


class RecordingMetrics:
    """Stands in for Powertools Metrics; keeps (name, unit, value) in order."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, MetricUnit, float]] = []

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        self.rows.append((name, unit, value))

    def values(self, name: str) -> list[float]:
        return [value for row_name, _, value in self.rows if row_name == name]


def user_json(user_id: str, *, updated_at: int = 1_700_000_000_000) -> dict[str, Any]:
    return {
        "object": "user",
        "id": user_id,
        "first_name": "Jane",
        "primary_email_address_id": "idn_1",
        "email_addresses": [
            {"id": "idn_1", "email_address": "jane.doe@example.com", "verification": {"status": "verified"}}
        ],
        "public_metadata": {},
        "private_metadata": None,
        "created_at": 1_600_000_000_000,
        "updated_at": updated_at,
    }


def org_json(org_id: str) -> dict[str, Any]:
    return {
        "object": "organization",
        "id": org_id,
        "name": f"Org {org_id}",
        "slug": org_id.replace("_", "-"),
        "public_metadata": {},
        "created_at": 1_600_000_000_000,
        "updated_at": 1_700_000_000_000,
    }


def membership_json(org_id: str, user_id: str) -> dict[str, Any]:
    return {
        "object": "organization_membership",
        "id": f"orgmem_{org_id}_{user_id}",
        "role": "org:member",
        "permissions": ["org:posts:read"],
        "public_metadata": {},
        "private_metadata": {},
        "organization": org_json(org_id),
        "public_user_data": {"user_id": user_id, "identifier": "jane.doe@example.com"},
        "created_at": 1_600_000_000_000,
        "updated_at": 1_700_000_000_000,
    }


def error_response(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    """A Clerk-shaped error: `{"errors": [{code, message, long_message}], "clerk_trace_id"}`."""
    body = {
        "errors": [{"code": code, "message": message, "long_message": f"{message} (long)"}],
        "clerk_trace_id": "trace_123",
    }
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class SeenRequest:
    url: str
    method: str
    path: str
    raw_path: str
    params: dict[str, str]
    headers: httpx.Headers
    at: float
    timeout: dict[str, float]


@dataclass
class FakeClerk:
    """Clerk's list/get routes over in-memory state, with faults to serve first and a request log."""

    clock: FakeClock
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    latency: float = 0.0
    seen: list[SeenRequest] = field(default_factory=list)

    # Payload builders, reachable from tests through the `clerk` fixture.
    user_json = staticmethod(user_json)
    org_json = staticmethod(org_json)
    membership_json = staticmethod(membership_json)
    error_response = staticmethod(error_response)

    def add_user(self, user_id: str) -> None:
        self.users[user_id] = user_json(user_id)

    def add_memberships(self, user_id: str, count: int) -> None:
        self.add_user(user_id)
        for index in range(count):
            org_id = f"org_{user_id}_{index:05d}"
            self.orgs[org_id] = org_json(org_id)
            self.memberships.append(membership_json(org_id, user_id))

    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(
            SeenRequest(
                str(request.url.copy_with(query=None)),
                request.method,
                request.url.path,
                request.url.raw_path.decode().split("?")[0],
                dict(request.url.params),
                request.headers,
                self.clock(),
                request.extensions.get("timeout", {}),
            )
        )
        self.clock.now += self.latency
        if self.faults:
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        return self.route(request)

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        params = request.url.params
        limit = int(params.get("limit", "10"))
        offset = int(params.get("offset", "0"))
        if path == "/users":
            return httpx.Response(200, json=self._users_page(limit, offset, params.get("starting_after")))
        if path == "/users/count":
            return httpx.Response(200, json={"object": "total_count", "total_count": len(self.users)})
        if path == "/organizations":
            return self._data_page(list(self.orgs.values()), limit, offset)
        if path == "/organization_memberships":
            return self._data_page(self.memberships, limit, offset)
        if match := re.fullmatch(r"/users/([^/]+)/organization_memberships", path):
            mine = [m for m in self.memberships if m["public_user_data"]["user_id"] == match[1]]
            return self._data_page(mine, limit, offset)
        if match := re.fullmatch(r"/organizations/([^/]+)/memberships", path):
            theirs = [m for m in self.memberships if m["organization"]["id"] == match[1]]
            return self._data_page(theirs, limit, offset)
        if (match := re.fullmatch(r"/users/([^/]+)", path)) and match[1] in self.users:
            return httpx.Response(200, json=self.users[match[1]])
        if match := re.fullmatch(r"/organizations/([^/]+)", path):
            for org in self.orgs.values():
                if match[1] in (org["id"], org["slug"]):
                    return httpx.Response(200, json=org)
        return error_response(404, "resource_not_found", "not found")

    def _users_page(self, limit: int, offset: int, starting_after: str | None) -> list[dict[str, Any]]:
        users = list(self.users.values())
        if starting_after is not None:
            ids = [user["id"] for user in users]
            offset = ids.index(starting_after) + 1
        return users[offset : offset + limit]

    @staticmethod
    def _data_page(items: list[dict[str, Any]], limit: int, offset: int) -> httpx.Response:
        return httpx.Response(200, json={"data": items[offset : offset + limit], "total_count": len(items)})


@pytest.fixture
def secret_key() -> str:
    return SECRET_KEY


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def metrics() -> RecordingMetrics:
    return RecordingMetrics()


@pytest.fixture
def clerk(clock: FakeClock) -> FakeClerk:
    return FakeClerk(clock=clock)


@pytest.fixture
def make_client(clerk: FakeClerk, clock: FakeClock, metrics: RecordingMetrics) -> Iterator[Callable[..., ClerkClient]]:
    """Builds clients on the fake Clerk, fake clock, seeded jitter and recorded metrics; options override."""
    built: list[ClerkClient] = []

    def build(**options: Any) -> ClerkClient:
        defaults: dict[str, Any] = {
            "base_url": BASE_URL,
            "transport": clerk.transport,
            "clock": clock,
            "sleep": clock.sleep,
            "rng": random.Random(7),
            "metrics": metrics,
            "retry": RetryPolicy(max_attempts=4, base_seconds=0.5, cap_seconds=8.0),
            "timeout_budget": 30.0,
        }
        client = ClerkClient(SECRET_KEY, **{**defaults, **options})
        built.append(client)
        return client

    yield build
    for client in built:
        client.close()
