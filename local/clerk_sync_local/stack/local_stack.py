"""`LocalStack`: clerk-sync on this machine, in one process, with no AWS or Clerk account.

moto (DynamoDB, SQS with the DLQ and redrive, Secrets Manager) on 127.0.0.1 with the resources of the CDK
stack; the Clerk emulator (or real Clerk, see `clerk_target`) sending Svix-signed webhooks to the gateway;
the gateway emulating the HTTP API in front of the real handlers; the SQS poller driving the real worker.

    with LocalStack(port=0, ready_file=Path("ready.json")) as stack:
        httpx.get(stack.gateway.url + "/api/sync/status", headers={"Authorization": f"Bearer {stack.admin_token}"})

The handlers run in this process and read their configuration from `os.environ`, which the stack sets on
start and restores on stop (only the variables it touched).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TextIO, TypeVar

from clerk_sync import wiring
from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.vocabulary import METRICS_NAMESPACE, SERVICE_NAME
from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.server import DEFAULT_AUTHORIZED_PARTY
from clerk_sync_local.gateway import Gateway
from clerk_sync_local.gateway.http_api import INTEGRATION_TIMEOUT_SECONDS
from clerk_sync_local.gateway.invoke import container_handler, import_handler
from clerk_sync_local.stack.clerk_target import RealClerk
from clerk_sync_local.stack.console import StackConsole
from clerk_sync_local.stack.moto import LocalMoto, LocalResources
from clerk_sync_local.stack.poller import SqsPoller
from clerk_sync_local.stack.ready import ReadyInfo, remove_ready_file, wait_until_answers, write_ready_file
from infra import endpoints
from infra.stages import StageConfig

# The dev stage's default, so the local API behaves like a deployed one: the Authorization header is the
# cache key and required; a freshly minted token is a new key and always reaches the authorizer.
DEFAULT_AUTHORIZER_CACHE_TTL: Final = float(StageConfig.model_fields["authorizer_cache_ttl_seconds"].default)
DEFAULT_USERS: Final = 5
DEFAULT_ORGS: Final = 2
TOKEN_LIFETIME_SECONDS: Final = 3600
PREFIX: Final = "clerk-sync-local"
_SEED_TIMEOUT_SECONDS: Final = 30.0
# Variables that would point the handlers elsewhere than this stack: removed while it runs.
_FOREIGN_VARIABLES: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "CLERK_SECRETS_ARN",
)
_EMULATOR_REPLACES: Final = ("CLERK_WEBHOOK_SECRET", "CLERK_JWKS_URL")
# The emulator limits no rate unless its knobs say so: against it the handlers' shared Clerk budget paces them as
# a production instance would (CLERK_RATE_LIMIT in the environment wins). With real Clerk, the environment's value
# or the code's default (100, a development instance) applies.
EMULATOR_RATE_LIMIT: Final = 1000


class StackError(RuntimeError):
    """The stack could not start (a port in use, a server that did not answer, a seed that did not settle)."""


T = TypeVar("T")


def _running(part: T | None, name: str) -> T:
    if part is None:
        raise StackError(f"the stack is not running ({name} is not started)")
    return part


def _bind(what: str, port: int, start: Callable[[], T], *, hint: str = "") -> T:
    """Starts a part that binds 127.0.0.1:`port`; a port in use becomes a StackError that says which."""
    try:
        return start()
    except OSError as error:
        raise StackError(f"{what} could not bind 127.0.0.1:{port}: {error.strerror}{hint}") from error


@dataclass(frozen=True)
class DemoIdentities:
    admin_user_id: str | None
    demo_user_id: str | None
    demo_org_id: str | None


class LocalStack:
    """Starts and stops everything; `start()`/`stop()` or a `with` block."""

    def __init__(
        self,
        *,
        port: int = 0,
        clerk_port: int = 0,
        aws_port: int = 0,
        seed: bool = True,
        users: int = DEFAULT_USERS,
        orgs: int = DEFAULT_ORGS,
        ready_file: Path | None = None,
        real_clerk: RealClerk | None = None,
        quiet: bool = False,
        output: TextIO | None = None,
        authorizer_cache_ttl: float = DEFAULT_AUTHORIZER_CACHE_TTL,
        batching_window_seconds: float = EVENT_QUEUE.batching_window_seconds,
        retry_delay_seconds: int = 1,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        signing_key_pem: str | None = None,
        worker_concurrency: int = 1,
    ) -> None:
        if worker_concurrency < 1:
            raise ValueError("worker_concurrency must be at least 1")
        self._port, self._clerk_port, self._aws_port = port, clerk_port, aws_port
        self._seed, self._users, self._orgs = seed and real_clerk is None, users, orgs
        self.ready_file = ready_file
        self.real_clerk = real_clerk
        self.console = StackConsole(output, quiet=quiet)
        self._cache_ttl = authorizer_cache_ttl
        self._window = batching_window_seconds
        self._retry_delay = retry_delay_seconds
        self._timeout = integration_timeout
        self._signing_key_pem = signing_key_pem
        self._concurrency = worker_concurrency
        self.moto: LocalMoto | None = None
        self.resources: LocalResources | None = None
        self.emulator: ClerkEmulator | None = None
        self.gateway: Gateway | None = None
        self.poller: SqsPoller | None = None  # the first of `pollers`
        self.pollers: list[SqsPoller] = []
        self.secret_arn = ""
        self.identities = DemoIdentities(None, None, None)
        self.demo_token: str | None = None
        self.admin_token: str | None = None
        self.ready: ReadyInfo | None = None
        self._saved_env: dict[str, str | None] = {}
        self._started = False

    # --- lifecycle ---

    def start(self) -> Self:
        if self._started:
            raise StackError("the stack is already running")
        self._started = True
        began = time.perf_counter()
        try:
            self.console.install()
            self._start_moto()
            if self.real_clerk is None:
                self._start_emulator()
            self._create_secret()
            self._start_gateway()
            if self.emulator is not None:
                self.emulator.set_webhook(self.gateway_url + endpoints.WEBHOOK_PATH)
                # Held until the handlers are configured: the seed's events must not arrive before that.
                self.emulator.set_knobs(webhooks_paused=True)
                self.identities = self._seed_demo_data()
            self._set_environment()
            self._start_poller()
            if self.emulator is not None:
                self.emulator.set_knobs(webhooks_paused=False)
                self._wait_until_applied(_SEED_TIMEOUT_SECONDS)
                self._mint_tokens()
            # The seed went in without the batching window (it only adds waiting to start-up); from now on
            # batches wait as on AWS.
            for poller in self.pollers:
                poller.batching_window_seconds = self._window
            self._probe()
            self.ready = self._ready_info(time.perf_counter() - began)
            if self.ready_file is not None:
                write_ready_file(self.ready_file, self.ready)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Everything in reverse order, threads joined, ports released, environment restored; idempotent."""
        if self.ready_file is not None and self.ready is not None:
            remove_ready_file(self.ready_file)
        # Sources first, so nothing works against a part that is already gone: no more webhooks, then no
        # more worker batches (they call Clerk and moto), then the servers.
        if self.emulator is not None:
            self.emulator.webhooks.stop()
        for poller in self.pollers:
            poller.stop()
        self.pollers = []
        if self.gateway is not None:
            self.gateway.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self.moto is not None:
            self.moto.stop()
        self.emulator = self.gateway = self.poller = self.moto = None
        self.ready = None
        self._restore_environment()
        self.console.uninstall()
        self._started = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- parts ---

    def _start_moto(self) -> None:
        self.moto = LocalMoto(port=self._aws_port, prefix=PREFIX)
        self.resources = _bind("moto", self._aws_port, self.moto.start)

    def _create_secret(self) -> None:
        """The same JSON secret as the deployed stack's, once Clerk's key is known.

        The handlers here read their environment instead; the secret is for tooling that reads it as the
        deployed functions would (`clerk-sync --stage`).
        """
        secrets = {"CLERK_SECRET_KEY": self.clerk_secret_key, "CLERK_WEBHOOK_SIGNING_SECRET": self.webhook_secret}
        self.secret_arn = (
            _running(self.moto, "moto")
            .client("secretsmanager")
            .create_secret(Name=f"{PREFIX}/clerk", SecretString=json.dumps(secrets))["ARN"]
        )

    def _start_emulator(self) -> None:
        self.emulator = ClerkEmulator(port=self._clerk_port, signing_key_pem=self._signing_key_pem)
        _bind("the Clerk emulator", self._clerk_port, self.emulator.start)

    def _start_gateway(self) -> None:
        parties = DEFAULT_AUTHORIZED_PARTY if self.real_clerk is None else self._real_value("CLERK_AUTHORIZED_PARTIES")
        origins = [part for part in (parties or "").replace(",", " ").split() if part]
        self.gateway = Gateway(
            authorizer_cache_ttl=self._cache_ttl,
            integration_timeout=self._timeout,
            cors_allowed_origins=origins,
            port=self._port,
        )
        _bind(
            "the gateway", self._port, self.gateway.start, hint=" (pass --port 0 for a free one)" if self._port else ""
        )

    def _start_poller(self) -> None:
        """One poller per worker container, as Lambda's SQS event source runs up to that many batches at once."""
        moto, resources = _running(self.moto, "moto"), _running(self.resources, "moto")
        path = endpoints.HANDLERS["worker"]
        for number in range(self._concurrency):
            # The first container is the imported module itself (what tests patch); the others are copies.
            worker = import_handler(path) if number == 0 else container_handler(path)
            poller = SqsPoller(
                moto.client("sqs"),
                resources.queue_url,
                self.console.observe_worker(worker),
                batch_size=EVENT_QUEUE.batch_size,
                wait_seconds=1,
                retry_delay_seconds=self._retry_delay,
                batching_window_seconds=0.0,
            )
            self.pollers.append(poller.start(name=f"sqs-poller-{number + 1}"))
        self.poller = self.pollers[0]

    def _seed_demo_data(self) -> DemoIdentities:
        """An admin user, then demo users and organizations; the demo user is the first org's creator."""
        clerk = _running(self.emulator, "the emulator")
        admin = clerk.create_user(
            first_name="Admin",
            last_name="Local",
            username="admin",
            email="admin@example.com",
            public_metadata={"role": "admin"},  # the runtime's admin flag, besides ADMIN_USER_IDS
        )["id"]
        if not self._seed:
            return DemoIdentities(admin, None, None)
        seeded = clerk.seed_data(
            users=self._users, organizations=self._orgs, memberships_per_org=min(3, self._users), seed=0
        )
        orgs: list[str] = seeded["organizations"]
        users: list[str] = seeded["users"]
        if not orgs:
            return DemoIdentities(admin, users[0] if users else None, None)
        members = [
            m["public_user_data"]["user_id"]
            for m in clerk.state_snapshot()["memberships"]
            if m["organization"]["id"] == orgs[0]
        ]
        return DemoIdentities(admin, members[0] if members else None, orgs[0] if members else None)

    def _mint_tokens(self) -> None:
        clerk, ids = _running(self.emulator, "the emulator"), self.identities
        if ids.demo_user_id:
            self.demo_token = clerk.mint_token(ids.demo_user_id, ids.demo_org_id, expires_in=TOKEN_LIFETIME_SECONDS)
        if ids.admin_user_id:
            self.admin_token = clerk.mint_token(ids.admin_user_id, expires_in=TOKEN_LIFETIME_SECONDS)

    def _wait_until_applied(self, timeout: float) -> None:
        """Until every webhook is delivered and the queue is empty (the seed is in the table)."""
        deadline = time.monotonic() + timeout
        try:
            _running(self.emulator, "the emulator").wait_for_deliveries(timeout)
        except TimeoutError as error:
            raise StackError(f"the seed's webhooks were not delivered within {timeout:.0f} s") from error
        while self.queue_depth() > 0:
            if time.monotonic() > deadline:
                raise StackError(f"the seed's events were not applied within {timeout:.0f} s")
            time.sleep(0.05)

    def queue_depth(self, queue_url: str | None = None) -> int:
        """Messages waiting or in flight on the event queue (or another queue of this stack)."""
        moto, resources = _running(self.moto, "moto"), _running(self.resources, "moto")
        attributes = moto.client("sqs").get_queue_attributes(
            QueueUrl=queue_url or resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def _probe(self) -> None:
        moto, gateway = _running(self.moto, "moto"), _running(self.gateway, "the gateway")
        try:
            wait_until_answers(f"{moto.endpoint_url}/moto-api/data.json")
            wait_until_answers(f"{gateway.url}/", expect=(404,))  # no route there: the gateway's own 404
            if self.emulator is not None:
                wait_until_answers(f"{self.emulator.url}/_emulator/health")
        except TimeoutError as error:
            raise StackError(str(error)) from error

    # --- environment ---

    def _real_value(self, name: str) -> str | None:
        return dict(self.real_clerk.optional).get(name) if self.real_clerk else None

    def handler_environment(self) -> dict[str, str]:
        """What the in-process handlers read: this moto, these resources, this Clerk."""
        moto, resources = _running(self.moto, "moto"), _running(self.resources, "moto")
        env = {
            **moto.environment(),
            "TABLE_NAME": resources.table_name,
            "EVENTS_QUEUE_URL": resources.queue_url,
            # The sync API's admin routes list and replay it (on AWS only that function gets it; here all share one
            # environment and only the admin routes read it).
            "DLQ_URL": resources.dlq_url,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        if self.real_clerk is not None:
            return {**env, **self.real_clerk.environment()}
        clerk = _running(self.emulator, "the emulator")
        return {
            **env,
            "CLERK_API_URL": clerk.url,
            "CLERK_SECRET_KEY": clerk.secret_key,
            "CLERK_WEBHOOK_SIGNING_SECRET": clerk.webhook_secret,
            "CLERK_ISSUER": clerk.issuer,
            "CLERK_JWT_KEY": clerk.public_key_pem,
            "CLERK_AUTHORIZED_PARTIES": DEFAULT_AUTHORIZED_PARTY,
            "CLERK_INSTANCE_ID": clerk.instance_id,
            "ADMIN_USER_IDS": self.identities.admin_user_id or "",
            "CLERK_RATE_LIMIT": os.environ.get("CLERK_RATE_LIMIT") or str(EMULATOR_RATE_LIMIT),
        }

    def _set_environment(self) -> None:
        values = self.handler_environment()
        removed = [*_FOREIGN_VARIABLES, *(name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_"))]
        if self.real_clerk is None:
            removed += _EMULATOR_REPLACES
        for name in {*values, *removed}:
            self._saved_env.setdefault(name, os.environ.get(name))
        for name in removed:
            os.environ.pop(name, None)
        os.environ.update(values)
        wiring.reset()

    def _restore_environment(self) -> None:
        if not self._saved_env:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        wiring.reset()

    # --- what the stack tells its users ---

    @property
    def gateway_url(self) -> str:
        return _running(self.gateway, "the gateway").url

    @property
    def clerk_secret_key(self) -> str:
        if self.real_clerk is not None:
            return self.real_clerk.secret_key
        return self.emulator.secret_key if self.emulator is not None else ""

    @property
    def webhook_secret(self) -> str:
        if self.real_clerk is not None:
            return self.real_clerk.webhook_secret
        return self.emulator.webhook_secret if self.emulator is not None else ""

    def _ready_info(self, started_in: float) -> ReadyInfo:
        moto, resources = _running(self.moto, "moto"), _running(self.resources, "moto")
        gateway = _running(self.gateway, "the gateway")
        emulator, real = self.emulator, self.real_clerk
        if real is not None:
            admins = real.admin_user_ids
            clerk_url, issuer, admin = real.api_url, real.issuer, admins[0] if admins else None
            instance_id = self._real_value("CLERK_INSTANCE_ID")
        else:
            clerk = _running(emulator, "the emulator")
            clerk_url, issuer, admin = clerk.url, clerk.issuer, self.identities.admin_user_id
            instance_id = clerk.instance_id
        budget = wiring.clerk_settings()
        return ReadyInfo(
            api_url=gateway.url,
            webhook_url=gateway.webhook_url,
            clerk_mode="clerk" if real is not None else "emulator",
            clerk_api_url=clerk_url,
            clerk_secret_key=None if real is not None else self.clerk_secret_key,
            clerk_issuer=issuer,
            instance_id=instance_id,
            emulator_admin_url=f"{emulator.url}/_emulator" if emulator is not None else None,
            aws_endpoint_url=moto.endpoint_url,
            region=moto.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
            table_name=resources.table_name,
            queue_url=resources.queue_url,
            dlq_url=resources.dlq_url,
            secret_arn=self.secret_arn,
            webhook_secret=None if real is not None else self.webhook_secret,
            admin_user_id=admin,
            demo_user_id=self.identities.demo_user_id,
            demo_org_id=self.identities.demo_org_id,
            authorizer_cache_ttl_seconds=self._cache_ttl,
            clerk_rate_limit=budget.clerk_rate_limit,
            clerk_bulk_share=budget.clerk_bulk_share,
            clerk_budget_enabled=budget.clerk_budget_enabled,
            started_in_seconds=round(started_in, 3),
            pid=os.getpid(),
        )

    def threads(self) -> Iterator[str]:
        """Names of the threads this stack runs (for diagnostics)."""
        prefixes = ("gateway-http", "sqs-poller", "clerk-emulator", "lambda-")
        return (t.name for t in threading.enumerate() if t.name.startswith(prefixes))
