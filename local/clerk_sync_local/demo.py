"""`clerk-sync demo`: a scripted tour of clerk-sync on a fresh local stack, to follow in the terminal.

Every step goes through the real paths: the emulator changes data and sends Svix-signed webhooks (shuffled,
some twice) to the gateway; session tokens hit the authorizer; syncs go through `/api/sync/*`. At the end the
table is shown and compared with the emulator's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from clerk_sync import keys
from clerk_sync.items import JOB_ENTITY, SYNC_STATE_ENTITY
from clerk_sync.store import SyncStore
from clerk_sync.store.budget import BUDGET_ENTITY
from clerk_sync.store.history import HISTORY_ENTITIES
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.state import MembershipCreate
from clerk_sync_local.stack import LocalStack

Say = Callable[[str], None]
_SETTLE_TIMEOUT_S = 60.0


class Tour:
    """The stack, an HTTP client on its gateway, and the narration."""

    def __init__(self, stack: LocalStack, console: Console) -> None:
        if stack.emulator is None or stack.ready is None:
            raise RuntimeError("the demo needs a running stack with the Clerk emulator")
        self.stack = stack
        self.clerk: ClerkEmulator = stack.emulator
        self.console = console
        self.http = httpx.Client(base_url=stack.ready.api_url, timeout=30)

    def say(self, text: str) -> None:
        self.console.print(f"[bold cyan]•[/bold cyan] {text}")

    def detail(self, text: str) -> None:
        self.console.print(f"    {text}")

    def settle(self) -> None:
        """Until every webhook is delivered and every queued message processed."""
        self.clerk.wait_for_deliveries(_SETTLE_TIMEOUT_S)
        deadline = time.monotonic() + _SETTLE_TIMEOUT_S
        while self.stack.queue_depth() > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the event queue did not drain")
            time.sleep(0.05)

    def call(self, method: str, path: str, token: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, path, headers={"authorization": f"Bearer {token}"}, json=body)

    @property
    def store(self) -> SyncStore:
        from clerk_sync import wiring

        return wiring.sync_store()


def _webhooks(tour: Tour, duplicates: float, shuffle_ms: int) -> None:
    clerk = tour.clerk
    tour.say(f"Webhooks from now on arrive shuffled within {shuffle_ms} ms, and {duplicates:.0%} of them twice")
    clerk.set_knobs(webhook_duplicate_probability=duplicates, webhook_shuffle_window_ms=shuffle_ms)
    tour.say("Creating users Ada, Grace and Linus and the organizations Acme (Ada's) and Globex (Grace's)")
    ada = clerk.create_user(first_name="Ada", last_name="Lovelace", email="ada@example.com")["id"]
    grace = clerk.create_user(first_name="Grace", last_name="Hopper", email="grace@example.com")["id"]
    linus = clerk.create_user(first_name="Linus", last_name="Torvalds", email="linus@example.com")["id"]
    acme = clerk.create_organization("Acme", created_by=ada)["id"]
    globex = clerk.create_organization("Globex", created_by=grace)["id"]
    tour.say("Adding Grace and Linus to Acme and Linus to Globex; renaming Grace; promoting her; renaming Acme")
    clerk.add_membership(acme, grace, "org:member")
    clerk.add_membership(acme, linus, "org:member")
    clerk.add_membership(globex, linus, "org:member")
    clerk.update_user(grace, last_name="Brewster Hopper")
    clerk.update_membership(acme, grace, role="org:admin")
    clerk.update_organization(acme, name="Acme Corporation")
    tour.say("Removing Linus from Acme, adding him back; then deleting Linus and the Globex organization")
    clerk.remove_membership(acme, linus)
    clerk.add_membership(acme, linus, "org:admin")
    clerk.delete_user(linus)
    clerk.delete_organization(globex)
    tour.settle()
    clerk.set_knobs(webhook_duplicate_probability=0.0, webhook_shuffle_window_ms=0)
    events, deliveries = len(clerk.events), len(clerk.deliveries)
    tour.detail(f"{events} Clerk events became {deliveries} deliveries ({deliveries - events} duplicates), all applied")
    linus_item = tour.store.get_user(linus)
    tour.detail(f"Linus on record: deleted={linus_item and linus_item['deleted']}, memberships left: "
                f"{len(tour.store.user_memberships(linus))}")  # fmt: skip


def _first_login(tour: Tour) -> None:
    clerk = tour.clerk
    tour.say("A user clerk-sync has never heard of signs in (webhooks held back, so only the login can tell)")
    clerk.set_knobs(webhooks_paused=True)
    margaret = clerk.create_user(first_name="Margaret", last_name="Hamilton", email="margaret@example.com")["id"]
    apollo = clerk.create_organization("Apollo", created_by=margaret)["id"]
    token = clerk.mint_token(margaret, apollo)
    tour.detail(f"on record before: {tour.store.get_user(margaret) is not None}")
    reply = tour.call("GET", "/api/sync/status", token)
    body = reply.json()
    orgs = [m["organization"]["name"] for m in body["memberships"]]
    tour.detail(f"GET /api/sync/status → {reply.status_code}: {body['user']['first_name']} synced by "
                f"{body['user']['sync_source']}, organizations {orgs}")  # fmt: skip
    clerk.set_knobs(webhooks_paused=False)
    tour.settle()


def _outage(tour: Tour) -> None:
    clerk = tour.clerk
    tour.say("Clerk goes down just as a brand-new user signs in")
    clerk.set_knobs(webhooks_paused=True)
    alan = clerk.create_user(first_name="Alan", last_name="Kay", email="alan@example.com")["id"]
    clerk.set_knobs(outage=True)
    reply = tour.call("GET", "/api/sync/status", clerk.mint_token(alan))
    body = reply.json()
    tour.detail(f"GET /api/sync/status → {reply.status_code}: provisional={body['provisional']}, "
                f"version={body['user']['version']}, sync_source={body['user']['sync_source']}")  # fmt: skip
    tour.say("Clerk comes back; the queued sync (and the held webhook) heal the record")
    clerk.set_knobs(outage=False, webhooks_paused=False)
    deadline = time.monotonic() + _SETTLE_TIMEOUT_S
    while (item := tour.store.get_user(alan)) is None or item.get("provisional"):
        if time.monotonic() > deadline:
            raise TimeoutError("the provisional user was not healed")
        time.sleep(0.1)
    tour.settle()
    tour.detail(f"on record now: provisional={item['provisional']}, {item['first_name']} {item['last_name']}, "
                f"sync_source={item['sync_source']}")  # fmt: skip


def _bulk(tour: Tour, members: int) -> None:
    clerk = tour.clerk
    tour.say(f"An organization whose {members} memberships predate the webhook endpoint (their users do not)")
    owner = clerk.create_user(first_name="Barbara", last_name="Liskov", email="barbara@example.com")["id"]
    org = clerk.create_organization("Big Co", created_by=owner)["id"]
    seeded = clerk.seed_data(users=members - 1, organizations=0, seed=7)
    tour.settle()
    with clerk.state.lock:  # memberships without events, as if made before the endpoint existed
        for user_id in seeded["users"]:
            clerk.state.add_membership(org, MembershipCreate(user_id=user_id, role="org:member"))
    tour.detail(f"members on record before: {len(tour.store.organization_memberships(org))}")
    token = clerk.mint_token(owner, org)
    reply = tour.call("POST", f"/api/sync/organization/{org}/members", token)
    body = reply.json()
    job_id = body["job"]["job_id"] if body["job"] else "-"
    tour.detail(f"POST /api/sync/organization/…/members → {reply.status_code}: first page inline "
                f"({body['report']['summary']}), job {job_id}")  # fmt: skip
    if body["job"]:
        job_url = body["status_url"]
        while (job := tour.call("GET", job_url, token).json())["status"] == "running":
            tour.detail(f"job: {job['synced']} of {job['total']} members, {job['pages']} pages")
            time.sleep(0.5)
        tour.detail(f"job {job['status']}: {job['synced']} members in {job['pages']} pages, "
                    f"{job['clerk_calls']} Clerk requests")  # fmt: skip
    tour.detail(f"members on record now: {len(tour.store.organization_memberships(org))}")


def _short(text: str, width: int = 18) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _final_table(items: list[dict[str, Any]]) -> Table:
    table = Table(title="clerk-sync table (the bulk organization's members left out)")
    for column in ("PK", "SK", "what", "source", "state"):
        table.add_column(column, no_wrap=True)
    for item in sorted(items, key=lambda i: (i[keys.PK], i[keys.SK])):
        what = (
            item.get("name")
            or item.get("role")
            or " ".join(filter(None, [item.get("first_name"), item.get("last_name")]))
        )
        state = "[red]tombstone[/red]" if item.get("deleted") else "[green]live[/green]"
        row = (
            _short(item[keys.PK]),
            _short(item[keys.SK]),
            _short(what or "-", 24),
            item.get("sync_source", "-"),
            state,
        )
        table.add_row(*row)
    return table


def run_demo(
    console: Console | None = None, *, duplicate_probability: float = 0.3, shuffle_ms: int = 150, members: int = 520
) -> bool:
    """Runs the tour on a fresh stack; True when the table ends equal to the emulator's state."""
    console = console or Console()
    started = time.perf_counter()
    with LocalStack(port=0, seed=False, quiet=True, batching_window_seconds=0.2) as stack:
        tour = Tour(stack, console)
        ready = stack.ready
        assert ready is not None  # Tour checked it
        console.print(f"[bold]clerk-sync local stack[/bold] API {ready.api_url}, Clerk emulator "
                      f"{ready.clerk_api_url}, moto {ready.aws_endpoint_url}")  # fmt: skip
        _webhooks(tour, duplicate_probability, shuffle_ms)
        _first_login(tour)
        _outage(tour)
        _bulk(tour, members)
        store = tour.store
        everything = list(store.scan())
        bulk = {item[keys.PK] for item in everything if item.get("name") == "Big Co"}
        bulk_users = {
            keys.USER_PREFIX + str(item["user_id"])
            for item in everything
            if item[keys.PK] in bulk
            and item[keys.SK].startswith(keys.MEMBER_PREFIX)
            and item.get("role") == "org:member"
        }
        shown = [
            item
            for item in everything
            if item.get("entity") not in {JOB_ENTITY, SYNC_STATE_ENTITY, BUDGET_ENTITY, *HISTORY_ENTITIES}
            and not (item[keys.PK] in bulk and item[keys.SK].startswith(keys.MEMBER_PREFIX))
            and item[keys.PK] not in bulk_users
        ]
        console.print(f"{len(everything)} items in the table; {len(shown)} shown")
        console.print(_final_table(shown))
        found = differences(store, tour.clerk.state_snapshot())
        stats = stack.poller.stats if stack.poller else None
        if stats:
            console.print(f"worker: {stats.succeeded} messages processed, {stats.failed} failed")
        if found:
            console.print("[bold red]The table differs from Clerk:[/bold red]")
            for line in found[:20]:
                console.print(f"  {line}")
        else:
            console.print(
                "[bold green]✓ The table equals Clerk's state (users, organizations, memberships).[/bold green]"
            )
        console.print(f"Done in {time.perf_counter() - started:.1f} s.")
        return not found
