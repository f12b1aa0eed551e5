"""What `clerk-sync local up` prints once the stack is ready: where things run, tokens, and a curl per route.

It prints no secret: no key, no webhook secret, no session token, no email (its output is a log like any other).
It says where each one is instead, as commands to copy: `jq` on the ready file for the emulator's keys,
`$(clerk-sync token ...)` for session tokens, minted when the command runs.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Final

from rich.console import Console

from clerk_sync_local.stack.local_stack import LocalStack
from clerk_sync_local.stack.ready import DEFAULT_READY_FILE
from infra.endpoints import CONSOLE_PATH, ROUTES, WEBHOOK_PATH, Route, is_console

# The demo user may call every route for themself and their organization (they created it: org admin);
# syncing any other user is for platform admins.
_ADMIN_ROUTES: Final = frozenset({"/api/sync/user/{clerkUserId}"})
_ADMIN_API: Final = "/api/admin/"  # the operator console's reads: platform admins only


def _example_path(route: Route, values: dict[str, str]) -> str:
    path = route.path
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def _shell_json(body: dict[str, object]) -> str:
    """The body as one shell word; in double quotes when it names variables, so the shell fills them in."""
    text = json.dumps(body, separators=(",", ":"))
    if "$" not in text:
        return shlex.quote(text)
    return '"' + text.replace('"', '\\"') + '"'


def _ready_option(ready_file: Path) -> str:
    """`--ready-file PATH` for the CLI commands shown, unless it is their default."""
    return "" if ready_file == DEFAULT_READY_FILE else f" --ready-file {shlex.quote(str(ready_file))}"


def token_command(user_id: str, org_id: str | None, ready_file: Path) -> str:
    """The CLI call that prints a fresh session token and nothing else on stdout, for `$(...)`."""
    org = f" --org {shlex.quote(org_id)}" if org_id else ""
    return f"clerk-sync token {shlex.quote(user_id)}{org}{_ready_option(ready_file)}"


def console_command(api_url: str, admin_user_id: str, ready_file: Path) -> str:
    """Prints the console's URL with a fresh admin token in its fragment, when run (the banner itself holds none)."""
    return f'echo "{api_url}{CONSOLE_PATH}#token=$({token_command(admin_user_id, None, ready_file)})"'


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
        "entity": "user",
    }
    values["entityId"] = values["clerkUserId"]
    demo_token = "$DEMO_TOKEN" if ready.demo_user_id else "$ADMIN_TOKEN"
    commands = []
    for route in ROUTES:
        if route.path == WEBHOOK_PATH:
            continue  # Svix signs these: the emulator example below drives that path
        if is_console(route.path):
            continue  # a page for a browser: console_command below
        admin = route.path in _ADMIN_ROUTES or route.path.startswith(_ADMIN_API)
        token = "$CLERK_SESSION_TOKEN" if real else ("$ADMIN_TOKEN" if admin else demo_token)
        path = _example_path(route, values)
        if route.path == "/api/admin/find":
            path += f"?q={values['clerkUserId']}"
        parts = [
            f"curl -s -X {route.method} {shlex.quote(ready.api_url + path) if '?' in path else ready.api_url + path}"
        ]
        parts.append(f'-H "Authorization: Bearer {token}"')
        body: dict[str, object] | None = None
        if route.path == "/api/sync/membership":
            body = {"clerkOrgId": values["clerkOrgId"], "clerkUserId": values["clerkUserId"]}
        elif route.path == "/api/admin/dlq/replay":
            body = {"all": True}
        if body is not None:
            parts.append("-H 'content-type: application/json'")
            parts.append(f"-d {_shell_json(body)}")
        commands.append(" ".join(parts))
    return commands


def _print_console(console: Console, stack: LocalStack, ready_file: Path) -> None:
    ready = stack.ready
    assert ready is not None
    if ready.clerk_mode == "clerk":
        where = f"{ready.api_url}{CONSOLE_PATH}"
        console.print(
            f"Operator console (platform admins): {where}  (paste a session token there)", soft_wrap=True, markup=False
        )
    elif ready.admin_user_id:
        console.print(
            "[bold]Operator console[/] (platform admins): open the URL this prints; the token stays in the tab:",
            soft_wrap=True,
        )
        command = console_command(ready.api_url, ready.admin_user_id, ready_file)
        console.print(command, soft_wrap=True, highlight=False, markup=False)
    else:
        return
    console.print()


def print_banner(console: Console, stack: LocalStack, ready_file: Path) -> None:
    ready = stack.ready
    assert ready is not None
    real = ready.clerk_mode == "clerk"
    where = shlex.quote(str(ready_file))
    cli_target = _ready_option(ready_file)

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
        plain(f"  Clerk       {ready.clerk_api_url} (emulator: Backend API /v1, admin API /_emulator)")
    plain(f"  AWS (moto)  {ready.aws_endpoint_url} (region {ready.region}, table {ready.table_name})")
    plain(f"  Queues      {ready.queue_url}  DLQ {ready.dlq_url.rsplit('/', 1)[-1]}")
    plain(f"  Ready file  {ready_file} (every URL and id; removed on stop)")
    if not real:
        # Where the emulator's keys are, never their values: this output ends up in terminals' scrollback and logs.
        plain(f"  Secret key  jq -r .clerk_secret_key {where}   (the emulator's)")
        plain(f"  Svix secret jq -r .webhook_secret {where}   (signs the emulator's webhooks)")
    plain()
    if real:
        plain("Session tokens come from your frontend (await getToken() in the browser):")
        plain("export CLERK_SESSION_TOKEN=...  CLERK_USER_ID=user_...  CLERK_ORG_ID=org_...")
    else:
        console.print(
            "[bold]Dev session tokens[/] (each run mints a fresh one; any user: "
            "`clerk-sync token USER_ID [--org ORG_ID] [--expires-in S]`):",
            soft_wrap=True,
        )
        if ready.demo_user_id:
            org = f", active org {ready.demo_org_id}" if ready.demo_org_id else ""
            plain(f"# demo user {ready.demo_user_id}{org}")
            plain(f"export DEMO_TOKEN=$({token_command(ready.demo_user_id, ready.demo_org_id, ready_file)})")
        if ready.admin_user_id:
            plain(f"# admin user {ready.admin_user_id}")
            plain(f"export ADMIN_TOKEN=$({token_command(ready.admin_user_id, None, ready_file)})")
        if not ready.demo_user_id or not ready.demo_org_id:
            plain("# no demo data (--no-seed): create a user and an organization in the emulator (below), then")
            plain("export CLERK_USER_ID=user_...  CLERK_ORG_ID=org_...")
    plain()
    _print_console(console, stack, ready_file)
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
        body = json.dumps({"first_name": "Grace", "last_name": "Hopper"})  # no email: the banner prints none
        headers = "-H 'content-type: application/json'"
        plain(f"curl -s -X POST {ready.emulator_admin_url}/users {headers} -d {shlex.quote(body)}")
    plain(f"clerk-sync export{cli_target} | head    # the table as JSON lines;   clerk-sync status USER_ID{cli_target}")
    plain()
    console.print("Ctrl-C stops everything.")
