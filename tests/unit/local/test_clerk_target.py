"""Mode selection: the emulator unless CLERK_SECRET_KEY is set; real Clerk then needs its secrets named."""

from __future__ import annotations

import pytest

from clerk_sync_local.stack.clerk_target import ClerkTargetError, real_clerk_from_environment

COMPLETE = {
    "CLERK_SECRET_KEY": "sk_test_abc",
    "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_c2VjcmV0",
    "CLERK_ISSUER": "https://example.clerk.accounts.dev/",
}


def test_real_clerk_without_secret_key_selects_emulator() -> None:
    assert real_clerk_from_environment({}) is None
    assert real_clerk_from_environment({"CLERK_SECRET_KEY": "  ", "CLERK_ISSUER": "https://x"}) is None


def test_real_clerk_complete_environment_gives_handler_variables() -> None:
    real = real_clerk_from_environment({**COMPLETE, "CLERK_JWT_KEY": "PEM", "ADMIN_USER_IDS": "user_a, user_b"})
    assert real is not None
    assert real.environment() == {
        "CLERK_API_URL": "https://api.clerk.com",
        "CLERK_SECRET_KEY": "sk_test_abc",
        "CLERK_WEBHOOK_SIGNING_SECRET": "whsec_c2VjcmV0",
        "CLERK_ISSUER": "https://example.clerk.accounts.dev",
        "CLERK_JWT_KEY": "PEM",
        "ADMIN_USER_IDS": "user_a, user_b",
    }
    assert real.admin_user_ids == ["user_a", "user_b"]


def test_real_clerk_accepts_the_older_webhook_secret_name() -> None:
    env = {**COMPLETE, "CLERK_WEBHOOK_SECRET": "whsec_b2xk"}
    del env["CLERK_WEBHOOK_SIGNING_SECRET"]
    real = real_clerk_from_environment(env)
    assert real is not None
    assert real.webhook_secret == "whsec_b2xk"


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_WEBHOOK_SIGNING_SECRET or CLERK_WEBHOOK_SECRET"),
        ("CLERK_ISSUER", "CLERK_ISSUER"),
    ],
)
def test_real_clerk_missing_variable_error_names_it(missing: str, named: str) -> None:
    env = {name: value for name, value in COMPLETE.items() if name != missing}
    with pytest.raises(ClerkTargetError, match=named):
        real_clerk_from_environment(env)


def test_real_clerk_both_missing_are_named_in_one_error() -> None:
    with pytest.raises(ClerkTargetError) as caught:
        real_clerk_from_environment({"CLERK_SECRET_KEY": "sk_test_abc"})
    assert "CLERK_WEBHOOK_SIGNING_SECRET" in str(caught.value)
    assert "CLERK_ISSUER" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("CLERK_SECRET_KEY", "pk_test_abc", "sk_test_"),
        ("CLERK_WEBHOOK_SIGNING_SECRET", "not-a-whsec", "whsec_"),
        ("CLERK_API_URL", "https://api.clerk.com/v1", "without /v1"),
        ("CLERK_ISSUER", "example.clerk.accounts.dev", "CLERK_ISSUER must be a URL"),
    ],
)
def test_real_clerk_malformed_value_is_refused(name: str, value: str, complaint: str) -> None:
    with pytest.raises(ClerkTargetError, match=complaint):
        real_clerk_from_environment({**COMPLETE, name: value})
