"""Builds the long-lived objects of a Lambda container from settings, once per cold start: the one place that caches.

Handlers (and the local stack) call these getters; the sync layer never does, it receives its collaborators as
arguments. Each getter is a `@singleton`: built on first use and kept for the container's life. `reset()` forgets
every singleton (tests and the local stack change the environment) with no hand-kept list to drift. Imports
happen inside the getters, so each handler pays only for what it builds (the webhook never loads httpx or PyJWT).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

    from clerk_sync.api.settings import AccessSettings
    from clerk_sync.auth.settings import AuthSettings
    from clerk_sync.auth.tokens import SessionVerifier
    from clerk_sync.aws import AwsSession, RequestMeter
    from clerk_sync.budget.shared import SharedClerkBudget
    from clerk_sync.clerk.client import ClerkClient
    from clerk_sync.clerk.settings import ClerkSettings
    from clerk_sync.intake import IntakeResult, WebhookIntake
    from clerk_sync.queue import SqsEventQueue
    from clerk_sync.settings import InstanceSettings, StoreSettings, SyncSettings, WebhookSettings
    from clerk_sync.store import (
        CallerLimits,
        FailureNotes,
        JobStore,
        MembershipSyncClaims,
        SyncStore,
        Table,
        WebhookFreshness,
    )
    from clerk_sync.store.history import History
    from clerk_sync.sync.admin import Admin
    from clerk_sync.sync.instance import InstanceGuard
    from clerk_sync.sync.service import SyncService

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])

# How long the webhook receiver may wait for `GET /v1/instance` (once per container, CLERK_INSTANCE_ID unset):
# Svix wants an answer within 15 s, the function times out after 10 s.
WEBHOOK_INSTANCE_LOOKUP_SECONDS = 3.0

_SINGLETONS: list[functools._lru_cache_wrapper[Any]] = []


def singleton(build: Callable[[], T]) -> functools._lru_cache_wrapper[T]:
    """`build` once, on first use; `reset()` forgets it."""
    cached = functools.cache(build)
    _SINGLETONS.append(cached)
    return cached


def singletons() -> tuple[functools._lru_cache_wrapper[Any], ...]:
    """Every getter `reset()` clears (tests check that none keeps its object)."""
    return tuple(_SINGLETONS)


def reset() -> None:
    """Forgets every cached object and setting."""
    for getter in _SINGLETONS:
        getter.cache_clear()


# ---- settings, one class per concern ------------------------------------------------------------


@singleton
def webhook_settings() -> WebhookSettings:
    from clerk_sync.settings import load_webhook_settings

    return load_webhook_settings()


@singleton
def instance_settings() -> InstanceSettings:
    from clerk_sync.settings import InstanceSettings

    return InstanceSettings()


@singleton
def store_settings() -> StoreSettings:
    from clerk_sync.settings import StoreSettings

    return StoreSettings.from_environment()


@singleton
def sync_settings() -> SyncSettings:
    from clerk_sync.settings import SyncSettings

    return SyncSettings()


@singleton
def access_settings() -> AccessSettings:
    from clerk_sync.api.settings import AccessSettings

    return AccessSettings()


@singleton
def auth_settings() -> AuthSettings:
    """The verifier's settings; a missing CLERK_ISSUER or a malformed value fails here, naming the variable."""
    from clerk_sync.auth.settings import AuthSettings

    return AuthSettings.from_environment()


@singleton
def clerk_settings() -> ClerkSettings:
    from clerk_sync.clerk.settings import load_clerk_settings

    return load_clerk_settings()


# ---- AWS ------------------------------------------------------------------------------------------


@singleton
def dynamodb_meter() -> RequestMeter:
    """Counts the DynamoDB requests of this container's client (the worker logs them per record)."""
    from clerk_sync.aws import RequestMeter

    return RequestMeter()


@singleton
def aws_session() -> AwsSession:
    """The botocore session every AWS client of this container is created from."""
    from clerk_sync.aws import new_session

    return new_session()


@singleton
def dynamodb_client() -> DynamoDBClient:
    from clerk_sync.aws import dynamodb_client as build

    return build(aws_session(), dynamodb_meter())


@singleton
def sqs_client() -> SQSClient:
    from clerk_sync.aws import sqs_client as build

    return build(aws_session())


@singleton
def table() -> Table:
    from clerk_sync.store import Table

    return Table(dynamodb_client(), store_settings().table_name)


@singleton
def sync_store() -> SyncStore:
    from clerk_sync.items import ItemPolicy
    from clerk_sync.store import SyncStore

    settings = store_settings()
    return SyncStore(table(), ItemPolicy(settings.scrub_pii_on_delete, settings.store_private_metadata))


@singleton
def history() -> History:
    """Each record's history (HISTORY_TTL_DAYS; 0: off, and then it makes no request)."""
    from clerk_sync.store.history import History

    return History(table(), keep_days=store_settings().history_ttl_days)


@singleton
def job_store() -> JobStore:
    from clerk_sync.store import JobStore

    return JobStore(table())


@singleton
def membership_sync_claims() -> MembershipSyncClaims:
    from clerk_sync.store import MembershipSyncClaims

    return MembershipSyncClaims(table())


@singleton
def caller_limits() -> CallerLimits:
    from clerk_sync.store import CallerLimits

    return CallerLimits(table())


@singleton
def failure_notes() -> FailureNotes:
    from clerk_sync.store import FailureNotes

    return FailureNotes(table())


@singleton
def webhook_freshness() -> WebhookFreshness:
    """Remembers this container's last write, so it writes at most once a minute."""
    from clerk_sync.store import WebhookFreshness

    return WebhookFreshness(table())


@singleton
def event_queue() -> SqsEventQueue | None:
    """The event queue for queued syncs; None without EVENTS_QUEUE_URL (follow-ups are then only logged)."""
    from clerk_sync.queue import SqsEventQueue

    url = sync_settings().events_queue_url
    return SqsEventQueue(sqs_client(), url) if url else None


# ---- Clerk and session tokens ---------------------------------------------------------------------


@singleton
def clerk_client() -> ClerkClient:
    """The process-wide Clerk client, built (and httpx imported) on the first call that needs Clerk."""
    from clerk_sync.clerk.client import ClerkClient

    return ClerkClient.from_settings(clerk_settings(), on_unauthorized=forget_clerk_client, budget=clerk_budget())


@singleton
def clerk_budget() -> SharedClerkBudget | None:
    """The shared Clerk rate budget in the table; None when turned off or without a table (the webhook function's
    one `GET /v1/instance` per container goes unbudgeted)."""
    settings = clerk_settings()
    table_name = os.environ.get("TABLE_NAME")
    if not settings.clerk_budget_enabled or not table_name:
        return None
    from clerk_sync.aws import budget_dynamodb_client
    from clerk_sync.budget.shared import SharedClerkBudget
    from clerk_sync.store import ClerkBudgetItem, Table

    item = ClerkBudgetItem(Table(budget_dynamodb_client(aws_session()), table_name))
    return SharedClerkBudget(item, settings.budget_limits)


def forget_clerk_client() -> None:
    """After a 401/403, build the next client from freshly read settings: the key may have been rotated."""
    # Not closed: the caller holding it may still be mid-call; its pool goes with it.
    clerk_client.cache_clear()
    clerk_settings.cache_clear()
    if instance_guard.cache_info().currsize:
        instance_guard().forget()  # a new key may be another instance's


@singleton
def instance_guard() -> InstanceGuard:
    """Which instance the key belongs to (looked up on the first 404-driven deletion) against CLERK_INSTANCE_ID."""
    from clerk_sync.sync.instance import InstanceGuard

    return InstanceGuard(clerk_client, expected=instance_settings().clerk_instance_id)


@singleton
def session_verifier() -> SessionVerifier:
    """The process-wide verifier: its JWKS cache lives as long as the container."""
    from clerk_sync.auth.tokens import SessionVerifier

    return SessionVerifier.from_settings(auth_settings())


# ---- the webhook receiver and the sync layer ------------------------------------------------------


@singleton
def webhook_intake() -> WebhookIntake:
    from clerk_sync.intake import WebhookIntake
    from clerk_sync.queue import SqsEventQueue
    from clerk_sync.signatures import SignatureVerifier

    settings = webhook_settings()
    return WebhookIntake(
        SignatureVerifier(settings.webhook_secrets),
        SqsEventQueue(sqs_client(), settings.events_queue_url),
        expected_instance=_webhook_instance(),
        max_body_bytes=settings.webhook_max_body_bytes,
    )


def _webhook_instance() -> Callable[[], str | None]:
    """The instance whose events the receiver accepts: CLERK_INSTANCE_ID, else the secret key's (looked up once
    per container, when the first event arrives), else, with no key configured at all, any instance."""
    configured = instance_settings().clerk_instance_id
    if configured:
        return lambda: configured
    from clerk_sync.clerk.settings import clerk_key_configured

    if not clerk_key_configured():
        return lambda: None  # no key, so no Clerk call and no 404 can delete anything here

    def key_instance() -> str | None:
        guard = instance_guard()
        if guard.known is None:
            return guard.expected_instance(deadline=clerk_client().clock() + WEBHOOK_INSTANCE_LOOKUP_SECONDS)
        return guard.known.id

    return key_instance


def receive_webhook(body: bytes, headers: Mapping[str, str]) -> IntakeResult:
    """The intake's answer; after a bad signature, once more with freshly read secrets if they may have rotated."""
    result = webhook_intake().receive(body, headers)
    if result.reason == "invalid_signature" and refresh_webhook_secrets():
        result = webhook_intake().receive(body, headers)
    return result


def refresh_webhook_secrets() -> bool:
    """Forgets the webhook secrets if they came from Secrets Manager longer ago than their max age.

    A rotated webhook secret then takes effect in warm containers too; at most one read per max age, however
    many bad signatures arrive. False (nothing re-read) with plain environment variables.
    """
    from clerk_sync.settings import SecretSettings

    secret_settings = SecretSettings()
    if not secret_settings.clerk_secrets_arn or not webhook_intake.cache_info().currsize:
        return False
    if time.monotonic() - webhook_intake().created_at < secret_settings.secrets_max_age_seconds:
        return False
    webhook_intake.cache_clear()
    webhook_settings.cache_clear()
    return True


@singleton
def sync_service() -> SyncService:
    from clerk_sync.queue import QueuedFollowUps
    from clerk_sync.sync.deps import SyncOptions
    from clerk_sync.sync.service import SyncService

    settings = sync_settings()
    options = SyncOptions(
        user_freshness_ms=settings.user_freshness_seconds * 1000,
        membership_sync_on_user_event=settings.user_event_membership_sync,
    )
    return SyncService(
        sync_store(),
        jobs=job_store(),
        claims=membership_sync_claims(),
        clerk=clerk_client,
        follow_ups=QueuedFollowUps(event_queue()),
        options=options,
        instance=instance_guard(),
        history=history,  # a provider: a request that writes nothing never builds it
    )


@singleton
def admin() -> Admin:
    """The console's reads (the /api/admin/* routes); its record count is cached for the container's life."""
    from clerk_sync.store import ClerkBudgetItem
    from clerk_sync.store.counts import RecordCounter
    from clerk_sync.store.runs import RunStore
    from clerk_sync.sync.admin import Admin

    settings = clerk_settings()
    dlq_url = sync_settings().dlq_url
    return Admin(
        sync_store(),
        history=history(),
        runs=RunStore(table()),
        jobs=job_store(),
        freshness=webhook_freshness(),
        counter=RecordCounter(table()),
        clerk=clerk_client,
        budget=ClerkBudgetItem(table()) if settings.clerk_budget_enabled else None,
        budget_limits=settings.budget_limits,
        dead_letters=_dead_letters(dlq_url) if dlq_url else None,
    )


def _dead_letters(dlq_url: str) -> Callable[[float], Any]:
    from clerk_sync.dlq import DeadLetterQueue

    def build(deadline: float) -> DeadLetterQueue:
        # One per request: the deadline bounds how long its look keeps receiving.
        queue_url = sync_settings().events_queue_url or ""
        return DeadLetterQueue(
            sqs_client(), dlq_url=dlq_url, queue_url=queue_url, notes=failure_notes(), deadline=deadline
        )

    return build


def flushing_history(handler: H) -> H:
    """A Lambda handler that flushes the hourly outcome sums at the end of each invocation, raised or not."""

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        try:
            return handler(event, context)
        finally:
            flush_history()

    return cast(H, run)


def flush_history() -> None:
    """The hourly outcome sums of this invocation's writes, once at its end; nothing (not even a service built)
    when this container has no sync service yet. Never raises a store error (sync/history.py)."""
    if sync_service.cache_info().currsize:
        sync_service().flush_history()
