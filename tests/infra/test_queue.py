"""Event queue and DLQ: settings from the shared QueueDefinition, encryption, TLS-only access."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_cdk.assertions import Match

from clerk_sync.resources import EVENT_QUEUE

if TYPE_CHECKING:
    from conftest import Synth


def _queues(synth: Synth, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    events = synth.stacks[stage].events
    return synth.resource(stage, events.queue), synth.resource(stage, events.dlq)


def test_queue_redrives_to_dlq_after_max_receive_count(synth: Synth, stage: str) -> None:
    queue, _ = _queues(synth, stage)
    dlq_id = synth.logical_id(stage, synth.stacks[stage].events.dlq)
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": EVENT_QUEUE.max_receive_count,
    }


def test_queue_visibility_timeout_is_at_least_six_worker_timeouts(synth: Synth, stage: str) -> None:
    queue, _ = _queues(synth, stage)
    visibility = queue["Properties"]["VisibilityTimeout"]
    assert visibility == EVENT_QUEUE.visibility_timeout_seconds
    worker = synth.resource(stage, synth.stacks[stage].functions.worker)
    assert visibility >= 6 * worker["Properties"]["Timeout"]


def test_dlq_keeps_messages_fourteen_days(synth: Synth, stage: str) -> None:
    _, dlq = _queues(synth, stage)
    assert dlq["Properties"]["MessageRetentionPeriod"] == EVENT_QUEUE.dlq_retention_seconds == 14 * 24 * 3600


def test_both_queues_are_encrypted_and_deny_plain_http(synth: Synth, stage: str) -> None:
    for queue in _queues(synth, stage):
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    template = synth.templates[stage]
    policies = template.find_resources(
        "AWS::SQS::QueuePolicy",
        {
            "Properties": {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Action": "sqs:*",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                }
            }
        },
    )
    assert len(policies) == 2


def test_prod_queues_are_retained(synth: Synth) -> None:
    for queue in _queues(synth, "prod"):
        assert queue["DeletionPolicy"] == "Retain"
