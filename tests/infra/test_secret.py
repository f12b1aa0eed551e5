"""The Clerk secrets live in one Secrets Manager secret the stack creates empty; no value is in the template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

from infra.stack import SECRET_KEYS

if TYPE_CHECKING:
    from conftest import Synth

ROOT = Path(__file__).resolve().parents[2]


def test_secret_is_created_as_an_empty_json_template(synth: Synth, stage: str) -> None:
    (secret,) = synth.resources(stage, "AWS::SecretsManager::Secret").values()
    props = secret["Properties"]
    assert "SecretString" not in props
    template = json.loads(props["GenerateSecretString"]["SecretStringTemplate"])
    assert template == dict.fromkeys(SECRET_KEYS, "")
    assert props["GenerateSecretString"]["GenerateStringKey"] not in SECRET_KEYS


def test_secret_keys_are_the_ones_the_settings_read() -> None:
    assert set(SECRET_KEYS) == {"CLERK_SECRET_KEY", "CLERK_WEBHOOK_SIGNING_SECRET"}
    # The runtime looks each key up in the secret's JSON: a renamed key on either side would read nothing.
    source = "".join(path.read_text() for path in (ROOT / "functions" / "clerk_sync").rglob("*.py"))
    for key in SECRET_KEYS:
        assert re.search(rf"\.get\(\s*\"{key}\"", source), key


def test_prod_secret_survives_stack_deletion(synth: Synth) -> None:
    (secret,) = synth.resources("prod", "AWS::SecretsManager::Secret").values()
    assert secret["DeletionPolicy"] == "Retain"


def test_no_secret_material_in_any_template(synth: Synth, stage: str) -> None:
    text = json.dumps(synth.template_json(stage))
    for marker in ("sk_live_", "sk_test_", "whsec_", "BEGIN PRIVATE KEY"):
        assert marker not in text
    # A dynamic reference would resolve the value into the function's configuration at deploy time.
    assert "resolve:secretsmanager" not in text


def test_every_function_gets_the_secret_arn(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    secret_ref = {"Ref": synth.logical_id(stage, stack.secret)}
    for function in stack.functions.functions.values():
        env = synth.resource(stage, function)["Properties"]["Environment"]["Variables"]
        assert env["CLERK_SECRETS_ARN"] == secret_ref
