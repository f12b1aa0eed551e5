"""Commands on a deployment's records, local or deployed: `token`, `status`, `export`, `sync user|organization`.

Each finds its target with `--ready-file` (a local stack) or `--stage NAME` (a deployed stage), reads and writes
through the runtime's store and sync layer, and turns every failure into one clear line and exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from clerk_sync_local.cli.common import (
    DEFAULT_READY_FILE,
    CdkJsonOption,
    ReadyFileOption,
    StageOption,
    console,
    errors,
    fail,
    find_target,
)

if TYPE_CHECKING:
    from clerk_sync.reports import SyncReport
    from clerk_sync_local.cli.targets import Target

DEFAULT_CDK_JSON = Path("cdk.json")

sync_app = typer.Typer(help="Sync from Clerk into the target's table, through the same sync layer as the functions.")


def token(
    user_id: str = typer.Argument(..., help="The Clerk user id (user_...)."),
    org: str | None = typer.Option(None, "--org", help="Active organization (id or slug) for the org claim."),
    expires_in: int = typer.Option(3600, "--expires-in", min=1, help="Lifetime in seconds."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
) -> None:
    """Mint a dev session token from the running Clerk emulator (found via the ready file or CLERK_API_URL)."""
    import httpx

    from clerk_sync_local.cli.targets import TargetError, from_ready_file

    if stage:
        fail(f"stage {stage} uses real Clerk: take a session token from your frontend (getToken())")
    if ready_file.exists():
        try:
            target = from_ready_file(ready_file)
        except TargetError as error:
            fail(str(error))
        if not target.emulator_admin_url:
            fail("the stack talks to real Clerk: take a session token from your frontend (getToken())")
        admin_url = target.emulator_admin_url
    elif os.environ.get("CLERK_API_URL"):
        admin_url = os.environ["CLERK_API_URL"].rstrip("/") + "/_emulator"
    else:
        fail(f"{ready_file} not found and CLERK_API_URL unset: start the stack with `clerk-sync local up`")
    body: dict[str, Any] = {"user_id": user_id, "expires_in": expires_in}
    if org:
        body["org_id"] = org
    try:
        response = httpx.post(f"{admin_url}/tokens", json=body, timeout=5)
    except httpx.HTTPError as error:
        fail(f"the Clerk emulator at {admin_url} did not answer ({type(error).__name__})")
    if response.status_code != 200:
        fail(f"the emulator refused: {_clerk_error(response)}")
    typer.echo(response.json()["jwt"])


def _clerk_error(response: Any) -> str:
    try:
        first = response.json()["errors"][0]
        return f"{first.get('long_message') or first.get('message')} ({first.get('code')}, HTTP {response.status_code})"
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


def export(
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")] = None,
) -> None:
    """The stored users, organizations and memberships as JSON lines (sorted by key; tombstones have deleted=true)."""
    from clerk_sync.store import StoreError
    from clerk_sync_local.cli.views import copy_store, export_lines

    store = copy_store(find_target(ready_file, stage, cdk_json))
    try:
        lines = list(export_lines(store.scan()))
    except StoreError as error:
        fail(f"could not read the table: {error}")
    text = "".join(f"{line}\n" for line in lines)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        errors.print(f"{len(lines)} records written to {output}", highlight=False)


def status(
    user_id: str = typer.Argument(..., help="The Clerk user id (user_...)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """A user's stored record, live memberships and their organizations."""
    from clerk_sync.store import StoreError
    from clerk_sync_local.cli.views import user_status

    target = find_target(ready_file, stage, cdk_json)
    try:
        found = user_status(target.store(), user_id)
    except StoreError as error:
        fail(f"could not read the table: {error}")
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, sort_keys=True))
        return
    if found.user is None:
        fail(f"{user_id} is not in the table")
    user = found.user
    state = "[red]deleted (tombstone)[/]" if user.get("deleted") else "[green]live[/]"
    if user.get("provisional"):
        state += " [yellow]provisional[/]"
    summary = Table(title=f"user {user_id}", show_header=False)
    name = " ".join(filter(None, [user.get("first_name"), user.get("last_name")])) or "-"
    for label, value in (
        ("name", name),
        ("email", user.get("primary_email") or "-"),
        ("state", state),
        ("version", str(user.get("version"))),
        ("synced_at", str(user.get("synced_at"))),
        ("sync_source", str(user.get("sync_source"))),
    ):
        summary.add_row(label, value)
    console.print(summary)
    memberships = Table(title=f"{len(found.memberships)} live memberships")
    for column in ("organization", "name", "role", "version", "org state"):
        memberships.add_column(column)
    for item in found.memberships:
        org_id = str(item.get("org_id"))
        org = found.organizations.get(org_id)
        org_state = "missing" if org is None else ("deleted" if org.get("deleted") else "live")
        memberships.add_row(
            org_id, str((org or {}).get("name", "-")), str(item.get("role")), str(item.get("version")), org_state
        )
    console.print(memberships)


@sync_app.command("user")
def sync_user(
    user_id: str = typer.Argument(..., help="The Clerk user id (user_...)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Full sync of one user from Clerk: the user, their organizations and memberships (1 + ceil(M/500) calls)."""
    target = find_target(ready_file, stage, cdk_json)
    _report(target, "user", lambda service: service.full_user_sync(user_id), as_json)


@sync_app.command("organization")
def sync_organization(  # noqa: PLR0917 - typer maps each option to a parameter
    org_id: str = typer.Argument(..., help="The Clerk organization id (org_...) or slug."),
    members: bool = typer.Option(False, "--members", help="All its members too, every page (1 + ceil(N/500) calls)."),
    ready_file: ReadyFileOption = DEFAULT_READY_FILE,
    stage: StageOption = None,
    cdk_json: CdkJsonOption = DEFAULT_CDK_JSON,
    as_json: bool = typer.Option(False, "--json", help="Print the sync report as JSON."),
) -> None:
    """Sync one organization from Clerk, with `--members` all its memberships (those Clerk no longer lists go)."""
    target = find_target(ready_file, stage, cdk_json)
    if members:
        _report(target, "organization", lambda service: service.sync_organization_members(org_id), as_json)
    else:
        _report(target, "organization", lambda service: service.sync_organization(org_id), as_json)


def _report(target: Target, what: str, run: Any, as_json: bool) -> None:
    """Runs one sync on the target and prints its report; exit 1 when it failed or Clerk has no such record."""
    from clerk_sync.clerk.errors import ClerkError
    from clerk_sync.queue import QueueUnavailableError
    from clerk_sync.store import StoreError
    from clerk_sync_local.cli.targets import TargetError

    try:
        report: SyncReport = run(target.sync_service())
    except TargetError as error:
        fail(str(error))
    except ClerkError as error:
        fail(f"Clerk: {error}")
    except (StoreError, QueueUnavailableError) as error:
        fail(f"{target.description}: {error}")
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_report(target, report)
    if not report.found:
        fail(f"Clerk has no such {what}" + (" (our record is now a tombstone)" if report.changes else ""))


def _print_report(target: Target, report: SyncReport) -> None:
    table = Table(title=f"sync on {target.description}")
    for column in ("record", "id", "outcome"):
        table.add_column(column)
    for change in report.changes:
        table.add_row(change.entity, change.id, change.outcome.value)
    console.print(table)
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.summary.items())) or "nothing written"
    console.print(
        f"{counts}; {report.clerk_calls} Clerk calls in {report.duration_ms:.0f} ms",
        highlight=False,
    )
