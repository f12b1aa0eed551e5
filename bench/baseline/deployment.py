"""The baseline deployed beside clerk-sync on the local stack: its own table, queue and DLQ on the same moto, its
own webhook route on a gateway of its own (the same HTTP API emulation), and its own worker poller."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import boto3

from clerk_sync.resources import EVENT_QUEUE
from clerk_sync_local.gateway import Gateway
from clerk_sync_local.stack.moto import LocalMoto, LocalResources, create_resources
from clerk_sync_local.stack.poller import SqsPoller
from infra.endpoints import Route

from .clerk import NaiveClerk
from .handlers import Applied, Handler, webhook_handler, worker_handler
from .store import NaiveTable

WEBHOOK_PATH = "/baseline/webhooks/clerk"
PREFIX = "clerk-sync-baseline"


def table_resource(moto: Any, name: str) -> Any:
    """A boto3 Table of `name` on this moto, through boto3's default session like a Lambda function's clients
    (request meters hook in there)."""
    resource: Any = boto3.resource(
        "dynamodb",
        endpoint_url=moto.endpoint_url,
        region_name=moto.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
    )
    return resource.Table(name)


class BaselineDeployment:
    """Start with `with BaselineDeployment(moto, clerk_url, key, secret) as baseline:`; point Clerk at `webhook_url`.

    `workers` pollers run at once (default one: the read-modify-write without conditions is only correct serially).
    `timed` wraps each function's handler (benchmarks measure invocations with it).
    """

    def __init__(
        self,
        moto: LocalMoto,
        clerk_api_url: str,
        clerk_secret_key: str,
        webhook_secret: str,
        *,
        applied: Applied | None = None,
        workers: int = 1,
        batching_window_seconds: float = EVENT_QUEUE.batching_window_seconds,
        timed: Callable[[str, Handler], Handler] | None = None,
        prefix: str = PREFIX,
    ) -> None:
        self._moto = moto
        self._timed = timed or (lambda _name, handler: handler)
        self.resources: LocalResources = create_resources(moto.client("dynamodb"), moto.client("sqs"), prefix)
        self.table = NaiveTable(table_resource(moto, self.resources.table_name))
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=moto.endpoint_url,
            region_name=moto.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's fake credentials
        )
        self.clerk = NaiveClerk(clerk_api_url, clerk_secret_key)
        webhook = self._timed("webhook", webhook_handler(self.sqs, self.resources.queue_url, webhook_secret))
        worker = self._timed("worker", worker_handler(self.clerk, self.table, applied))
        self.gateway = Gateway(
            routes=(Route("POST", WEBHOOK_PATH, "webhook", authorized=False),),
            handler_paths={},
            handlers={"webhook": webhook},
        )
        self.pollers = [
            SqsPoller(
                self.sqs,
                self.resources.queue_url,
                worker,
                wait_seconds=1,
                retry_delay_seconds=1,
                batching_window_seconds=batching_window_seconds,
            )
            for _ in range(workers)
        ]

    @property
    def webhook_url(self) -> str:
        return self.gateway.url + WEBHOOK_PATH

    def start(self) -> Self:
        self.gateway.start()
        for number, poller in enumerate(self.pollers, 1):
            poller.start(name=f"sqs-poller-baseline-{number}")
        return self

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        self.gateway.stop()
        self.clerk.close()

    def queue_depth(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
