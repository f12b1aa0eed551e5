"""Typed settings per concern, read from the environment once per cold start (`clerk_sync.wiring` caches them).

Names follow Clerk's own (`CLERK_SECRET_KEY`, `CLERK_WEBHOOK_SECRET`, ...). On AWS the secrets come from
one Secrets Manager secret (`CLERK_SECRETS_ARN`, a JSON object with the same keys), read with botocore and
kept for `SECRETS_MAX_AGE_SECONDS`; locally they come straight from the environment. A missing or
malformed variable fails at cold start with an error that names it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clerk_sync import resources
from clerk_sync.clerk.instance import INSTANCE_ID_PATTERN
from clerk_sync.vocabulary import MembershipSyncMode


def _split_list(value: Any) -> Any:
    """Comma- or space-separated values, as operators type them into an environment variable."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    return value


def environment_values(fields: dict[str, Any]) -> dict[str, str]:
    """The environment's value for each field, by its name in any case (`TABLE_NAME` sets `table_name`), as text."""
    found = {name.lower(): value for name, value in os.environ.items() if name.lower() in fields}
    return {name: found[name] for name in fields if name in found}


class _Settings(BaseModel):
    """Settings from the environment: a field reads the variable of its name (any case), as it is, never JSON-decoded;
    values passed in win. A missing or malformed one raises pydantic's ValidationError, naming the field.

    A plain pydantic model, not pydantic-settings (whose import costs a cold start ~100 ms for what this does;
    docs/decisions/0025).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment_values(type(self).model_fields), **values})

    @classmethod
    def from_environment(cls) -> Self:
        """`cls()`, for type checkers: a required field comes from the environment, not from an argument."""
        return cls()


class SecretSettings(_Settings):
    """Where secrets come from: `CLERK_SECRETS_ARN` on AWS, else the plain variables."""

    clerk_secrets_arn: str | None = None
    secrets_max_age_seconds: int = Field(default=300, ge=0)


class InstanceSettings(_Settings):
    """The Clerk instance whose data the table holds: CLERK_INSTANCE_ID, or None (then: the secret key's instance).

    The webhook receiver refuses events of any other instance; a 404 through a key of another instance
    deletes nothing (clerk_sync.sync.instance, docs/decisions/0014).
    """

    clerk_instance_id: str | None = Field(default=None, pattern=INSTANCE_ID_PATTERN)

    @field_validator("clerk_instance_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value


class WebhookSettings(_Settings):
    """The webhook receiver: secrets to verify with, queue, body limit (the instance: InstanceSettings)."""

    # Clerk calls it CLERK_WEBHOOK_SECRET in older docs and CLERK_WEBHOOK_SIGNING_SECRET in newer ones;
    # each may hold several secrets (space- or comma-separated) while one is being rotated.
    clerk_webhook_secret: list[str] = Field(default_factory=list)
    clerk_webhook_signing_secret: list[str] = Field(default_factory=list)
    events_queue_url: str
    webhook_max_body_bytes: int = Field(default=resources.WEBHOOK_MAX_BODY_BYTES, gt=0, le=200 * 1024)

    _split = field_validator("clerk_webhook_secret", "clerk_webhook_signing_secret", mode="before")(_split_list)

    @property
    def webhook_secrets(self) -> list[str]:
        return list(dict.fromkeys([*self.clerk_webhook_signing_secret, *self.clerk_webhook_secret]))

    @model_validator(mode="after")
    def _secrets_are_whsec(self) -> WebhookSettings:
        for secret in self.webhook_secrets:
            if not secret.startswith("whsec_"):
                raise ValueError("CLERK_WEBHOOK_SECRET entries must start with 'whsec_'")
        return self


class StoreSettings(_Settings):
    """The DynamoDB table and what the copy keeps."""

    table_name: str
    # Deleted users and orgs keep only their id and bookkeeping unless this is turned off.
    scrub_pii_on_delete: bool = True
    # Private metadata is server-only in Clerk; copying it is opt-in.
    store_private_metadata: bool = False
    # Days each record's history entries are kept (the table's TTL); 0 records no history at all.
    history_ttl_days: int = Field(default=30, ge=0, le=3650)


class SyncSettings(_Settings):
    """How eagerly clerk-sync asks Clerk: login freshness and budget, membership syncs on user webhooks."""

    # A stored user confirmed (by a webhook or a sync) within this many seconds needs no Clerk call at login.
    user_freshness_seconds: int = Field(default=300, ge=0)
    # The share of the authorizer's time a login may spend asking Clerk before falling back.
    login_sync_budget_seconds: float = Field(default=1.5, gt=0, le=5)
    # After user.created/updated: queue a sync of the user's memberships (the modes: clerk_sync.vocabulary).
    user_event_membership_sync: MembershipSyncMode = "missing"
    # Where queued syncs go (the event queue); without it, fallbacks that queue a sync only log.
    events_queue_url: str | None = None
    # The dead-letter queue the admin API lists and replays (the sync API only); without it, no DLQ answers.
    dlq_url: str | None = None


# The secret's JSON object by ARN, with the monotonic time it was read: read again once older than its max age.
_secrets: dict[str, tuple[float, dict[str, Any]]] = {}


def load_secrets(settings: SecretSettings) -> dict[str, Any]:
    """The JSON object in the Secrets Manager secret, kept for `secrets_max_age_seconds` (0: read every time)."""
    arn = settings.clerk_secrets_arn
    if not arn:
        return {}
    cached = _secrets.get(arn)
    if cached is not None and time.monotonic() - cached[0] < settings.secrets_max_age_seconds:
        return cached[1]
    # Imported here: only AWS deployments pay for the Secrets Manager client (from the container's one session).
    from clerk_sync.aws import secret_string
    from clerk_sync.wiring import aws_session

    value = json.loads(secret_string(aws_session(), arn))
    if not isinstance(value, dict):
        raise ValueError("the secret at CLERK_SECRETS_ARN must be a JSON object")
    _secrets[arn] = (time.monotonic(), value)
    return value


def load_webhook_settings() -> WebhookSettings:
    """The receiver's settings, its secrets from `CLERK_SECRETS_ARN` when set, else from the environment."""
    settings = WebhookSettings.from_environment()
    secrets = load_secrets(SecretSettings())
    from_secret = _split_list(secrets.get("CLERK_WEBHOOK_SIGNING_SECRET", "")) + _split_list(
        secrets.get("CLERK_WEBHOOK_SECRET", "")
    )
    if from_secret:
        settings = WebhookSettings.model_validate(
            {**settings.model_dump(), "clerk_webhook_secret": from_secret, "clerk_webhook_signing_secret": []}
        )
    if not settings.webhook_secrets:
        raise ValueError("no webhook secret: set CLERK_WEBHOOK_SIGNING_SECRET or CLERK_WEBHOOK_SECRET")
    return settings
