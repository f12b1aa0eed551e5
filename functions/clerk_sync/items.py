"""Pure mapping between domain models and table items (no AWS): what each item holds and its version.

Bookkeeping on every item: `entity`, `version` (Clerk `updated_at`, ms), `deleted`, `provisional`,
`synced_at`, `sync_source`, `last_event_id`, `content_hash`. The hash covers the stored Clerk fields so
that an equal version with different content is recognised (docs/decisions/0003).

Metadata is the one free-form part of a Clerk record (a user's `unsafe_metadata` is writable from the browser),
so it is stored in a form DynamoDB always holds (docs/decisions/0015): a native map when DynamoDB can hold it
as it is, else its JSON text (a string attribute); an item that would pass DynamoDB's 400 KB loses its largest
metadata until it fits and says so with `metadata_truncated`. `readable` and `clerk_fields` turn it back.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from clerk_sync import keys
from clerk_sync.jsondata import MAX_JSON_DEPTH, has_lone_surrogate, nesting_depth
from clerk_sync.models import Membership, Organization, User
from clerk_sync.vocabulary import SERVICE_NAME, Entity, SyncSource

# A child of the handlers' Powertools logger (same JSON lines and keys); the domain imports no Powertools.
logger = logging.getLogger(f"{SERVICE_NAME}.items")

# The membership-sync state a user's profile carries (docs/decisions/0026): when a sync of the user's memberships
# was last asked for and when one last completed. Every write of the profile but a tombstone keeps them.
MEMBERSHIPS_REQUESTED_AT: Final = "memberships_requested_at"
MEMBERSHIPS_SYNCED_AT: Final = "memberships_synced_at"
USER_SYNC_STATE: Final = frozenset({MEMBERSHIPS_REQUESTED_AT, MEMBERSHIPS_SYNCED_AT})

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
    try:
        encoded = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    except RecursionError:
        # Metadata nested too deep for json (never stored: see _storable) is hashed as a stand-in.
        for name in METADATA_FIELDS:
            if name in stable and nesting_depth(stable[name]) > MAX_JSON_DEPTH:
                stable[name] = "<too deep>"
        encoded = json.dumps(stable, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _dump(model: User | Organization | Membership, kept: tuple[str, ...], exclude: set[str]) -> dict[str, Any]:
    """The model's fields as JSON data, with the metadata fields in `kept` (the others are left out).

    pydantic cannot serialize data nested deeper than 255 levels: metadata nested deeper than MAX_JSON_DEPTH
    (which _storable never stores) is taken as it is instead of failing the whole record.
    """
    metadata = {name for name in METADATA_FIELDS if name in type(model).model_fields}
    left_out = exclude | (metadata - set(kept))
    try:
        fields: dict[str, Any] = model.model_dump(mode="json", exclude=left_out)
    except ValueError:  # "Maximum serialization depth exceeded" (pydantic stops at 255 levels)
        too_deep = {name for name in metadata if nesting_depth(getattr(model, name)) > MAX_JSON_DEPTH}
        fields = model.model_dump(mode="json", exclude=left_out | too_deep)
        fields.update({name: getattr(model, name) for name in too_deep if name in kept})
    return fields


def _kept_metadata(policy: ItemPolicy) -> tuple[str, ...]:
    # Private metadata is server-only in Clerk: copied only when configured.
    return METADATA_FIELDS if policy.store_private_metadata else ("public_metadata", "unsafe_metadata")


def user_fields(user: User, policy: ItemPolicy) -> dict[str, Any]:
    fields = _dump(user, _kept_metadata(policy), set())
    fields["user_id"] = fields.pop("id")
    fields["primary_email"] = user.primary_email
    fields["primary_phone"] = user.primary_phone
    return fields


def organization_fields(org: Organization, policy: ItemPolicy) -> dict[str, Any]:
    fields = _dump(org, _kept_metadata(policy), set())
    fields["org_id"] = fields.pop("id")
    return fields


def membership_fields(membership: Membership, policy: ItemPolicy) -> dict[str, Any]:
    fields = _dump(membership, _kept_metadata(policy), {"organization"})
    fields["membership_id"] = fields.pop("id")
    fields["org_id"] = membership.org_id
    fields["user_id"] = membership.user_id
    return fields


# ---- metadata: stored in a form DynamoDB holds (docs/decisions/0015) ------------------------------------

METADATA_FIELDS: Final = ("public_metadata", "unsafe_metadata", "private_metadata")
# Set (true) on an item whose metadata could not all be stored; the dropped fields are stored as {}.
METADATA_TRUNCATED: Final = "metadata_truncated"

# boto3's DYNAMODB_CONTEXT (boto3.dynamodb.types), restated so the domain needs no SDK: its serializer raises
# for a number this context cannot take exactly (more than 38 significant digits, or out of range).
_DYNAMODB_NUMBERS: Final = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
# DynamoDB's own range: magnitudes from 1E-130 up to 9.99...E+125 (a tighter bound than the context's).
_MIN_ADJUSTED_EXPONENT: Final = -130
_MAX_ADJUSTED_EXPONENT: Final = 125
# DynamoDB nests documents 32 levels deep, counting the item itself: a metadata map and 30 levels below it.
_MAX_NATIVE_DEPTH: Final = 31
# DynamoDB refuses items over 400 KB (409,600 bytes, attribute names included); the estimate below follows
# DynamoDB's sizing rules and leaves a margin.
ITEM_SIZE_BUDGET: Final = 400_000


_INT_LIMIT: Final = 10**38  # 38 digits


def _holds_number(number: int | float) -> bool:
    # Fast paths for the usual numbers: ints of at most 38 digits, floats well inside the exponent range
    # (a float's shortest repr has at most 17 significant digits).
    if isinstance(number, int):
        if -_INT_LIMIT < number < _INT_LIMIT:
            return True
    elif not math.isfinite(number):
        return False
    elif number == 0 or 1e-125 < abs(number) < 1e120:
        return True
    # As to_dynamo_value hands it to boto3: floats by their shortest repr, ints exactly.
    exact = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    try:
        converted = _DYNAMODB_NUMBERS.create_decimal(exact)
    except decimal.DecimalException:
        return False
    return converted.is_zero() or _MIN_ADJUSTED_EXPONENT <= converted.adjusted() <= _MAX_ADJUSTED_EXPONENT


def _holds_natively(value: Any) -> bool:
    """True when DynamoDB (and boto3's serializer) can hold `value` as a map as it is; walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > _MAX_NATIVE_DEPTH:
                return False
            for key, item in node.items():
                # DynamoDB refuses empty attribute names; a lone surrogate is not UTF-8.
                if not isinstance(key, str) or not key or has_lone_surrogate(key):
                    return False
                stack.append((item, depth + 1))
        elif isinstance(node, list):
            if depth > _MAX_NATIVE_DEPTH:
                return False
            stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            if has_lone_surrogate(node):
                return False
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int | float):
            if not _holds_number(node):
                return False
        else:
            return False
    return True


def _json_text(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate cannot be written as UTF-8: escape it (\ud800), which json.loads reads back the same.
    return json.dumps(value, separators=(",", ":")) if has_lone_surrogate(text) else text


def _parsed_text(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return {}  # not written by _storable


def decode_metadata(stored: Any) -> Any:
    """Stored metadata as JSON data for clients: JSON text parsed back as written, a native map JSON-ready."""
    return _parsed_text(stored) if isinstance(stored, str) else from_dynamo_value(stored)


def _size(value: Any) -> int:
    """An upper estimate of DynamoDB's size for an attribute value (its sizing rules), without recursion."""
    total = 0
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            total += len(node.encode("utf-8", "surrogatepass"))
        elif isinstance(node, bool) or node is None:
            total += 1
        elif isinstance(node, int | float | Decimal):
            total += min(21, len(str(node)) // 2 + 2)  # 1 byte per 2 significant digits, plus 1
        elif isinstance(node, dict):
            total += 3 + len(node) + sum(len(str(key).encode("utf-8", "surrogatepass")) for key in node)
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            total += 3 + len(node)
            stack.extend(node)
        else:
            total += len(str(node))
    return total


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + _size(value) for name, value in item.items())


def _fits(item: dict[str, Any]) -> bool:
    # Cheap first: DynamoDB's size of a stored item is at most twice its JSON text (the worst case, nested empty
    # lists, is 4 bytes a level against 2), so the exact walk runs only for items over half the budget.
    text = json.dumps(item, default=str, ensure_ascii=False, separators=(",", ":"))
    return 2 * len(text.encode("utf-8", "surrogatepass")) <= ITEM_SIZE_BUDGET or item_size(item) <= ITEM_SIZE_BUDGET


def _storable(fields: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`fields` as DynamoDB holds them, and the metadata fields dropped for nesting deeper than MAX_JSON_DEPTH."""
    stored: dict[str, Any] = to_dynamo_value({k: v for k, v in fields.items() if k not in METADATA_FIELDS})
    too_deep: list[str] = []
    for name in METADATA_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        if _holds_natively(value):  # every ordinary value: a native map
            stored[name] = to_dynamo_value(value)
        elif nesting_depth(value) > MAX_JSON_DEPTH:
            stored[name] = {}
            too_deep.append(name)
        else:
            stored[name] = _json_text(value)
    return stored, too_deep


def _fitted(item: dict[str, Any], too_deep: list[str]) -> dict[str, Any]:
    """The item within DynamoDB's size limit: its largest metadata dropped until it fits, and marked (WARN)."""
    dropped: dict[str, str] = dict.fromkeys(too_deep, "nested too deep")
    while not _fits(item):
        present = [name for name in METADATA_FIELDS if item.get(name) not in (None, {})]
        if not present:
            break  # nothing more to drop: DynamoDB refuses the write, and the store's error says so
        largest = max(present, key=lambda name: _size(item[name]))
        item[largest] = {}
        dropped[largest] = "item over 400 KB"
    if dropped:
        item[METADATA_TRUNCATED] = True
        logger.warning(
            "metadata not stored",
            extra={"pk": item.get(keys.PK), "sk": item.get(keys.SK), "dropped": dropped, "item_bytes": item_size(item)},
        )
    return item


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
    stored, too_deep = _storable(fields)
    item = {**key, **stored, **_bookkeeping(entity, version, ctx), "content_hash": content_hash(fields)}
    return _fitted(item, too_deep)


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
        stored, too_deep = _storable(membership_fields(membership, policy))
        item = _fitted({**stored, **item}, too_deep)
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
        METADATA_TRUNCATED,
        MEMBERSHIPS_REQUESTED_AT,
        MEMBERSHIPS_SYNCED_AT,
        "unlisted",
        keys.TTL_ATTRIBUTE,
    }
)


# Names a provisional user may carry from a session token (auth.claims display fields) beside the User fields.
_PROVISIONAL_USER_FIELDS: Final = frozenset({"email", "username", "first_name", "last_name", "image_url"})


def user_attributes() -> frozenset[str]:
    """Every attribute a live user profile may carry that a write of the profile sets or drops: the stored User
    fields, the names a provisional user takes from a token, and the bookkeeping. Not the keys, and not the
    membership-sync state (`USER_SYNC_STATE`), which the writes of a profile keep."""
    fields = (set(User.model_fields) - {"id"}) | {"user_id", "primary_email", "primary_phone"}
    return (
        frozenset(fields | _PROVISIONAL_USER_FIELDS | (_BOOKKEEPING - {keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK}))
        - USER_SYNC_STATE
    )


def clerk_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The Clerk fields of a stored item, without bookkeeping, as the table holds them (numbers as Decimal) but
    with metadata stored as JSON text parsed back: what a comparison with Clerk looks at."""
    return {
        name: to_dynamo_value(_parsed_text(value)) if name in METADATA_FIELDS and isinstance(value, str) else value
        for name, value in item.items()
        if name not in _BOOKKEEPING
    }


def readable(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as JSON data for clients: Decimals as numbers, metadata (map or JSON text) as objects."""
    plain: dict[str, Any] = from_dynamo_value({name: v for name, v in item.items() if name not in METADATA_FIELDS})
    plain.update({name: decode_metadata(item[name]) for name in METADATA_FIELDS if name in item})
    return plain


# Never shown to clients: the keys and bookkeeping, and private_metadata (backend-only in Clerk, whatever
# STORE_PRIVATE_METADATA keeps in the table).
HIDDEN_FIELDS: Final = frozenset(
    {keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK, "content_hash", "entity", "private_metadata"}
)


def client_view(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as an API answer shows it: `readable`, without the keys, bookkeeping and private metadata."""
    return readable({name: value for name, value in item.items() if name not in HIDDEN_FIELDS})


def stored_metadata(item: dict[str, Any] | None, name: str) -> dict[str, Any]:
    """One metadata field of a stored item as JSON data; `{}` when absent or not an object."""
    value = decode_metadata(item.get(name)) if item else None
    return value if isinstance(value, dict) else {}
