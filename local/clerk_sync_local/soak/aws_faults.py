"""DynamoDB and SQS faults injected into the product's own boto3 clients through botocore's event hooks.

moto never throttles, so the faults are answered in place of moto: a `before-send` hook returns an HTTP response
(a throttle, a 5xx, everything left unprocessed) or raises a read timeout, before the request leaves the client.
That is below botocore's retry handler, so the SDK's own retries (standard mode, `max_attempts: 4` retries: five
attempts, see `clerk_sync.aws`) run as they would against AWS, and a fault outlasting them reaches the store or the
queue as their own error. A `lost_response` fault sends the request for real and then times out: the write is
done, the SDK does not know and sends it again. A `hang` fault waits out the client's own read timeout first (the
service took the connection and never answered), so it costs what it costs on AWS. A `crash` fault raises
`WorkerCrash` from `after-call` once a write has succeeded: the Lambda process dies between its write and the
queue's delete.

Faults are planned (`plan`) and fire on the matching requests that follow; `fired` counts what fired by kind.
The hooks need moto in server mode: in-process `mock_aws` answers from its own `before-send` hook as well.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ReadTimeoutError
from botocore.httpsession import URLLib3Session

DYNAMODB_WRITES: Final = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
DYNAMODB_READS: Final = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})
DYNAMODB_BATCHES: Final = frozenset({"BatchWriteItem", "BatchGetItem"})

# The fault kinds this module answers, and the error each gives (status, code as AWS spells it).
THROTTLE: Final = "throttle"
SERVER_ERROR: Final = "server_error"
TIMEOUT: Final = "timeout"
HANG: Final = "hang"
LOST_RESPONSE: Final = "lost_response"
UNPROCESSED: Final = "unprocessed"
CRASH: Final = "crash"

_ERRORS: Final = {
    ("dynamodb", THROTTLE): (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    ("dynamodb", SERVER_ERROR): (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    ("sqs", THROTTLE): (400, "com.amazonaws.sqs#RequestThrottled"),
    ("sqs", SERVER_ERROR): (500, "com.amazonaws.sqs#InternalError"),
}


class WorkerCrash(BaseException):
    """The Lambda process died here: not an error anything should handle. A BaseException, so no `except Exception`
    in the product or in Powertools' batch processor catches it: the batch gets no answer, as when a container dies.
    """


@dataclass
class Fault:
    """`times` matching requests get `kind`; with `skip`, only after that many matching requests went through."""

    kind: str
    service: str
    operations: frozenset[str] | None = None  # None: every operation of the service
    times: int = 1
    skip: int = 0
    label: str = ""  # what the fault counts as in `fired` (default: service_kind)
    # Only requests whose body holds this text (a key, a message kind); before-send faults only, a crash has no body.
    body_contains: str | None = None

    def matches(self, service: str, operation: str, body: bytes = b"") -> bool:
        if service != self.service or (self.operations is not None and operation not in self.operations):
            return False
        return self.body_contains is None or self.body_contains.encode() in body

    @property
    def name(self) -> str:
        return self.label or f"{self.service}_{self.kind}"


class _Body:
    """The `raw` of an AWSResponse: botocore reads the body through `stream()`."""

    def __init__(self, content: bytes) -> None:
        self._content = content

    def stream(self, **_: Any) -> Iterable[bytes]:
        yield self._content


def _json_response(request: AWSPreparedRequest, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = HTTPHeaders()
    headers["x-amzn-RequestId"] = "fault-injected"
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(request.url, status, headers, _Body(json.dumps(body).encode()))


def _unprocessed(request: AWSPreparedRequest, operation: str) -> AWSResponse:
    """A batch request answered with nothing done: every item handed back, as DynamoDB does under load."""
    body = request.body if isinstance(request.body, str | bytes) else b"{}"
    sent = json.loads(body)["RequestItems"]
    if operation == "BatchWriteItem":
        return _json_response(request, 200, {"UnprocessedItems": sent})
    return _json_response(request, 200, {"Responses": {name: [] for name in sent}, "UnprocessedKeys": sent})


@dataclass
class AwsFaults:
    """Planned faults for the clients it is attached to; thread-safe, as the webhook and worker share clients."""

    fired: Counter[str] = field(default_factory=Counter)
    _plans: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _http: URLLib3Session | None = None
    observers: list[Callable[[str, str], None]] = field(default_factory=list)

    def attach(self, client: Any) -> Any:
        """Hooks this injector into one boto3 client (every service, every operation); returns the client."""
        read_timeout = float(client.meta.config.read_timeout)
        client.meta.events.register("before-send", functools.partial(self._before_send, read_timeout=read_timeout))
        client.meta.events.register("after-call", self._after_call)
        return client

    def plan(self, fault: Fault) -> Fault:
        with self._lock:
            self._plans.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault in self._plans if fault.times > 0]

    def _take(self, service: str, operation: str, kinds: frozenset[str], body: bytes = b"") -> Fault | None:
        with self._lock:
            for fault in self._plans:
                if fault.times <= 0 or fault.kind not in kinds or not fault.matches(service, operation, body):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                self.fired[fault.name] += 1
                return fault
        return None

    def _before_send(
        self, request: AWSPreparedRequest, event_name: str, read_timeout: float, **kwargs: Any
    ) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        fault = self._take(
            service, operation, frozenset({THROTTLE, SERVER_ERROR, TIMEOUT, HANG, LOST_RESPONSE, UNPROCESSED}), body
        )
        if fault is None:
            return None
        for observe in self.observers:
            observe(fault.name, operation)
        if fault.kind == UNPROCESSED and operation in DYNAMODB_BATCHES:
            return _unprocessed(request, operation)
        if fault.kind == LOST_RESPONSE:
            # The request reaches the service and is carried out; only its answer is lost on the way back.
            if self._http is None:
                self._http = URLLib3Session()
            self._http.send(request)
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.kind == HANG:
            time.sleep(read_timeout)
        if fault.kind in (TIMEOUT, HANG):
            raise ReadTimeoutError(endpoint_url=request.url)
        status, code = _ERRORS[(service, fault.kind)]
        return _json_response(request, status, {"__type": code, "message": f"injected {fault.kind}"})

    def _after_call(self, http_response: Any, event_name: str, **kwargs: Any) -> None:
        if http_response is None or not 200 <= http_response.status_code < 300:
            return
        _, service, operation = event_name.split(".", 2)
        fault = self._take(service, operation, frozenset({CRASH}))
        if fault is not None:
            for observe in self.observers:
                observe(fault.name, operation)
            raise WorkerCrash(f"process died after {operation}")
