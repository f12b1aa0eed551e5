"""Pure mapping between domain models and table items (no AWS): what each item holds and its version.

Bookkeeping on every item: `entity`, `version` (Clerk `updated_at`, ms), `deleted`, `provisional`,
`synced_at`, `sync_source`, `last_event_id`, `content_hash`. The hash covers the stored Clerk fields so
that an equal version with different content is recognised (docs/decisions/0003).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clerk_sync import keys
from clerk_sync.models import Membership, Organization, User
from clerk_sync.vocabulary import Entity, SyncSource

# Bookkeeping items that are not Clerk data: export, status and convergence checks skip them.
SYNC_STATE_ENTITY = "sync_state"
JOB_ENTITY = "job"


@dataclass(frozen=True)
class WriteContext:
    """Who is writing and why: stamped on every item written."""

    source: SyncSource
    now_ms: int
    event_id: str | None = None


@dataclass(frozen=True)
class ItemPolicy:
    """What the copy keeps: configurable per deployment (StoreSettings)."""

    scrub_pii_on_delete: bool = True
    store_private_metadata: bool = False


# Fields Clerk changes without bumping `updated_at`: an org's members_count when memberships change, a
# membership's public_user_data when its user edits their profile, a user's last_active_at. They take no
# part in the content hash, or each such change would look like a conflicting update (docs/decisions/0003).
# So a webhook at the version already stored that differs only in them is judged `duplicate` and not
# written: the stored values are those of the last write, refreshed only by a newer version or a fetched
# (API) write, and may lag Clerk's. The user record itself has the current names.
VOLATILE_FIELDS = frozenset({"members_count", "last_active_at", "public_user_data"})


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def to_dynamo_value(value: Any) -> Any:
    """JSON-shaped data with floats as Decimal, which is what DynamoDB's serializer accepts (and returns)."""
    return json.loads(json.dumps(value, default=_number), parse_float=Decimal)


def from_dynamo_value(value: Any) -> Any:
    """An item (or any value) as read from DynamoDB, with its Decimals as ints and floats: JSON-ready."""
    return json.loads(json.dumps(value, default=_number))


def content_hash(fields: dict[str, Any]) -> str:
    stable = {name: value for name, value in fields.items() if name not in VOLATILE_FIELDS}
    encoded = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:32]


def user_fields(user: User, policy: ItemPolicy) -> dict[str, Any]:
    fields = user.model_dump(mode="json", exclude={"private_metadata"})
    fields["user_id"] = fields.pop("id")
    fields["primary_email"] = user.primary_email
    fields["primary_phone"] = user.primary_phone
    if policy.store_private_metadata:
        fields["private_metadata"] = user.private_metadata
    return fields


def organization_fields(org: Organization, policy: ItemPolicy) -> dict[str, Any]:
    fields = org.model_dump(mode="json", exclude={"private_metadata"})
    fields["org_id"] = fields.pop("id")
    if policy.store_private_metadata:
        fields["private_metadata"] = org.private_metadata
    return fields


def membership_fields(membership: Membership, policy: ItemPolicy) -> dict[str, Any]:
    fields = membership.model_dump(mode="json", exclude={"organization", "private_metadata"})
    fields["membership_id"] = fields.pop("id")
    fields["org_id"] = membership.org_id
    fields["user_id"] = membership.user_id
    if policy.store_private_metadata:
        fields["private_metadata"] = membership.private_metadata
    return fields


def _bookkeeping(entity: Entity, version: int, ctx: WriteContext) -> dict[str, Any]:
    item: dict[str, Any] = {
        "entity": entity.value,
        "version": version,
        "deleted": False,
        "provisional": False,
        "synced_at": ctx.now_ms,
        "sync_source": ctx.source.stamp.value,
    }
    if ctx.event_id:
        item["last_event_id"] = ctx.event_id
    return item


def _item(
    key: dict[str, str], entity: Entity, version: int, fields: dict[str, Any], ctx: WriteContext
) -> dict[str, Any]:
    return {
        **key,
        **to_dynamo_value(fields),
        **_bookkeeping(entity, version, ctx),
        "content_hash": content_hash(fields),
    }


def user_item(user: User, ctx: WriteContext, policy: ItemPolicy) -> dict[str, Any]:
    return _item(keys.user_key(user.id), Entity.USER, user.updated_at, user_fields(user, policy), ctx)


def organization_item(org: Organization, ctx: WriteContext, policy: ItemPolicy) -> dict[str, Any]:
    fields = organization_fields(org, policy)
    return _item(keys.org_key(org.id), Entity.ORGANIZATION, org.updated_at, fields, ctx)


def membership_item(membership: Membership, ctx: WriteContext, policy: ItemPolicy) -> dict[str, Any]:
    key = keys.membership_key(membership.org_id, membership.user_id)
    fields = membership_fields(membership, policy)
    item = _item(key, Entity.MEMBERSHIP, membership.updated_at, fields, ctx)
    return {**item, **keys.membership_index_key(membership.org_id, membership.user_id)}


def provisional_user_item(user_id: str, fields: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """A stand-in built from verified session claims when Clerk is unreachable; version 0 loses to any real one."""
    item = _item(keys.user_key(user_id), Entity.USER, 0, {"user_id": user_id, **fields}, ctx)
    return {**item, "provisional": True}


def provisional_organization_item(org_id: str, slug: str | None, ctx: WriteContext) -> dict[str, Any]:
    """The active organization of a session token, held until Clerk can be asked; version 0."""
    fields = {"org_id": org_id, "slug": slug, "name": slug or org_id}
    item = _item(keys.org_key(org_id), Entity.ORGANIZATION, 0, fields, ctx)
    return {**item, "provisional": True}


def provisional_membership_item(org_id: str, user_id: str, role: str, ctx: WriteContext) -> dict[str, Any]:
    """A membership known only from a verified token or a caller's word while Clerk is unreachable; version 0."""
    fields = {"org_id": org_id, "user_id": user_id, "role": role}
    item = _item(keys.membership_key(org_id, user_id), Entity.MEMBERSHIP, 0, fields, ctx)
    return {**item, **keys.membership_index_key(org_id, user_id), "provisional": True}


def tombstone_item(
    key: dict[str, str], entity: Entity, id_fields: dict[str, str], version: int, ctx: WriteContext
) -> dict[str, Any]:
    """A deleted user, organization or membership, scrubbed to its ids (docs/decisions/0004)."""
    item = {**key, **id_fields, **_bookkeeping(entity, version, ctx), "deleted": True, "deleted_at": ctx.now_ms}
    item["content_hash"] = content_hash({**id_fields, "deleted": True})
    return item


def removed_membership_item(
    org_id: str, user_id: str, version: int, ctx: WriteContext, *, removed_at: int, membership_id: str | None = None
) -> dict[str, Any]:
    """A membership Clerk no longer lists, removed by a sync: `version` is when the listing began, `deleted_at`
    (`removed_at`) when the removal was written (ms). `unlisted` marks the removal as inferred, not Clerk's delete:
    a read of Clerk begun after it that lists the membership repairs it (docs/decisions/0013). The id of the
    incarnation it removed, when known, lets that incarnation's delete event make it final."""
    ids = {"org_id": org_id, "user_id": user_id}
    if membership_id:
        ids["membership_id"] = membership_id
    item = tombstone_item(keys.membership_key(org_id, user_id), Entity.MEMBERSHIP, ids, version, ctx)
    return {**item, "deleted_at": removed_at, "unlisted": True}


def membership_tombstone_item(membership: Membership, ctx: WriteContext, policy: ItemPolicy) -> dict[str, Any]:
    key = keys.membership_key(membership.org_id, membership.user_id)
    ids = {"org_id": membership.org_id, "user_id": membership.user_id, "membership_id": membership.id}
    item = tombstone_item(key, Entity.MEMBERSHIP, ids, membership.updated_at, ctx)
    if not policy.scrub_pii_on_delete:
        kept = membership_fields(membership, policy)
        item = {**to_dynamo_value(kept), **item}
    return item


_BOOKKEEPING = frozenset(
    {
        keys.PK,
        keys.SK,
        keys.GSI1_PK,
        keys.GSI1_SK,
        "entity",
        "version",
        "deleted",
        "deleted_at",
        "provisional",
        "synced_at",
        "sync_source",
        "last_event_id",
        "content_hash",
        "refetch_requested_at",
        "refetch_event_id",
        "unlisted",
        keys.TTL_ATTRIBUTE,
    }
)


def clerk_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The Clerk fields of a stored item, without bookkeeping: what a comparison with Clerk looks at."""
    return {name: value for name, value in item.items() if name not in _BOOKKEEPING}
