"""The DynamoDB repository: version-guarded conditional writes, tombstones and cascades.

Every upsert is one conditional write with no read first; when the condition fails DynamoDB returns
the old item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) and that decides the typed outcome.
Expected outcomes (stale, duplicate, ...) are return values; only infrastructure failures raise.
See docs/decisions/0001 (keys), 0003 (version gate and ties), 0004 (tombstones and cascade).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from clerk_sync import items, keys
from clerk_sync.items import Entity, ItemPolicy, WriteContext
from clerk_sync.jobs import Job, job_from_item, job_item
from clerk_sync.models import Membership, Organization, User

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # a newer version (or a delete at the same version) is on record
    DUPLICATE = "duplicate"  # the same version with the same content is on record
    TOMBSTONED = "tombstoned"  # the user, organization, a parent or this membership id is deleted: never resurrected
    NEEDS_REFETCH = "needs_refetch"  # the same version with different content: only Clerk can tell


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    entity: Entity
    entity_id: str
    cascaded: int = 0  # memberships removed because their user or organization was deleted


@dataclass(frozen=True)
class ParentCascade:
    """What `cascade_deleted_parents` found: memberships removed, and the users among the parents that are deleted."""

    removed: int = 0
    deleted_users: tuple[str, ...] = ()


class StoreError(Exception):
    """DynamoDB failed in a way a retry of the whole event may fix (throttling, conflicts, outages)."""


# Condition clauses, named so each write states its rule in words.
_IS_NEW = "attribute_not_exists(PK)"
_IS_OLDER = "version < :version"
_IS_SAME_VERSION = "version = :version"
_IS_NOT_NEWER = "version <= :version"
_IS_LIVE = "deleted = :false"
_IS_TOMBSTONE = "deleted = :true"
# Users and organizations: a newer version of a live record; never over a tombstone (no resurrection).
_UPSERT_PROFILE = f"{_IS_NEW} OR ({_IS_LIVE} AND {_IS_OLDER})"
# Deleting: anything not already a tombstone.
_TOMBSTONE_PROFILE = f"{_IS_NEW} OR {_IS_LIVE}"
# Memberships come back under a new membership id (an incarnation); within one incarnation its delete is
# final and supersedes its updates, whatever versions Clerk put on them. Provisional records (version 0)
# and sync-removal tombstones carry no membership id, so versions alone decide against them.
_IS_SAME_INCARNATION = "membership_id = :membership_id"
# A tombstone of another (or no known) incarnation yields to anything newer: a re-add, or its later removal.
_OVER_OLDER_OTHER_TOMBSTONE = f"({_IS_TOMBSTONE} AND {_IS_OLDER} AND NOT {_IS_SAME_INCARNATION})"
# Event upsert: a newer version of a live record, or a newer incarnation over an older tombstone.
_UPSERT_MEMBERSHIP = f"{_IS_NEW} OR ({_IS_LIVE} AND {_IS_OLDER}) OR {_OVER_OLDER_OTHER_TOMBSTONE}"
# Delete: its own incarnation at any version; another live incarnation only if not newer (a tie goes to
# the delete); another incarnation's older tombstone. Never over its own tombstone (a repeat).
_DELETE_MEMBERSHIP = (
    f"{_IS_NEW} OR ({_IS_LIVE} AND ({_IS_SAME_INCARNATION} OR {_IS_NOT_NEWER})) OR {_OVER_OLDER_OTHER_TOMBSTONE}"
)
# Parents of a membership must not be tombstones (cascade holds for late membership events too).
_PARENT_NOT_DELETED = f"{_IS_NEW} OR {_IS_LIVE}"
# needs_refetch is recorded only on the version that was compared.
_STILL_SAME_VERSION = f"attribute_exists(PK) AND {_IS_SAME_VERSION}"
# Data just read from Clerk's API is Clerk's current state: at an equal version it replaces what we hold
# (this is how a needs_refetch tie is settled), and it refreshes synced_at even when nothing changed.
_REFRESH_PROFILE = f"{_IS_NEW} OR ({_IS_LIVE} AND {_IS_NOT_NEWER})"
# A listing read before a delete must not bring that incarnation back; a same-version delete of another
# incarnation still beats it.
_REFRESH_MEMBERSHIP = f"{_IS_NEW} OR ({_IS_LIVE} AND {_IS_NOT_NEWER}) OR {_OVER_OLDER_OTHER_TOMBSTONE}"
# A sync removes a membership Clerk no longer lists only if nothing newer than the listing wrote it.
_REMOVE_UNLISTED = f"{_IS_LIVE} AND {_IS_OLDER} AND synced_at < :listed_at"
# Membership sync requests are coalesced per user: `missing` asks once until a sync completes (or the
# request is old enough to have been lost), `always` at most once per window.
_SYNC_NEVER_DONE = "attribute_not_exists(synced_at) AND (attribute_not_exists(requested_at) OR requested_at < :cutoff)"
_SYNC_NOT_REQUESTED_SINCE = "attribute_not_exists(requested_at) OR requested_at < :cutoff"

_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100
# BatchGetItem / BatchWriteItem hand back what they could not do under load: 8 attempts in all, with a
# backoff of 50 ms doubling to a 2 s cap between them (~5 s at worst), then the event is retried instead.
UNPROCESSED_ATTEMPTS = 8
_BACKOFF_BASE_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0


def unprocessed_backoff(retry: int) -> float:
    """Seconds to wait before the `retry`-th resend (0-based) of unprocessed batch items."""
    return min(_BACKOFF_CAP_SECONDS, _BACKOFF_BASE_SECONDS * 2.0**retry)


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _serializer.serialize(value) for name, value in values.items()}


def _classify(old: dict[str, Any] | None, item: dict[str, Any], *, profile: bool) -> Outcome:
    """Why a conditional write failed, read from the old item DynamoDB returned."""
    if old is None:
        # Condition failed but no item came back: only a racing delete of the item explains it.
        return Outcome.STALE
    if profile and old.get("deleted"):
        return Outcome.TOMBSTONED
    if not profile and old.get("deleted") and _same_incarnation(old, item):
        # This membership id was deleted: a late create or update of it is refused whatever its version
        # (reported like any record deleted on our side), and a second delete of it is a repeat.
        return Outcome.DUPLICATE if item["deleted"] else Outcome.TOMBSTONED
    if int(old.get("version", 0)) > item["version"]:
        return Outcome.STALE
    if old.get("deleted"):
        # Same version: a delete outranks a live write of that version; a second delete is a repeat.
        return Outcome.DUPLICATE if item["deleted"] else Outcome.STALE
    if old.get("content_hash") == item["content_hash"]:
        return Outcome.DUPLICATE
    return Outcome.NEEDS_REFETCH


def _same_incarnation(old: dict[str, Any], item: dict[str, Any]) -> bool:
    """Both carry the same Clerk membership id (provisional and sync-removal items carry none)."""
    membership_id = item.get("membership_id")
    return membership_id is not None and old.get("membership_id") == membership_id


def _membership_values(item: dict[str, Any]) -> dict[str, Any]:
    """The placeholders of the membership conditions (DynamoDB refuses unused ones, moto does not)."""
    return _values(version=item["version"], false=False, true=True, membership_id=item["membership_id"])


def _classify_refresh(old: dict[str, Any] | None, item: dict[str, Any]) -> Outcome:
    """What a write of fetched data that went through changed, from the old item it replaced."""
    if old is None or old.get("provisional") or old.get("deleted"):
        return Outcome.APPLIED
    if int(old.get("version", 0)) == item["version"] and old.get("content_hash") == item["content_hash"]:
        return Outcome.DUPLICATE  # unchanged; only synced_at moved
    return Outcome.APPLIED


class SyncStore:
    """Reads and writes the clerk-sync table; takes its client so tests pass moto's."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        policy: ItemPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._policy = policy or ItemPolicy()
        self._sleep = sleep

    @property
    def policy(self) -> ItemPolicy:
        return self._policy

    # ---- users and organizations -------------------------------------------------------------

    def put_user(self, user: User, ctx: WriteContext, *, fetched: bool = False) -> WriteResult:
        """Version-guarded upsert; `fetched` marks data just read from Clerk's API (wins ties, refreshes)."""
        item = items.user_item(user, ctx, self._policy)
        return self._upsert_profile(item, Entity.USER, user.id, ctx, fetched=fetched)

    def put_organization(self, org: Organization, ctx: WriteContext, *, fetched: bool = False) -> WriteResult:
        item = items.organization_item(org, ctx, self._policy)
        return self._upsert_profile(item, Entity.ORGANIZATION, org.id, ctx, fetched=fetched)

    def put_provisional_organization(self, org_id: str, slug: str | None, ctx: WriteContext) -> WriteResult:
        """Writes a provisional organization only where no record exists."""
        old = self._put(items.provisional_organization_item(org_id, slug, ctx), _IS_NEW, {})
        if old is _APPLIED:
            return WriteResult(Outcome.APPLIED, Entity.ORGANIZATION, org_id)
        deleted = old is not None and old.get("deleted")
        return WriteResult(Outcome.TOMBSTONED if deleted else Outcome.STALE, Entity.ORGANIZATION, org_id)

    def put_provisional_user(self, user_id: str, fields: dict[str, Any], ctx: WriteContext) -> WriteResult:
        """Writes a provisional user only where no record exists; any real version replaces it later."""
        item = items.provisional_user_item(user_id, fields, ctx)
        old = self._put(item, _IS_NEW, {})
        if old is _APPLIED:
            return WriteResult(Outcome.APPLIED, Entity.USER, user_id)
        deleted = old is not None and old.get("deleted")
        return WriteResult(Outcome.TOMBSTONED if deleted else Outcome.STALE, Entity.USER, user_id)

    def delete_user(self, user_id: str, ctx: WriteContext) -> WriteResult:
        outcome = self._tombstone_profile(keys.user_key(user_id), Entity.USER, {"user_id": user_id}, ctx)
        # Cascade even on a duplicate delete: an earlier attempt may have stopped after the tombstone.
        removed = self._delete_keys(self._user_membership_keys(user_id))
        return WriteResult(outcome, Entity.USER, user_id, removed)

    def delete_organization(self, org_id: str, ctx: WriteContext) -> WriteResult:
        outcome = self._tombstone_profile(keys.org_key(org_id), Entity.ORGANIZATION, {"org_id": org_id}, ctx)
        removed = self._delete_keys(self._org_membership_keys(org_id))
        return WriteResult(outcome, Entity.ORGANIZATION, org_id, removed)

    # ---- memberships -------------------------------------------------------------------------

    def put_membership(self, membership: Membership, ctx: WriteContext, *, fetched: bool = False) -> WriteResult:
        """Version-guarded upsert under live parents; never over a tombstone of the same membership id (0003).

        `fetched` (data just listed from Clerk) writes without the parents' transaction, which bulk syncs
        cannot afford; such callers check the parents afterwards with `cascade_deleted_parents`.
        """
        item = items.membership_item(membership, ctx, self._policy)
        values = _membership_values(item)
        if fetched:
            entity_id = f"{membership.org_id}/{membership.user_id}"
            return self._refresh(item, _REFRESH_MEMBERSHIP, values, Entity.MEMBERSHIP, entity_id, profile=False)
        return self._write_membership(
            membership.org_id, membership.user_id, item, _UPSERT_MEMBERSHIP, values=values, ctx=ctx
        )

    def put_provisional_membership(self, org_id: str, user_id: str, role: str, ctx: WriteContext) -> WriteResult:
        """A membership from a verified token (or a caller) while Clerk is unreachable; only where none exists."""
        item = items.provisional_membership_item(org_id, user_id, role, ctx)
        return self._write_membership(org_id, user_id, item, _IS_NEW, values={}, ctx=ctx)

    def remove_unlisted_membership(self, org_id: str, user_id: str, listed_at: int, ctx: WriteContext) -> WriteResult:
        """Tombstones a live membership Clerk's listing (begun at `listed_at`, ms) no longer holds.

        Anything written since the listing began (a webhook, a re-add) has a newer version or synced_at and
        is left alone; a later event with a newer version still wins over this tombstone.
        """
        item = items.removed_membership_item(org_id, user_id, listed_at, ctx)
        old = self._put(item, _REMOVE_UNLISTED, _values(version=listed_at, listed_at=listed_at, false=False))
        outcome = Outcome.APPLIED if old is _APPLIED else Outcome.STALE
        return WriteResult(outcome, Entity.MEMBERSHIP, f"{org_id}/{user_id}")

    def delete_membership(self, membership: Membership, ctx: WriteContext) -> WriteResult:
        item = items.membership_tombstone_item(membership, ctx, self._policy)
        return self._write_membership(
            membership.org_id, membership.user_id, item, _DELETE_MEMBERSHIP, values=_membership_values(item), ctx=ctx
        )

    def cascade_deleted_parents(self, user_ids: Iterable[str], org_ids: Iterable[str]) -> ParentCascade:
        """Removes memberships under any of these users or organizations that is a tombstone.

        Bulk syncs write memberships without the parents' transaction; this closes the window in which a
        delete landed between their read of Clerk and their write (invariant 4). A deleted user's memberships
        are found through GSI1, which may not list the one just written yet: callers queue a delayed
        `cascade_user` for each of `deleted_users` (docs/decisions/0004).
        """
        wanted = [keys.user_key(u) for u in dict.fromkeys(user_ids)] + [keys.org_key(o) for o in dict.fromkeys(org_ids)]
        removed = 0
        deleted_users: list[str] = []
        for parent in self.get_many(wanted):
            if not parent.get("deleted"):
                continue
            if parent[keys.PK].startswith(keys.USER_PREFIX):
                user_id = parent[keys.PK][len(keys.USER_PREFIX) :]
                deleted_users.append(user_id)
                removed += self._delete_keys(self._user_membership_keys(user_id))
            else:
                removed += self._delete_keys(self._org_membership_keys(parent[keys.PK][len(keys.ORG_PREFIX) :]))
        return ParentCascade(removed, tuple(sorted(deleted_users)))

    def cascade_user(self, user_id: str) -> list[str]:
        """The user cascade again, for memberships GSI1 did not list yet when the user was deleted.

        Returns the organization ids whose membership it removed. One GSI1 query when nothing is left;
        memberships are removed only under a user tombstone, so a request for a live user changes nothing.
        """
        found = self._user_membership_keys(user_id)
        if not found:
            return []
        user = self.get_user(user_id)
        if not (user and user.get("deleted")):
            return []
        self._delete_keys(found)
        return [key[keys.PK][len(keys.ORG_PREFIX) :] for key in found]

    # ---- jobs -------------------------------------------------------------------------------------

    def create_job(self, job: Job) -> None:
        if self._put(job_item(job), _IS_NEW, {}) is not _APPLIED:
            raise StoreError(f"job {job.job_id} already exists")

    def get_job(self, job_id: str) -> Job | None:
        item = self.get(keys.job_key(job_id))
        return job_from_item(item) if item else None

    def save_job(self, job: Job, *, expected_offset: int) -> bool:
        """Stores the job's new progress if its checkpoint is still `expected_offset`; False if another got there."""
        return self._put(job_item(job), "next_offset = :expected", _values(expected=expected_offset)) is _APPLIED

    # ---- membership sync state -----------------------------------------------------------------

    def request_membership_sync(self, user_id: str, now_ms: int, *, only_if_never_synced: bool, window_ms: int) -> bool:
        """Claims the right to queue a membership sync for the user; False when one is not needed or pending."""
        condition = _SYNC_NEVER_DONE if only_if_never_synced else _SYNC_NOT_REQUESTED_SINCE
        claim = {"requested_at": now_ms, "entity": items.SYNC_STATE_ENTITY, "user_id": user_id}
        return self._update(keys.membership_state_key(user_id), claim, condition, cutoff=now_ms - window_ms)

    def mark_memberships_synced(self, user_id: str, now_ms: int) -> None:
        self._update(
            keys.membership_state_key(user_id),
            {"synced_at": now_ms, "entity": items.SYNC_STATE_ENTITY, "user_id": user_id},
        )

    def membership_state(self, user_id: str) -> dict[str, Any] | None:
        return self.get(keys.membership_state_key(user_id))

    # ---- reads ---------------------------------------------------------------------------------

    def get(self, key: dict[str, str], *, consistent: bool = True) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=_serialize(key), ConsistentRead=consistent)
        raw = response.get("Item")
        return _deserialize(raw) if raw else None

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        return self.get(keys.user_key(user_id))

    def get_organization(self, org_id: str) -> dict[str, Any] | None:
        return self.get(keys.org_key(org_id))

    def get_membership(self, org_id: str, user_id: str) -> dict[str, Any] | None:
        return self.get(keys.membership_key(org_id, user_id))

    def user_memberships(self, user_id: str) -> list[dict[str, Any]]:
        """The user's live memberships, from the sparse GSI1 (eventually consistent, as GSIs are)."""
        return self._user_index(user_id, keys.ORG_PREFIX)

    def user_jobs(self, user_id: str) -> list[dict[str, Any]]:
        """The jobs the user started, from GSI1."""
        return self._user_index(user_id, keys.JOB_PREFIX)

    def get_many(self, item_keys: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
        """The items that exist among `item_keys` (BatchGetItem, 100 keys a request, consistent), in no order."""
        found: list[dict[str, Any]] = []
        unique = list({(key[keys.PK], key[keys.SK]): key for key in item_keys}.values())
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            chunk = unique[start : start + _BATCH_GET_LIMIT]
            pending: dict[str, Any] = {
                self._table: {"Keys": [_serialize(key) for key in chunk], "ConsistentRead": True}
            }

            def read(request: dict[str, Any]) -> dict[str, Any]:
                response = self._client.batch_get_item(RequestItems=request)
                found.extend(_deserialize(raw) for raw in response.get("Responses", {}).get(self._table, []))
                return dict(response.get("UnprocessedKeys") or {})

            self._until_processed(read, pending, "batch read")
        return found

    def organization_memberships(self, org_id: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        found = self._query(
            KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :member)",
            ExpressionAttributeValues=_values(pk=keys.ORG_PREFIX + org_id, member=keys.MEMBER_PREFIX),
            ConsistentRead=True,
        )
        return [item for item in found if include_deleted or not item.get("deleted")]

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every item in the table; for export, tests and reconcile, never for a request path."""
        paginator = self._client.get_paginator("scan")
        for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
            for raw in page.get("Items", []):
                yield _deserialize(raw)

    # ---- internals -----------------------------------------------------------------------------

    def _upsert_profile(
        self, item: dict[str, Any], entity: Entity, entity_id: str, ctx: WriteContext, *, fetched: bool
    ) -> WriteResult:
        values = _values(version=item["version"], false=False)
        if fetched:
            return self._refresh(item, _REFRESH_PROFILE, values, entity, entity_id, profile=True)
        old = self._put(item, _UPSERT_PROFILE, values)
        if old is _APPLIED:
            return WriteResult(Outcome.APPLIED, entity, entity_id)
        outcome = _classify(old, item, profile=True)
        if outcome is Outcome.NEEDS_REFETCH:
            self._record_refetch({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}, item, ctx)
        return WriteResult(outcome, entity, entity_id)

    def _refresh(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any],
        entity: Entity,
        entity_id: str,
        *,
        profile: bool,
    ) -> WriteResult:
        """One conditional put of fetched data; the old item (on success or failure) says what it changed."""
        request = {**self._put_request(item, condition, values), "ReturnValues": "ALL_OLD"}
        try:
            response = self._client.put_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise StoreError(f"put failed: {error}") from error
            raw: Any = error.response.get("Item")
            outcome = _classify(_deserialize(raw) if raw else None, item, profile=profile)
            # A tie cannot be lost by fresh data; what is left is a newer version or a tombstone.
            return WriteResult(Outcome.STALE if outcome is Outcome.NEEDS_REFETCH else outcome, entity, entity_id)
        old_raw = response.get("Attributes")
        return WriteResult(_classify_refresh(_deserialize(old_raw) if old_raw else None, item), entity, entity_id)

    def _write_membership(
        self,
        org_id: str,
        user_id: str,
        item: dict[str, Any],
        condition: str,
        *,
        values: dict[str, Any],
        ctx: WriteContext,
    ) -> WriteResult:
        """One transaction: the membership item under its condition, plus checks that neither parent is deleted.

        The parent checks keep late membership events (created, updated or deleted) from writing anything
        under a deleted user or organization, so the cascade holds whatever the delivery order.
        """
        entity_id = f"{org_id}/{user_id}"
        put = self._put_request(item, condition, values)
        transaction: list[TransactWriteItemTypeDef] = [{"Put": put}]  # type: ignore[typeddict-item]
        for parent in (keys.user_key(user_id), keys.org_key(org_id)):
            transaction.append(
                {
                    "ConditionCheck": {
                        "TableName": self._table,
                        "Key": _serialize(parent),
                        "ConditionExpression": _PARENT_NOT_DELETED,
                        "ExpressionAttributeValues": _values(false=False),
                    }
                }
            )
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise StoreError(f"membership write failed: {error}") from error
            reasons = error.response.get("CancellationReasons", [])
            codes = [reason.get("Code") for reason in reasons]
            if "ConditionalCheckFailed" in codes[1:]:
                return WriteResult(Outcome.TOMBSTONED, Entity.MEMBERSHIP, entity_id)
            if codes[:1] != ["ConditionalCheckFailed"]:
                # TransactionConflict and friends: a concurrent writer; retrying the event settles it.
                raise StoreError(f"membership transaction cancelled: {codes}") from error
            raw_old = reasons[0].get("Item")
            old = _deserialize(raw_old) if raw_old else None
            outcome = _classify(old, item, profile=False)
            if outcome is Outcome.NEEDS_REFETCH:
                self._record_refetch(keys.membership_key(org_id, user_id), item, ctx)
            return WriteResult(outcome, Entity.MEMBERSHIP, entity_id)
        return WriteResult(Outcome.APPLIED, Entity.MEMBERSHIP, entity_id)

    def _tombstone_profile(
        self, key: dict[str, str], entity: Entity, id_fields: dict[str, str], ctx: WriteContext
    ) -> Outcome:
        # Deletes carry no updated_at; a tombstone outranks every version, so its version is informational.
        if self._policy.scrub_pii_on_delete:
            item = items.tombstone_item(key, entity, id_fields, ctx.now_ms, ctx)
            old = self._put(item, _TOMBSTONE_PROFILE, _values(false=False))
            return Outcome.APPLIED if old is _APPLIED else Outcome.DUPLICATE
        return self._mark_deleted(key, id_fields, ctx)

    def _mark_deleted(self, key: dict[str, str], id_fields: dict[str, str], ctx: WriteContext) -> Outcome:
        """Tombstone that keeps the record's fields (SCRUB_PII_ON_DELETE=false)."""
        assignments = {"deleted": True, "deleted_at": ctx.now_ms, "synced_at": ctx.now_ms, **id_fields}
        assignments["sync_source"] = ctx.source.value
        if ctx.event_id:
            assignments["last_event_id"] = ctx.event_id
        applied = self._update(key, assignments, _TOMBSTONE_PROFILE, false=False)
        return Outcome.APPLIED if applied else Outcome.DUPLICATE

    def _put_request(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> dict[str, Any]:
        """A conditional put that hands back the old item when its condition fails (no read first)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": _serialize(item),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return request

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> Any:
        """Conditional put: `_APPLIED` on success, else the old item (None when there was none)."""
        try:
            self._client.put_item(**self._put_request(item, condition, values))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise StoreError(f"put failed: {error}") from error
            raw: Any = error.response.get("Item")
            return _deserialize(raw) if raw else None
        return _APPLIED

    def _record_refetch(self, key: dict[str, str], item: dict[str, Any], ctx: WriteContext) -> None:
        """Marks the record so the refetch (and reconcile) can find it; the content is left as it was."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize(key),
                UpdateExpression="SET refetch_requested_at = :now, refetch_event_id = :event",
                ConditionExpression=_STILL_SAME_VERSION,
                ExpressionAttributeValues=_values(now=ctx.now_ms, event=ctx.event_id or "", version=item["version"]),
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise StoreError(f"recording refetch failed: {error}") from error
            # A newer version landed meanwhile: nothing left to refetch.

    def _update(
        self, key: dict[str, str], assignments: Mapping[str, Any], condition: str | None = None, **bound: Any
    ) -> bool:
        """SET the given attributes; False when `condition` (with `bound` placeholder values) failed."""
        names = {f"#a{i}": name for i, name in enumerate(assignments)}
        values = {f":a{i}": _serializer.serialize(value) for i, value in enumerate(assignments.values())}
        values.update(_values(**bound))
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _serialize(key),
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if condition:
            request["ConditionExpression"] = condition
        try:
            self._client.update_item(**request)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise StoreError(f"update failed: {error}") from error
        return True

    def _user_index(self, user_id: str, prefix: str) -> list[dict[str, Any]]:
        return list(
            self._query(
                IndexName=keys.GSI1_NAME,
                KeyConditionExpression=f"{keys.GSI1_PK} = :pk AND begins_with({keys.GSI1_SK}, :prefix)",
                ExpressionAttributeValues=_values(pk=keys.USER_PREFIX + user_id, prefix=prefix),
            )
        )

    def _query(self, **request: Any) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **request):
            for raw in page.get("Items", []):
                yield _deserialize(raw)

    def _user_membership_keys(self, user_id: str) -> list[dict[str, str]]:
        return [{keys.PK: m[keys.PK], keys.SK: m[keys.SK]} for m in self.user_memberships(user_id)]

    def _org_membership_keys(self, org_id: str) -> list[dict[str, str]]:
        found = self.organization_memberships(org_id, include_deleted=True)
        return [{keys.PK: m[keys.PK], keys.SK: m[keys.SK]} for m in found]

    def _delete_keys(self, item_keys: list[dict[str, str]]) -> int:
        """Batch deletes (no conditions needed: the parent's tombstone blocks any later membership write)."""
        for start in range(0, len(item_keys), _BATCH_WRITE_LIMIT):
            chunk = item_keys[start : start + _BATCH_WRITE_LIMIT]
            pending: dict[str, Any] = {self._table: [{"DeleteRequest": {"Key": _serialize(key)}} for key in chunk]}

            def write(request: dict[str, Any]) -> dict[str, Any]:
                response = self._client.batch_write_item(RequestItems=request)
                return dict(response.get("UnprocessedItems") or {})

            self._until_processed(write, pending, "cascade delete")
        return len(item_keys)

    def _until_processed(
        self, send: Callable[[dict[str, Any]], dict[str, Any]], pending: dict[str, Any], what: str
    ) -> None:
        """Sends a batch request, then what it left unprocessed, with backoff; StoreError once attempts run out."""
        for attempt in range(UNPROCESSED_ATTEMPTS):
            if attempt:
                self._sleep(unprocessed_backoff(attempt - 1))
            try:
                pending = send(pending)
            except ClientError as error:
                raise StoreError(f"{what} failed: {error}") from error
            if not pending:
                return
        raise StoreError(f"{what} left unprocessed items after {UNPROCESSED_ATTEMPTS} attempts")


class _Applied:
    """Sentinel: the conditional write went through."""


_APPLIED: Any = _Applied()
