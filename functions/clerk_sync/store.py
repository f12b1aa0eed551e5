"""The DynamoDB repository: version-guarded conditional writes, tombstones and cascades.

Every upsert is one conditional write with no read first; when the condition fails DynamoDB returns
the old item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) and that decides the typed outcome.
Expected outcomes (stale, duplicate, ...) are return values; only infrastructure failures raise.
See docs/decisions/0001 (keys), 0003 (version gate and ties), 0004 (tombstones and cascade).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from clerk_sync import items, keys
from clerk_sync.items import Entity, ItemPolicy, WriteContext
from clerk_sync.models import Membership, Organization, User

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


class Outcome(StrEnum):
    APPLIED = "applied"
    STALE = "stale"  # a newer version (or a delete at the same version) is on record
    DUPLICATE = "duplicate"  # the same version with the same content is on record
    TOMBSTONED = "tombstoned"  # the user or organization (or a parent) is deleted: never resurrected
    NEEDS_REFETCH = "needs_refetch"  # the same version with different content: only Clerk can tell


@dataclass(frozen=True)
class WriteResult:
    outcome: Outcome
    entity: Entity
    entity_id: str
    cascaded: int = 0  # memberships removed because their user or organization was deleted


class StoreError(Exception):
    """DynamoDB failed in a way a retry of the whole event may fix (throttling, conflicts, outages)."""


# Condition clauses, named so each write states its rule in words.
_IS_NEW = "attribute_not_exists(PK)"
_IS_OLDER = "version < :version"
_IS_SAME_VERSION = "version = :version"
_IS_LIVE = "deleted = :false"
# Users and organizations: a newer version of a live record; never over a tombstone (no resurrection).
_UPSERT_PROFILE = f"{_IS_NEW} OR ({_IS_LIVE} AND {_IS_OLDER})"
# Deleting: anything not already a tombstone.
_TOMBSTONE_PROFILE = f"{_IS_NEW} OR {_IS_LIVE}"
# Memberships can come back, so the version alone decides; at equal versions a delete beats a live record.
_UPSERT_MEMBERSHIP = f"{_IS_NEW} OR {_IS_OLDER}"
_DELETE_MEMBERSHIP = f"{_IS_NEW} OR {_IS_OLDER} OR ({_IS_SAME_VERSION} AND {_IS_LIVE})"
# Parents of a membership must not be tombstones (cascade holds for late membership events too).
_PARENT_NOT_DELETED = f"{_IS_NEW} OR {_IS_LIVE}"
# needs_refetch is recorded only on the version that was compared.
_STILL_SAME_VERSION = f"attribute_exists(PK) AND {_IS_SAME_VERSION}"

_BATCH_WRITE_LIMIT = 25
_UNPROCESSED_RETRIES = 8

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
    if int(old.get("version", 0)) > item["version"]:
        return Outcome.STALE
    if old.get("deleted"):
        # Same version: a delete outranks a live write of that version; a second delete is a repeat.
        return Outcome.DUPLICATE if item["deleted"] else Outcome.STALE
    if old.get("content_hash") == item["content_hash"]:
        return Outcome.DUPLICATE
    return Outcome.NEEDS_REFETCH


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

    def put_user(self, user: User, ctx: WriteContext) -> WriteResult:
        item = items.user_item(user, ctx, self._policy)
        return self._upsert_profile(item, Entity.USER, user.id, ctx)

    def put_organization(self, org: Organization, ctx: WriteContext) -> WriteResult:
        item = items.organization_item(org, ctx, self._policy)
        return self._upsert_profile(item, Entity.ORGANIZATION, org.id, ctx)

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

    def put_membership(self, membership: Membership, ctx: WriteContext) -> WriteResult:
        item = items.membership_item(membership, ctx, self._policy)
        return self._write_membership(membership, item, _UPSERT_MEMBERSHIP, _values(version=item["version"]), ctx)

    def delete_membership(self, membership: Membership, ctx: WriteContext) -> WriteResult:
        item = items.membership_tombstone_item(membership, ctx, self._policy)
        values = _values(version=item["version"], false=False)
        return self._write_membership(membership, item, _DELETE_MEMBERSHIP, values, ctx)

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
        return list(
            self._query(
                IndexName=keys.GSI1_NAME,
                KeyConditionExpression=f"{keys.GSI1_PK} = :pk",
                ExpressionAttributeValues=_values(pk=keys.USER_PREFIX + user_id),
            )
        )

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

    def _upsert_profile(self, item: dict[str, Any], entity: Entity, entity_id: str, ctx: WriteContext) -> WriteResult:
        old = self._put(item, _UPSERT_PROFILE, _values(version=item["version"], false=False))
        if old is _APPLIED:
            return WriteResult(Outcome.APPLIED, entity, entity_id)
        outcome = _classify(old, item, profile=True)
        if outcome is Outcome.NEEDS_REFETCH:
            self._record_refetch({keys.PK: item[keys.PK], keys.SK: item[keys.SK]}, item, ctx)
        return WriteResult(outcome, entity, entity_id)

    def _write_membership(
        self, membership: Membership, item: dict[str, Any], condition: str, values: dict[str, Any], ctx: WriteContext
    ) -> WriteResult:
        """One transaction: the membership item under its condition, plus checks that neither parent is deleted.

        The parent checks keep late membership events (created, updated or deleted) from writing anything
        under a deleted user or organization, so the cascade holds whatever the delivery order.
        """
        entity_id = f"{membership.org_id}/{membership.user_id}"
        transaction: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _serialize(item),
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        for parent in (keys.user_key(membership.user_id), keys.org_key(membership.org_id)):
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
                self._record_refetch(keys.membership_key(membership.org_id, membership.user_id), item, ctx)
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
        names = {f"#a{i}": name for i, name in enumerate(assignments)}
        values = {f":a{i}": _serializer.serialize(value) for i, value in enumerate(assignments.values())}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_serialize(key),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(assignments))),
                ConditionExpression=_TOMBSTONE_PROFILE,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, **_values(false=False)},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return Outcome.DUPLICATE
            raise StoreError(f"delete failed: {error}") from error
        return Outcome.APPLIED

    def _put(self, item: dict[str, Any], condition: str, values: dict[str, Any]) -> Any:
        """Conditional put: `_APPLIED` on success, else the old item (None when there was none)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "Item": _serialize(item),
            "ConditionExpression": condition,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self._client.put_item(**request)
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
            for attempt in range(_UNPROCESSED_RETRIES):
                response = self._client.batch_write_item(RequestItems=pending)
                pending = dict(response.get("UnprocessedItems") or {})
                if not pending:
                    break
                self._sleep(min(2.0, 0.05 * 2**attempt))
            else:
                raise StoreError("cascade delete left unprocessed items; the event will be retried")
        return len(item_keys)


class _Applied:
    """Sentinel: the conditional write went through."""


_APPLIED: Any = _Applied()
