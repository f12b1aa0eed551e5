"""Builds the long-lived objects of a Lambda container from settings, once per cold start.

Handlers call these getters; domain code never does (it receives its collaborators as arguments).
"""

from __future__ import annotations

from functools import lru_cache

from clerk_sync.aws import dynamodb_client, sqs_client
from clerk_sync.intake import WebhookIntake
from clerk_sync.items import ItemPolicy
from clerk_sync.queue import SqsEventQueue
from clerk_sync.service import SyncService
from clerk_sync.settings import store_settings, webhook_settings
from clerk_sync.signatures import SignatureVerifier
from clerk_sync.store import SyncStore


@lru_cache(maxsize=1)
def webhook_intake() -> WebhookIntake:
    settings = webhook_settings()
    return WebhookIntake(
        SignatureVerifier(settings.webhook_secrets),
        SqsEventQueue(sqs_client(), settings.events_queue_url),
        instance_id=settings.clerk_instance_id,
        max_body_bytes=settings.webhook_max_body_bytes,
    )


@lru_cache(maxsize=1)
def sync_store() -> SyncStore:
    settings = store_settings()
    policy = ItemPolicy(settings.scrub_pii_on_delete, settings.store_private_metadata)
    return SyncStore(dynamodb_client(), settings.table_name, policy)


@lru_cache(maxsize=1)
def sync_service() -> SyncService:
    return SyncService(sync_store())


def reset() -> None:
    """Forgets every cached object and setting (tests and the local stack change the environment)."""
    from clerk_sync import settings

    for getter in (webhook_intake, sync_store, sync_service, dynamodb_client, sqs_client):
        getter.cache_clear()
    for cached in (settings.webhook_settings, settings.store_settings):
        cached.cache_clear()
