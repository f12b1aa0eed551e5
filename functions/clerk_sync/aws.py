"""AWS clients as the functions use them (built once per cold start by `clerk_sync.wiring`), and a meter of
DynamoDB requests and their latency.

The clients come from botocore directly, one session per process as boto3's default session is: `import boto3`
also imports s3transfer and boto3's resource layer, which no function uses and which cost about half of the SDK's
import at cold start (docs/decisions/0025). They honour `AWS_ENDPOINT_URL`, which is how the local stack points them
at moto.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Final, cast

import botocore.session
from botocore.config import Config
from botocore.loaders import create_loader
from botocore.session import Session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
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


# What the rest of the runtime calls the session (botocore itself stays in this module, the store and the queue).
AwsSession = Session

# The SDK's own data files (service models, endpoints, defaults), parsed once per process and shared by every
# session: they hold no setting and never change while the process runs. A session that reads them afresh costs
# ~250 ms; with them parsed, a session after `wiring.reset()` (tests, the local stack) costs ~50 ms.
_SDK_DATA: Final = create_loader()


def new_session() -> AwsSession:
    """A botocore session: region, credentials and endpoint from the environment, as boto3's default session.

    `clerk_sync.wiring.aws_session` keeps one per container, and every client is created from it (a client from a
    session of its own would read the SDK's configuration again).
    """
    session = botocore.session.get_session()
    session.register_component("data_loader", _SDK_DATA)
    return session


def dynamodb_client(session: Session, meter: RequestMeter | None = None) -> DynamoDBClient:
    client = cast("DynamoDBClient", session.create_client("dynamodb", config=_CONFIG))
    if meter is not None:
        meter.attach(client, "dynamodb")
    return client


def budget_dynamodb_client(session: Session) -> DynamoDBClient:
    """A DynamoDB client of its own for the budget item: short timeouts, and none of the records' request meter."""
    return cast("DynamoDBClient", session.create_client("dynamodb", config=BUDGET_CONFIG))


def sqs_client(session: Session) -> SQSClient:
    return cast("SQSClient", session.create_client("sqs", config=_QUEUE_CONFIG))


def secret_string(session: Session, secret_id: str) -> str:
    """The current value of a Secrets Manager secret, as text (a binary secret decoded as UTF-8)."""
    client = cast("SecretsManagerClient", session.create_client("secretsmanager", config=_CONFIG))
    try:
        response = client.get_secret_value(SecretId=secret_id)
    finally:
        client.close()
    if "SecretString" in response:
        return response["SecretString"]
    return bytes(response["SecretBinary"]).decode()
