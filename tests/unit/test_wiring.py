"""wiring.py is the one place that caches: every process-wide object is a singleton, reset() forgets them all."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clerk_sync
from clerk_sync import wiring
from clerk_sync_local.emulator.tokens import TokenSigner

RUNTIME = Path(clerk_sync.__file__).resolve().parent
CACHING_DECORATORS = {"cache", "lru_cache", "cached_property"}


@pytest.fixture
def handler_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the deployed functions read; nothing here opens a socket when the objects are built."""
    for name, value in {
        "TABLE_NAME": "clerk-sync-unit",
        "EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/clerk-sync-unit-events",
        "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_" + "A" * 32,
        "CLERK_SECRET_KEY": "sk_test_wiringUNIT",
        "CLERK_API_URL": "http://127.0.0.1:9",
        "CLERK_ISSUER": "https://clerk.example.test",
        "CLERK_JWT_KEY": TokenSigner().public_key_pem,
    }.items():
        monkeypatch.setenv(name, value)


def test_reset_clears_every_singleton_wiring_owns(handler_environment: None) -> None:
    getters = wiring.singletons()
    for getter in getters:
        getter()
    assert all(getter.cache_info().currsize == 1 for getter in getters)

    wiring.reset()

    assert [getter for getter in getters if getter.cache_info().currsize] == []


def test_every_cached_getter_in_wiring_is_a_singleton_reset_knows() -> None:
    cached = {name for name, value in vars(wiring).items() if callable(getattr(value, "cache_clear", None))}
    registered = {getter.__wrapped__.__name__ for getter in wiring.singletons()}
    assert cached == registered
    assert {"clerk_client", "session_verifier", "sync_service", "webhook_intake", "dynamodb_client"} <= registered


def test_getters_build_once_and_again_after_reset(handler_environment: None) -> None:
    client, verifier = wiring.clerk_client(), wiring.session_verifier()
    assert wiring.clerk_client() is client
    assert wiring.session_verifier() is verifier
    wiring.reset()
    assert wiring.clerk_client() is not client
    assert wiring.session_verifier() is not verifier


def test_no_runtime_module_but_wiring_caches() -> None:
    found = []
    for path in sorted(RUNTIME.rglob("*.py")):
        if path == RUNTIME / "wiring.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            name = None
            if isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.ImportFrom) and node.module == "functools":
                found += [f"{path.name}: imports {a.name}" for a in node.names if a.name in CACHING_DECORATORS]
            if name in CACHING_DECORATORS:
                found.append(f"{path.relative_to(RUNTIME)}:{getattr(node, 'lineno', '?')} uses {name}")
    assert found == []
