"""The bad-input suite's harness: one request at a time to a running local stack, and what it left behind.

For each request the harness returns the answer, the table before and after (a full scan), and the stack log's
lines for that request alone: the log is read from a byte offset taken before the request up to the line of a
marker request sent after the request's own line appeared, so nothing logged around it (a late worker line, the
next case) is attributed to it. The local stack writes one line per HTTP request (`12:00:01 POST /api/... → 401
(3 ms)`) and shows the handlers' warnings and errors as JSON lines: a request answered with exactly one line
was refused quietly and clearly, one with more logged a warning, an error or a traceback.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from svix.webhooks import Webhook

from clerk_sync import keys
from clerk_sync.store import SyncStore
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES

REQUEST_LINE = re.compile(r"^\d{2}:\d{2}:\d{2} (?P<method>[A-Z]+) (?P<path>\S+) → (?P<status>\d{3}) \(")
# The worker's line for the delayed second cascade pass of a user deleted up to a minute earlier (by another test
# or the suite's set-up; messages.USER_CASCADE_DELAY_SECONDS): background work no request of the suite starts.
DELAYED_CASCADE_LINE = re.compile(r"^\d{2}:\d{2}:\d{2} sync user_cascade user_\w+ → ")
LOG_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Request:
    """What a case sends: header values as bytes where they must carry what httpx would refuse to encode."""

    method: str
    path: str  # as sent on the wire (percent-encoded), which is what the gateway logs
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


def header_list(headers: dict[str, str | bytes]) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value if isinstance(value, bytes) else value.encode()) for name, value in headers.items()]


@dataclass(frozen=True)
class Expected:
    """The documented answer: a status and `{"error": {"code"}}` (exactly, or by prefix), or API Gateway's own
    `{"message": ...}` body when `gateway_message` is set."""

    status: int
    code: str | None = None
    code_prefix: str | None = None
    gateway_message: str | None = None

    def check(self, response: httpx.Response) -> None:
        assert response.status_code == self.status, (response.status_code, response.text[:300])
        body = response.json() if response.content else None
        if self.gateway_message is not None:
            assert body == {"message": self.gateway_message}, body
            return
        if self.code is None and self.code_prefix is None:
            return
        assert isinstance(body, dict), body
        assert "error" in body, body
        assert set(body["error"]) == {"code", "message"}, body
        found = body["error"]["code"]
        if self.code is not None:
            assert found == self.code, body
        if self.code_prefix is not None:
            assert found.startswith(self.code_prefix), body


@dataclass(frozen=True)
class Case:
    surface: str
    name: str
    build: Callable[[Any], Request]  # the suite's environment (tokens, ids, secret) → the request
    expected: Expected

    @property
    def id(self) -> str:
        return f"{self.surface}: {self.name}"


@dataclass(frozen=True)
class Outcome:
    response: httpx.Response
    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    lines: list[str]


class StackProbe:
    """Sends cases to a local stack over HTTP and observes the table and the stack's log around each."""

    def __init__(self, api: httpx.Client, store: SyncStore, log: Path) -> None:
        self._api = api
        self._store = store
        self._log = log

    def snapshot(self) -> list[dict[str, Any]]:
        # The shared Clerk budget's item is bookkeeping other requests in flight may touch meanwhile; history too.
        items = (item for item in self._store.scan() if item.get("entity") not in HISTORY_ENTITIES | {BUDGET_ENTITY})
        return sorted(items, key=lambda item: (item[keys.PK], item[keys.SK]))

    def send(self, request: Request) -> Outcome:
        before = self.snapshot()
        offset = self._log.stat().st_size
        response = self._api.request(request.method, request.path, headers=request.headers, content=request.body)
        status = response.status_code
        # The stack logs the path without its query (a query may hold an email address).
        path = request.path.partition("?")[0]
        self._wait_for(offset, lambda line: _is_request_line(line, request.method, path, status))
        marker = f"/_bad_input_marker/{uuid.uuid4().hex}"
        self._api.get(marker)
        lines = self._wait_for(offset, lambda line: _is_request_line(line, "GET", marker, 404))
        own = [line for line in lines[:-1] if not DELAYED_CASCADE_LINE.match(line)]
        return Outcome(response, before, self.snapshot(), own)

    def _wait_for(self, offset: int, found: Callable[[str], bool]) -> list[str]:
        """The log's lines from `offset` up to and including the first line `found` accepts."""
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            with self._log.open("rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
            lines = text.splitlines()
            for index, line in enumerate(lines):
                if found(line):
                    return lines[: index + 1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no such line in the stack log after {LOG_WAIT_SECONDS:.0f} s: {lines[-5:]}")
            time.sleep(0.02)


def _is_request_line(line: str, method: str, path: str, status: int) -> bool:
    match = REQUEST_LINE.match(line)
    return bool(match and match["method"] == method and match["path"] == path and int(match["status"]) == status)


# ---- webhook signing with the stack's own secret -----------------------------------------------------------


def svix_signed(
    secret: str, body: str, *, msg_id: str | None = None, age: timedelta = timedelta(0)
) -> dict[str, str | bytes]:
    msg_id = msg_id or f"msg_bad_{uuid.uuid4().hex[:16]}"
    timestamp = datetime.now(tz=UTC) - age
    return {
        "content-type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def other_secret() -> str:
    return "whsec_" + base64.b64encode(b"not-the-stack-secret-32-bytes!!!").decode()
