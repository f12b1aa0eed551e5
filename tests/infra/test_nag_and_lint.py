"""AWS's own rules: cdk-nag AwsSolutions with only reasoned acknowledgments, cfn-lint with no findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Synth

# Every accepted finding, by construct path under the stack. A new one must be added here on purpose.
EXPECTED_ACKNOWLEDGMENTS = {
    ("ClerkSecrets", "AwsSolutions-SMG4"),
    ("Api/HttpApi/POST--api--webhooks--clerk", "AwsSolutions-APIG4"),
    # The console's static shell: no data; its data routes are authorized (docs/decisions/0030).
    ("Api/HttpApi/GET--console", "AwsSolutions-APIG4"),
    ("Api/HttpApi/GET--console--{asset}", "AwsSolutions-APIG4"),
    # Not the newest Lambda runtime: the one the tests run on (docs/decisions/0024).
    *((f"Functions/{function}", "AwsSolutions-L1") for function in ("Webhook", "Worker", "SyncApi", "Authorizer")),
}


def test_cdk_nag_passes_with_no_unacknowledged_findings(synth: Synth) -> None:
    # The session synth ran the AwsSolutions plugin, which raises on any finding; the report confirms.
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin.get("violations", [])]
    assert violations == []


def test_create_app_enables_cdk_nag(tmp_path: Path) -> None:
    """A canary: the same app factory rejects a plainly non-compliant queue."""
    from aws_cdk import Stack
    from aws_cdk import aws_sqs as sqs

    import app as entry

    cdk_app = entry.create_app(outdir=str(tmp_path))
    sqs.Queue(Stack(cdk_app, "Canary"), "PlainQueue")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        cdk_app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-SQS3", "AwsSolutions-SQS4"} <= rules


def test_every_acknowledgment_is_expected_and_has_a_reason(synth: Synth, stage: str) -> None:
    from aws_cdk import Validations

    stack = synth.stacks[stage]
    found = set()
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for annotation, reason in entry.data.items():
                rule = annotation.removeprefix("Annotation::")
                path = construct.node.path.removeprefix(stack.node.path + "/")
                found.add((path, rule))
                assert len(reason) >= 40, f"{rule} on {path}: give a real reason"
    assert found == EXPECTED_ACKNOWLEDGMENTS


# Every wildcard in any policy of the template, with why AWS needs it; anything else fails.
JUSTIFIED_WILDCARDS = {
    # A key policy's Resource is always "*": it means the key the policy is attached to.
    ("AWS::KMS::Key", "Allow", "kms:*"): "CDK's default: the account administers its own key",
    ("AWS::KMS::Key", "Allow", "kms:Decrypt"): "CloudWatch decrypts for the alarm topic; '*' is this key",
    ("AWS::KMS::Key", "Allow", "kms:GenerateDataKey*"): "CloudWatch publishes to the encrypted topic",
    # Denies only take away: "deny every principal every action over plain HTTP".
    ("AWS::SQS::QueuePolicy", "Deny", "sqs:*"): "TLS-only queue access",
}


def _policy_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        document = props.get("PolicyDocument") or props.get("KeyPolicy")
        if document:
            found.extend((resource["Type"], statement) for statement in document["Statement"])
    return found


def test_wildcards_appear_only_where_aws_requires_them(synth: Synth, stage: str) -> None:
    for resource_type, statement in _policy_statements(synth.template_json(stage)):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = json.dumps(statement.get("Resource"))
        if "*" not in json.dumps(actions) and "*" not in resources:
            continue
        for action in actions:
            assert (resource_type, statement["Effect"], action) in JUSTIFIED_WILDCARDS, (resource_type, statement)


def test_cfn_lint_finds_nothing(synth: Synth, stage: str) -> None:
    from cfnlint.api import ManualArgs, lint

    template = json.dumps(synth.template_json(stage))
    # W3005 (redundant DependsOn) flags what CDK generates for roles and policies: not ours to fix.
    matches = lint(template, config=ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]))
    assert [str(m) for m in matches] == []
