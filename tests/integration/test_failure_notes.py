"""The worker's notes: the last error of a failing message beside its id, and when a webhook was last processed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_sync import keys, resources, wiring
from clerk_sync.handlers import worker
from clerk_sync.store import StoreUnavailableError
from clerk_sync.store.failures import FAILURE_ENTITY
from clerk_sync.store.freshness import FRESHNESS_ENTITY, WRITE_INTERVAL_MS, WebhookFreshness, WebhookSeen
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from tests.support.clerk_payloads import envelope, example, user_data
from tests.support.pipeline import drain, post_webhook


def _poison_user_event(user_id: str = "user_poison") -> dict[str, Any]:
    data = user_data(user_id, updated_at=5)
    del data["created_at"]  # a verified event our model cannot read
    return envelope("user.updated", data, timestamp_ms=5)


def _notes(aws: Any) -> list[dict[str, Any]]:
    return [item for item in aws.all_items() if item.get("entity") == FAILURE_ENTITY]


def test_failing_record_is_noted_under_its_message_id_which_it_keeps_in_the_dlq(aws: Any) -> None:
    assert post_webhook(_poison_user_event())["statusCode"] == 202
    drain(aws, max_batches=resources.EVENT_QUEUE.max_receive_count + 3)
    [dead] = aws.receive(aws.resources.dlq_url)
    # SQS (and moto) moves the message itself: the DLQ copy has the id the worker saw.
    notes = wiring.failure_notes().get_many([dead["MessageId"]])
    note = notes[dead["MessageId"]]
    assert note.reason.error_class == "ValidationError"
    assert note.reason.message == "invalid fields: created_at"
    assert note.receive_count == resources.EVENT_QUEUE.max_receive_count
    [item] = _notes(aws)
    assert (item[keys.PK], item[keys.SK]) == (f"FAILURE#{dead['MessageId']}", "LAST")
    retention = resources.EVENT_QUEUE.dlq_retention_seconds
    assert item[keys.TTL_ATTRIBUTE] == note.noted_at // 1000 + retention
    assert "user_poison@example.com" not in json.dumps(item, default=str)


def test_unreadable_body_is_noted_too(aws: Any) -> None:
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody="not a queued event")
    [message] = aws.receive()
    answer = worker.handler(sqs_event([message]), LocalLambdaContext())
    assert [failure["itemIdentifier"] for failure in answer["batchItemFailures"]] == [message["MessageId"]]
    note = wiring.failure_notes().get_many([message["MessageId"]])[message["MessageId"]]
    assert (note.reason.error_class, note.receive_count) == ("JSONDecodeError", 1)


def test_succeeding_records_write_no_failure_note(aws: Any) -> None:
    for number in range(3):
        payload = envelope("user.created", user_data(f"user_ok{number}", updated_at=10), timestamp_ms=10)
        assert post_webhook(payload)["statusCode"] == 202
    drain(aws)
    assert _notes(aws) == []


def test_failure_note_that_cannot_be_written_leaves_the_record_failed(
    aws: Any, monkeypatch: pytest.MonkeyPatch, log_records: Any
) -> None:
    class Unavailable:
        def record(self, note: object) -> None:
            raise StoreUnavailableError("put failed: throttled")

    monkeypatch.setattr(worker, "failure_notes", Unavailable)
    assert post_webhook(_poison_user_event())["statusCode"] == 202
    [message] = aws.receive()
    answer = worker.handler(sqs_event([message]), LocalLambdaContext())
    assert [failure["itemIdentifier"] for failure in answer["batchItemFailures"]] == [message["MessageId"]]
    assert any(record["message"] == "failure note not recorded" for record in log_records())


def test_processed_webhooks_refresh_freshness_once_a_minute_per_container(aws: Any) -> None:
    assert wiring.webhook_freshness().last() is None
    assert post_webhook(example("organization.created"))["statusCode"] == 202
    drain(aws)
    first = wiring.webhook_freshness().last()
    assert first is not None
    assert first.event_type == "organization.created"
    # A duplicate within the minute: processed (and counted), but this container does not write again.
    assert post_webhook(example("organization.created"))["statusCode"] == 202
    assert post_webhook(example("user.created"))["statusCode"] == 202
    drain(aws)
    assert wiring.webhook_freshness().last() == first
    [item] = [item for item in aws.all_items() if item.get("entity") == FRESHNESS_ENTITY]
    assert (item[keys.PK], item[keys.SK]) == ("FRESHNESS#webhooks", "LAST")


def test_freshness_never_moves_back_and_writes_again_after_the_interval(aws: Any) -> None:
    table = wiring.table()
    one, other = WebhookFreshness(table), WebhookFreshness(table)
    assert one.record("user.updated", 10 * WRITE_INTERVAL_MS)
    assert other.record("user.created", 5 * WRITE_INTERVAL_MS)  # a slower container, an older time
    assert one.last() == WebhookSeen(10 * WRITE_INTERVAL_MS, "user.updated")
    assert not one.record("user.deleted", 10 * WRITE_INTERVAL_MS + 1)  # within the interval: no request
    assert one.record("user.deleted", 11 * WRITE_INTERVAL_MS)
    assert one.last() == WebhookSeen(11 * WRITE_INTERVAL_MS, "user.deleted")


def test_worker_metrics_count_every_processed_webhook(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert post_webhook(example("organization.updated"), msg_id="msg_twice")["statusCode"] == 202
    drain(aws)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"WebhookProcessed"' in line]
    counted = [blob["WebhookProcessed"] for blob in blobs]
    total = sum(sum(value) if isinstance(value, list) else value for value in counted)
    assert total == 2  # applied and duplicate alike
