"""Builds the long-lived objects of a Lambda container from settings, once per cold start.

Handlers call these getters; domain code never does (it receives its collaborators as arguments).
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import TYPE_CHECKING

from clerk_sync.aws import dynamodb_client, sqs_client
from clerk_sync.intake import WebhookIntake
from clerk_sync.items import ItemPolicy
from clerk_sync.queue import SqsEventQueue
from clerk_sync.service import SyncOptions, SyncService
from clerk_sync.settings import SecretSettings, store_settings, sync_settings, webhook_settings
from clerk_sync.signatures import SignatureVerifier
from clerk_sync.store import SyncStore

if TYPE_CHECKING:
    from clerk_sync.clerk.client import ClerkClient


_webhook_secrets_loaded_at: list[float] = []


@lru_cache(maxsize=1)
def webhook_intake() -> WebhookIntake:
    settings = webhook_settings()
    _webhook_secrets_loaded_at[:] = [time.monotonic()]
    return WebhookIntake(
        SignatureVerifier(settings.webhook_secrets),
        SqsEventQueue(sqs_client(), settings.events_queue_url),
        instance_id=settings.clerk_instance_id,
        max_body_bytes=settings.webhook_max_body_bytes,
    )


def refresh_webhook_secrets() -> bool:
    """After a bad signature: re-read the secrets from Secrets Manager if they are older than their max age.

    A rotated webhook secret then takes effect in warm containers too; at most one read per max age, however
    many bad signatures arrive. False (nothing re-read) with plain environment variables.
    """
    secret_settings = SecretSettings()
    loaded_at = _webhook_secrets_loaded_at[0] if _webhook_secrets_loaded_at else None
    if not secret_settings.clerk_secrets_arn or loaded_at is None:
        return False
    if time.monotonic() - loaded_at < secret_settings.secrets_max_age_seconds:
        return False
    webhook_intake.cache_clear()
    webhook_settings.cache_clear()
    return True


@lru_cache(maxsize=1)
def sync_store() -> SyncStore:
    settings = store_settings()
    policy = ItemPolicy(settings.scrub_pii_on_delete, settings.store_private_metadata)
    return SyncStore(dynamodb_client(), settings.table_name, policy)


def clerk_client() -> ClerkClient:
    """The process-wide Clerk client, built (and httpx imported) on the first call that needs Clerk."""
    from clerk_sync.clerk.client import get_clerk_client

    return get_clerk_client()


@lru_cache(maxsize=1)
def sync_service() -> SyncService:
    settings = sync_settings()
    options = SyncOptions(
        user_freshness_ms=settings.user_freshness_seconds * 1000,
        membership_sync_on_user_event=settings.user_event_membership_sync,
    )
    queue = SqsEventQueue(sqs_client(), settings.events_queue_url) if settings.events_queue_url else None
    return SyncService(sync_store(), clerk=clerk_client, queue=queue, options=options)


def reset() -> None:
    """Forgets every cached object and setting (tests and the local stack change the environment)."""
    import sys

    from clerk_sync import settings

    for getter in (webhook_intake, sync_store, sync_service, dynamodb_client, sqs_client):
        getter.cache_clear()
    for cached in (settings.webhook_settings, settings.store_settings, settings.sync_settings):
        cached.cache_clear()
    # Only the modules already loaded: importing them here would put httpx or PyJWT on every cold path.
    for module_name, getters in _LAZY_CACHES.items():
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in getters:
            getattr(module, name).cache_clear()


_LAZY_CACHES = {
    "clerk_sync.clerk.client": ("get_clerk_client", "clerk_settings"),
    "clerk_sync.auth.tokens": ("get_session_verifier",),
    "clerk_sync.auth.settings": ("auth_settings",),
    "clerk_sync.api.settings": ("access_settings",),
}
