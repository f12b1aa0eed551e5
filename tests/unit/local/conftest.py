"""Local tooling without sockets: the gateway is driven through its ASGI app with fake handlers."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clerk_sync_local.gateway import Gateway
from clerk_sync_local.stack.ready import ReadyInfo


class AsgiClient:
    """Synchronous requests into an ASGI app through httpx's in-memory transport (no sockets)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, url, **options)

        return asyncio.run(send())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)

    def options(self, url: str, **options: Any) -> httpx.Response:
        return self.request("OPTIONS", url, **options)


class FakeFunctions:
    """Fake Lambda handlers that record their events; each answer is configurable per function."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {"webhook": [], "sync_api": [], "authorizer": []}
        self.answers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "webhook": lambda event: {"statusCode": 202, "body": json.dumps({"ok": True})},
            "sync_api": lambda event: {"statusCode": 200, "body": json.dumps({"route": event["routeKey"]})},
            "authorizer": lambda event: {"isAuthorized": True, "context": {"userId": "user_1"}},
        }
        self.lock = threading.Lock()

    def handler(self, key: str) -> Callable[[dict[str, Any], Any], Any]:
        def handle(event: dict[str, Any], context: Any) -> Any:
            with self.lock:
                self.events[key].append(event)
            return self.answers[key](event)

        return handle

    def mapping(self) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
        return {key: self.handler(key) for key in self.events}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def functions() -> FakeFunctions:
    return FakeFunctions()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(functions: FakeFunctions, clock: FakeClock) -> Callable[..., AsgiClient]:
    """A client of a Gateway with the fake functions; keyword arguments go to the Gateway."""

    def make(**options: Any) -> AsgiClient:
        return AsgiClient(Gateway(handlers=functions.mapping(), clock=clock, **options))  # type: ignore[arg-type]

    return make


def sleep_then(seconds: float, answer: Any) -> Callable[[dict[str, Any]], Any]:
    def slow(event: dict[str, Any]) -> Any:
        time.sleep(seconds)
        return answer

    return slow


def ready_info(**changes: Any) -> ReadyInfo:
    """A complete ready file's content; keyword arguments replace values."""
    values: dict[str, Any] = {
        "api_url": "http://127.0.0.1:1",
        "webhook_url": "http://127.0.0.1:1/api/webhooks/clerk",
        "clerk_mode": "emulator",
        "clerk_api_url": "http://127.0.0.1:2",
        "clerk_secret_key": "sk_test_emulator",
        "clerk_issuer": "http://127.0.0.1:2",
        "instance_id": "ins_emulator",
        "emulator_admin_url": "http://127.0.0.1:2/_emulator",
        "aws_endpoint_url": "http://127.0.0.1:3",
        "region": "us-east-1",
        "aws_access_key_id": "local",
        "aws_secret_access_key": "local",
        "table_name": "t",
        "queue_url": "q",
        "dlq_url": "d",
        "secret_arn": "arn",
        "webhook_secret": "whsec_x",
        "admin_user_id": "user_a",
        "demo_user_id": "user_d",
        "demo_org_id": "org_d",
        "authorizer_cache_ttl_seconds": 60.0,
        "started_in_seconds": 1.5,
        "pid": 1,
    }
    return ReadyInfo(**{**values, **changes})
