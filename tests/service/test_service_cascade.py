"""The user cascade's delayed second pass (invariant 4, docs/decisions/0004) against the emulator, moto and the worker.

A user's memberships are found through GSI1, eventually consistent on AWS (never on moto): a membership written
just before the user's tombstone can escape the first pass. Every user delete, and every sync that writes under
a user it then finds deleted, queues a delayed `user_cascade` pass. Index lag is simulated by writing the
membership item directly after the tombstone, or by hiding GSI1 from the first pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from clerk_sync import items, keys
from clerk_sync.handlers import worker
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.messages import USER_CASCADE_DELAY_SECONDS, QueuedSync, SyncTarget, decode_message
from clerk_sync.models import Envelope, Membership
from clerk_sync.queue import MAX_DELAY_SECONDS, QueueUnavailableError, SqsEventQueue
from clerk_sync.reports import ChangeOutcome
from clerk_sync.vocabulary import SyncSource
from clerk_sync.wiring import sqs_client
from clerk_sync_local.lambda_events import LocalLambdaContext, sqs_event
from tests.service.conftest import Harness
from tests.support.clerk_payloads import membership_data


class SentMessages:
    """Every SendMessage the service's SQS client makes: delayed messages cannot be received for a minute."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(dict(params))

    def cascades(self) -> list[tuple[QueuedSync, int]]:
        found = []
        for request in self.requests:
            message = decode_message(request["MessageBody"])
            if isinstance(message, QueuedSync) and message.target is SyncTarget.USER_CASCADE:
                found.append((message, int(request.get("DelaySeconds", 0))))
        return found


@pytest.fixture
def sent(harness: Harness) -> Iterator[SentMessages]:
    recorder = SentMessages()
    events = sqs_client().meta.events
    events.register("provide-client-params.sqs.SendMessage", recorder)
    yield recorder
    events.unregister("provide-client-params.sqs.SendMessage", recorder)


def _member_of_one_org(harness: Harness) -> tuple[str, str]:
    clerk = harness.clerk
    user_id = clerk.create_user(first_name="Ada")["id"]
    org_id = clerk.create_organization("Acme")["id"]
    clerk.add_membership(org_id, user_id, "org:member")
    return user_id, org_id


def _plant_live_membership(harness: Harness, org_id: str, user_id: str) -> None:
    """A live membership the first pass did not see: written straight to the table after the tombstone."""
    data = membership_data(org_id, user_id, membership_id="orgmem_lagging", updated_at=5)
    item = items.membership_item(Membership.model_validate(data), WriteContext(SyncSource.WEBHOOK, 1), ItemPolicy())
    # Not through the store: its writes are refused under a tombstone, which is not what lag looks like.
    serializer = TypeSerializer()
    raw = {name: serializer.serialize(value) for name, value in item.items()}
    harness.dynamodb.put_item(TableName=harness.resources.table_name, Item=raw)


def _run_in_worker(message: QueuedSync) -> dict[str, Any]:
    """The delayed message as the event source mapping hands it to the worker once its delay is over."""
    record = {"MessageId": "m-cascade", "ReceiptHandle": "r-cascade", "Body": message.model_dump_json()}
    answer: dict[str, Any] = worker.handler(sqs_event([record]), LocalLambdaContext())
    return answer


def _delayed_count(harness: Harness) -> int:
    attributes = harness.sqs.get_queue_attributes(
        QueueUrl=harness.resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesDelayed"])


def test_user_deleted_webhook_queues_cascade_pass_with_delay(harness: Harness, sent: SentMessages) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.clerk.delete_user(user_id)
    harness.deliver()
    [(message, delay)] = sent.cascades()
    assert (message.user_id, message.trigger, delay) == (user_id, "webhook", USER_CASCADE_DELAY_SECONDS)
    assert USER_CASCADE_DELAY_SECONDS == 60
    # Held back by SQS, not receivable yet.
    assert _delayed_count(harness) == 1
    assert all(q.target is not SyncTarget.USER_CASCADE for q in harness.queued_syncs())


# A batch of syncs only adds no shared metrics (counts are single metrics); Powertools warns on the flush.
@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_delayed_cascade_pass_removes_membership_planted_under_tombstoned_user(
    harness: Harness, sent: SentMessages, log_records: Any
) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.clerk.delete_user(user_id)
    harness.deliver()
    late_org = "org_lagging"
    _plant_live_membership(harness, late_org, user_id)
    assert [m["org_id"] for m in harness.store.user_memberships(user_id)] == [late_org]
    [(message, _)] = sent.cascades()
    harness.clerk.reset_stats()
    assert _run_in_worker(message) == {"batchItemFailures": []}
    assert harness.store.get_membership(late_org, user_id) is None
    assert harness.store.user_memberships(user_id) == []
    assert harness.calls() == 0  # the pass asks nothing of Clerk
    [processed] = [r for r in log_records() if r["message"] == "sync processed"]
    assert (processed["sync_target"], processed["summary"]) == ("user_cascade", {"removed": 1})


def test_delayed_cascade_pass_with_nothing_left_changes_nothing(harness: Harness) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.clerk.delete_user(user_id)
    harness.deliver()
    before = sorted(harness.store.scan(), key=lambda item: (item[keys.PK], item[keys.SK]))
    request = QueuedSync(target=SyncTarget.USER_CASCADE, user_id=user_id, trigger="webhook", requested_at=1)
    report = harness.service.run_queued(request)
    assert report.changes == []
    assert sorted(harness.store.scan(), key=lambda item: (item[keys.PK], item[keys.SK])) == before


def test_delayed_cascade_pass_for_live_user_removes_nothing(harness: Harness) -> None:
    user_id, org_id = _member_of_one_org(harness)
    harness.service.full_user_sync(user_id)
    request = QueuedSync(target=SyncTarget.USER_CASCADE, user_id=user_id, trigger="api", requested_at=1)
    assert harness.service.run_queued(request).changes == []
    assert [m["org_id"] for m in harness.store.user_memberships(user_id)] == [org_id]


def test_sync_finding_user_gone_queues_cascade_pass(harness: Harness, sent: SentMessages) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.service.full_user_sync(user_id)
    harness.clerk.delete_user(user_id)
    report = harness.service.sync_user(user_id)
    assert report.found is False
    [(message, delay)] = sent.cascades()
    assert (message.user_id, message.trigger, delay) == (user_id, "api", USER_CASCADE_DELAY_SECONDS)


def test_login_finding_user_gone_queues_cascade_pass(harness: Harness, sent: SentMessages) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.clerk.delete_user(user_id)
    assert harness.service.ensure_login_user(user_id).deleted
    [(message, delay)] = sent.cascades()
    assert (message.user_id, message.trigger, delay) == (user_id, "login", USER_CASCADE_DELAY_SECONDS)


def test_fetched_membership_under_deleted_user_is_removed_by_delayed_pass(
    harness: Harness, sent: SentMessages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member sync writes without the parents' transaction; the user's tombstone landed after Clerk's listing."""
    user_id, org_id = _member_of_one_org(harness)
    store = harness.store
    store.delete_user(user_id, WriteContext(SyncSource.WEBHOOK, 1))  # the webhook beat the sync's write
    # GSI1 has not caught up with the sync's write when the sync checks the parents.
    monkeypatch.setattr(store, "user_memberships", lambda _user_id: [])
    harness.service.sync_organization_members(org_id)
    membership = store.get_membership(org_id, user_id)
    assert membership is not None
    assert membership["deleted"] is False  # escaped the first pass
    [(message, delay)] = sent.cascades()
    assert (message.user_id, delay) == (user_id, USER_CASCADE_DELAY_SECONDS)
    monkeypatch.undo()  # the index has caught up a minute later
    report = harness.service.run_queued(message)
    assert report.count(ChangeOutcome.REMOVED, "membership") == 1
    assert store.get_membership(org_id, user_id) is None


def test_user_deleted_webhook_fails_when_cascade_pass_cannot_be_queued(harness: Harness) -> None:
    user_id, _ = _member_of_one_org(harness)
    harness.clerk.delete_user(user_id)
    deleted = Envelope.model_validate(harness.clerk.events[-1]["payload"])

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "down"}}, "SendMessage")

    events = sqs_client().meta.events
    events.register("before-call.sqs.SendMessage", refuse)
    try:
        with pytest.raises(QueueUnavailableError):
            harness.service.apply_event(deleted, "msg_deleted")
    finally:
        events.unregister("before-call.sqs.SendMessage", refuse)
    # The tombstone stands; the retried event is a duplicate delete that cascades and queues again.
    user = harness.store.get_user(user_id)
    assert user is not None
    assert user["deleted"] is True


def test_event_queue_delay_beyond_sqs_limit_is_refused(harness: Harness) -> None:
    queue = SqsEventQueue(harness.sqs, harness.resources.queue_url)
    message = QueuedSync(target=SyncTarget.USER_CASCADE, user_id="user_x", trigger="api", requested_at=1)
    with pytest.raises(ValueError, match="delay_seconds"):
        queue.send(message, delay_seconds=MAX_DELAY_SECONDS + 1)
    queue.send(message)  # no delay: receivable at once
    [received] = harness.sqs.receive_message(QueueUrl=harness.resources.queue_url)["Messages"]
    assert json.loads(received["Body"])["target"] == "user_cascade"
