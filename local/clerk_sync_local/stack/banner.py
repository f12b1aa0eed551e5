"""What `clerk-sync local up` prints once the stack is ready: where things run, tokens, and a curl per route."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Final

from rich.console import Console

from clerk_sync_local.stack.local_stack import TOKEN_LIFETIME_SECONDS, LocalStack
from infra.endpoints import ROUTES, WEBHOOK_PATH, Route

# The demo user may call every route for themself and their organization (they created it: org admin);
# syncing any other user is for platform admins.
_ADMIN_ROUTES: Final = frozenset({"/api/sync/user/{clerkUserId}"})


def _example_path(route: Route, values: dict[str, str]) -> str:
    path = route.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _shell_json(body: dict[str, str]) -> str:
    """The body as one shell word; in double quotes when it names variables, so the shell fills them in."""
    text = json.dumps(body, separators=(",", ":"))
    if "$" not in text:
        return shlex.quote(text)
    return '"' + text.replace('"', '\\"') + '"'


def curl_commands(stack: LocalStack) -> list[str]:
    """One copy-paste command per API route, with real seeded ids where the route takes one.

    Without them (real Clerk, or `--no-seed`) the paths carry `$CLERK_USER_ID` / `$CLERK_ORG_ID` to export first,
    and without a demo user every route uses the admin's token.
    """
    ready = stack.ready
    assert ready is not None
    real = ready.clerk_mode == "clerk"
    values = {
        "clerkUserId": (None if real else ready.demo_user_id) or "$CLERK_USER_ID",
        "clerkOrgId": (None if real else ready.demo_org_id) or "$CLERK_ORG_ID",
        "jobId": "$JOB_ID",
    }
    demo_token = "$DEMO_TOKEN" if ready.demo_user_id else "$ADMIN_TOKEN"
    commands = []
    for route in ROUTES:
        if route.path == WEBHOOK_PATH:
            continue  # Svix signs these: the emulator example below drives that path
        token = "$CLERK_SESSION_TOKEN" if real else ("$ADMIN_TOKEN" if route.path in _ADMIN_ROUTES else demo_token)
        parts = [f"curl -s -X {route.method} {ready.api_url}{_example_path(route, values)}"]
        parts.append(f'-H "Authorization: Bearer {token}"')
        if route.path == "/api/sync/membership":
            body = {"clerkOrgId": values["clerkOrgId"], "clerkUserId": values["clerkUserId"]}
            parts.append("-H 'content-type: application/json'")
            parts.append(f"-d {_shell_json(body)}")
        commands.append(" ".join(parts))
    return commands


def print_banner(console: Console, stack: LocalStack, ready_file: Path | None) -> None:
    ready = stack.ready
    assert ready is not None
    real = ready.clerk_mode == "clerk"

    def plain(text: str = "") -> None:
        console.print(text, soft_wrap=True, highlight=False, markup=False)

    mode = "real Clerk" if real else "Clerk emulator"
    console.print(
        f"[bold green]clerk-sync local stack is up[/] in {ready.started_in_seconds:.1f} s ({mode})", soft_wrap=True
    )
    plain(f"  API         {ready.api_url}")
    plain(f"  Webhooks    {ready.webhook_url}")
    if real:
        plain(f"  Clerk       {ready.clerk_api_url} (real instance; forward its webhooks: docs/local-stack.md)")
    else:
        plain(f"  Clerk       {ready.clerk_api_url} (emulator: Backend API /v1, admin API /_emulator, secret key")
        plain(f"              {ready.clerk_secret_key}, webhooks signed with {ready.webhook_secret})")
    plain(f"  AWS (moto)  {ready.aws_endpoint_url} (region {ready.region}, table {ready.table_name})")
    plain(f"  Queues      {ready.queue_url}  DLQ {ready.dlq_url.rsplit('/', 1)[-1]}")
    if ready_file is not None:
        plain(f"  Ready file  {ready_file}")
    plain()
    if real:
        plain("Session tokens come from your frontend (await getToken() in the browser):")
        plain("export CLERK_SESSION_TOKEN=...  CLERK_USER_ID=user_...  CLERK_ORG_ID=org_...")
    else:
        minutes = TOKEN_LIFETIME_SECONDS // 60
        console.print(
            f"[bold]Dev session tokens[/] ({minutes} min; more with `clerk-sync token USER_ID [--org ORG_ID]`):",
            soft_wrap=True,
        )
        if stack.demo_token:
            org = f", active org {ready.demo_org_id}" if ready.demo_org_id else ""
            plain(f"# demo user {ready.demo_user_id}{org}")
            plain(f"export DEMO_TOKEN={stack.demo_token}")
        if stack.admin_token:
            plain(f"# admin user {ready.admin_user_id}")
            plain(f"export ADMIN_TOKEN={stack.admin_token}")
        if not ready.demo_user_id or not ready.demo_org_id:
            plain("# no demo data (--no-seed): create a user and an organization in the emulator (below), then")
            plain("export CLERK_USER_ID=user_...  CLERK_ORG_ID=org_...")
    plain()
    console.print(
        "[bold]Every API route[/] (export the tokens first; JOB_ID is in a response that started a job):",
        soft_wrap=True,
    )
    for command in curl_commands(stack):
        plain(command)
    if not real:
        plain()
        console.print(
            "[bold]The webhook path[/]: change data in the emulator and watch it reach the table:", soft_wrap=True
        )
        body = json.dumps({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
        headers = "-H 'content-type: application/json'"
        plain(f"curl -s -X POST {ready.emulator_admin_url}/users {headers} -d {shlex.quote(body)}")
    plain("clerk-sync export | head    # the table as JSON lines;   clerk-sync status USER_ID")
    plain()
    console.print("Ctrl-C stops everything.")
