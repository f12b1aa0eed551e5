"""Typed per-stage configuration, read from the `stages` object in cdk.json context.

`cdk synth -c stage=dev` picks one entry. Pure Python (no aws_cdk import) so it is cheap to test and a
bad cdk.json fails before any construct is built, with an error that names the stage and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, field_validator, model_validator

from clerk_sync.budget.bucket import BucketLimits
from clerk_sync.vocabulary import CLERK_API_URL, MembershipSyncMode

STAGE_CONTEXT_KEY: Final = "stage"
STAGES_CONTEXT_KEY: Final = "stages"
# Lambda caps a function's environment at 4 KB; the stack adds ~1 KB (names, ARNs, queue URL) to the stage's.
STAGE_ENVIRONMENT_LIMIT_BYTES: Final = 3072

# The only values CloudWatch Logs accepts for a retention period.
LOG_RETENTION_DAYS: Final = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


# EventBridge Scheduler's recurring forms: rate(value unit) and cron(minutes hours day-of-month month day-of-week year).
SCHEDULE_EXPRESSION: Final = r"^(rate\([1-9]\d* (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))?$"
# Settings that were renamed: a cdk.json with the old name fails with the new one.
RENAMED_SETTINGS: Final = {"webhook_silence_hours": "webhook_silence_alarm_hours"}


class StageConfigError(ValueError):
    """cdk.json has no usable configuration for the requested stage."""


class StageConfig(BaseModel):
    """One deployment environment. Every field is in cdk.json; none is read from the shell."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    # CloudFormation stack name; also the prefix of function, dashboard, alarm and API names.
    stack_name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,39}$")
    # Pin the stage to one account/region; unset, the CLI's credentials and default region decide.
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_retention_days: int = 30
    # "retain" keeps the table, secret, log groups and alarm key when the stack is deleted.
    removal_policy: Literal["retain", "destroy"] = "destroy"

    # Alarm notifications: an existing SNS topic (e.g. the team's paging topic), else a new topic,
    # optionally with an e-mail subscription (confirmed by the recipient after deploy).
    alarm_topic_arn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$")
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    # "No webhook for N hours" fires when the worker processed no Clerk webhook for that long (Clerk stopped
    # delivering, the endpoint or secret is wrong, or the worker is failing); 0 disables it (quiet dev stages).
    # At most 24, as before: the alarm reads N one-hour periods, a day of them at most.
    # Off is 0 and "" below, not null: CDK drops null context values, so null would mean the default.
    webhook_silence_alarm_hours: int = Field(default=24, ge=0, le=24)
    # When EventBridge Scheduler queues a reconcile (`rate(...)` or `cron(...)`, UTC); "": no scheduled reconcile.
    reconcile_schedule: str = Field(default="rate(1 day)", pattern=SCHEDULE_EXPRESSION)
    # Drift repairs (DriftRepaired, summed over a UTC day) above which the drift alarm fires.
    reconcile_drift_alarm_threshold: int = Field(default=100, ge=0)
    error_rate_percent: float = Field(default=5.0, gt=0, le=100)
    # Clerk 429 responses per 5 minutes before the alarm fires (each one is retried with backoff).
    clerk_rate_limited_threshold: int = Field(default=10, ge=1)

    # The Clerk instance whose data the table holds (ins_...): webhooks of any other instance are refused, and a
    # key of another instance deletes nothing on Clerk's 404s. Empty: the secret key's own instance is trusted,
    # which cannot catch a wrong key: set it for every stage that holds real data (docs/decisions/0014).
    clerk_instance_id: str = Field(default="", pattern=r"^(ins_[A-Za-z0-9]+)?$")
    # Clerk's base URL without the API version: the runtime client adds /v1 (as Clerk's SDKs do).
    clerk_api_url: HttpUrl = HttpUrl(CLERK_API_URL)
    clerk_issuer: HttpUrl
    # Where session-token signing keys are fetched; None lets the runtime use <clerk_issuer>/.well-known/jwks.json.
    clerk_jwks_url: HttpUrl | None = None
    # Origins of the frontends whose session tokens are accepted (the `azp` claim); also the API's CORS
    # allow-list, since those frontends call /api/sync/* from the browser.
    clerk_authorized_parties: tuple[str, ...] = Field(min_length=1)
    # Optional PEM public key for networkless session-token verification (public, so not a secret).
    clerk_jwt_key: str | None = None
    admin_user_ids: tuple[str, ...] = ()
    # `key=value` on a user's public_metadata that marks a platform admin; "" disables the flag.
    admin_metadata_flag: str = Field(default="role=admin", pattern=r"^([^=\s]+=\S+)?$")
    # A user confirmed by a webhook or sync within this many seconds needs no Clerk call at login.
    user_freshness_seconds: int = Field(default=300, ge=0)
    # How long the authorizer may spend syncing a stale or unknown user from Clerk before falling back
    # to the stored or provisional record; the authorizer itself times out after 10 s.
    login_sync_budget_seconds: float = Field(default=1.5, gt=0, le=5)
    # Whether a user.created/updated webhook queues a sync of the user's memberships: always (at most once a
    # minute per user), missing (only while none was ever done for the user), never (clerk_sync.vocabulary).
    user_event_membership_sync: MembershipSyncMode = "missing"
    scrub_pii_on_delete: bool = True
    store_private_metadata: bool = False
    # Days each record's history is kept (the operator console reads it); 0 turns history off.
    history_ttl_days: int = Field(default=30, ge=0, le=3650)
    # Manual syncs one caller may start per window (API); Clerk's rate limit is shared with the customer's backend.
    sync_caller_limit: int = Field(default=1, ge=1, le=1000)
    sync_caller_window_seconds: int = Field(default=10, ge=1, le=3600)

    api_throttle_rate_limit: float = Field(default=50, gt=0)
    api_throttle_burst_limit: int = Field(default=100, gt=0)
    authorizer_cache_ttl_seconds: int = Field(default=60, ge=0, le=3600)
    # Clerk's rate limit for the instance in requests per 10 s (development instances 100, production 1000), which
    # every writer's Clerk requests share through the table's budget item, and the share of it backfill and
    # reconcile may use (docs/decisions/0020). Set it lower when your own backend calls Clerk with the same key.
    clerk_rate_limit: int = Field(default=100, ge=10, le=100_000)
    clerk_bulk_share: float = Field(default=0.5, gt=0, le=1)
    # The SQS event source's MaximumConcurrency: AWS accepts 2-1000. Caps Clerk API and table load.
    worker_max_concurrency: int = Field(default=5, ge=2, le=1000)

    @model_validator(mode="before")
    @classmethod
    def _no_renamed_settings(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for old, new in RENAMED_SETTINGS.items():
                if old in data:
                    raise ValueError(f"{old} is now called {new}")
        return data

    @field_validator("reconcile_schedule")
    @classmethod
    def _rate_unit_agrees(cls, value: str) -> str:
        # EventBridge Scheduler refuses "rate(1 days)" and "rate(2 day)".
        found = re.fullmatch(r"rate\((\d+) (\w+)\)", value)
        if found and (found[1] == "1") == found[2].endswith("s"):
            raise ValueError("a rate of 1 takes a singular unit (rate(1 day)), any other a plural (rate(2 days))")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention_is_supported(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"must be one of {LOG_RETENTION_DAYS}")
        return value

    @field_validator("clerk_api_url", "clerk_issuer", "clerk_jwks_url")
    @classmethod
    def _clerk_urls_use_https(cls, value: HttpUrl | None) -> HttpUrl | None:
        # The runtime allows http only for a local emulator on loopback, which a deployment never uses.
        if value is not None and value.scheme != "https":
            raise ValueError("must be an https URL")
        return value

    @field_validator("clerk_api_url")
    @classmethod
    def _api_url_has_no_version(cls, value: HttpUrl) -> HttpUrl:
        if (value.path or "").rstrip("/").endswith("/v1"):
            raise ValueError(
                f"must be Clerk's base URL without /v1 (the client adds the API version), e.g. {CLERK_API_URL}"
            )
        return value

    @field_validator("clerk_authorized_parties")
    @classmethod
    def _parties_are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for party in value:
            if not re.fullmatch(r"https?://[^/\s]+", party):
                raise ValueError(f"{party!r} is not an origin like https://app.example.com (no path or slash)")
        return value

    @field_validator("clerk_jwt_key")
    @classmethod
    def _jwt_key_is_public(cls, value: str | None) -> str | None:
        # The value lands in the template and the function configuration in plain text: public keys only.
        if value is not None and not value.strip().startswith("-----BEGIN PUBLIC KEY-----"):
            raise ValueError("must be the PEM public key (-----BEGIN PUBLIC KEY-----...), never a private key")
        return value

    @field_validator("admin_user_ids")
    @classmethod
    def _admins_are_user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for user_id in value:
            if not re.fullmatch(r"user_\w+", user_id):
                raise ValueError(f"{user_id!r} is not a Clerk user id like user_2abc...")
        return value

    @model_validator(mode="after")
    def _one_alarm_target(self) -> StageConfig:
        if self.alarm_topic_arn and self.alarm_email:
            raise ValueError("set alarm_topic_arn or alarm_email, not both (subscribe the e-mail to the topic)")
        return self

    @model_validator(mode="after")
    def _budget_limits_hold(self) -> StageConfig:
        try:
            BucketLimits(self.clerk_rate_limit, self.clerk_bulk_share)
        except ValueError as error:
            raise ValueError(f"clerk_rate_limit / clerk_bulk_share: {error}") from None
        return self

    @model_validator(mode="after")
    def _environment_fits_lambda(self) -> StageConfig:
        size = sum(len(key) + len(value) for key, value in self.function_environment().items())
        if size > STAGE_ENVIRONMENT_LIMIT_BYTES:
            raise ValueError(
                f"the functions' environment from this stage is {size} bytes; Lambda allows 4 KB in all, "
                f"including resource names and ARNs, so keep the stage's share under {STAGE_ENVIRONMENT_LIMIT_BYTES}"
            )
        return self

    @property
    def is_retained(self) -> bool:
        return self.removal_policy == "retain"

    def function_environment(self) -> dict[str, str]:
        """The Clerk and copy settings every function reads; resource names are added by the stack."""
        env = {
            "CLERK_API_URL": str(self.clerk_api_url).rstrip("/"),
            "CLERK_ISSUER": str(self.clerk_issuer).rstrip("/"),
            "CLERK_AUTHORIZED_PARTIES": ",".join(self.clerk_authorized_parties),
            "ADMIN_USER_IDS": ",".join(self.admin_user_ids),
            # Always set, even empty: an empty value disables the flag, an absent one means the default.
            "ADMIN_METADATA_FLAG": self.admin_metadata_flag,
            "USER_FRESHNESS_SECONDS": str(self.user_freshness_seconds),
            "LOGIN_SYNC_BUDGET_SECONDS": str(self.login_sync_budget_seconds),
            "USER_EVENT_MEMBERSHIP_SYNC": self.user_event_membership_sync,
            "SCRUB_PII_ON_DELETE": str(self.scrub_pii_on_delete).lower(),
            "STORE_PRIVATE_METADATA": str(self.store_private_metadata).lower(),
            "HISTORY_TTL_DAYS": str(self.history_ttl_days),
            "SYNC_CALLER_LIMIT": str(self.sync_caller_limit),
            "SYNC_CALLER_WINDOW_SECONDS": str(self.sync_caller_window_seconds),
            "CLERK_RATE_LIMIT": str(self.clerk_rate_limit),
            "CLERK_BULK_SHARE": str(self.clerk_bulk_share),
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }
        # Optional values are left out rather than set empty, so the code's own defaults apply.
        if self.clerk_instance_id:
            env["CLERK_INSTANCE_ID"] = self.clerk_instance_id
        if self.clerk_jwt_key:
            env["CLERK_JWT_KEY"] = self.clerk_jwt_key
        if self.clerk_jwks_url:
            env["CLERK_JWKS_URL"] = str(self.clerk_jwks_url)
        return env


def load_stage(stages: Any, stage: Any) -> StageConfig:
    """The validated config of `stage` from the `stages` context object; a clear error otherwise."""
    if not isinstance(stages, Mapping) or not stages:
        raise StageConfigError(f"cdk.json has no '{STAGES_CONTEXT_KEY}' object in its context")
    known = ", ".join(sorted(stages))
    if not stage:
        raise StageConfigError(f"no stage selected: pass -c {STAGE_CONTEXT_KEY}=<name> (one of: {known})")
    if not isinstance(stage, str) or stage not in stages:
        raise StageConfigError(f"unknown stage {stage!r}: cdk.json defines {known}")
    raw = stages[stage]
    if not isinstance(raw, Mapping):
        raise StageConfigError(f"stage {stage!r} in cdk.json must be an object")
    try:
        return StageConfig.model_validate({"name": stage, **raw})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '(stage)'}: {issue['msg']}" for issue in error.errors()
        )
        raise StageConfigError(f"stage {stage!r} in cdk.json is invalid: {problems}") from None
