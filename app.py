#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c stage=dev`, `cdk deploy -c stage=prod`.

Also runs without the CLI (`CDK_CONTEXT_JSON='{"stage":"dev"}' python app.py`): the context in cdk.json is
loaded here too, and the CLI's context, when present, overrides it key by key.
The layer directory defaults to layers/build (built by `make layer`); the `layer_dir` context value or
CLERK_SYNC_LAYER_DIR points elsewhere, e.g. at a stub so synth never needs the real build.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
# The stack imports the shared key schema and resource definitions from the Lambda code asset.
if str(ROOT / "functions") not in sys.path:
    sys.path.insert(0, str(ROOT / "functions"))

import aws_cdk as cdk  # noqa: E402

from infra.stack import ClerkSyncStack, add_security_checks  # noqa: E402
from infra.stages import STAGE_CONTEXT_KEY, STAGES_CONTEXT_KEY, StageConfigError, load_stage  # noqa: E402

LAYER_DIR_CONTEXT_KEY = "layer_dir"
LAYER_DIR_ENV = "CLERK_SYNC_LAYER_DIR"


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]
    return context


def create_app(context: dict[str, Any] | None = None, **kwargs: Any) -> cdk.App:
    """An App with cdk.json's context (overridden by `context`, then by the CLI's) and cdk-nag on."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, **kwargs)
    add_security_checks(app)
    return app


def layer_dir(app: cdk.App) -> Path:
    configured = app.node.try_get_context(LAYER_DIR_CONTEXT_KEY) or os.environ.get(LAYER_DIR_ENV)
    return Path(configured).resolve() if configured else ROOT / "layers" / "build"


def build(app: cdk.App, stage_name: str | None = None) -> ClerkSyncStack:
    """The stack for `stage_name` (default: `-c stage=<name>`); a StageConfigError names what is wrong."""
    stage = load_stage(
        app.node.try_get_context(STAGES_CONTEXT_KEY), stage_name or app.node.try_get_context(STAGE_CONTEXT_KEY)
    )
    # An explicit account/region pins the stage; otherwise the CLI's current credentials decide.
    env = cdk.Environment(
        account=stage.account or os.environ.get("CDK_DEFAULT_ACCOUNT"),
        region=stage.region or os.environ.get("CDK_DEFAULT_REGION"),
    )
    return ClerkSyncStack(
        app, f"ClerkSync-{stage.name}", stage=stage, code_dir=ROOT / "functions", layer_dir=layer_dir(app), env=env
    )


def main() -> None:
    app = create_app()
    try:
        build(app)
    except (StageConfigError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
