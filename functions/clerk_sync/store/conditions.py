"""The conditions of every write to the table, each clause named so a write states its rule in words, and how
a write whose condition failed is read from the old item DynamoDB hands back (docs/decisions/0003, 0004).

Pure: no AWS. The repositories bind the placeholders (`:version`, `:false`, ...) with `table.placeholders`.
"""

from __future__ import annotations

from typing import Any

from clerk_sync.outcomes import Outcome

IS_NEW = "attribute_not_exists(PK)"
IS_OLDER = "version < :version"
IS_SAME_VERSION = "version = :version"
IS_NOT_NEWER = "version <= :version"
IS_LIVE = "deleted = :false"
IS_TOMBSTONE = "deleted = :true"
# Users and organizations: a newer version of a live record; never over a tombstone (no resurrection).
UPSERT_PROFILE = f"{IS_NEW} OR ({IS_LIVE} AND {IS_OLDER})"
# Deleting: anything not already a tombstone.
TOMBSTONE_PROFILE = f"{IS_NEW} OR {IS_LIVE}"
# A membership delete is final for its membership id; a re-add is a new membership (a new id, an
# incarnation), decided by version. The delete supersedes its incarnation's updates, whatever versions Clerk
# put on them. Provisional records (version 0) carry no membership id, so versions alone decide against them.
IS_SAME_INCARNATION = "membership_id = :membership_id"
# A tombstone a sync wrote because Clerk no longer listed the membership (`remove_unlisted_membership`, marked
# `unlisted`; older ones carry no membership id): an inference, not Clerk's word. It never makes its incarnation
# final (versions decide against it, whatever id it keeps) and a read of Clerk begun after it was written
# (`deleted_at`) repairs it (docs/decisions/0013). Only ever tested together with IS_TOMBSTONE.
IS_INFERRED_REMOVAL = "(attribute_exists(unlisted) OR attribute_not_exists(membership_id))"
# A tombstone of another (or no known) incarnation, or an inferred removal, yields to anything newer: a re-add,
# or its later removal.
OVER_OLDER_OTHER_TOMBSTONE = f"({IS_TOMBSTONE} AND {IS_OLDER} AND ({IS_INFERRED_REMOVAL} OR NOT {IS_SAME_INCARNATION}))"
# Event upsert: a newer version of a live record, or a newer incarnation over an older tombstone.
UPSERT_MEMBERSHIP = f"{IS_NEW} OR ({IS_LIVE} AND {IS_OLDER}) OR {OVER_OLDER_OTHER_TOMBSTONE}"
# Delete: its own incarnation at any version; another live incarnation only if not newer (a tie goes to
# the delete); another incarnation's older tombstone. Never over its own tombstone (a repeat). Over an inferred
# removal as over a live record: Clerk's delete of that incarnation makes it final.
DELETE_MEMBERSHIP = (
    f"{IS_NEW} OR (({IS_LIVE} OR ({IS_TOMBSTONE} AND {IS_INFERRED_REMOVAL}))"
    f" AND ({IS_SAME_INCARNATION} OR {IS_NOT_NEWER}))"
    f" OR {OVER_OLDER_OTHER_TOMBSTONE}"
)
# Parents of a membership must not be tombstones (cascade holds for late membership events too).
PARENT_NOT_DELETED = f"{IS_NEW} OR {IS_LIVE}"
# needs_refetch is recorded only on the version that was compared.
STILL_SAME_VERSION = f"attribute_exists(PK) AND {IS_SAME_VERSION}"
# Data just read from Clerk's API is Clerk's current state: at an equal version it replaces what we hold
# (this is how a needs_refetch tie is settled), and it refreshes synced_at even when nothing changed.
REFRESH_PROFILE = f"{IS_NEW} OR ({IS_LIVE} AND {IS_NOT_NEWER})"
# A read of Clerk that began (`:read_from`, the fetched item's synced_at) after a sync inferred a removal lists
# what Clerk has now: it wins whatever the versions. A read begun before the removal does not.
REPAIRS_INFERRED_REMOVAL = f"({IS_TOMBSTONE} AND {IS_INFERRED_REMOVAL} AND deleted_at < :read_from)"
# A listing read before a delete must not bring that incarnation back; a same-version delete of another
# incarnation still beats it.
REFRESH_MEMBERSHIP = (
    f"{IS_NEW} OR ({IS_LIVE} AND {IS_NOT_NEWER}) OR {OVER_OLDER_OTHER_TOMBSTONE} OR {REPAIRS_INFERRED_REMOVAL}"
)
# A sync removes a membership Clerk no longer lists only if nothing newer than the listing wrote it, and only
# the incarnation it looked at (whose id the removal keeps), or a record without one.
REMOVE_UNLISTED = f"{IS_LIVE} AND {IS_OLDER} AND synced_at < :listed_at"
REMOVE_UNLISTED_INCARNATION = f"{REMOVE_UNLISTED} AND {IS_SAME_INCARNATION}"
# Membership sync requests are coalesced per user: `missing` asks once until a sync completes (or the
# request is old enough to have been lost), `always` at most once per window.
SYNC_NEVER_DONE = "attribute_not_exists(synced_at) AND (attribute_not_exists(requested_at) OR requested_at < :cutoff)"
SYNC_NOT_REQUESTED_SINCE = "attribute_not_exists(requested_at) OR requested_at < :cutoff"
# A job's progress is saved only over the checkpoint it started from: a redelivered page loses the race.
JOB_AT_CHECKPOINT = "next_offset = :expected"
# The worker's notes (a message's last failure, the last webhook processed) keep the latest: a slower container's
# older note never replaces a newer one.
NOTE_NOT_NEWER = f"{IS_NEW} OR noted_at <= :noted_at"


def classify(old: dict[str, Any] | None, item: dict[str, Any], *, profile: bool) -> Outcome:
    """Why a conditional write failed, read from the old item DynamoDB returned."""
    if old is None:
        # Condition failed but no item came back: only a racing delete of the item explains it.
        return Outcome.STALE
    if profile and old.get("deleted"):
        return Outcome.TOMBSTONED
    if not profile and old.get("deleted") and same_incarnation(old, item):
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


def same_incarnation(old: dict[str, Any], item: dict[str, Any]) -> bool:
    """Both carry the same Clerk membership id (provisional items carry none); an inferred removal never counts."""
    membership_id = item.get("membership_id")
    inferred = bool(old.get("unlisted"))
    return membership_id is not None and not inferred and old.get("membership_id") == membership_id


# What a fetched write stamps anew whatever it writes (when, by whom): a stored record that differs from the
# record a fetched write would store only in these already holds Clerk's data, and not writing it loses nothing but
# the time of that confirmation. The membership-sync state a user's profile carries is kept by every write of it.
RESTAMPED = frozenset({"synced_at", "sync_source", "last_event_id"})
_ABSENT = object()


def unchanged(old: dict[str, Any] | None, item: dict[str, Any], *, ignore: frozenset[str] = frozenset()) -> bool:
    """Whether the table already holds `item`, the record a fetched write would store: the same attributes with the
    same values (version, content, the volatile fields, deleted, provisional, keys, markers) but the `RESTAMPED`
    bookkeeping and `ignore`. A tombstone, a provisional record, another version or incarnation, another role, a
    pending refetch marker or a truncation flag all differ, and are written as before."""
    if old is None:
        return False
    names = (old.keys() | item.keys()) - RESTAMPED - ignore
    return all(old.get(name, _ABSENT) == item.get(name, _ABSENT) for name in names)


def classify_refresh(old: dict[str, Any] | None, item: dict[str, Any]) -> Outcome:
    """What a write of fetched data that went through changed, from the old item it replaced."""
    if old is None or old.get("provisional") or old.get("deleted"):
        return Outcome.APPLIED
    if int(old.get("version", 0)) == item["version"] and old.get("content_hash") == item["content_hash"]:
        return Outcome.DUPLICATE  # unchanged; only synced_at moved
    return Outcome.APPLIED
