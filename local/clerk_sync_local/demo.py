"""`clerk-sync demo`: the webhook pipeline end to end on this machine, with no AWS or Clerk account.

moto serves DynamoDB and SQS on 127.0.0.1; the Clerk emulator makes changes and sends Svix-signed webhooks,
shuffled and some of them twice, into the real webhook handler (signature checked); a poller drives the
real worker from the queue. At the end the table is shown and compared with the emulator's state.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from clerk_sync import keys, wiring
from clerk_sync.aws import RequestMeter, dynamodb_client
from clerk_sync.handlers import webhook, worker
from clerk_sync.models import Envelope
from clerk_sync.observability import logger
from clerk_sync.store import WriteResult
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.lambda_events import LocalLambdaContext, http_event
from clerk_sync_local.local_aws import LocalMoto
from clerk_sync_local.poller import SqsPoller

WEBHOOK_URL = "http://clerk-sync.local/api/webhooks/clerk"


def handler_transport(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> httpx.MockTransport:
    """Delivers the emulator's webhook requests to a Lambda handler as API Gateway payload v2 events."""

    def deliver(request: httpx.Request) -> httpx.Response:
        event = http_event(request.content, dict(request.headers), path=request.url.path)
        response = handler(event, LocalLambdaContext())
        return httpx.Response(response["statusCode"], headers=response.get("headers"), text=response.get("body", ""))

    return httpx.MockTransport(deliver)


@dataclass
class Tally:
    """What the worker did, by outcome, and the DynamoDB requests it needed."""

    outcomes: Counter[str] = field(default_factory=Counter)
    meter: RequestMeter = field(default_factory=RequestMeter)

    def wrap(self, apply: Callable[..., WriteResult]) -> Callable[..., WriteResult]:
        def counted(envelope: Envelope, event_id: str | None = None) -> WriteResult:
            result = apply(envelope, event_id)
            self.outcomes[result.outcome.value] += 1
            return result

        return counted


def _story(clerk: ClerkEmulator, say: Callable[[str], None]) -> None:
    say("Creating users Ada, Grace and Linus and the organizations Acme and Globex")
    ada = clerk.create_user(first_name="Ada", last_name="Lovelace", email="ada@example.com")["id"]
    grace = clerk.create_user(first_name="Grace", last_name="Hopper", email="grace@example.com")["id"]
    linus = clerk.create_user(first_name="Linus", last_name="Torvalds", email="linus@example.com")["id"]
    acme = clerk.create_organization("Acme", created_by=ada)["id"]
    globex = clerk.create_organization("Globex", created_by=grace)["id"]
    say("Creators are admins (Ada of Acme, Grace of Globex); adding Grace and Linus to Acme, Linus to Globex")
    clerk.add_membership(acme, grace, "org:member")
    clerk.add_membership(acme, linus, "org:member")
    clerk.add_membership(globex, linus, "org:member")
    say("Updating: Grace renamed, promoted to admin of Acme; Acme renamed")
    clerk.update_user(grace, last_name="Brewster Hopper")
    clerk.update_membership(acme, grace, role="org:admin")
    clerk.update_organization(acme, name="Acme Corporation")
    say("Removing Linus from Acme and adding him back as admin")
    clerk.remove_membership(acme, linus)
    clerk.add_membership(acme, linus, "org:admin")
    say("Deleting Linus (his memberships go with him) and the Globex organization")
    clerk.delete_user(linus)
    clerk.delete_organization(globex)


def _table(store_items: list[dict[str, Any]]) -> Table:
    table = Table(title="clerk-sync table")
    for column in ("PK", "SK", "what", "version", "source", "state"):
        table.add_column(column)
    for item in sorted(store_items, key=lambda i: (i[keys.PK], i[keys.SK])):
        what = (
            item.get("name")
            or item.get("role")
            or " ".join(filter(None, [item.get("first_name"), item.get("last_name")]))
        )
        state = "[red]tombstone[/red]" if item.get("deleted") else "[green]live[/green]"
        row = (item[keys.PK], item[keys.SK], what or "-", str(item.get("version")), item.get("sync_source", "-"), state)
        table.add_row(*row)
    return table


def run_demo(console: Console | None = None, *, duplicate_probability: float = 0.3, shuffle_ms: int = 150) -> bool:
    """Runs the tour; returns True when the table ends equal to the emulator's state."""
    console = console or Console()
    say: Callable[[str], None] = lambda text: console.print(f"[bold cyan]•[/bold cyan] {text}")  # noqa: E731
    started = time.perf_counter()
    moto = LocalMoto()
    created = moto.start()
    clerk = ClerkEmulator(webhook_url=WEBHOOK_URL, webhook_transport=handler_transport(webhook.handler))
    saved = dict(os.environ)
    os.environ.update(
        {
            **moto.environment(),
            "TABLE_NAME": created.table_name,
            "EVENTS_QUEUE_URL": created.queue_url,
            "CLERK_WEBHOOK_SIGNING_SECRET": clerk.webhook_secret,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "clerk-sync",
        }
    )
    wiring.reset()
    logger.setLevel(logging.WARNING)  # the story is the output; per-event JSON lines would drown it
    tally = Tally()
    poller = SqsPoller(_sqs(moto), created.queue_url, worker.handler)
    try:
        clerk.start()
        tally.meter.attach(dynamodb_client(), "dynamodb")
        service = wiring.sync_service()
        service.apply_event = tally.wrap(service.apply_event)  # type: ignore[method-assign]
        clerk.set_knobs(webhook_duplicate_probability=duplicate_probability, webhook_shuffle_window_ms=shuffle_ms)
        console.print(f"moto on {moto.endpoint_url}, Clerk emulator on {clerk.url}")
        say(f"Webhooks arrive shuffled within {shuffle_ms} ms and {duplicate_probability:.0%} of them twice")
        poller.start()
        _story(clerk, say)
        clerk.wait_for_deliveries(timeout=30)
        poller.stop()
        poller.drain()
        requests, calls = tally.meter.requests, dict(tally.meter.calls)

        store = wiring.sync_store()
        console.print(_table(list(store.scan())))
        deliveries = clerk.deliveries
        events = len(clerk.events)
        console.print(
            f"{events} Clerk events, {len(deliveries)} webhook deliveries "
            f"({len(deliveries) - events} duplicates), worker outcomes: {dict(tally.outcomes)}"
        )
        processed = sum(tally.outcomes.values()) or 1
        console.print(
            f"DynamoDB requests: {requests} for {processed} events processed "
            f"({requests / processed:.2f} per event), by operation {calls}"
        )
        found = differences(store, clerk.state_snapshot())
        if found:
            console.print("[bold red]The table differs from Clerk:[/bold red]")
            for line in found:
                console.print(f"  {line}")
        else:
            console.print(
                "[bold green]✓ The table equals Clerk's state (users, organizations, memberships).[/bold green]"
            )
        console.print(f"Done in {time.perf_counter() - started:.1f} s.")
        logger.setLevel(logging.INFO)
        return not found
    finally:
        poller.stop()
        clerk.stop()
        moto.stop()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()


def _sqs(moto: LocalMoto) -> Any:
    import boto3

    return boto3.client("sqs", endpoint_url=moto.endpoint_url, region_name=moto.region)
