"""Every DynamoDB and SQS request the functions make, as sent and answered, for the cost model (`cost.py`).

The hooks sit on boto3's default session, which the baseline's clients are built from, and on every botocore session
the functions create (`clerk_sync.aws.new_session`, one per container): install the meter before the stack creates
its clients. It records the raw JSON of each request and answer, so what is billed
(item sizes, consistent reads, transactions, message sizes) is read from what went over the wire.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

import boto3

_SERVICES = ("dynamodb", "sqs")


@dataclass(frozen=True)
class AwsRequest:
    service: str  # dynamodb | sqs
    operation: str  # PutItem, TransactWriteItems, SendMessage, ...
    request: dict[str, Any]
    answer: dict[str, Any]
    ok: bool  # a 2xx answer (a failed condition is not ok, and is still billed)


def _decode(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        decoded = json.loads(body)
    except ValueError:
        # SQS's query protocol (older botocore): form fields.
        return {key: values[0] for key, values in parse_qs(str(body)).items()}
    return decoded if isinstance(decoded, dict) else {}


class AwsMeter:
    """`with AwsMeter() as meter:` records while `recording` is set; `requests` holds what was recorded."""

    def __init__(self) -> None:
        self.requests: list[AwsRequest] = []
        self.recording = True
        self._pending: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._events: list[Any] = []  # the event systems hooked
        self._new_session: Any = None

    def install(self) -> Self:
        from clerk_sync import aws

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        default: Any = boto3.DEFAULT_SESSION
        self._hook(default.events)
        self._new_session = aws.new_session

        def metered_session() -> Any:
            session = self._new_session()
            self._hook(session.get_component("event_emitter"))
            return session

        aws.new_session = metered_session
        return self

    def _hook(self, events: Any) -> None:
        for service in _SERVICES:
            events.register(f"before-call.{service}", self._before)
            events.register(f"after-call.{service}", self._after)
        self._events.append(events)

    def uninstall(self) -> None:
        """Stops recording; clients made meanwhile keep a copy of the hooks (botocore copies a session's events
        into each client), so the flag, not the unregistering, is what stops them."""
        from clerk_sync import aws

        self.recording = False

        if self._new_session is not None:
            aws.new_session = self._new_session
            self._new_session = None
        for events in self._events:
            for service in _SERVICES:
                events.unregister(f"before-call.{service}", self._before)
                events.unregister(f"after-call.{service}", self._after)
        self._events = []

    def _before(self, model: Any, params: dict[str, Any], context: Any, **_: Any) -> None:
        if self.recording:
            with self._lock:
                self._pending[id(context)] = _decode(params.get("body"))

    def _after(self, model: Any, http_response: Any, context: Any, **_: Any) -> None:
        with self._lock:
            request = self._pending.pop(id(context), None)
        if request is None or not self.recording:
            return
        service = str(model.service_model.endpoint_prefix)
        status = int(getattr(http_response, "status_code", 0) or 0)
        answer = _decode(getattr(http_response, "content", b""))
        with self._lock:
            self.requests.append(AwsRequest(service, str(model.name), request, answer, 200 <= status < 300))

    def take(self) -> list[AwsRequest]:
        """What was recorded so far, and start afresh."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(f"{r.service}:{r.operation}" for r in self.requests)

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.uninstall()


def belongs_to(request: AwsRequest, table_name: str, queue_url: str) -> bool:
    """Whether a request is against this deployment's table or queue (the two sides share one moto)."""
    body = request.request
    if request.service == "sqs":
        return str(body.get("QueueUrl", "")).rstrip("/").endswith(queue_url.rsplit("/", 1)[-1])
    if body.get("TableName") == table_name:
        return True
    names = set(body.get("RequestItems", {}))
    for part in body.get("TransactItems", []):
        names |= {action.get("TableName") for action in part.values() if isinstance(action, dict)}
    return table_name in names
