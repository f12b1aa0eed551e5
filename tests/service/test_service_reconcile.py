"""Reconcile against the emulator: each kind of drift found and repaired, a dry run that changes nothing, and no
tombstone from a key of another instance."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import items, keys, wiring
from clerk_sync.clerk.errors import ClerkInstanceMismatchError
from clerk_sync.items import WriteContext
from clerk_sync.runs import RunKind, RunStatus
from clerk_sync.sync.reconcile import Reconcile
from clerk_sync.vocabulary import SyncSource
from clerk_sync_local.convergence import differences
from tests.service.conftest import Harness
from tests.support.runs import walk_to_the_end

PAGE = 50


def _table(harness: Harness) -> list[dict[str, Any]]:
    return sorted(harness.records(), key=lambda item: (item[keys.PK], item[keys.SK]))


@pytest.fixture
def drifted(harness: Harness) -> dict[str, Any]:
    """A backfilled table, then one drift of each kind: webhooks missed, records lost, a provisional left."""
    clerk = harness.clerk
    clerk.seed_data(users=200, organizations=20, memberships_per_org=5, seed=9, webhooks=False)
    runner, run = harness.service.runs.start(RunKind.BACKFILL, page_size=PAGE)
    walk_to_the_end(runner, run)
    snapshot = clerk.state_snapshot()
    users = [u["id"] for u in snapshot["users"]]
    members = snapshot["memberships"]
    table = harness.dynamodb
    name = harness.resources.table_name
    # missing: a user record lost from the table.
    missing = users[5]
    table.delete_item(TableName=name, Key={"PK": {"S": keys.USER_PREFIX + missing}, "SK": {"S": keys.PROFILE_SK}})
    # stale: a change in Clerk whose webhook never came.
    stale = users[6]
    clerk.update_user(stale, first_name="Changed")
    # role: a promotion whose webhook never came.
    plain = [m for m in members if m["role"] == "org:member"]
    promoted = plain[0]
    clerk.update_membership(promoted["organization"]["id"], promoted["public_user_data"]["user_id"], role="org:admin")
    # provisional: a login's stand-in never healed.
    healed = plain[1]
    org_id, user_id = healed["organization"]["id"], healed["public_user_data"]["user_id"]
    table.delete_item(
        TableName=name, Key={"PK": {"S": keys.ORG_PREFIX + org_id}, "SK": {"S": keys.MEMBER_PREFIX + user_id}}
    )
    harness.store.put_provisional_membership(org_id, user_id, "org:member", WriteContext(SyncSource.FALLBACK, 1))
    # gone: a user deleted in Clerk without its webhook, and a record Clerk never had.
    deleted = users[7]
    clerk.delete_user(deleted)
    ghost = items.user_item(
        _ghost_user(snapshot["users"][0]), WriteContext(SyncSource.WEBHOOK, 1), harness.store.policy
    )
    table.put_item(TableName=name, Item=_serialized(ghost))
    return {"missing": missing, "stale": stale, "deleted": deleted, "ghost": ghost["PK"][len(keys.USER_PREFIX) :]}


def _ghost_user(template: dict[str, Any]) -> Any:
    from clerk_sync.models import User

    return User.model_validate({**template, "id": "user_ghost000000000000000000", "updated_at": 1, "created_at": 1})


def _serialized(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in items.to_dynamo_value(item).items()}


def test_a_dry_run_reports_every_kind_of_drift_and_changes_nothing(harness: Harness, drifted: dict[str, Any]) -> None:
    before = _table(harness)
    runner, run = harness.service.runs.start(RunKind.RECONCILE, dry_run=True, page_size=PAGE)
    run = walk_to_the_end(runner, run)
    assert run.status is RunStatus.COMPLETED
    assert run.drift["missing"] == 1
    assert run.drift["stale"] == 1
    assert run.drift["role"] == 1
    assert run.drift["provisional"] == 1
    # The deleted user, its memberships, and the ghost.
    assert run.drift["gone"] >= 2
    assert _table(harness) == before
    assert isinstance(runner, Reconcile)
    planned = {(p.kind.value, p.id) for p in runner.plan}
    assert ("missing", drifted["missing"]) in planned
    assert ("stale", drifted["stale"]) in planned
    assert ("gone", drifted["deleted"]) in planned
    assert ("gone", drifted["ghost"]) in planned
    assert all(p.action == "tombstone" for p in runner.plan if p.kind.value == "gone")


def test_reconcile_repairs_each_kind_and_the_table_equals_clerk(harness: Harness, drifted: dict[str, Any]) -> None:
    assert differences(harness.store, harness.clerk.state_snapshot()) != []
    runner, run = harness.service.runs.start(RunKind.RECONCILE, page_size=PAGE)
    run = walk_to_the_end(runner, run)
    assert run.status is RunStatus.COMPLETED, run.error
    assert {k: run.drift.get(k, 0) > 0 for k in ("missing", "stale", "role", "provisional", "gone")} == dict.fromkeys(
        ("missing", "stale", "role", "provisional", "gone"), True
    )
    assert differences(harness.store, harness.clerk.state_snapshot()) == []
    ghost = harness.item(keys.USER_PREFIX + drifted["ghost"], keys.PROFILE_SK)
    assert ghost is not None
    assert ghost["deleted"] is True
    assert run.repaired == sum(run.drift.get(k, 0) for k in ("missing", "stale", "role", "provisional", "gone"))

    # Nothing drifted any more: a second run finds nothing and writes nothing.
    runner, again = harness.service.runs.start(RunKind.RECONCILE, page_size=PAGE)
    again = walk_to_the_end(runner, again)
    assert sum(again.drift.values()) == 0
    assert again.repaired == 0


def test_a_key_of_another_instance_is_refused_before_anything_is_read_or_written(
    harness: Harness, drifted: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _table(harness)
    monkeypatch.setenv("CLERK_INSTANCE_ID", "ins_production")
    wiring.reset()
    for kind in (RunKind.RECONCILE, RunKind.BACKFILL):
        with pytest.raises(ClerkInstanceMismatchError):
            harness.service.runs.start(kind, page_size=PAGE)
    assert _table(harness) == before
    for user_id in (drifted["deleted"], drifted["ghost"]):
        item = harness.item(keys.USER_PREFIX + user_id, keys.PROFILE_SK)
        assert item is not None
        assert not item.get("deleted")


def test_the_scheduled_message_runs_a_reconcile_in_the_worker_to_the_end(
    harness: Harness, drifted: dict[str, Any]
) -> None:
    """The body EventBridge Scheduler puts on the event queue (infra): a run started, stepped a message at a time."""
    body = '{"kind":"sync","target":"reconcile","trigger":"reconcile","requested_at":0}'
    harness.sqs.send_message(QueueUrl=harness.resources.queue_url, MessageBody=body)
    harness.run_worker()
    run = harness.service.runs.runner(RunKind.RECONCILE).runs.current(RunKind.RECONCILE)
    assert run is not None
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.as_job
    assert run.drift.get("missing") == 1
    assert differences(harness.store, harness.clerk.state_snapshot()) == []
