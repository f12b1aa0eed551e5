"""The product as deployed, in this process, with every fault point in reach: the fault tier's and the soak's world.

moto in server mode (so botocore's hooks can answer for it, see `aws_faults`), the Clerk emulator over HTTP, the
local gateway in front of the real webhook, authorizer and sync API handlers (no sockets: `Gateway.dispatch`), and
the real worker handler driven here the way Lambda's event source mapping drives it: batches of ten, failed records
made visible again, SQS's redrive to the DLQ after five receives. Driving it here, one step at a time, lets a test
crash the worker between its write and the queue's delete, or hand one message to two workers.

Every webhook event is followed in an `EventLedger`; `converged()` compares the table with the emulator's state
(`clerk_sync_local.convergence.differences`) once the deliveries are done and the queue is drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx
from botocore.exceptions import ClientError

from clerk_sync import wiring
from clerk_sync.dlq import move_message
from clerk_sync.items import ItemPolicy
from clerk_sync.messages import QueuedEvent, QueuedSync, decode_message
from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.store import SyncStore, Table
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.webhooks import sign_headers
from clerk_sync_local.gateway import Gateway
from clerk_sync_local.gateway.events import GatewayRequest
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from clerk_sync_local.soak.aws_faults import CRASH, DYNAMODB_WRITES, AwsFaults, Fault, WorkerCrash
from clerk_sync_local.soak.ledger import EventLedger
from clerk_sync_local.stack.moto import LocalMoto, LocalResources, create_resources
from infra.endpoints import WEBHOOK_PATH

PREFIX: Final = "clerk-sync-faults"
# Clerk retries and budgets short enough for many faults a minute; their shape is the product's own.
CLERK_READ_TIMEOUT_SECONDS: Final = 0.5
FAST_CLERK_SETTINGS: Final[Mapping[str, str]] = {
    "CLERK_MAX_ATTEMPTS": "3",
    "CLERK_BACKOFF_BASE_SECONDS": "0.05",
    "CLERK_BACKOFF_CAP_SECONDS": "0.5",
    "CLERK_READ_TIMEOUT_SECONDS": str(CLERK_READ_TIMEOUT_SECONDS),
    "CLERK_TIMEOUT_BUDGET_SECONDS": "5",
    "LOGIN_SYNC_BUDGET_SECONDS": "1.5",
    "API_SYNC_BUDGET_SECONDS": "5",
    # Scenarios retry one caller's sync until it converges; the per-caller limit has its own tests.
    "SYNC_CALLER_LIMIT": "1000",
    # The emulator limits no rate unless a fault sets its knobs: the shared budget at a production instance's limit.
    "CLERK_RATE_LIMIT": "1000",
}
# Variables that would point the handlers elsewhere than this world.
_FOREIGN: Final = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "CLERK_SECRETS_ARN", "CLERK_JWKS_URL")


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def error_code(self) -> str | None:
        """The product's `{"error": {"code"}}`, or None (a success, or an answer of API Gateway's own)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code"))
        return None


@dataclass
class WorkerStats:
    batches: int = 0
    records: int = 0
    failed_records: int = 0
    crashes: int = 0
    function_errors: int = 0
    stale_deletes: int = 0


def _svix_id(body: str) -> str | None:
    try:
        message = decode_message(body)
    except ValueError:
        return None
    return message.svix_id if isinstance(message, QueuedEvent) else None


def describe(message: Mapping[str, Any]) -> str:
    """A queue message by what it is (the event's svix-id, or the sync's target), never by its body's data."""
    body = str(message.get("Body", ""))
    try:
        decoded = decode_message(body)
    except ValueError:
        return "an unreadable message"
    if isinstance(decoded, QueuedEvent):
        return f"event {decoded.svix_id}"
    return f"{decoded.target.value} sync of {decoded.user_id or decoded.org_id or decoded.job_id}"


@contextmanager
def environment_applied(values: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (or, for None, removes) the variables and puts every one back afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class SoakWorld:
    """One deployment's worth of product around a moto server and an emulator that outlive it (see `reset`)."""

    def __init__(self, moto: LocalMoto, clerk: ClerkEmulator, *, prefix: str = PREFIX) -> None:
        self.moto = moto
        self.clerk = clerk
        self._prefix = prefix
        # The event source mapping's own client, and the checker's: never faulted.
        self.sqs = moto.client("sqs")
        self._dynamodb = moto.client("dynamodb")
        self.gateway = Gateway()
        self.faults = AwsFaults()
        self.ledger = EventLedger()
        self.worker = WorkerStats()
        self._resources: LocalResources | None = None
        self._seen_events = 0

    # ---- set-up ---------------------------------------------------------------------------------

    def reset(self) -> LocalResources:
        """An empty deployment: moto wiped and the table and queues created again, the emulator emptied."""
        httpx.post(f"{self.moto.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
        self._resources = create_resources(self._dynamodb, self.sqs, self._prefix)
        self.clerk.set_webhook(None)
        self.clerk.reset()
        self.gateway.clear_authorizer_cache()
        self.faults = AwsFaults()
        self.ledger = EventLedger()
        self.worker = WorkerStats()
        self._seen_events = 0
        return self._resources

    @property
    def resources(self) -> LocalResources:
        if self._resources is None:
            raise RuntimeError("reset() the world first")
        return self._resources

    def environment(self) -> dict[str, str | None]:
        """What the handlers read: this moto, these resources, this emulator (tokens verified with its PEM)."""
        clerk, resources = self.clerk, self.resources
        values: dict[str, str | None] = {name: None for name in _FOREIGN}
        values.update({name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")})
        values.update(self.moto.environment())
        values.update(
            {
                "TABLE_NAME": resources.table_name,
                "EVENTS_QUEUE_URL": resources.queue_url,
                "CLERK_API_URL": clerk.url,
                "CLERK_SECRET_KEY": clerk.secret_key,
                "CLERK_WEBHOOK_SIGNING_SECRET": clerk.webhook_secret,
                "CLERK_WEBHOOK_SECRET": None,
                "CLERK_ISSUER": clerk.issuer,
                "CLERK_JWT_KEY": clerk.public_key_pem,
                "CLERK_AUTHORIZED_PARTIES": clerk.authorized_party,
                "CLERK_INSTANCE_ID": clerk.instance_id,
                "ADMIN_USER_IDS": None,
                "USER_EVENT_MEMBERSHIP_SYNC": None,
                "POWERTOOLS_METRICS_DISABLED": "true",
                **FAST_CLERK_SETTINGS,
            }
        )
        return values

    def wire(self) -> None:
        """Once the environment is set: the handlers' objects built afresh, the fault hooks in their boto3 clients,
        and the worker's outcomes observed for the ledger."""
        wiring.reset()
        self.faults.attach(wiring.dynamodb_client())
        self.faults.attach(wiring.sqs_client())
        service = wiring.sync_service()
        apply_event, run_queued = service.apply_event, service.run_queued
        ledger = self.ledger

        def observed_apply_event(envelope: Any, event_id: str | None = None) -> Any:
            result = apply_event(envelope, event_id)
            if event_id is not None:
                ledger.outcome(event_id, result.outcome.value)
            return result

        def observed_run_queued(request: QueuedSync, delivery: Any = None) -> Any:
            try:
                report = run_queued(request, delivery)
            except BaseException:
                ledger.sync(request.target.value, ok=False)
                raise
            ledger.sync(request.target.value, ok=True)
            return report

        # The instance the worker gets from `wiring.sync_service()`; the methods it calls are the real ones.
        setattr(service, "apply_event", observed_apply_event)  # noqa: B010
        setattr(service, "run_queued", observed_run_queued)  # noqa: B010

    # ---- the HTTP API -------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """One request through the gateway (routes, authorizer, handler), answered as a client sees it."""
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        path_only, _, query = path.partition("?")
        request = GatewayRequest(method, path_only, query, tuple(all_headers.items()), body)
        response = asyncio.run(self.gateway.dispatch(request))
        text = response.body.decode() if response.body else ""
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Reply(response.status, {name.lower(): value for name, value in response.headers}, parsed)

    def call_json(self, method: str, path: str, token: str, payload: Any = None) -> Reply:
        body = b"" if payload is None else json.dumps(payload).encode()
        return self.call(method, path, token=token, body=body)

    def token(self, user_id: str, org_id: str | None = None) -> str:
        return self.clerk.mint_token(user_id, org_id)

    # ---- webhooks -----------------------------------------------------------------------------------

    def new_events(self) -> list[dict[str, Any]]:
        """The emulator's events published since the last call (`msg_id`, `type`, `payload`)."""
        events = self.clerk.events
        fresh, self._seen_events = events[self._seen_events :], len(events)
        return fresh

    def receive_webhook(self, body: bytes, headers: Mapping[str, str]) -> Reply:
        """A POST to the webhook endpoint as Svix sends it; the answer is noted against its svix-id."""
        reply = self.call("POST", WEBHOOK_PATH, body=body, headers=headers)
        msg_id = {name.lower(): value for name, value in headers.items()}.get("svix-id")
        if msg_id:
            self.ledger.answered(msg_id, reply.status)
        return reply

    def post_event(self, event: Mapping[str, Any]) -> Reply:
        """One delivery attempt of an emulator event, signed at this attempt's time as Svix does."""
        body = json.dumps(event["payload"])
        headers = sign_headers(event["msg_id"], body, [self.clerk.webhook_secret], datetime.now(UTC))
        return self.receive_webhook(body.encode(), headers)

    def deliver(self, events: list[dict[str, Any]] | None = None, *, attempts: int = 8) -> list[list[int]]:
        """Delivers each event (default: the new ones) until it gets a 2xx, at most `attempts` times, retrying the
        same svix-id and body as Svix does; returns each event's answers in order."""
        answers: list[list[int]] = []
        for event in self.new_events() if events is None else events:
            self.ledger.scheduled(event["msg_id"], event["type"])
            statuses: list[int] = []
            for _ in range(attempts):
                statuses.append(self.post_event(event).status)
                if 200 <= statuses[-1] < 300:
                    break
            answers.append(statuses)
        return answers

    # ---- the worker, as the event source mapping drives it ------------------------------------------

    def receive(self, queue_url: str | None = None, count: int = EVENT_QUEUE.batch_size) -> list[dict[str, Any]]:
        """One receive as the event source mapping makes it (a batch of up to ten, with their attributes)."""
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=queue_url or self.resources.queue_url,
            MaxNumberOfMessages=count,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def expire(self, messages: list[dict[str, Any]]) -> None:
        """The visibility timeout of these receipts has passed: SQS hands the messages out again."""
        for message in messages:
            # A message already deleted (by another worker) cannot come back: nothing to do.
            with contextlib.suppress(ClientError):
                self.sqs.change_message_visibility(
                    QueueUrl=self.resources.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )

    def answer(self, messages: list[dict[str, Any]], failed: set[str]) -> None:
        """What the event source mapping does with an answer: delete the successes, retry the failures now."""
        for message in messages:
            if message["MessageId"] in failed:
                self.expire([message])
                continue
            try:
                self.sqs.delete_message(QueueUrl=self.resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
            except ClientError:
                self.worker.stale_deletes += 1

    def invoke_worker(self, messages: list[dict[str, Any]]) -> set[str] | None:
        """One worker invocation on a batch: the failed message ids, or None when the process died."""
        from clerk_sync.handlers import worker

        handler: Callable[[dict[str, Any], Any], Any] = worker.handler
        self.worker.batches += 1
        self.worker.records += len(messages)
        context = LocalLambdaContext(deadline=time.monotonic() + EVENT_QUEUE.worker_timeout_seconds)
        try:
            answer = handler(sqs_event(messages), context)
        except WorkerCrash:
            self.worker.crashes += 1
            return None
        except Exception:  # noqa: BLE001 - a function error: Lambda retries the whole batch
            self.worker.function_errors += 1
            answer = {"batchItemFailures": [{"itemIdentifier": m["MessageId"]} for m in messages]}
        failed = {failure["itemIdentifier"] for failure in (answer or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                self.worker.failed_records += 1
                msg_id = _svix_id(message["Body"])
                if msg_id is not None:
                    self.ledger.failed(msg_id)
        return failed

    def run_batch(self, crash: str | None = None, *, writes_before_crash: int = 0) -> int:
        """One batch off the queue; returns how many messages it held (0: the queue had none visible).

        crash: None, a normal invocation; `before_delete`, the worker did all its work and died before SQS heard
        back; `mid_batch`, it died right after its (`writes_before_crash` + 1)-th successful DynamoDB write;
        `second_worker`, the visibility timeout passed while it worked, so a second worker took the same messages
        and finished first, and the first one then deleted with its outdated receipt handles.
        """
        messages = self.receive()
        if not messages:
            return 0
        if crash == "second_worker":
            self.expire(messages)
            second = self.receive()
            if second:
                self.conclude(second, self.invoke_worker(second))
            self.conclude(messages, self.invoke_worker(messages))
        elif crash == "before_delete":
            self.invoke_worker(messages)
            self.worker.crashes += 1
            self.expire(messages)
        elif crash == "mid_batch":
            fault = self.faults.plan(
                Fault(CRASH, "dynamodb", DYNAMODB_WRITES, skip=writes_before_crash, label="worker_crash_mid_batch")
            )
            try:
                self.conclude(messages, self.invoke_worker(messages))
            finally:
                fault.times = 0  # a batch with fewer writes never crashed; the plan must not outlive it
        elif crash is None:
            self.conclude(messages, self.invoke_worker(messages))
        else:
            raise ValueError(f"unknown crash {crash!r}")
        return len(messages)

    def conclude(self, messages: list[dict[str, Any]], failed: set[str] | None) -> None:
        if failed is None:
            self.expire(messages)  # no answer: every message comes back after its visibility timeout
        else:
            self.answer(messages, failed)

    def queue_depth(self, queue_url: str | None = None) -> tuple[int, int]:
        """(waiting or in flight, delayed) on the event queue or another queue of this world."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.resources.queue_url,
            AttributeNames=[*names, "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return sum(int(attributes[name]) for name in names), int(attributes["ApproximateNumberOfMessagesDelayed"])

    def drain(self, *, max_batches: int = 2000) -> int:
        """Batches until the queue holds nothing visible or in flight (messages delayed by SQS are left); returns
        the batches run."""
        for batch in range(max_batches):
            if not self.run_batch() and self.queue_depth()[0] == 0:
                return batch
        raise TimeoutError(f"the event queue was not drained in {max_batches} batches")

    # ---- the DLQ --------------------------------------------------------------------------------------

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything in the DLQ, received (hidden a minute) so it can be replayed; each is noted in the ledger."""
        found: list[dict[str, Any]] = []
        while True:
            batch: list[dict[str, Any]] = self.sqs.receive_message(
                QueueUrl=self.resources.dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=60,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                self.ledger.dead_letter(_svix_id(message["Body"]))
            found += batch

    def replay(self, messages: list[dict[str, Any]]) -> int:
        """Moves dead letters back onto the event queue, body and attributes unchanged, as `clerk-sync dlq replay`
        does on a local stack (send, then delete)."""
        for message in messages:
            move_message(self.sqs, message, to_url=self.resources.queue_url, from_url=self.resources.dlq_url)
            self.ledger.replay(_svix_id(message["Body"]))
        return len(messages)

    # ---- the end state ------------------------------------------------------------------------------

    def check_store(self) -> SyncStore:
        """The table through an unfaulted client, with the product's item policy."""
        policy = wiring.sync_store().policy if wiring.sync_store.cache_info().currsize else ItemPolicy()
        return SyncStore(Table(self._dynamodb, self.resources.table_name), policy)

    def differences(self) -> list[str]:
        return differences(self.check_store(), self.clerk.state_snapshot())

    def settle(self, *, replay: bool = True) -> list[str]:
        """Faults off: every event delivered, the queue drained, dead letters replayed and drained again; returns
        the table's differences from the emulator's state."""
        self.faults.clear()
        self.deliver()
        self.drain()
        if replay:
            dead = self.dead_letters()
            if dead:
                self.replay(dead)
                self.drain()
        return self.differences()


class GatewayTransport(httpx.BaseTransport):
    """The emulator's webhook sender's transport: each POST goes into `world.receive_webhook`, no socket."""

    def __init__(self) -> None:
        self.world: SoakWorld | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        world = self.world
        if world is None:
            return httpx.Response(503, json={"message": "no world attached"})
        reply = world.receive_webhook(request.read(), dict(request.headers))
        return httpx.Response(reply.status, json=reply.body)
