"""Emulator tier: a real ClerkEmulator on 127.0.0.1 and a stdlib webhook receiver; no AWS."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.tokens import TokenSigner


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival


class WebhookReceiver:
    """An HTTP endpoint that records every POST and answers with queued statuses (200 when none queued)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._statuses: deque[int] = deque()
        self._cv = threading.Condition()
        self.hold_seconds = 0.0  # how long each request is held before its answer
        self.in_flight = 0
        self.most_in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._cv:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(receiver.hold_seconds)
                with receiver._cv:
                    receiver.in_flight -= 1
                    receiver.requests.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
                    )
                    status = receiver._statuses.popleft() if receiver._statuses else 200
                    receiver._cv.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="test-webhook-receiver", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/clerk"

    def respond_with(self, *statuses: int) -> None:
        with self._cv:
            self._statuses.extend(statuses)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"received {len(self.requests)} of {count} webhooks")
                self._cv.wait(remaining)
            return list(self.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def signing_key_pem() -> str:
    # One RSA key for the session: generating one per emulator costs ~0.1 s each.
    return TokenSigner().private_key_pem


@pytest.fixture(scope="session")
def session_emulator(signing_key_pem: str) -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=1234, signing_key_pem=signing_key_pem) as emulator:
        yield emulator


@pytest.fixture
def clerk(session_emulator: ClerkEmulator) -> Iterator[ClerkEmulator]:
    """The shared running emulator, emptied, with default knobs and no webhook endpoint."""
    session_emulator.set_webhook(None)
    session_emulator.reset()
    yield session_emulator
    session_emulator.set_webhook(None)
    session_emulator.reset()


@pytest.fixture
def api(clerk: ClerkEmulator) -> Iterator[httpx.Client]:
    """A Backend API client with the right secret key."""
    with httpx.Client(base_url=clerk.api_url, headers={"Authorization": f"Bearer {clerk.secret_key}"}) as client:
        yield client


@pytest.fixture
def admin(clerk: ClerkEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{clerk.url}/_emulator") as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    endpoint = WebhookReceiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def hooked(clerk: ClerkEmulator, receiver: WebhookReceiver) -> ClerkEmulator:
    """The emulator sending webhooks to `receiver`."""
    clerk.set_webhook(receiver.url)
    return clerk
