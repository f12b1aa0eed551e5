"""The start-up banner: no secret, token or email in it; commands that fetch them instead; and one curl command
per API route, real ids in the paths, the token each route accepts."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import jwt
import pytest
from rich.console import Console

from clerk_sync_local.stack import LocalStack
from clerk_sync_local.stack.banner import curl_commands, print_banner
from clerk_sync_local.stack.ready import DEFAULT_READY_FILE
from infra.endpoints import ROUTES, WEBHOOK_PATH, is_console
from tests.support.log_scan import Known, report, scan
from tests.unit.local.conftest import ready_info

# Values shaped like the real ones, so that both the patterns and the exact values would find them.
SECRET_KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0" * 2
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SEEDED_EMAIL = "grace@example.com"


def _stack(**ready: object) -> LocalStack:
    stack = LocalStack()
    stack.ready = ready_info(**ready)
    return stack


def _seeded_stack(**ready: object) -> LocalStack:
    """A stack as `local up` leaves it: real-looking keys in the ready file, the seed's two tokens minted."""
    stack = _stack(clerk_secret_key=SECRET_KEY, webhook_secret=WEBHOOK_SECRET, **ready)
    info = stack.ready
    assert info is not None
    if info.demo_user_id:
        stack.demo_token = jwt.encode({"sub": info.demo_user_id, "email": SEEDED_EMAIL}, "k" * 32)
    if info.admin_user_id:
        stack.admin_token = jwt.encode({"sub": info.admin_user_id}, "k" * 32)
    return stack


def _banner(stack: LocalStack, ready_file: Path = DEFAULT_READY_FILE) -> str:
    output = io.StringIO()
    print_banner(Console(file=output, width=100), stack, ready_file)
    return output.getvalue()


def _known(stack: LocalStack) -> list[Known]:
    return [
        Known("clerk secret key", SECRET_KEY),
        Known("webhook secret", WEBHOOK_SECRET),
        Known("session token (JWT)", stack.demo_token or ""),
        Known("session token (JWT)", stack.admin_token or ""),
        Known("email address", SEEDED_EMAIL),
    ]


@pytest.mark.parametrize(
    "ready",
    [
        pytest.param({}, id="seeded"),
        pytest.param({"demo_user_id": None, "demo_org_id": None}, id="no-seed"),
        pytest.param(
            {"clerk_mode": "clerk", "demo_user_id": None, "demo_org_id": None, "emulator_admin_url": None},
            id="real-clerk",
        ),
    ],
)
def test_banner_prints_no_secret_key_webhook_secret_token_or_email(ready: dict[str, object]) -> None:
    """Fails before the fix: the banner printed the emulator's secret key (sk_test_...), its webhook secret
    (whsec_...), the demo user's and the admin's session tokens (eyJ...) and an email in its curl example."""
    stack = _seeded_stack(**ready)
    text = _banner(stack, Path("/tmp/stack/ready.json"))
    assert "Ctrl-C stops everything." in text  # the whole banner
    findings = scan(text, "banner", _known(stack))  # every kind: keys, JWTs, private keys, emails, phones
    assert findings == [], report(findings)


def test_banner_token_commands_mint_for_the_seeded_users_through_the_stacks_ready_file() -> None:
    stack = _seeded_stack()
    lines = _banner(stack, Path("/tmp/my stack/ready.json")).splitlines()
    exports = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in lines if line.startswith("export ")}
    # `$(...)`: the shell runs `clerk-sync token`, whose stdout is the token alone.
    for name in ("export DEMO_TOKEN", "export ADMIN_TOKEN"):
        assert exports[name].startswith("$(")
        assert exports[name].endswith(")")
    demo = shlex.split(exports["export DEMO_TOKEN"][2:-1])
    admin = shlex.split(exports["export ADMIN_TOKEN"][2:-1])
    assert demo == ["clerk-sync", "token", "user_d", "--org", "org_d", "--ready-file", "/tmp/my stack/ready.json"]
    assert admin == ["clerk-sync", "token", "user_a", "--ready-file", "/tmp/my stack/ready.json"]


def test_banner_commands_at_the_default_ready_file_leave_the_option_out() -> None:
    text = _banner(_seeded_stack(), DEFAULT_READY_FILE)
    assert "export DEMO_TOKEN=$(clerk-sync token user_d --org org_d)" in text
    assert "export ADMIN_TOKEN=$(clerk-sync token user_a)" in text
    assert "--ready-file" not in text
    assert f"jq -r .clerk_secret_key {DEFAULT_READY_FILE}" in text


def test_banner_points_at_the_keys_by_their_ready_file_fields() -> None:
    stack = _seeded_stack()
    text = _banner(stack, Path("/tmp/stack/ready.json"))
    fields = stack.ready.model_dump() if stack.ready else {}
    for field, value in (("clerk_secret_key", SECRET_KEY), ("webhook_secret", WEBHOOK_SECRET)):
        assert f"jq -r .{field} /tmp/stack/ready.json" in text
        assert fields[field] == value  # the field the command reads holds the key


def test_banner_with_real_clerk_points_at_no_key_in_the_ready_file() -> None:
    """With real Clerk the ready file holds no key (null): nothing to point at, tokens come from the frontend."""
    stack = _seeded_stack(clerk_mode="clerk", demo_user_id=None, demo_org_id=None, emulator_admin_url=None)
    text = _banner(stack)
    assert "jq " not in text
    assert "clerk-sync token user_" not in text
    assert "CLERK_SESSION_TOKEN" in text


def test_curl_commands_cover_every_api_route_with_seeded_ids() -> None:
    commands = curl_commands(_stack(api_url="http://127.0.0.1:8787"))
    api_routes = [route for route in ROUTES if route.path != WEBHOOK_PATH and not is_console(route.path)]
    assert len(commands) == len(api_routes)
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


def test_banner_prints_a_command_that_opens_the_console_as_the_local_admin() -> None:
    stack = _seeded_stack(api_url="http://127.0.0.1:8787")
    text = _banner(stack, Path("/tmp/my stack/ready.json"))
    (line,) = [line for line in text.splitlines() if "/console#token=" in line]
    # The URL is built when the command runs: the banner holds no token.
    assert line.startswith('echo "http://127.0.0.1:8787/console#token=$(clerk-sync token user_a ')
    assert line.endswith(')"')
    words = shlex.split(line.split("$(", 1)[1].removesuffix(')"'))
    assert words == ["clerk-sync", "token", "user_a", "--ready-file", "/tmp/my stack/ready.json"]


def test_banner_with_real_clerk_names_the_console_without_a_token() -> None:
    stack = _seeded_stack(clerk_mode="clerk", demo_user_id=None, demo_org_id=None, emulator_admin_url=None)
    text = _banner(stack)
    assert "/console  (paste a session token there)" in text
    assert "#token=" not in text
