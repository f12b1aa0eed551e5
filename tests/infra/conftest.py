"""Synthesize the app once per session (dev and prod stacks, cdk-nag on) with a stub layer.

Offline and build-free: the layer is a stub directory, assets are staged into a temp dir, and nothing is
downloaded. A cdk-nag finding makes the synth raise; the fixture then fails with the report's findings.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# jsii prints a Node end-of-life banner on every start unless told not to; set before aws_cdk loads.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import pytest

STAGES = ("dev", "prod")


@dataclass(frozen=True)
class Synth:
    """The synthesized app: stacks and templates by stage name, plus the cloud assembly directory."""

    stacks: dict[str, Any]  # stage -> ClerkSyncStack
    templates: dict[str, Any]  # stage -> aws_cdk.assertions.Template
    outdir: Path

    def template_json(self, stage: str) -> dict[str, Any]:
        result: dict[str, Any] = self.templates[stage].to_json()
        return result

    def resources(self, stage: str, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template_json(stage)["Resources"].items()
            if resource["Type"] == resource_type
        }

    def logical_id(self, stage: str, construct: Any) -> str:
        """Logical id of an L2 construct's CloudFormation resource."""
        stack = self.stacks[stage]
        logical_id: str = stack.resolve(construct.node.default_child.logical_id)
        return logical_id

    def resource(self, stage: str, construct: Any) -> dict[str, Any]:
        resource: dict[str, Any] = self.template_json(stage)["Resources"][self.logical_id(stage, construct)]
        return resource


def _validation_failures(outdir: Path) -> str:
    report_path = outdir / "validation-report.json"
    if not report_path.exists():
        return "(no validation-report.json)"
    lines = []
    for plugin in json.loads(report_path.read_text()).get("pluginReports", []):
        for violation in plugin.get("violations", []):
            paths = ", ".join(c["constructPath"] for c in violation.get("violatingConstructs", []))
            lines.append(f"{violation['ruleName']}: {paths}")
    return "\n".join(lines)


@pytest.fixture(params=STAGES)
def stage(request: pytest.FixtureRequest) -> str:
    """Runs a test once per stage."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def stub_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stands in for layers/build: python/ with one file, plus the build stamp the asset must exclude."""
    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "stub_dependency.py").write_text("# stands in for the real dependencies\n")
    (layer / ".stamp").write_text("not part of the layer\n")
    return layer


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory, stub_layer: Path) -> Synth:
    from aws_cdk.assertions import Template

    import app as entry

    outdir = tmp_path_factory.mktemp("cdk.out")
    cdk_app = entry.create_app(context={entry.LAYER_DIR_CONTEXT_KEY: str(stub_layer)}, outdir=str(outdir))
    stacks = {stage: entry.build(cdk_app, stage) for stage in STAGES}
    try:
        assembly = cdk_app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        pytest.fail(f"cdk-nag findings without acknowledgment:\n{_validation_failures(outdir)}", pytrace=False)
    # From the assembly, not Template.from_stack: that would synthesize again.
    templates = {
        stage: Template.from_json(assembly.get_stack_by_name(stack.stack_name).template)
        for stage, stack in stacks.items()
    }
    return Synth(stacks=stacks, templates=templates, outdir=outdir)
