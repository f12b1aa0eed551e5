"""Lambda functions: runtime, one code asset and layer, environment, sizing, logs, and exact IAM grants."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from clerk_sync.resources import EVENT_QUEUE
from infra.endpoints import HANDLERS
from infra.functions import DEAD_LETTER_ACTIONS, TABLE_DATA_ACTIONS, function_specs

if TYPE_CHECKING:
    from conftest import Synth

ROOT = Path(__file__).resolve().parents[2]
SPECS = {spec.key: spec for spec in function_specs(EVENT_QUEUE.worker_timeout_seconds)}
COMMON_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "CLERK_SECRETS_ARN",
    "CLERK_API_URL",
    "CLERK_ISSUER",
    "CLERK_AUTHORIZED_PARTIES",
    "ADMIN_USER_IDS",
    "ADMIN_METADATA_FLAG",
    "USER_FRESHNESS_SECONDS",
    "LOGIN_SYNC_BUDGET_SECONDS",
    "USER_EVENT_MEMBERSHIP_SYNC",
    "SCRUB_PII_ON_DELETE",
    "STORE_PRIVATE_METADATA",
    "HISTORY_TTL_DAYS",
    "SYNC_CALLER_LIMIT",
    "SYNC_CALLER_WINDOW_SECONDS",
    "CLERK_RATE_LIMIT",
    "CLERK_BULK_SHARE",
}
CONSUME_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
)


def _function(synth: Synth, stage: str, key: str) -> dict[str, Any]:
    return synth.resource(stage, synth.stacks[stage].functions.functions[key])


def _statement_set(statements: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """Statements as (effect, action, resource) triples: insensitive to order and to CDK merging statements."""
    normalized = set()
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        for action in actions:
            for resource in resources:
                normalized.add((statement["Effect"], action, json.dumps(resource, sort_keys=True)))
    return normalized


def _role_statements(synth: Synth, stage: str, key: str) -> list[dict[str, Any]]:
    function = _function(synth, stage, key)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    statements: list[dict[str, Any]] = []
    for policy in synth.resources(stage, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def test_every_handler_has_one_function(synth: Synth, stage: str) -> None:
    functions = synth.resources(stage, "AWS::Lambda::Function")
    assert sorted(f["Properties"]["Handler"] for f in functions.values()) == sorted(HANDLERS.values())
    for key, handler in HANDLERS.items():
        assert _function(synth, stage, key)["Properties"]["Handler"] == handler


@pytest.mark.parametrize("key", sorted(HANDLERS))
def test_every_handler_string_names_a_handler_in_the_code_asset(key: str) -> None:
    # Synth does not import handlers; a wrong string would deploy and fail every invocation (ImportModuleError).
    module, _, function = HANDLERS[key].rpartition(".")  # type: ignore[index]
    path = ROOT / "functions" / Path(*module.split(".")).with_suffix(".py")
    assert path.is_file(), f"{HANDLERS[key]}: no {path.relative_to(ROOT)}"  # type: ignore[index]
    tree = ast.parse(path.read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assigned = (target for node in tree.body if isinstance(node, ast.Assign) for target in node.targets)
    defined |= {target.id for target in assigned if isinstance(target, ast.Name)}
    assert function in defined, f"{path.relative_to(ROOT)} defines no top-level {function!r}"


def test_functions_run_the_tested_python_on_arm64_with_one_code_asset_and_layer(synth: Synth, stage: str) -> None:
    functions = list(synth.resources(stage, "AWS::Lambda::Function").values())
    (layer_id,) = synth.resources(stage, "AWS::Lambda::LayerVersion")
    # Python 3.11, the version these tests run on (docs/decisions/0024).
    tested = f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert {f["Properties"]["Runtime"] for f in functions} == {tested} == {"python3.11"}
    assert {tuple(f["Properties"]["Architectures"]) for f in functions} == {("arm64",)}
    assert len({f["Properties"]["Code"]["S3Key"] for f in functions}) == 1
    assert all(f["Properties"]["Layers"] == [{"Ref": layer_id}] for f in functions)
    layer = synth.resources(stage, "AWS::Lambda::LayerVersion")[layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.11"]
    assert layer["CompatibleArchitectures"] == ["arm64"]


def test_code_asset_is_functions_dir_without_bytecode(synth: Synth) -> None:
    s3_key = _function(synth, "dev", "worker")["Properties"]["Code"]["S3Key"]
    asset = synth.outdir / f"asset.{s3_key.removesuffix('.zip')}"
    assert (asset / "clerk_sync" / "keys.py").is_file()
    # Files other than Python ship too: the console's shell is read from the package per request.
    for name in ("index.html", "console.js", "console.css"):
        assert (asset / "clerk_sync" / "console" / name).is_file()
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("*.pyc"))


def test_layer_asset_excludes_build_stamp(synth: Synth, stub_layer: Path) -> None:
    (layer,) = synth.resources("dev", "AWS::Lambda::LayerVersion").values()
    asset = synth.outdir / f"asset.{layer['Properties']['Content']['S3Key'].removesuffix('.zip')}"
    assert (asset / "python" / "stub_dependency.py").is_file()
    assert (stub_layer / ".stamp").exists()
    assert not (asset / ".stamp").exists()


def test_assets_are_local_files_so_synth_needs_no_docker_or_download(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    manifest = json.loads((synth.outdir / f"{stack.artifact_id}.assets.json").read_text())
    assert not manifest.get("dockerImages")
    sources = [asset["source"] for asset in manifest["files"].values()]
    # Only the template, the code asset and the layer; each already staged on disk, no build command.
    assert sorted(source["packaging"] for source in sources) == ["file", "zip", "zip"]
    for source in sources:
        assert set(source) == {"path", "packaging"}, source
        assert (synth.outdir / source["path"]).exists()


def test_function_sizes_fit_their_callers(synth: Synth, stage: str) -> None:
    for key, spec in SPECS.items():
        props = _function(synth, stage, key)["Properties"]
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout_seconds
    # Svix expects a 2xx within 15 s; HTTP API integrations end at 30 s.
    assert SPECS["webhook"].timeout_seconds < 15
    assert SPECS["sync_api"].timeout_seconds < 30
    assert SPECS["authorizer"].timeout_seconds <= 10
    assert SPECS["worker"].timeout_seconds == EVENT_QUEUE.worker_timeout_seconds


def test_function_environment_has_exactly_what_each_function_reads(synth: Synth, stage: str) -> None:
    config = synth.stacks[stage].stage_config
    for key, spec in SPECS.items():
        env = _function(synth, stage, key)["Properties"]["Environment"]["Variables"]
        expected = set(COMMON_ENV)
        expected |= {"TABLE_NAME"} if spec.table else set()
        expected |= {"EVENTS_QUEUE_URL"} if spec.send else set()
        expected |= {"DLQ_URL"} if spec.dead_letters else set()
        expected |= {"CLERK_INSTANCE_ID"} if config.clerk_instance_id else set()
        expected |= {"CLERK_JWT_KEY"} if config.clerk_jwt_key else set()
        expected |= {"CLERK_JWKS_URL"} if config.clerk_jwks_url else set()
        assert set(env) == expected, key
        assert env["POWERTOOLS_SERVICE_NAME"] == "clerk-sync"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ClerkSync"
        assert env["POWERTOOLS_LOG_LEVEL"] == config.log_level
        assert env["CLERK_API_URL"] == "https://api.clerk.com"
        assert env["CLERK_AUTHORIZED_PARTIES"] == ",".join(config.clerk_authorized_parties)
        assert env["USER_FRESHNESS_SECONDS"] == str(config.user_freshness_seconds)
        assert env["LOGIN_SYNC_BUDGET_SECONDS"] == str(config.login_sync_budget_seconds)
        assert env["ADMIN_METADATA_FLAG"] == config.admin_metadata_flag
        assert env["USER_EVENT_MEMBERSHIP_SYNC"] == config.user_event_membership_sync
        assert env["CLERK_RATE_LIMIT"] == {"dev": "100", "prod": "1000"}[stage]  # Clerk's limits per instance type
        assert env["CLERK_BULK_SHARE"] == str(config.clerk_bulk_share)


def test_function_environment_carries_no_secret_value(synth: Synth, stage: str) -> None:
    for key in SPECS:
        env = _function(synth, stage, key)["Properties"]["Environment"]["Variables"]
        # Secrets are read at runtime from CLERK_SECRETS_ARN, never passed as variables.
        assert not {"CLERK_SECRET_KEY", "CLERK_WEBHOOK_SECRET", "CLERK_WEBHOOK_SIGNING_SECRET"} & set(env), key
        for value in env.values():
            assert not (isinstance(value, str) and value.startswith(("sk_", "whsec_"))), key


def test_functions_log_to_own_group_with_stage_retention(synth: Synth, stage: str) -> None:
    config = synth.stacks[stage].stage_config
    log_groups = synth.resources(stage, "AWS::Logs::LogGroup")
    for key in SPECS:
        group_id = _function(synth, stage, key)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        group = log_groups[group_id]
        assert group["Properties"]["RetentionInDays"] == config.log_retention_days
        assert group["DeletionPolicy"] == ("Retain" if config.is_retained else "Delete")


def test_worker_event_source_uses_partial_batch_responses_and_max_concurrency(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    (mapping,) = synth.resources(stage, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"] == {
        "BatchSize": EVENT_QUEUE.batch_size,
        "EventSourceArn": _arn(synth.logical_id(stage, stack.events.queue)),
        "FunctionName": {"Ref": synth.logical_id(stage, stack.functions.worker)},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "MaximumBatchingWindowInSeconds": EVENT_QUEUE.batching_window_seconds,
        "ScalingConfig": {"MaximumConcurrency": stack.stage_config.worker_max_concurrency},
        "Tags": mapping["Properties"]["Tags"],
    }


@pytest.mark.parametrize("key", sorted(SPECS))
def test_function_role_has_exactly_its_grants(synth: Synth, stage: str, key: str) -> None:
    stack = synth.stacks[stage]
    spec = SPECS[key]
    table_arn = _arn(synth.logical_id(stage, stack.table.table))
    queue_arn = _arn(synth.logical_id(stage, stack.events.queue))
    expected = [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": _arn(synth.logical_id(stage, stack.functions.log_groups[key])),
        },
        {
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": {"Ref": synth.logical_id(stage, stack.secret)},
        },
    ]
    if spec.table:
        expected.append(
            {
                "Effect": "Allow",
                "Action": list(TABLE_DATA_ACTIONS),
                "Resource": [table_arn, {"Fn::Join": ["", [table_arn, "/index/GSI1"]]}],
            }
        )
    if spec.send:
        expected.append({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue_arn})
    if spec.consume:
        expected.append({"Effect": "Allow", "Action": list(CONSUME_ACTIONS), "Resource": queue_arn})
    if spec.dead_letters:
        dlq_arn = _arn(synth.logical_id(stage, stack.events.dlq))
        expected.append({"Effect": "Allow", "Action": list(DEAD_LETTER_ACTIONS), "Resource": dlq_arn})
    assert _statement_set(_role_statements(synth, stage, key)) == _statement_set(expected)


def test_least_privilege_matrix_matches_the_design() -> None:
    grants = {key: (spec.table, spec.send, spec.consume, spec.dead_letters) for key, spec in SPECS.items()}
    assert grants == {
        "webhook": (False, True, False, False),
        "worker": (True, True, True, False),
        "sync_api": (True, True, False, True),  # the admin API looks at and replays the DLQ
        "authorizer": (True, True, False, False),
    }


def _aws_calls_in_functions(service: str) -> dict[str, set[str]]:
    """`service` client operations (botocore names) called anywhere in functions/, with the files calling them."""
    import botocore.session
    from botocore import xform_name

    operations = botocore.session.get_session().get_service_model(service).operation_names
    by_method = {xform_name(name): name for name in operations}
    calls: dict[str, set[str]] = {}
    for path in sorted((ROOT / "functions").rglob("*.py")):
        source = path.read_text()
        # Called, or passed on to be called (clerk_sync/dlq.py hands `self._sqs.receive_message` to its error wrapper).
        methods = set(re.findall(r"\.(\w+)[(,]", source)) | set(re.findall(r"get_paginator\(\s*[\"'](\w+)", source))
        for method in methods & set(by_method):
            calls.setdefault(by_method[method], set()).add(str(path.relative_to(ROOT)))
    return calls


# IAM has no action for a transaction as a whole: each item is authorized as its own operation.
TRANSACT_WRITE_ITEM_ACTIONS = {"PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"}


def test_table_actions_are_exactly_the_dynamodb_operations_functions_call() -> None:
    calls = _aws_calls_in_functions("dynamodb")
    assert "GetItem" in calls, "the scan of functions/ found no DynamoDB calls: fix the test"
    if "TransactWriteItems" in calls:
        for action in TRANSACT_WRITE_ITEM_ACTIONS:
            calls.setdefault(action, set()).update(calls["TransactWriteItems"])
        del calls["TransactWriteItems"]
    granted = {action.removeprefix("dynamodb:") for action in TABLE_DATA_ACTIONS}
    missing = {op: sorted(files) for op, files in calls.items() if op not in granted}
    assert not missing, f"add to infra/functions.py TABLE_DATA_ACTIONS: {missing}"
    assert not granted - set(calls), f"granted but never called: {sorted(granted - set(calls))}"


# The DLQ operations clerk_sync/dlq.py issues, as IAM names them (the batch form is authorized as the single one).
DEAD_LETTER_OPERATIONS = {
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "DeleteMessage": "DeleteMessage",
    "GetQueueAttributes": "GetQueueAttributes",
    "ReceiveMessage": "ReceiveMessage",
}


def test_functions_call_no_sqs_operation_beyond_send_and_the_dlq_module() -> None:
    # Receiving and deleting from the event queue is the event source mapping's job; code only sends
    # (sqs:SendMessage covers batches), but for clerk_sync/dlq.py, which works the DLQ for the admin API.
    calls = _aws_calls_in_functions("sqs")
    assert "SendMessage" in calls, "the scan of functions/ found no SQS calls: fix the test"
    dlq_module = "functions/clerk_sync/dlq.py"
    extra = {
        op: sorted(files)
        for op, files in calls.items()
        if op not in {"SendMessage", "SendMessageBatch"} and (op not in DEAD_LETTER_OPERATIONS or files != {dlq_module})
    }
    assert not extra, f"grant these in infra/functions.py (FunctionSpec) first: {extra}"
    granted = {action.removeprefix("sqs:") for action in DEAD_LETTER_ACTIONS}
    assert {DEAD_LETTER_OPERATIONS[op] for op in calls if op in DEAD_LETTER_OPERATIONS} == granted


def test_roles_have_no_managed_policies_and_trust_only_lambda(synth: Synth, stage: str) -> None:
    # The one other role is the reconcile schedule's (tests/infra/test_schedule.py).
    (schedule,) = synth.resources(stage, "AWS::Scheduler::Schedule").values()
    schedule_role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    for logical_id, role in synth.resources(stage, "AWS::IAM::Role").items():
        props = role["Properties"]
        assert "ManagedPolicyArns" not in props
        assert "Policies" not in props
        (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
        service = "scheduler.amazonaws.com" if logical_id == schedule_role else "lambda.amazonaws.com"
        assert trust["Principal"] == {"Service": service}


def test_no_iam_policy_uses_wildcards(synth: Synth, stage: str) -> None:
    for policy in synth.resources(stage, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert "*" not in json.dumps(statement["Resource"]), statement
            assert "*" not in json.dumps(statement["Action"]), statement


def test_bench_cost_model_prices_the_deployed_memory_sizes() -> None:
    from clerk_sync_local.bench import burst

    assert SPECS["webhook"].memory_mb == burst.WEBHOOK_MEMORY_MB
    assert SPECS["worker"].memory_mb == burst.WORKER_MEMORY_MB
