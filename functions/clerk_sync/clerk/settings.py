"""Settings for the Clerk Backend API client (read once per cold start by `clerk_sync.wiring`).

`CLERK_SECRET_KEY` comes from the environment locally, or from the JSON secret at `CLERK_SECRETS_ARN` on AWS
(same key name), through `clerk_sync.settings.load_secrets` and its cache.
"""

from __future__ import annotations

import os

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from clerk_sync.budget.bucket import BucketLimits
from clerk_sync.clerk.retry import RetryPolicy
from clerk_sync.settings import SecretSettings, _Settings, load_secrets
from clerk_sync.vocabulary import CLERK_API_URL


class ClerkSettings(_Settings):
    """Where Clerk is, the key to call it with, and how patient to be."""

    # hide_input_in_errors: a malformed key (say "Bearer sk_live_...") must not be quoted in the cold-start error.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    clerk_secret_key: SecretStr
    # Without /v1: the client adds the version, as Clerk's own SDKs do with CLERK_API_URL.
    clerk_api_url: str = CLERK_API_URL
    clerk_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    clerk_read_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # The whole-call budget (retries and backoff included) when a caller passes no deadline of its own.
    clerk_timeout_budget_seconds: float = Field(default=10.0, gt=0, le=900)
    clerk_max_attempts: int = Field(default=4, ge=1, le=10)
    clerk_backoff_base_seconds: float = Field(default=0.5, gt=0, le=60)
    clerk_backoff_cap_seconds: float = Field(default=8.0, gt=0, le=300)
    # The shared rate budget (docs/decisions/0020): Clerk's limit in requests per 10 s for the whole instance
    # (development instances 100, production 1000; less whatever else calls Clerk with the same key), the share of
    # it backfill and reconcile may use, and whether to keep the budget at all (it needs the table).
    clerk_rate_limit: int = Field(default=100, ge=10, le=100_000)
    clerk_bulk_share: float = Field(default=0.5, gt=0, le=1)
    clerk_budget_enabled: bool = True

    @field_validator("clerk_secret_key", mode="after")
    @classmethod
    def _looks_like_a_secret_key(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("sk_"):
            raise ValueError("CLERK_SECRET_KEY must be a Clerk secret key (sk_test_... or sk_live_...)")
        return value

    @field_validator("clerk_api_url", mode="after")
    @classmethod
    def _base_url_without_version(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("https://", "http://")):
            raise ValueError("CLERK_API_URL must be an http(s) URL, e.g. https://api.clerk.com")
        if value.endswith("/v1"):
            raise ValueError("CLERK_API_URL must not end in /v1: the client adds the API version")
        return value

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> ClerkSettings:
        if self.clerk_backoff_cap_seconds < self.clerk_backoff_base_seconds:
            raise ValueError("CLERK_BACKOFF_CAP_SECONDS must be at least CLERK_BACKOFF_BASE_SECONDS")
        return self

    @model_validator(mode="after")
    def _budget_limits_hold(self) -> ClerkSettings:
        try:
            self.budget_limits  # noqa: B018  # validates
        except ValueError as error:
            raise ValueError(f"CLERK_RATE_LIMIT / CLERK_BULK_SHARE: {error}") from None
        return self

    @property
    def budget_limits(self) -> BucketLimits:
        return BucketLimits(self.clerk_rate_limit, self.clerk_bulk_share)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.clerk_max_attempts,
            base_seconds=self.clerk_backoff_base_seconds,
            cap_seconds=self.clerk_backoff_cap_seconds,
        )


def clerk_key_configured() -> bool:
    """Whether a Clerk secret key is configured at all (secret or environment), without validating or using it."""
    return bool(load_secrets(SecretSettings()).get("CLERK_SECRET_KEY") or os.environ.get("CLERK_SECRET_KEY"))


def load_clerk_settings() -> ClerkSettings:
    """The client's settings; the secret key from `CLERK_SECRETS_ARN` when set, else from the environment."""
    secret_key = load_secrets(SecretSettings()).get("CLERK_SECRET_KEY")
    if secret_key:
        return ClerkSettings(clerk_secret_key=secret_key)
    # CLERK_SECRET_KEY comes from the environment; a missing one fails here, naming the variable.
    return ClerkSettings.from_environment()
