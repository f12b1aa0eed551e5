"""The SQS poller as an event source mapping: batching window, batch size, partial and whole-batch failures."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from clerk_sync_local.stack.poller import SqsPoller


class FakeSqs:
    """Just enough of SQS: a list of visible messages, and what the poller did to them."""

    def __init__(self) -> None:
        self.visible: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.retried: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def add(self, *ids: str) -> None:
        with self.lock:
            self.visible += [{"MessageId": i, "ReceiptHandle": f"rh-{i}", "Body": "{}"} for i in ids]

    def receive_message(self, **request: Any) -> dict[str, Any]:
        with self.lock:
            taken, self.visible = (
                self.visible[: request["MaxNumberOfMessages"]],
                self.visible[request["MaxNumberOfMessages"] :],
            )
        return {"Messages": taken} if taken else {}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803 - boto3's names
        self.deleted.append(ReceiptHandle.removeprefix("rh-"))

    def change_message_visibility(self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int) -> None:  # noqa: N803
        self.retried.append((ReceiptHandle.removeprefix("rh-"), VisibilityTimeout))


def _recorder(batches: list[list[str]], failed: set[str] | None = None) -> Any:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ids = [record["messageId"] for record in event["Records"]]
        batches.append(ids)
        return {"batchItemFailures": [{"itemIdentifier": i} for i in ids if i in (failed or set())]}

    return handler


def test_poller_batching_window_gathers_late_records_into_one_batch() -> None:
    sqs, batches = FakeSqs(), []
    sqs.add("a")
    threading.Timer(0.1, sqs.add, args=("b", "c")).start()
    poller = SqsPoller(sqs, "q", _recorder(batches), batching_window_seconds=0.5)
    assert poller.poll_once() == 3
    assert batches == [["a", "b", "c"]]


def test_poller_full_batch_does_not_wait_for_the_window() -> None:
    sqs, batches = FakeSqs(), []
    sqs.add("a", "b", "c")
    poller = SqsPoller(sqs, "q", _recorder(batches), batch_size=2, batching_window_seconds=5)
    started = time.perf_counter()
    assert poller.poll_once() == 2
    assert time.perf_counter() - started < 1
    assert batches == [["a", "b"]]


def test_poller_without_window_sends_what_one_receive_got() -> None:
    sqs, batches = FakeSqs(), []
    sqs.add("a")
    threading.Timer(0.05, sqs.add, args=("b",)).start()
    assert SqsPoller(sqs, "q", _recorder(batches)).poll_once() == 1
    assert batches == [["a"]]


def test_poller_partial_failure_retries_only_failed_records() -> None:
    sqs, batches = FakeSqs(), []
    sqs.add("a", "b", "c")
    poller = SqsPoller(sqs, "q", _recorder(batches, failed={"b"}), retry_delay_seconds=2)
    poller.poll_once()
    assert sqs.deleted == ["a", "c"]
    assert sqs.retried == [("b", 2)]
    assert (poller.stats.succeeded, poller.stats.failed) == (2, 1)


def test_poller_handler_error_retries_the_whole_batch_and_raises() -> None:
    sqs = FakeSqs()
    sqs.add("a", "b")

    def broken(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("function error")

    poller = SqsPoller(sqs, "q", broken, retry_delay_seconds=1)
    with pytest.raises(RuntimeError):
        poller.poll_once()
    assert sqs.deleted == []
    assert sqs.retried == [("a", 1), ("b", 1)]


def test_poller_thread_survives_a_handler_error() -> None:
    sqs, calls = FakeSqs(), []

    def flaky(event: dict[str, Any], context: Any) -> Any:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("first batch fails")
        return {"batchItemFailures": []}

    sqs.add("a")
    poller = SqsPoller(sqs, "q", flaky, wait_seconds=0, retry_delay_seconds=0).start()
    try:
        threading.Timer(0.05, sqs.add, args=("b",)).start()
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop()
    assert len(calls) >= 2


def test_poller_records_each_batch_duration_and_size() -> None:
    sqs = FakeSqs()
    sqs.add("a", "b", "c")
    batches: list[list[str]] = []
    poller = SqsPoller(sqs, "q", _recorder(batches), batch_size=2)
    poller.drain()
    assert poller.stats.batch_records == [2, 1]
    assert len(poller.stats.batch_ms) == 2
    assert all(ms >= 0 for ms in poller.stats.batch_ms)


def test_container_handler_is_a_copy_of_the_module_with_its_own_globals() -> None:
    import importlib
    import sys

    from clerk_sync_local.gateway.invoke import container_handler

    original = importlib.import_module("clerk_sync.handlers.worker")
    first = sys.modules[container_handler("clerk_sync.handlers.worker.handler").__module__]
    second = sys.modules[container_handler("clerk_sync.handlers.worker.handler").__module__]
    assert len({first.__name__, second.__name__, original.__name__}) == 3
    assert first.processor is not original.processor
    assert first.processor is not second.processor
    assert first.sync_service is original.sync_service  # what the module imports is shared
