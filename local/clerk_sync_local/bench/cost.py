"""What a million webhook events cost on AWS, from measured requests, payload sizes and durations (`prices.py`).

DynamoDB: a write costs one WRU per started KB of the item (transactions two; a condition check inside one is
counted as a transactional write, the conservative reading), a failed condition still costs its write, and a
write to an item with GSI1 keys writes the index as well (projection ALL: the same size); reads cost one RRU per
started 4 KB returned (strongly consistent), half eventually consistent, two in a transaction. Item sizes are
DynamoDB's: attribute names plus values. Update and delete requests do not carry the item: their size is the
item's as the table holds it at the end.

Lambda: one request per invocation, each invocation's duration rounded up to the millisecond at the function's
memory size, plus the INIT phase of the share of invocations that start cold. SQS: each send is one request per
64 KB; the event source mapping's receive and delete are one request each per batch (empty polls of an idle queue
are a fixed monthly cost, not a per-event one, and are left out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from clerk_sync_local.bench import prices
from clerk_sync_local.bench.meter import AwsRequest

KB = 1024
SQS_CHUNK = 64 * KB
API_CHUNK = 512 * KB
Key = tuple[str, str]


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one DynamoDB JSON attribute value, as DynamoDB sizes it."""
    ((kind, data),) = value.items()
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").lstrip("0") or "0"
        return 1 + math.ceil(len(digits) / 2)
    if kind == "B":
        return math.ceil(len(str(data)) * 3 / 4)  # base64 in JSON
    if kind in {"BOOL", "NULL"}:
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(item) for name, item in data.items())
    if kind == "L":
        return 3 + sum(1 + value_size(item) for item in data)
    if kind in {"SS", "NS", "BS"}:
        return sum(value_size({kind[0]: item}) for item in data)
    return 0


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of a DynamoDB JSON item: each attribute's name plus its value."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _key(item: Mapping[str, Any]) -> Key:
    return str(item.get("PK", {}).get("S", "")), str(item.get("SK", {}).get("S", ""))


@dataclass
class Capacity:
    write_units: float = 0.0  # base table WRU
    index_write_units: float = 0.0  # GSI1 WRU
    read_units: float = 0.0
    requests: int = 0

    def add(self, other: Capacity) -> None:
        self.write_units += other.write_units
        self.index_write_units += other.index_write_units
        self.read_units += other.read_units
        self.requests += other.requests


def _write_units(size: int, factor: int = 1) -> float:
    return float(factor * max(1, math.ceil(size / KB)))


def _read_units(size: int, *, consistent: bool, factor: float = 1.0) -> float:
    units = max(1, math.ceil(size / (4 * KB))) * factor
    return units if consistent else units / 2


class _Sizer:
    """The size of an item a write names: the request's own item, else the table's at the end."""

    def __init__(self, stored: Mapping[Key, int], indexed: frozenset[Key]) -> None:
        self._stored, self._indexed = stored, indexed

    def put(self, item: Mapping[str, Any]) -> tuple[int, bool]:
        return item_size(item), "GSI1PK" in item

    def named(self, key: Mapping[str, Any]) -> tuple[int, bool]:
        found = _key(key)
        return self._stored.get(found, item_size(key)), found in self._indexed


def _write(size: int, indexed: bool, applied: bool, factor: int = 1) -> Capacity:
    base = _write_units(size, factor)
    return Capacity(write_units=base, index_write_units=_write_units(size) if indexed and applied else 0.0)


def _one(request: AwsRequest, sizer: _Sizer) -> Capacity:
    body, answer, op = request.request, request.answer, request.operation
    used = Capacity(requests=1)
    consistent = bool(body.get("ConsistentRead"))
    if op == "PutItem":
        used.add(_write(*sizer.put(body["Item"]), request.ok))
    elif op in {"UpdateItem", "DeleteItem"}:
        used.add(_write(*sizer.named(body["Key"]), request.ok))
    elif op == "TransactWriteItems":
        for part in body.get("TransactItems", []):
            ((kind, action),) = part.items()
            size, indexed = sizer.put(action["Item"]) if kind == "Put" else sizer.named(action["Key"])
            used.add(_write(size, indexed and kind != "ConditionCheck", request.ok, factor=2))
    elif op == "BatchWriteItem":
        for writes in body.get("RequestItems", {}).values():
            for write in writes:
                if "PutRequest" in write:
                    used.add(_write(*sizer.put(write["PutRequest"]["Item"]), request.ok))
                else:
                    used.add(_write(*sizer.named(write["DeleteRequest"]["Key"]), request.ok))
    elif op == "GetItem":
        used.read_units += _read_units(item_size(answer.get("Item", {})), consistent=consistent)
    elif op in {"Query", "Scan"}:
        returned = sum(item_size(item) for item in answer.get("Items", []))
        used.read_units += _read_units(returned, consistent=consistent)
    elif op == "BatchGetItem":
        for table, found in answer.get("Responses", {}).items():
            strong = bool(body.get("RequestItems", {}).get(table, {}).get("ConsistentRead"))
            used.read_units += sum(_read_units(item_size(item), consistent=strong) for item in found)
    elif op == "TransactGetItems":
        used.read_units += sum(
            _read_units(item_size(part.get("Item", {})), consistent=True, factor=2)
            for part in answer.get("Responses", [])
        )
    return used


def dynamodb_capacity(
    requests: Iterable[AwsRequest], stored: Mapping[Key, int], indexed: frozenset[Key] = frozenset()
) -> Capacity:
    """Request units of every DynamoDB request; `stored` sizes the items updates and deletes name."""
    sizer, total = _Sizer(stored, indexed), Capacity()
    for request in requests:
        if request.service == "dynamodb":
            total.add(_one(request, sizer))
    return total


def sqs_sends(requests: Iterable[AwsRequest]) -> tuple[int, int, int]:
    """(billed send requests, messages sent, their bytes) of SendMessage / SendMessageBatch."""
    billed = messages = size = 0
    for request in requests:
        if request.service != "sqs":
            continue
        if request.operation == "SendMessage":
            body = len(str(request.request.get("MessageBody", "")).encode())
            billed, messages, size = billed + max(1, math.ceil(body / SQS_CHUNK)), messages + 1, size + body
        elif request.operation == "SendMessageBatch":
            entries = request.request.get("Entries", [])
            body = sum(len(str(entry.get("MessageBody", "")).encode()) for entry in entries)
            billed, messages, size = billed + max(1, math.ceil(body / SQS_CHUNK)), messages + len(entries), size + body
    return billed, messages, size


@dataclass(frozen=True)
class FunctionUse:
    """One function's measured invocations."""

    name: str
    memory_mb: int
    durations_ms: Sequence[float]
    init_ms: float  # the INIT phase of one cold start
    cold_share: float  # share of invocations that start cold (assumed)

    @property
    def invocations(self) -> int:
        return len(self.durations_ms)

    @property
    def gb_seconds(self) -> float:
        billed_ms = sum(math.ceil(ms) for ms in self.durations_ms)
        return self.memory_mb / 1024 * billed_ms / 1000

    @property
    def init_gb_seconds(self) -> float:
        return self.memory_mb / 1024 * self.invocations * self.cold_share * math.ceil(self.init_ms) / 1000


@dataclass(frozen=True)
class CostInputs:
    """Everything measured for `events` webhook events on one side."""

    events: int
    api_requests: int
    api_bytes: int  # total payload through the HTTP API
    functions: Sequence[FunctionUse]
    sqs_send_requests: int
    worker_batches: int  # the event source's receives (and deletes): one each per batch
    worker_batch_bytes: int  # total payload received by the worker
    dynamodb: Capacity = field(default_factory=Capacity)


@dataclass(frozen=True)
class CostBreakdown:
    """US dollars per million webhook events, by line."""

    api_gateway: float
    lambda_requests: float
    lambda_duration: float
    lambda_init: float
    sqs: float
    dynamodb_writes: float
    dynamodb_index_writes: float
    dynamodb_reads: float

    @property
    def total(self) -> float:
        return float(sum(asdict(self).values()))

    def as_json(self) -> dict[str, float]:
        return {**{k: round(v, 4) for k, v in asdict(self).items()}, "total": round(self.total, 4)}


def cost_per_million(inputs: CostInputs) -> CostBreakdown:
    """The measured use scaled to a million events, priced with `prices`."""
    if inputs.events <= 0:
        raise ValueError("no events to price")
    scale = 1_000_000 / inputs.events
    api_chunks = max(1, math.ceil(inputs.api_bytes / max(1, inputs.api_requests) / API_CHUNK))
    per_batch = math.ceil(inputs.worker_batch_bytes / max(1, inputs.worker_batches) / SQS_CHUNK) or 1
    sqs_requests = inputs.sqs_send_requests + inputs.worker_batches * (per_batch + 1)  # receive chunks + delete
    gb_s = sum(f.gb_seconds for f in inputs.functions)
    init_gb_s = sum(f.init_gb_seconds for f in inputs.functions)
    return CostBreakdown(
        api_gateway=inputs.api_requests * api_chunks * prices.API_GATEWAY_HTTP_REQUEST.usd * scale,
        lambda_requests=sum(f.invocations for f in inputs.functions) * prices.LAMBDA_REQUEST.usd * scale,
        lambda_duration=gb_s * prices.LAMBDA_ARM_GB_SECOND.usd * scale,
        lambda_init=init_gb_s * prices.LAMBDA_ARM_GB_SECOND.usd * scale,
        sqs=sqs_requests * prices.SQS_REQUEST.usd * scale,
        dynamodb_writes=inputs.dynamodb.write_units * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd * scale,
        dynamodb_index_writes=inputs.dynamodb.index_write_units * prices.DYNAMODB_WRITE_REQUEST_UNIT.usd * scale,
        dynamodb_reads=inputs.dynamodb.read_units * prices.DYNAMODB_READ_REQUEST_UNIT.usd * scale,
    )
