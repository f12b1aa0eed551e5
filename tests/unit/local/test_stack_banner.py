"""The printed curl commands: one per API route, real ids in the paths, the token each route accepts."""

from __future__ import annotations

import shlex

from clerk_sync_local.stack import LocalStack
from clerk_sync_local.stack.banner import curl_commands
from infra.endpoints import ROUTES, WEBHOOK_PATH
from tests.unit.local.conftest import ready_info


def _stack(**ready: object) -> LocalStack:
    stack = LocalStack()
    stack.ready = ready_info(**ready)
    return stack


def test_curl_commands_cover_every_api_route_with_seeded_ids() -> None:
    commands = curl_commands(_stack(api_url="http://127.0.0.1:8787"))
    assert len(commands) == len([route for route in ROUTES if route.path != WEBHOOK_PATH])
    assert all("{" not in shlex.split(command)[4] for command in commands)  # no template left in a URL
    urls = {shlex.split(command)[4]: command for command in commands}
    assert "$ADMIN_TOKEN" in urls["http://127.0.0.1:8787/api/sync/user/user_d"]
    assert "$DEMO_TOKEN" in urls["http://127.0.0.1:8787/api/sync/organization/org_d/members"]


def test_curl_commands_membership_route_posts_a_json_body() -> None:
    (membership,) = [c for c in curl_commands(_stack()) if "/api/sync/membership" in c]
    words = shlex.split(membership)
    assert words[words.index("-d") + 1] == '{"clerkOrgId":"org_d","clerkUserId":"user_d"}'
    assert "$DEMO_TOKEN" in membership


def test_curl_commands_in_real_clerk_mode_use_placeholders() -> None:
    commands = curl_commands(_stack(clerk_mode="clerk", demo_user_id=None, demo_org_id=None))
    assert all("$CLERK_SESSION_TOKEN" in command for command in commands)
    assert any("/api/sync/user/$CLERK_USER_ID" in command for command in commands)


def test_curl_commands_without_seed_use_placeholders_and_the_admin_token() -> None:
    commands = curl_commands(_stack(demo_user_id=None, demo_org_id=None))
    urls = [shlex.split(command)[4] for command in commands]
    assert all("//" not in url.removeprefix("http://") and not url.endswith("/") for url in urls)  # no empty id
    assert any(url.endswith("/api/sync/user/$CLERK_USER_ID") for url in urls)
    assert any(url.endswith("/api/sync/organization/$CLERK_ORG_ID/members") for url in urls)
    assert all("$DEMO_TOKEN" not in command for command in commands)
    (membership,) = [c for c in commands if "/api/sync/membership" in c]
    words = shlex.split(membership)
    assert words[words.index("-d") + 1] == '{"clerkOrgId":"$CLERK_ORG_ID","clerkUserId":"$CLERK_USER_ID"}'
    assert '-d "{\\"clerkOrgId' in membership  # double-quoted: the shell fills in the variables
