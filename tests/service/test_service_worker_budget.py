"""A queued sync in the worker spends on Clerk no more than what is left of the invocation."""

from __future__ import annotations

import time

from clerk_sync.handlers import worker
from clerk_sync.messages import QueuedSync, SyncTarget
from clerk_sync.queue import encode
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from tests.service.conftest import Harness


def _batch(harness: Harness, request: QueuedSync) -> list[dict[str, object]]:
    harness.sqs.send_message(QueueUrl=harness.resources.queue_url, MessageBody=encode(request))
    return harness.sqs.receive_message(QueueUrl=harness.resources.queue_url, AttributeNames=["All"])["Messages"]


def test_queued_sync_gives_up_before_the_invocation_ends(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Slow")["id"]
    harness.clerk.set_knobs(latency_ms=4000)
    request = QueuedSync(target=SyncTarget.USER, user_id=user_id, trigger="login", requested_at=1)
    context = LocalLambdaContext(deadline=time.monotonic() + 4.0)  # 4 s left: 1 s for Clerk after the reserve
    started = time.monotonic()
    answer = worker.handler(sqs_event(_batch(harness, request)), context)
    assert len(answer["batchItemFailures"]) == 1  # retried later by SQS, not lost
    assert time.monotonic() - started < 3.0
    assert harness.store.get_user(user_id) is None


def test_queued_sync_waits_out_a_rate_limit_within_its_budget(harness: Harness) -> None:
    user_id = harness.clerk.create_user(first_name="Patient")["id"]
    harness.clerk.set_knobs(rate_limit=1, rate_limit_window_s=2.0)
    harness.service.clerk.get_user(user_id)  # spends the window's only request
    request = QueuedSync(target=SyncTarget.USER, user_id=user_id, trigger="login", requested_at=1)
    answer = worker.handler(sqs_event(_batch(harness, request)), LocalLambdaContext(deadline=time.monotonic() + 30))
    assert answer["batchItemFailures"] == []
    user = harness.store.get_user(user_id)
    assert user is not None
    assert user["first_name"] == "Patient"
