"""The scheduled reconcile: EventBridge Scheduler sends the worker's reconcile request to the event queue, under a
role that may send to that queue and nothing else; a stage without a schedule has none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.schedule import RECONCILE_MESSAGE_BODY

if TYPE_CHECKING:
    from conftest import Synth

# The body the worker's reconcile reads, byte for byte.
EXPECTED_BODY = '{"kind":"sync","target":"reconcile","trigger":"reconcile","requested_at":0}'


def _schedule(synth: Synth, stage: str) -> dict[str, Any]:
    (schedule,) = synth.resources(stage, "AWS::Scheduler::Schedule").values()
    properties: dict[str, Any] = schedule["Properties"]
    return properties


def test_reconcile_message_body_is_the_workers_exactly() -> None:
    assert RECONCILE_MESSAGE_BODY == EXPECTED_BODY
    from clerk_sync.vocabulary import SyncSource

    assert json.loads(RECONCILE_MESSAGE_BODY)["trigger"] in {source.value for source in SyncSource}


def test_reconcile_message_decodes_once_the_worker_knows_the_target() -> None:
    from clerk_sync.messages import QueuedSync, SyncTarget, decode_message

    decoded = decode_message(RECONCILE_MESSAGE_BODY)
    assert isinstance(decoded, QueuedSync)
    assert (decoded.target, decoded.trigger.value, decoded.requested_at) == (SyncTarget.RECONCILE, "reconcile", 0)
    assert decoded.job_id is None  # the worker starts a run, or continues the unfinished one


def test_schedule_sends_the_body_to_the_event_queue_on_the_stage_expression(synth: Synth, stage: str) -> None:
    config = synth.stacks[stage].stage_config
    schedule = _schedule(synth, stage)
    assert schedule["ScheduleExpression"] == config.reconcile_schedule == "rate(1 day)"
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Name"] == f"{config.stack_name}-reconcile"
    queue_id = synth.logical_id(stage, synth.stacks[stage].events.queue)
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert target["Input"] == EXPECTED_BODY


def test_schedule_role_is_assumed_by_the_scheduler_and_may_only_send_to_the_queue(synth: Synth, stage: str) -> None:
    role_arn = _schedule(synth, stage)["Target"]["RoleArn"]
    role_id = role_arn["Fn::GetAtt"][0]
    role = synth.template_json(stage)["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    # Only this account's schedules may use it (confused deputy).
    assert "aws:SourceAccount" in json.dumps(trust["Condition"])
    queue_id = synth.logical_id(stage, synth.stacks[stage].events.queue)
    statements = [
        statement
        for policy in synth.resources(stage, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert set(actions) <= {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    assert any("sqs:SendMessage" in json.dumps(statement["Action"]) for statement in statements)


def test_stage_without_schedule_has_none(tmp_path: Path, stub_layer: Path) -> None:
    from aws_cdk.assertions import Template

    import app as entry

    stages = entry.cdk_json_context()["stages"]
    quiet = {**stages["dev"], "stack_name": "clerk-sync-quiet"}
    quiet["reconcile_schedule"] = ""
    context = {"stages": {"quiet": quiet}, entry.LAYER_DIR_CONTEXT_KEY: str(stub_layer)}
    cdk_app = entry.create_app(context=context, outdir=str(tmp_path))
    stack = entry.build(cdk_app, "quiet")
    template = Template.from_json(cdk_app.synth().get_stack_by_name(stack.stack_name).template)
    template.resource_count_is("AWS::Scheduler::Schedule", 0)
    assert stack.reconcile is None
    # Nor the role it would have used: every role left trusts Lambda.
    for role in template.find_resources("AWS::IAM::Role").values():
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
        assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
