"""API tier: the authorizer and sync API handlers behind the local gateway's API Gateway pipeline (called
in-process, no sockets for the gateway), the Clerk emulator over HTTP, moto in-process."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.store import SyncStore
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from clerk_sync.store.limits import SYNC_LIMIT_ENTITY
from clerk_sync.sync.service import SyncService
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.tokens import TokenSigner
from clerk_sync_local.gateway import Gateway
from clerk_sync_local.gateway.events import GatewayRequest
from clerk_sync_local.stack.moto import LocalResources
from tests.support.handlers_on_emulator import emptied, handlers_on

PARTY = "http://localhost:3000"


@pytest.fixture(scope="session")
def session_clerk() -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=99, signing_key_pem=TokenSigner().private_key_pem, authorized_party=PARTY) as emulator:
        yield emulator


@pytest.fixture
def clerk(session_clerk: ClerkEmulator) -> Iterator[ClerkEmulator]:
    yield from emptied(session_clerk)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class Api:
    clerk: ClerkEmulator
    gateway: Gateway
    sqs: Any
    resources: LocalResources

    @property
    def service(self) -> SyncService:
        return wiring.sync_service()

    @property
    def store(self) -> SyncStore:
        return wiring.sync_store()

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request through the gateway: authorizer, route, handler; the response as a client sees it."""
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        content = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
        path_only, _, query = path.partition("?")
        request = GatewayRequest(method, path_only, query, tuple(all_headers.items()), content)
        response = asyncio.run(self.gateway.dispatch(request))
        text = response.body.decode() if response.body else ""
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(response.status, dict(response.headers), parsed)

    def token(self, user_id: str, org_id: str | None = None, **claims: Any) -> str:
        return self.clerk.mint_token(user_id, org_id, **claims)

    def items(self) -> list[dict[str, Any]]:
        """The table's items but the per-caller sync counters, the shared Clerk budget and history (bookkeeping,
        not records)."""
        bookkeeping = HISTORY_ENTITIES | {SYNC_LIMIT_ENTITY, BUDGET_ENTITY}
        return [item for item in self.store.scan() if item.get("entity") not in bookkeeping]


@pytest.fixture
def api(clerk: ClerkEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    overrides = {
        "CLERK_ISSUER": clerk.issuer,
        "CLERK_JWT_KEY": clerk.public_key_pem,
        "CLERK_JWKS_URL": None,
        "CLERK_AUTHORIZED_PARTIES": PARTY,
        "ADMIN_USER_IDS": None,
        "CLERK_MAX_ATTEMPTS": "2",
        "CLERK_BACKOFF_CAP_SECONDS": "0.02",
        "LOGIN_SYNC_BUDGET_SECONDS": "1",
        "API_SYNC_BUDGET_SECONDS": "3",
        "USER_EVENT_MEMBERSHIP_SYNC": "never",
        # Most tests sync one caller many times; test_api_trust.py runs the default limit.
        "SYNC_CALLER_LIMIT": "1000",
    }
    with handlers_on(clerk, monkeypatch, **overrides) as aws:
        yield Api(clerk, Gateway(), aws.sqs, aws.resources)
