"""The Clerk records in the table: version-guarded writes of users, organizations and memberships, tombstones,
cascades, and the reads the sync layer needs.

Every upsert is one conditional write with no read first; when the condition fails DynamoDB returns the old item
and that decides the typed outcome (`conditions.classify`). Only failures of the table raise (`StoreError`).
See docs/decisions/0001 (keys), 0003 (version gate and ties), 0004 (tombstones and cascade).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from clerk_sync import items, keys
from clerk_sync.items import ItemPolicy, WriteContext
from clerk_sync.models import Membership, Organization, User
from clerk_sync.outcomes import Outcome, WriteResult
from clerk_sync.store import conditions as when
from clerk_sync.store.claims import prior_sync as _prior_sync
from clerk_sync.store.errors import StoreConflictError
from clerk_sync.store.table import Conditional, ConditionCheck, Item, Table, key_of, placeholders
from clerk_sync.vocabulary import Entity


@dataclass(frozen=True)
class ParentCascade:
    """What `cascade_deleted_parents` found: memberships removed, and the users among the parents that are deleted."""

    removed: int = 0
    deleted_users: tuple[str, ...] = ()


def _membership_values(item: Item) -> dict[str, Any]:
    """The placeholders of the membership conditions (DynamoDB refuses unused ones, moto does not)."""
    return placeholders(version=item["version"], false=False, true=True, membership_id=item["membership_id"])


def _projection(fields: Sequence[str]) -> dict[str, Any]:
    """A query's ProjectionExpression for `fields` plus the keys (every name aliased: some are reserved words)."""
    if not fields:
        return {}
    names = list(dict.fromkeys((keys.PK, keys.SK, *fields)))
    aliases = {f"#p{number}": name for number, name in enumerate(names)}
    return {"ProjectionExpression": ", ".join(aliases), "ExpressionAttributeNames": aliases}


def _membership_id(org_id: str, user_id: str) -> str:
    return f"{org_id}/{user_id}"


def _entity_of(record: User | Organization | Membership) -> tuple[Entity, str]:
    if isinstance(record, User):
        return Entity.USER, record.id
    if isinstance(record, Organization):
        return Entity.ORGANIZATION, record.id
    return Entity.MEMBERSHIP, _membership_id(record.org_id, record.user_id)


class SyncStore:
    """Reads and writes the Clerk records of the table."""

    def __init__(self, table: Table, policy: ItemPolicy | None = None) -> None:
        self.table = table
        self._policy = policy or ItemPolicy()

    @property
    def policy(self) -> ItemPolicy:
        return self._policy

    # ---- users and organizations -------------------------------------------------------------

    def put_user(
        self,
        user: User,
        ctx: WriteContext,
        *,
        fetched: bool = False,
        request_memberships_at: int | None = None,
        memberships_known_at: int | None = None,
    ) -> WriteResult:
        """Version-guarded upsert; `fetched` marks data just read from Clerk's API (wins ties, refreshes).

        One UpdateItem that stores the profile as a put would and keeps its membership-sync state; the result's
        `prior_sync` is that state as the write found it (from the old item: no read). `request_memberships_at`
        notes, in the same write, that a sync of the user's memberships was asked for then, unless one already was
        (`memberships_requested_at` is set only where the profile has none; docs/decisions/0026).
        `memberships_known_at` notes, where none is, that the memberships need no sync (`memberships_synced_at`):
        a user Clerk just created has none but those its membership webhooks bring.
        """
        item = items.user_item(user, ctx, self._policy)
        state: dict[str, int] = {}
        if request_memberships_at is not None:
            state[items.MEMBERSHIPS_REQUESTED_AT] = request_memberships_at
        if memberships_known_at is not None:
            state[items.MEMBERSHIPS_SYNCED_AT] = memberships_known_at
        return self._upsert_profile(item, Entity.USER, user.id, ctx, fetched=fetched, if_absent=state or None)

    def put_organization(self, org: Organization, ctx: WriteContext, *, fetched: bool = False) -> WriteResult:
        item = items.organization_item(org, ctx, self._policy)
        return self._upsert_profile(item, Entity.ORGANIZATION, org.id, ctx, fetched=fetched)

    def put_provisional_organization(self, org_id: str, slug: str | None, ctx: WriteContext) -> WriteResult:
        """Writes a provisional organization only where no record exists."""
        item = items.provisional_organization_item(org_id, slug, ctx)
        return self._put_if_new(item, Entity.ORGANIZATION, org_id)

    def put_provisional_user(self, user_id: str, fields: dict[str, Any], ctx: WriteContext) -> WriteResult:
        """Writes a provisional user only where no record exists; any real version replaces it later."""
        return self._put_if_new(items.provisional_user_item(user_id, fields, ctx), Entity.USER, user_id)

    def delete_user(self, user_id: str, ctx: WriteContext) -> WriteResult:
        outcome = self._tombstone_profile(keys.user_key(user_id), Entity.USER, {"user_id": user_id}, ctx)
        # Cascade even on a duplicate delete: an earlier attempt may have stopped after the tombstone.
        removed = self._cascade(self._user_membership_keys(user_id))
        return WriteResult(outcome, Entity.USER, user_id, removed)

    def delete_organization(self, org_id: str, ctx: WriteContext) -> WriteResult:
        outcome = self._tombstone_profile(keys.org_key(org_id), Entity.ORGANIZATION, {"org_id": org_id}, ctx)
        removed = self._cascade(self._org_membership_keys(org_id))
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
            entity_id = _membership_id(membership.org_id, membership.user_id)
            # The read began when its sync did (ctx.now_ms, the item's synced_at): it repairs removals inferred before.
            values = {**values, **placeholders(read_from=item["synced_at"])}
            return self._refresh(item, when.REFRESH_MEMBERSHIP, values, Entity.MEMBERSHIP, entity_id, profile=False)
        return self._write_membership(
            membership.org_id, membership.user_id, item, when.UPSERT_MEMBERSHIP, values=values, ctx=ctx
        )

    def put_provisional_membership(self, org_id: str, user_id: str, role: str, ctx: WriteContext) -> WriteResult:
        """A membership from a verified token (or a caller) while Clerk is unreachable; only where none exists."""
        item = items.provisional_membership_item(org_id, user_id, role, ctx)
        return self._write_membership(org_id, user_id, item, when.IS_NEW, values={}, ctx=ctx)

    def remove_unlisted_membership(
        self,
        org_id: str,
        user_id: str,
        listed_at: int,
        ctx: WriteContext,
        *,
        removed_at: int,
        membership_id: str | None = None,
    ) -> WriteResult:
        """Tombstones a live membership Clerk's listing (begun at `listed_at`, ms) no longer holds.

        Anything written since the listing began (a webhook, a re-add) has a newer version or synced_at and
        is left alone; a later event with a newer version still wins over this tombstone, and so does a read
        of Clerk begun after `removed_at` (the time of this write) that lists the membership: the removal is
        inferred, not Clerk's word (docs/decisions/0013). With `membership_id` only that incarnation is removed.
        """
        item = items.removed_membership_item(
            org_id, user_id, listed_at, ctx, removed_at=removed_at, membership_id=membership_id
        )
        values = placeholders(version=listed_at, listed_at=listed_at, false=False)
        condition = when.REMOVE_UNLISTED
        if membership_id:
            condition = when.REMOVE_UNLISTED_INCARNATION
            values = {**values, **placeholders(membership_id=membership_id)}
        written = self.table.put(item, condition, values)
        outcome = Outcome.APPLIED if written.applied else Outcome.STALE
        return WriteResult(outcome, Entity.MEMBERSHIP, _membership_id(org_id, user_id))

    def delete_membership(self, membership: Membership, ctx: WriteContext) -> WriteResult:
        item = items.membership_tombstone_item(membership, ctx, self._policy)
        return self._write_membership(
            membership.org_id,
            membership.user_id,
            item,
            when.DELETE_MEMBERSHIP,
            values=_membership_values(item),
            ctx=ctx,
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
        for parent in self.table.get_many(wanted):
            if not parent.get("deleted"):
                continue
            if parent[keys.PK].startswith(keys.USER_PREFIX):
                user_id = parent[keys.PK][len(keys.USER_PREFIX) :]
                deleted_users.append(user_id)
                removed += self._cascade(self._user_membership_keys(user_id))
            else:
                removed += self._cascade(self._org_membership_keys(parent[keys.PK][len(keys.ORG_PREFIX) :]))
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
        self._cascade(found)
        return [key[keys.PK][len(keys.ORG_PREFIX) :] for key in found]

    def held_unchanged(
        self, records: Sequence[User | Organization | Membership], ctx: WriteContext
    ) -> list[WriteResult | None]:
        """For each record just read from Clerk, `unchanged` (a DUPLICATE result) when the table already holds it
        exactly as its fetched write would store it (`conditions.unchanged`), else None: that one is to be written.

        Consistent reads (BatchGetItem, 100 keys a request) and no write. Not writing an unchanged record is safe
        whatever lands meanwhile: the version-guarded write it stands for could only have put the same data back.
        """
        built = [(self._fetched_item(record, ctx), record) for record in records]
        held = {(i[keys.PK], i[keys.SK]): i for i in self.table.get_many([key_of(item) for item, _ in built])}
        results: list[WriteResult | None] = []
        for item, record in built:
            same = when.unchanged(held.get((item[keys.PK], item[keys.SK])), item, ignore=items.USER_SYNC_STATE)
            results.append(WriteResult(Outcome.DUPLICATE, *_entity_of(record)) if same else None)
        return results

    # ---- reads ---------------------------------------------------------------------------------

    def get(self, key: dict[str, str], *, consistent: bool = True) -> Item | None:
        return self.table.get(key, consistent=consistent)

    def get_user(self, user_id: str) -> Item | None:
        return self.table.get(keys.user_key(user_id))

    def get_organization(self, org_id: str) -> Item | None:
        return self.table.get(keys.org_key(org_id))

    def get_membership(self, org_id: str, user_id: str) -> Item | None:
        return self.table.get(keys.membership_key(org_id, user_id))

    def get_many(self, item_keys: Sequence[dict[str, str]]) -> list[Item]:
        """The items that exist among `item_keys` (consistent reads, 100 keys a request), in no order."""
        return self.table.get_many(item_keys)

    def user_memberships(self, user_id: str, *, fields: Sequence[str] = ()) -> list[Item]:
        """The user's live memberships, from the sparse GSI1 (eventually consistent, as GSIs are); only `fields`
        of each (and its keys) when given."""
        return list(
            self.table.query(
                IndexName=keys.GSI1_NAME,
                KeyConditionExpression=f"{keys.GSI1_PK} = :pk AND begins_with({keys.GSI1_SK}, :prefix)",
                ExpressionAttributeValues=placeholders(pk=keys.USER_PREFIX + user_id, prefix=keys.ORG_PREFIX),
                **_projection(fields),
            )
        )

    def organization_memberships(
        self, org_id: str, *, include_deleted: bool = False, fields: Sequence[str] = ()
    ) -> list[Item]:
        found = self.table.query(
            KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :member)",
            ExpressionAttributeValues=placeholders(pk=keys.ORG_PREFIX + org_id, member=keys.MEMBER_PREFIX),
            ConsistentRead=True,
            **_projection((*fields, "deleted") if fields else ()),
        )
        return [item for item in found if include_deleted or not item.get("deleted")]

    def user_memberships_page(self, user_id: str, *, limit: int) -> list[Item]:
        """At most `limit` of the user's live memberships (GSI1, one Query request): a bounded read for a page."""
        return self.table.query_page(
            IndexName=keys.GSI1_NAME,
            KeyConditionExpression=f"{keys.GSI1_PK} = :pk AND begins_with({keys.GSI1_SK}, :prefix)",
            ExpressionAttributeValues=placeholders(pk=keys.USER_PREFIX + user_id, prefix=keys.ORG_PREFIX),
            Limit=limit,
        )

    def organization_memberships_page(self, org_id: str, *, limit: int) -> list[Item]:
        """At most `limit` of the organization's memberships, tombstoned ones included (one Query request)."""
        return self.table.query_page(
            KeyConditionExpression=f"{keys.PK} = :pk AND begins_with({keys.SK}, :member)",
            ExpressionAttributeValues=placeholders(pk=keys.ORG_PREFIX + org_id, member=keys.MEMBER_PREFIX),
            Limit=limit,
        )

    def records_page(
        self, *, start_key: dict[str, str] | None = None, limit: int = 500
    ) -> tuple[list[Item], dict[str, str] | None]:
        """The live users, organizations and memberships among `limit` table items read from `start_key` on, and
        the key to continue from (None at the end): reconcile's checkpointed walk of the table."""
        return self.table.scan_page(
            start_key=start_key,
            limit=limit,
            filter_expression="entity IN (:user, :organization, :membership) AND deleted = :false",
            user=Entity.USER.value,
            organization=Entity.ORGANIZATION.value,
            membership=Entity.MEMBERSHIP.value,
            false=False,
        )

    def scan(self) -> Iterator[Item]:
        """Every item in the table; for export, tests and reconcile, never for a request path."""
        return self.table.scan()

    # ---- internals -----------------------------------------------------------------------------

    def _fetched_item(self, record: User | Organization | Membership, ctx: WriteContext) -> Item:
        """The item a fetched write of `record` stores."""
        if isinstance(record, User):
            return items.user_item(record, ctx, self._policy)
        if isinstance(record, Organization):
            return items.organization_item(record, ctx, self._policy)
        return items.membership_item(record, ctx, self._policy)

    def _put_if_new(self, item: Item, entity: Entity, entity_id: str) -> WriteResult:
        written = self.table.put(item, when.IS_NEW, {})
        if written.applied:
            return WriteResult(Outcome.APPLIED, entity, entity_id)
        deleted = written.old is not None and written.old.get("deleted")
        return WriteResult(Outcome.TOMBSTONED if deleted else Outcome.STALE, entity, entity_id)

    def _upsert_profile(
        self,
        item: Item,
        entity: Entity,
        entity_id: str,
        ctx: WriteContext,
        *,
        fetched: bool,
        if_absent: dict[str, Any] | None = None,
    ) -> WriteResult:
        values = placeholders(version=item["version"], false=False)
        if fetched:
            return self._refresh(item, when.REFRESH_PROFILE, values, entity, entity_id, profile=True)
        written = self._write_profile(item, entity, when.UPSERT_PROFILE, values, if_absent=if_absent, replacing=False)
        prior = _prior_sync(written.old) if entity is Entity.USER else None
        if written.applied:
            return WriteResult(Outcome.APPLIED, entity, entity_id, prior_sync=prior)
        outcome = when.classify(written.old, item, profile=True)
        if outcome is Outcome.NEEDS_REFETCH:
            self._record_refetch(key_of(item), item, ctx)
        return WriteResult(outcome, entity, entity_id, prior_sync=prior)

    def _write_profile(
        self,
        item: Item,
        entity: Entity,
        condition: str,
        values: dict[str, Any],
        *,
        if_absent: dict[str, Any] | None,
        replacing: bool,
    ) -> Conditional:
        """A user's profile is replaced by an UpdateItem that keeps its membership-sync state (the attributes a put
        would drop are removed by name); an organization's is put. Either way one request, the old item handed back."""
        if entity is Entity.USER:
            drop = items.user_attributes()
            return self.table.replace(item, condition, values, remove=drop, if_absent=if_absent)
        return self.table.put(item, condition, values, replacing=replacing)

    def _refresh(
        self, item: Item, condition: str, values: dict[str, Any], entity: Entity, entity_id: str, *, profile: bool
    ) -> WriteResult:
        """One conditional write of fetched data; the old item (on success or failure) says what it changed."""
        if profile:
            written = self._write_profile(item, entity, condition, values, if_absent=None, replacing=True)
        else:
            written = self.table.put(item, condition, values, replacing=True)
        prior = _prior_sync(written.old) if entity is Entity.USER else None
        if written.applied:
            outcome = when.classify_refresh(written.old, item)
            return WriteResult(outcome, entity, entity_id, created=written.old is None, prior_sync=prior)
        outcome = when.classify(written.old, item, profile=profile)
        # A tie cannot be lost by fresh data; what is left is a newer version or a tombstone.
        return WriteResult(
            Outcome.STALE if outcome is Outcome.NEEDS_REFETCH else outcome, entity, entity_id, prior_sync=prior
        )

    def _write_membership(
        self, org_id: str, user_id: str, item: Item, condition: str, *, values: dict[str, Any], ctx: WriteContext
    ) -> WriteResult:
        """One transaction: the membership item under its condition, plus checks that neither parent is deleted.

        The parent checks keep late membership events (created, updated or deleted) from writing anything
        under a deleted user or organization, so the cascade holds whatever the delivery order.
        """
        entity_id = _membership_id(org_id, user_id)
        live = placeholders(false=False)
        parents = [
            ConditionCheck(key, when.PARENT_NOT_DELETED, live) for key in (keys.user_key(user_id), keys.org_key(org_id))
        ]
        cancelled = self.table.transact(item, condition, values, parents)
        if cancelled is None:
            return WriteResult(Outcome.APPLIED, Entity.MEMBERSHIP, entity_id)
        if "ConditionalCheckFailed" in cancelled.codes[1:]:
            return WriteResult(Outcome.TOMBSTONED, Entity.MEMBERSHIP, entity_id)
        if cancelled.codes[:1] != ["ConditionalCheckFailed"]:
            # TransactionConflict and friends: a concurrent writer; retrying the event settles it.
            raise StoreConflictError(f"membership transaction cancelled: {cancelled.codes}")
        outcome = when.classify(cancelled.old_items[0] if cancelled.old_items else None, item, profile=False)
        if outcome is Outcome.NEEDS_REFETCH:
            self._record_refetch(keys.membership_key(org_id, user_id), item, ctx)
        return WriteResult(outcome, Entity.MEMBERSHIP, entity_id)

    def _tombstone_profile(
        self, key: dict[str, str], entity: Entity, id_fields: dict[str, str], ctx: WriteContext
    ) -> Outcome:
        # Deletes carry no updated_at; a tombstone outranks every version, so its version is informational.
        if self._policy.scrub_pii_on_delete:
            item = items.tombstone_item(key, entity, id_fields, ctx.now_ms, ctx)
            written = self.table.put(item, when.TOMBSTONE_PROFILE, placeholders(false=False))
            return Outcome.APPLIED if written.applied else Outcome.DUPLICATE
        return self._mark_deleted(key, id_fields, ctx)

    def _mark_deleted(self, key: dict[str, str], id_fields: dict[str, str], ctx: WriteContext) -> Outcome:
        """Tombstone that keeps the record's fields (SCRUB_PII_ON_DELETE=false)."""
        assignments = {"deleted": True, "deleted_at": ctx.now_ms, "synced_at": ctx.now_ms, **id_fields}
        assignments["sync_source"] = ctx.source.stamp.value
        if ctx.event_id:
            assignments["last_event_id"] = ctx.event_id
        applied = self.table.update(key, assignments, when.TOMBSTONE_PROFILE, false=False)
        return Outcome.APPLIED if applied else Outcome.DUPLICATE

    def _record_refetch(self, key: dict[str, str], item: Item, ctx: WriteContext) -> None:
        """Marks the record so the refetch (and reconcile) can find it; the content is left as it was.

        When a newer version landed meanwhile the condition fails: nothing is left to refetch.
        """
        marks = {"refetch_requested_at": ctx.now_ms, "refetch_event_id": ctx.event_id or ""}
        self.table.update(key, marks, when.STILL_SAME_VERSION, version=item["version"])

    def _user_membership_keys(self, user_id: str) -> list[dict[str, str]]:
        return [key_of(m) for m in self.user_memberships(user_id)]

    def _org_membership_keys(self, org_id: str) -> list[dict[str, str]]:
        return [key_of(m) for m in self.organization_memberships(org_id, include_deleted=True)]

    def _cascade(self, item_keys: list[dict[str, str]]) -> int:
        """Batch deletes (no conditions needed: the parent's tombstone blocks any later membership write)."""
        return self.table.delete_keys(item_keys, "cascade delete")
