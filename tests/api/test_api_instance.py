"""Through the gateway: a key of another Clerk instance answers 503 with Retry-After and deletes nothing; the
authorizer lets the user in on the stored record instead of denying them (docs/decisions/0014)."""

from __future__ import annotations

import time

import pytest

from clerk_sync import wiring
from tests.api.conftest import Api


def _deleted_in_clerk_only(api: Api) -> tuple[str, str]:
    """A stored user (their own token logged them in) whom Clerk then deletes; the webhook is not delivered."""
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    token = api.token(user_id)
    assert api.call("GET", "/api/sync/status", token=token).status == 200
    api.clerk.delete_user(user_id)
    return user_id, token


def _wrong_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_INSTANCE_ID", "ins_production")  # the emulator's key is ins_emulator's
    wiring.reset()


def test_sync_of_a_user_clerk_404s_with_a_key_of_another_instance_is_503_and_keeps_them(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the guard: the route tombstoned the user and answered 404."""
    admin = api.clerk.create_user(first_name="Root", public_metadata={"role": "admin"})["id"]
    admin_token = api.token(admin)
    assert api.call("GET", "/api/sync/status", token=admin_token).status == 200
    user_id, _ = _deleted_in_clerk_only(api)
    _wrong_key(monkeypatch)
    reply = api.call("POST", f"/api/sync/user/{user_id}", token=admin_token)
    assert reply.status == 503
    assert reply.body["error"]["code"] == "clerk_instance_mismatch"
    assert "ins_" not in reply.body["error"]["message"]
    assert int(reply.headers["retry-after"]) > 0
    stored = api.store.get_user(user_id)
    assert stored is not None
    assert not stored.get("deleted")


def test_login_of_a_user_clerk_404s_with_a_key_of_another_instance_falls_back_not_403(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the guard: the authorizer tombstoned the logged-in user and denied every request."""
    user_id, token = _deleted_in_clerk_only(api)
    monkeypatch.setenv("USER_FRESHNESS_SECONDS", "0")  # the login asks Clerk
    _wrong_key(monkeypatch)
    time.sleep(0.002)
    reply = api.call("GET", "/api/sync/status", token=token)
    assert reply.status == 200
    assert reply.body["user"]["user_id"] == user_id
    stored = api.store.get_user(user_id)
    assert stored is not None
    assert not stored.get("deleted")
