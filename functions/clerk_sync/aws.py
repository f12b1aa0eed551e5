"""boto3 clients as the functions use them (built once per cold start by `clerk_sync.wiring`), and a meter of
DynamoDB requests and their latency.

Clients honour `AWS_ENDPOINT_URL` (boto3's own variable), which is how the local stack points them at moto.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

# Short timeouts: the SDK retries transient errors itself (standard mode; `max_attempts` counts the retries, so
# DynamoDB gets five attempts).
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 4})
# The webhook answers Svix within its 15 s only if SQS gives up sooner: three attempts of at most 1 s to connect and
# 2 s to answer (SendMessage takes milliseconds), with the SDK's backoff between them, end within ~10 s.
QUEUE_ATTEMPTS = 3
_QUEUE_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": QUEUE_ATTEMPTS}
)


# The shared Clerk budget's client (docs/decisions/0020): every Clerk request may wait on it, so it gives up fast
# and the request goes ahead unbudgeted (two attempts of at most 0.5 s to connect and 0.5 s to answer).
BUDGET_CONFIG = Config(connect_timeout=0.5, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 2})


class RequestMeter:
    """Counts AWS requests by operation and sums their latency, via botocore's event hooks."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.total_ms = 0.0
        self._started: dict[int, float] = {}

    def attach(self, client: Any, service: str) -> None:
        client.meta.events.register(f"before-call.{service}", self._before)
        client.meta.events.register(f"after-call.{service}", self._after)

    def reset(self) -> None:
        self.calls.clear()
        self.total_ms = 0.0

    def _before(self, model: Any, context: Any, **_: Any) -> None:
        self._started[id(context)] = time.perf_counter()

    def _after(self, model: Any, context: Any, **_: Any) -> None:
        started = self._started.pop(id(context), None)
        self.calls[model.name] += 1
        if started is not None:
            self.total_ms += (time.perf_counter() - started) * 1000

    @property
    def requests(self) -> int:
        return sum(self.calls.values())


def dynamodb_client(meter: RequestMeter | None = None) -> DynamoDBClient:
    client = boto3.client("dynamodb", config=_CONFIG)
    if meter is not None:
        meter.attach(client, "dynamodb")
    return client


def budget_dynamodb_client() -> DynamoDBClient:
    """A DynamoDB client of its own for the budget item: short timeouts, and none of the records' request meter."""
    return boto3.client("dynamodb", config=BUDGET_CONFIG)


def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_QUEUE_CONFIG)
