"""The operator CLI against the running stack, found either by its ready file or as a deployed stage would be:
a CloudFormation stack (on the stack's moto) whose outputs name the table, queues and secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from typer.testing import CliRunner

from clerk_sync_local.cli import app
from tests.e2e.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _ready_file(stack: Stack, tmp_path: Path) -> str:
    path = tmp_path / "ready.json"
    path.write_text(stack.ready.model_dump_json())
    return str(path)


@pytest.fixture
def unsynced_user(stack: Stack, knobs: httpx.Client) -> str:
    """A user on record whose next change stays in the emulator (webhooks paused): only a sync brings it."""
    user_id = str(stack.clerk.post("/users", json={"first_name": "Before"}).json()["id"])
    stack.converge()
    assert knobs.put("/knobs", json={"webhooks_paused": True}).status_code == 200
    assert knobs.patch(f"/users/{user_id}", json={"first_name": "Synced"}).status_code == 200
    stored = stack.user(user_id)
    assert stored is not None
    assert stored["first_name"] == "Before"
    return user_id


@pytest.fixture
def stage(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """A stage `e2e` in a cdk.json of its own, deployed as a CloudFormation stack on the local stack's moto."""
    ready = stack.ready
    stack_name = f"clerk-sync-e2e-{uuid.uuid4().hex[:8]}"
    config = json.loads((ROOT / "cdk.json").read_text())
    config["context"]["stages"] = {"e2e": {**config["context"]["stages"]["dev"], "stack_name": stack_name}}
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps(config))
    outputs = {
        "TableName": ready.table_name,
        "EventQueueUrl": ready.queue_url,
        "DeadLetterQueueUrl": ready.dlq_url,
        "ClerkSecretArn": ready.secret_arn,
        "ApiUrl": ready.api_url,
    }
    template = {
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    for name, value in {
        "AWS_ENDPOINT_URL": ready.aws_endpoint_url,
        "AWS_ACCESS_KEY_ID": ready.aws_access_key_id,
        "AWS_SECRET_ACCESS_KEY": ready.aws_secret_access_key,
        "AWS_REGION": ready.region,
        "AWS_DEFAULT_REGION": ready.region,
        "CLERK_API_URL": ready.clerk_api_url,  # the stage names api.clerk.com; here Clerk is the emulator
    }.items():
        monkeypatch.setenv(name, value)
    cloudformation = boto3.client("cloudformation", endpoint_url=ready.aws_endpoint_url, region_name=ready.region)
    cloudformation.create_stack(StackName=stack_name, TemplateBody=json.dumps(template))
    yield "e2e", cdk_json
    cloudformation.delete_stack(StackName=stack_name)


def test_cli_sync_user_through_the_ready_file_brings_a_change_webhooks_missed(
    stack: Stack, unsynced_user: str, tmp_path: Path
) -> None:
    user_id = unsynced_user
    result = runner.invoke(app, ["sync", "user", user_id, "--json", "--ready-file", _ready_file(stack, tmp_path)])

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {"entity": "user", "id": user_id, "outcome": "applied"} in report["changes"]
    assert report["clerk_calls"] == 2  # the user and one page of memberships
    synced = stack.user(user_id)
    assert synced is not None
    assert (synced["first_name"], synced["sync_source"]) == ("Synced", "api")


def test_cli_sync_user_unknown_to_clerk_exits_1_and_writes_nothing(stack: Stack, tmp_path: Path) -> None:
    result = runner.invoke(app, ["sync", "user", "user_nobody", "--ready-file", _ready_file(stack, tmp_path)])
    assert result.exit_code == 1
    assert "Clerk has no such user" in result.output
    assert stack.user("user_nobody") is None


def test_cli_sync_organization_members_table_shows_each_record(stack: Stack, tmp_path: Path) -> None:
    org_id = stack.ready.demo_org_id
    assert org_id is not None
    ready_file = _ready_file(stack, tmp_path)
    result = runner.invoke(app, ["sync", "organization", org_id, "--members", "--ready-file", ready_file])
    assert result.exit_code == 0, result.output
    assert "sync on the local stack" in result.output
    assert "membership" in result.output
    assert "Clerk calls" in result.output


def test_cli_status_by_stage_reads_the_stacks_table(stack: Stack, stage: tuple[str, Path], tmp_path: Path) -> None:
    name, cdk_json = stage
    user_id = stack.ready.demo_user_id
    assert user_id is not None
    by_stage = runner.invoke(app, ["status", user_id, "--json", "--stage", name, "--cdk-json", str(cdk_json)])
    by_file = runner.invoke(app, ["status", user_id, "--json", "--ready-file", _ready_file(stack, tmp_path)])
    assert by_stage.exit_code == 0, by_stage.output
    assert json.loads(by_stage.output) == json.loads(by_file.output)


def test_cli_sync_by_stage_reads_the_key_from_the_stacks_secret(
    stack: Stack, stage: tuple[str, Path], unsynced_user: str
) -> None:
    name, cdk_json = stage
    result = runner.invoke(app, ["sync", "user", unsynced_user, "--stage", name, "--cdk-json", str(cdk_json)])

    assert result.exit_code == 0, result.output
    assert "sync on stage e2e (stack clerk-sync-e2e-" in result.output
    synced = stack.user(unsynced_user)
    assert synced is not None
    assert synced["first_name"] == "Synced"


def test_cli_export_by_stage_equals_export_by_ready_file(stack: Stack, stage: tuple[str, Path], tmp_path: Path) -> None:
    name, cdk_json = stage
    stack.converge()
    by_stage = runner.invoke(app, ["export", "--stage", name, "--cdk-json", str(cdk_json)])
    by_file = runner.invoke(app, ["export", "--ready-file", _ready_file(stack, tmp_path)])
    assert by_stage.exit_code == 0, by_stage.output
    assert by_stage.stdout == by_file.stdout
    assert len(by_stage.stdout.splitlines()) > 5


@pytest.mark.parametrize(
    ("stage_name", "message"),
    [("nowhere", "unknown stage 'nowhere': cdk.json defines e2e"), ("e2e", "not found")],
)
def test_cli_stage_that_is_unknown_or_not_deployed_exits_1_saying_which(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage_name: str, message: str
) -> None:
    config = json.loads((ROOT / "cdk.json").read_text())
    config["context"]["stages"] = {"e2e": {**config["context"]["stages"]["dev"], "stack_name": "clerk-sync-absent"}}
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(json.dumps(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.ready.aws_endpoint_url)
    result = runner.invoke(app, ["status", "user_x", "--stage", stage_name, "--cdk-json", str(cdk_json)])
    assert result.exit_code == 1
    assert message in result.output


def test_cli_token_for_a_stage_exits_1_pointing_at_the_frontend() -> None:
    result = runner.invoke(app, ["token", "user_x", "--stage", "prod"])
    assert result.exit_code == 1
    assert "getToken()" in result.output
