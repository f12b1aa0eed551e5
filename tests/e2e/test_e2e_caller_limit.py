"""The per-caller sync limit at its defaults, on a stack of its own, over HTTP through the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e.conftest import interrupt, local_up, wait_for_ready_file


def test_a_caller_looping_post_sync_user_gets_429_without_clerk_calls(tmp_path: Path) -> None:
    """Point 5 (trust): one signed-in user looping POST /api/sync/user no longer spends the instance's Clerk budget.

    Fails before the fix: all 15 requests answered 200, each with two Clerk requests (30 in all).
    """
    ready_file, log = tmp_path / "ready.json", tmp_path / "local-up.log"
    process = local_up(ready_file, log)
    try:
        ready = wait_for_ready_file(process, ready_file, log)
        assert ready.emulator_admin_url is not None
        with (
            httpx.Client(base_url=ready.api_url, timeout=40) as api,
            httpx.Client(base_url=ready.emulator_admin_url, timeout=40) as clerk,
        ):
            jwt = clerk.post("/tokens", json={"user_id": ready.demo_user_id, "expires_in": 300}).json()["jwt"]
            headers = {"Authorization": f"Bearer {jwt}"}
            assert api.get("/api/sync/status", headers=headers).status_code == 200  # the login's own sync
            clerk.delete("/stats")
            replies = [api.post("/api/sync/user", headers=headers) for _ in range(15)]
            calls = clerk.get("/stats").json()["total"]
    finally:
        interrupt(process)
    assert [r.status_code for r in replies] == [200] + [429] * 14
    assert calls == 2  # the one sync that went through: the user and one page of memberships
    for reply in replies[1:]:
        assert reply.json()["error"]["code"] == "sync_rate_limited"
        assert 1 <= int(reply.headers["retry-after"]) <= 10
