"""ClerkSettings from the environment or Secrets Manager, and the process-wide client getter (wiring)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from clerk_sync import wiring
from clerk_sync.clerk import ClerkClient, RetryPolicy
from clerk_sync.clerk import settings as settings_module
from clerk_sync.clerk.settings import ClerkSettings
from clerk_sync.settings import SecretSettings
from clerk_sync.wiring import clerk_client as get_clerk_client
from clerk_sync.wiring import clerk_settings

ENV_KEY = "sk_test_fromENVIRONMENT123"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [
        "CLERK_SECRET_KEY",
        "CLERK_SECRETS_ARN",
        "CLERK_API_URL",
        "CLERK_CONNECT_TIMEOUT_SECONDS",
        "CLERK_READ_TIMEOUT_SECONDS",
        "CLERK_TIMEOUT_BUDGET_SECONDS",
        "CLERK_MAX_ATTEMPTS",
        "CLERK_BACKOFF_BASE_SECONDS",
        "CLERK_BACKOFF_CAP_SECONDS",
        "CLERK_RATE_LIMIT",
        "CLERK_BULK_SHARE",
        "CLERK_BUDGET_ENABLED",
        "TABLE_NAME",
    ]:
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    yield
    wiring.reset()


def test_clerk_settings_with_only_secret_key_uses_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)

    settings = ClerkSettings()

    assert settings.clerk_secret_key.get_secret_value() == ENV_KEY
    assert settings.clerk_api_url == "https://api.clerk.com"
    assert (settings.clerk_connect_timeout_seconds, settings.clerk_read_timeout_seconds) == (2.0, 5.0)
    assert settings.retry_policy == RetryPolicy(max_attempts=4, base_seconds=0.5, cap_seconds=8.0)
    assert ENV_KEY not in repr(settings)


def test_clerk_settings_from_environment_reads_every_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv("CLERK_API_URL", "http://127.0.0.1:8123/")
    monkeypatch.setenv("CLERK_READ_TIMEOUT_SECONDS", "1.5")
    monkeypatch.setenv("CLERK_TIMEOUT_BUDGET_SECONDS", "25")
    monkeypatch.setenv("CLERK_MAX_ATTEMPTS", "6")
    monkeypatch.setenv("CLERK_BACKOFF_BASE_SECONDS", "0.1")
    monkeypatch.setenv("CLERK_BACKOFF_CAP_SECONDS", "2")

    settings = ClerkSettings()

    assert settings.clerk_api_url == "http://127.0.0.1:8123"
    assert settings.clerk_read_timeout_seconds == 1.5
    assert settings.clerk_timeout_budget_seconds == 25
    assert settings.retry_policy == RetryPolicy(max_attempts=6, base_seconds=0.1, cap_seconds=2.0)


def test_clerk_settings_without_secret_key_fails_naming_it() -> None:
    with pytest.raises(ValidationError, match="clerk_secret_key"):
        ClerkSettings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CLERK_SECRET_KEY", "pk_test_notASecretKey", "CLERK_SECRET_KEY must be"),
        ("CLERK_API_URL", "https://api.clerk.com/v1", "must not end in /v1"),
        ("CLERK_API_URL", "api.clerk.com", "http\\(s\\) URL"),
        ("CLERK_BACKOFF_CAP_SECONDS", "0.1", "CAP_SECONDS must be at least"),
        ("CLERK_MAX_ATTEMPTS", "0", "clerk_max_attempts"),
    ],
)
def test_clerk_settings_invalid_value_fails_naming_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=message) as raised:
        ClerkSettings()

    if name == "CLERK_SECRET_KEY":
        assert value not in str(raised.value)


def test_clerk_settings_getter_with_secrets_arn_takes_key_from_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[SecretSettings] = []

    def fake_load_secrets(settings: SecretSettings) -> dict[str, Any]:
        asked.append(settings)
        return {"CLERK_SECRET_KEY": "sk_live_fromSECRETSMANAGER"}

    monkeypatch.setattr(settings_module, "load_secrets", fake_load_secrets)
    monkeypatch.setenv("CLERK_SECRETS_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clerk")
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)

    settings = clerk_settings()

    assert settings.clerk_secret_key.get_secret_value() == "sk_live_fromSECRETSMANAGER"
    assert [s.clerk_secrets_arn for s in asked] == ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:clerk"]
    assert clerk_settings() is settings
    assert len(asked) == 1  # cached: Secrets Manager is read once per cold start


def test_clerk_settings_getter_without_secrets_arn_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)

    assert clerk_settings().clerk_secret_key.get_secret_value() == ENV_KEY


def test_get_clerk_client_repeated_calls_reuse_one_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv("CLERK_API_URL", "http://127.0.0.1:9")

    client = get_clerk_client()

    assert isinstance(client, ClerkClient)
    assert get_clerk_client() is client
    assert repr(client) == "ClerkClient(api='http://127.0.0.1:9/v1')"
    client.close()


def test_get_clerk_client_after_unauthorized_builds_fresh_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    first = get_clerk_client()
    monkeypatch.setenv("CLERK_SECRET_KEY", "sk_test_rotatedKEY")

    wiring.forget_clerk_client()  # what a 401/403 triggers through on_unauthorized
    second = get_clerk_client()

    assert second is not first
    assert clerk_settings().clerk_secret_key.get_secret_value() == "sk_test_rotatedKEY"
    first.close()
    second.close()


def test_budget_settings_default_to_a_development_instance_and_half_for_bulk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)

    settings = ClerkSettings()

    assert (settings.clerk_rate_limit, settings.clerk_bulk_share, settings.clerk_budget_enabled) == (100, 0.5, True)
    assert (settings.budget_limits.rate_limit, settings.budget_limits.bulk_share) == (100, 0.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("CLERK_RATE_LIMIT", "5"), ("CLERK_BULK_SHARE", "0"), ("CLERK_BULK_SHARE", "1.5"), ("CLERK_BULK_SHARE", "0.01")],
)
def test_budget_settings_that_could_never_serve_a_request_fail_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=name if value == "0.01" else name.lower()):
        ClerkSettings()


def test_wired_client_has_the_tables_budget_at_the_configured_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    monkeypatch.setenv("TABLE_NAME", "clerk-sync-unit")
    monkeypatch.setenv("CLERK_RATE_LIMIT", "1000")
    monkeypatch.setenv("CLERK_BULK_SHARE", "0.25")

    budget = wiring.clerk_budget()

    assert budget is not None
    assert get_clerk_client().budget is budget
    assert (budget.limits.rate_limit, budget.limits.bulk_share) == (1000, 0.25)


@pytest.mark.parametrize("environment", [{"TABLE_NAME": "t", "CLERK_BUDGET_ENABLED": "false"}, {}])
def test_wired_client_has_no_budget_when_turned_off_or_without_a_table(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    monkeypatch.setenv("CLERK_SECRET_KEY", ENV_KEY)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    assert get_clerk_client().budget is None
