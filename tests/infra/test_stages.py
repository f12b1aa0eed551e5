"""Stage selection and validation: a missing, unknown or malformed stage is a clear error at synth time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from infra.stages import StageConfig, StageConfigError, load_stage

ROOT = Path(__file__).resolve().parents[2]


def _cdk_json_stages() -> dict[str, Any]:
    stages: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text())["context"]["stages"]
    return stages


def test_cdk_json_stages_all_validate() -> None:
    stages = _cdk_json_stages()
    assert {"dev", "prod"} <= set(stages)
    for name in stages:
        assert load_stage(stages, name).name == name


def test_cdk_json_stages_spell_out_every_setting() -> None:
    # Explicit values in both stages, so cdk.json reads as the full configuration (docs/deploy.md lists them).
    optional = {"name", "account", "region"}
    for name, raw in _cdk_json_stages().items():
        assert set(raw) == set(StageConfig.model_fields) - optional, name


def test_prod_stage_retains_data_and_alarms_on_silence() -> None:
    prod = load_stage(_cdk_json_stages(), "prod")
    dev = load_stage(_cdk_json_stages(), "dev")
    assert prod.is_retained
    assert not dev.is_retained
    assert prod.webhook_silence_alarm_hours > 0
    assert prod.log_level == "INFO"


@pytest.mark.parametrize("stage", [None, ""])
def test_load_stage_missing_stage_names_the_flag_and_choices(stage: str | None) -> None:
    with pytest.raises(StageConfigError, match=r"no stage selected: pass -c stage=<name> \(one of: dev, prod\)"):
        load_stage(_cdk_json_stages(), stage)


def test_load_stage_unknown_stage_lists_known_stages() -> None:
    with pytest.raises(StageConfigError, match=r"unknown stage 'staging': cdk.json defines dev, prod"):
        load_stage(_cdk_json_stages(), "staging")


def test_load_stage_without_stages_object_says_so() -> None:
    with pytest.raises(StageConfigError, match="no 'stages' object"):
        load_stage(None, "dev")


def test_load_stage_invalid_field_names_stage_and_field() -> None:
    stages = _cdk_json_stages()
    broken = {"dev": {**stages["dev"], "log_retention_days": 10, "worker_max_concurrency": 1}}
    with pytest.raises(StageConfigError) as raised:
        load_stage(broken, "dev")
    message = str(raised.value)
    assert message.startswith("stage 'dev' in cdk.json is invalid")
    assert "log_retention_days" in message
    assert "worker_max_concurrency" in message


def test_load_stage_unknown_field_is_rejected() -> None:
    stages = _cdk_json_stages()
    with pytest.raises(StageConfigError, match="log_levle"):
        load_stage({"dev": {**stages["dev"], "log_levle": "INFO"}}, "dev")


def test_load_stage_authorized_party_must_be_an_origin() -> None:
    stages = _cdk_json_stages()
    with pytest.raises(StageConfigError, match=r"clerk_authorized_parties.*not an origin"):
        load_stage({"dev": {**stages["dev"], "clerk_authorized_parties": ["https://app.example.com/"]}}, "dev")


def test_load_stage_topic_and_email_together_is_rejected() -> None:
    stages = _cdk_json_stages()
    both = {
        **stages["prod"],
        "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:pager",
        "alarm_email": "ops@example.com",
    }
    with pytest.raises(StageConfigError, match="alarm_topic_arn or alarm_email, not both"):
        load_stage({"prod": both}, "prod")


MINIMAL_STAGE = {
    "name": "t",
    "stack_name": "clerk-sync-t",
    "clerk_issuer": "https://clerk.example.com/",
    "clerk_authorized_parties": ["https://a.example.com"],
}


def _with(**fields: Any) -> dict[str, Any]:
    """cdk.json's stages with dev's entry changed by `fields`."""
    stages = _cdk_json_stages()
    return {"dev": {**stages["dev"], **fields}}


def test_function_environment_joins_lists_and_omits_unset_optionals() -> None:
    stage = StageConfig.model_validate(
        {
            **MINIMAL_STAGE,
            "clerk_authorized_parties": ["https://a.example.com", "https://b.example.com"],
            "admin_user_ids": ["user_1", "user_2"],
            "log_level": "WARNING",
        }
    )
    env = stage.function_environment()
    assert env["CLERK_AUTHORIZED_PARTIES"] == "https://a.example.com,https://b.example.com"
    assert env["ADMIN_USER_IDS"] == "user_1,user_2"
    assert env["CLERK_ISSUER"] == "https://clerk.example.com"
    assert env["POWERTOOLS_LOG_LEVEL"] == "WARNING"
    assert env["SCRUB_PII_ON_DELETE"] == "true"
    assert env["STORE_PRIVATE_METADATA"] == "false"
    assert env["HISTORY_TTL_DAYS"] == "30"
    assert (env["SYNC_CALLER_LIMIT"], env["SYNC_CALLER_WINDOW_SECONDS"]) == ("1", "10")
    assert "CLERK_JWT_KEY" not in env
    assert "CLERK_INSTANCE_ID" not in env
    assert "CLERK_JWKS_URL" not in env


def test_function_environment_defaults_match_the_runtime_defaults() -> None:
    env = StageConfig.model_validate(MINIMAL_STAGE).function_environment()
    assert env["CLERK_API_URL"] == "https://api.clerk.com"
    assert env["LOGIN_SYNC_BUDGET_SECONDS"] == "1.5"
    assert env["ADMIN_METADATA_FLAG"] == "role=admin"
    assert env["USER_EVENT_MEMBERSHIP_SYNC"] == "missing"


def test_function_environment_maps_every_runtime_setting() -> None:
    stage = StageConfig.model_validate(
        {
            **MINIMAL_STAGE,
            "clerk_api_url": "https://clerk-proxy.example.com/",
            "clerk_jwks_url": "https://clerk.example.com/.well-known/jwks.json",
            "clerk_jwt_key": "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "clerk_instance_id": "ins_123",
            "login_sync_budget_seconds": 2.5,
            "admin_metadata_flag": "platform_admin=true",
            "user_event_membership_sync": "always",
            "user_freshness_seconds": 120,
            "scrub_pii_on_delete": False,
            "store_private_metadata": True,
        }
    )
    env = stage.function_environment()
    assert env["CLERK_API_URL"] == "https://clerk-proxy.example.com"
    assert env["CLERK_JWKS_URL"] == "https://clerk.example.com/.well-known/jwks.json"
    assert env["CLERK_JWT_KEY"].startswith("-----BEGIN PUBLIC KEY-----")
    assert env["CLERK_INSTANCE_ID"] == "ins_123"
    assert env["LOGIN_SYNC_BUDGET_SECONDS"] == "2.5"
    assert env["ADMIN_METADATA_FLAG"] == "platform_admin=true"
    assert env["USER_EVENT_MEMBERSHIP_SYNC"] == "always"
    assert env["USER_FRESHNESS_SECONDS"] == "120"
    assert env["SCRUB_PII_ON_DELETE"] == "false"
    assert env["STORE_PRIVATE_METADATA"] == "true"


def test_function_environment_empty_admin_flag_is_kept_to_disable_it() -> None:
    env = StageConfig.model_validate({**MINIMAL_STAGE, "admin_metadata_flag": ""}).function_environment()
    # Left out, the runtime would apply its default role=admin; empty is how a stage turns the flag off.
    assert env["ADMIN_METADATA_FLAG"] == ""


@pytest.mark.parametrize(
    "url", ["https://api.clerk.com/v1", "https://api.clerk.com/v1/", "https://clerk-proxy.example.com/clerk/v1"]
)
def test_load_stage_clerk_api_url_with_version_is_rejected(url: str) -> None:
    with pytest.raises(StageConfigError, match=r"clerk_api_url: .*without /v1 .*https://api.clerk.com"):
        load_stage(_with(clerk_api_url=url), "dev")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("login_sync_budget_seconds", 0),
        ("login_sync_budget_seconds", 5.5),
        ("admin_metadata_flag", "role"),
        ("admin_metadata_flag", "=admin"),
        ("admin_metadata_flag", "role=a b"),
        ("user_event_membership_sync", "sometimes"),
        ("clerk_jwks_url", "not a url"),
        ("admin_user_ids", ["alice"]),
        ("clerk_issuer", "http://clerk.example.com"),
        ("clerk_jwks_url", "http://clerk.example.com/.well-known/jwks.json"),
        ("clerk_api_url", "http://api.clerk.com"),
        ("clerk_jwt_key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"),
        ("region", "Europe"),
        ("account", "12345"),
        ("clerk_rate_limit", 5),
        ("clerk_bulk_share", 0),
        ("clerk_bulk_share", 1.5),
    ],
)
def test_load_stage_invalid_runtime_setting_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(StageConfigError, match=rf"stage 'dev' in cdk.json is invalid: {field}"):
        load_stage(_with(**{field: value}), "dev")


@pytest.mark.parametrize(
    ("field", "value"),
    [("login_sync_budget_seconds", 5), ("admin_metadata_flag", ""), ("clerk_rate_limit", 10), ("clerk_bulk_share", 1)],
)
def test_load_stage_boundary_runtime_settings_are_accepted(field: str, value: Any) -> None:
    assert getattr(load_stage(_with(**{field: value}), "dev"), field) == value


@pytest.mark.parametrize(
    ("context", "expected"),
    [({}, "no stage selected"), ({"stage": "staging"}, "unknown stage 'staging'")],
)
def test_build_bad_stage_raises_before_any_construct(context: dict[str, str], expected: str) -> None:
    import app as entry

    cdk_app = entry.create_app(context=context)
    with pytest.raises(StageConfigError, match=expected):
        entry.build(cdk_app)
    assert not cdk_app.node.children


def test_app_entry_point_without_stage_exits_with_clear_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": "{}",
        "CDK_OUTDIR": str(tmp_path),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(  # noqa: S603  # our own interpreter and entry point
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "error: no stage selected: pass -c stage=<name> (one of: dev, prod)" in result.stderr
    assert "Traceback" not in result.stderr


def test_load_stage_environment_beyond_lambda_limit_is_rejected() -> None:
    admins = [f"user_{n:027d}" for n in range(100)]  # Clerk ids are ~32 characters
    with pytest.raises(StageConfigError, match=r"environment from this stage is \d+ bytes; Lambda allows 4 KB"):
        load_stage(_with(admin_user_ids=admins), "dev")


@pytest.mark.parametrize("value", ["production", "ins_", "INS_123", "ins_12 3"])
def test_stage_clerk_instance_id_must_be_an_instance_id_or_empty(value: str) -> None:
    with pytest.raises(ValidationError, match="clerk_instance_id"):
        StageConfig.model_validate({**MINIMAL_STAGE, "clerk_instance_id": value})


def test_stage_bulk_share_too_small_for_its_rate_limit_is_rejected() -> None:
    with pytest.raises(StageConfigError, match="clerk_rate_limit / clerk_bulk_share"):
        load_stage(_with(clerk_rate_limit=100, clerk_bulk_share=0.01), "dev")


def test_cdk_json_stages_set_clerks_limit_per_instance_type() -> None:
    stages = json.loads((ROOT / "cdk.json").read_text())["context"]["stages"]
    assert (stages["dev"]["clerk_rate_limit"], stages["prod"]["clerk_rate_limit"]) == (100, 1000)


def test_stage_defaults_alarm_after_a_day_of_silence_and_reconcile_daily() -> None:
    stage = StageConfig.model_validate(MINIMAL_STAGE)
    assert stage.webhook_silence_alarm_hours == 24
    assert stage.reconcile_schedule == "rate(1 day)"
    assert stage.reconcile_drift_alarm_threshold == 100


def test_load_stage_renamed_silence_setting_names_the_new_one() -> None:
    stages = _cdk_json_stages()
    old = {key: value for key, value in stages["prod"].items() if key != "webhook_silence_alarm_hours"}
    with pytest.raises(StageConfigError, match="webhook_silence_hours is now called webhook_silence_alarm_hours"):
        load_stage({"prod": {**old, "webhook_silence_hours": 6}}, "prod")


@pytest.mark.parametrize("expression", ["rate(1 day)", "rate(6 hours)", "rate(30 minutes)", "cron(0 3 * * ? *)", ""])
def test_stage_reconcile_schedule_accepts_scheduler_expressions_or_empty_for_none(expression: str) -> None:
    assert load_stage(_with(reconcile_schedule=expression), "dev").reconcile_schedule == expression


@pytest.mark.parametrize(
    "expression",
    [
        "daily",
        "rate(1 days)",
        "rate(2 day)",
        "rate(0 days)",
        "rate(1 week)",
        "cron(0 3 * * ?)",
        "at(2030-01-01T00:00:00)",
        None,
    ],
)
def test_stage_reconcile_schedule_refuses_other_expressions(expression: str | None) -> None:
    with pytest.raises(StageConfigError, match=r"stage 'dev' in cdk.json is invalid: reconcile_schedule"):
        load_stage(_with(reconcile_schedule=expression), "dev")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("webhook_silence_alarm_hours", 25),
        ("webhook_silence_alarm_hours", None),  # CDK drops a null from its context: 0 is off
        ("reconcile_drift_alarm_threshold", -1),
    ],
)
def test_stage_alarm_settings_out_of_range_are_refused(field: str, value: int) -> None:
    with pytest.raises(StageConfigError, match=rf"invalid: {field}"):
        load_stage(_with(**{field: value}), "dev")
