"""The worker: partial batch failures, redrive of poison records to the DLQ, logs without emails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clerk_sync import keys, resources
from clerk_sync.handlers import worker
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from tests.support.clerk_payloads import envelope, example, user_data
from tests.support.pipeline import drain, post_webhook


def _send_raw(aws: Any, body: str) -> None:
    aws.sqs.send_message(QueueUrl=aws.resources.queue_url, MessageBody=body)


def _poison_user_event() -> dict[str, Any]:
    data = user_data("user_poison", updated_at=5)
    del data["created_at"]  # a verified event our model cannot read
    return envelope("user.updated", data, timestamp_ms=5)


def test_worker_poison_record_fails_alone(aws: Any) -> None:
    for number in range(3):
        payload = envelope("user.created", user_data(f"user_good{number}", updated_at=10), timestamp_ms=10)
        assert post_webhook(payload)["statusCode"] == 202
    _send_raw(aws, "this is not a queued event")
    assert post_webhook(_poison_user_event())["statusCode"] == 202

    messages = aws.receive()
    assert len(messages) == 5
    answer = worker.handler(sqs_event(messages), LocalLambdaContext())
    failed = {failure["itemIdentifier"] for failure in answer["batchItemFailures"]}
    poison = {m["MessageId"] for m in messages if "user_good" not in m["Body"]}
    assert failed == poison
    stored = {item[keys.PK] for item in aws.items()}
    assert stored == {"USER#user_good0", "USER#user_good1", "USER#user_good2"}


def test_worker_record_that_keeps_failing_ends_in_dlq(aws: Any) -> None:
    assert post_webhook(_poison_user_event())["statusCode"] == 202
    assert post_webhook(example("organization.created"))["statusCode"] == 202
    drain(aws, max_batches=resources.EVENT_QUEUE.max_receive_count + 3)
    assert aws.queue_depth() == 0
    [dead] = aws.receive(aws.resources.dlq_url)
    assert json.loads(dead["Body"])["event"]["data"]["id"] == "user_poison"
    assert int(dead["Attributes"]["ApproximateReceiveCount"]) >= resources.EVENT_QUEUE.max_receive_count
    assert [item["entity"] for item in aws.items()] == ["organization"]


def test_worker_logs_reason_and_never_raw_emails(aws: Any, log_records: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISTORY_TTL_DAYS", "0")  # the event's own requests: history's entry is a request more
    assert post_webhook(example("user.created"))["statusCode"] == 202
    assert post_webhook(_poison_user_event())["statusCode"] == 202
    drain(aws, max_batches=1)
    records = log_records()
    assert "example@example.org" not in json.dumps(records)
    assert "user_poison@example.com" not in json.dumps(records)
    [failure] = [record for record in records if record["message"] == "event failed: invalid payload"]
    assert failure["invalid_fields"] == ["created_at"]
    assert failure["correlation_id"].startswith("msg_")
    [processed] = [record for record in records if record["message"] == "event processed"]
    assert (processed["outcome"], processed["event_type"]) == ("applied", "user.created")
    assert processed["dynamodb_requests"] == 1


def test_worker_emits_outcome_metric_by_event_type(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert post_webhook(example("organization.updated"), msg_id="msg_same")["statusCode"] == 202
    drain(aws)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"EventProcessed"' in line]
    outcomes = sorted(blob["Outcome"] for blob in blobs)
    assert outcomes == ["applied", "duplicate"]
    assert {blob["EventType"] for blob in blobs} == {"organization.updated"}
