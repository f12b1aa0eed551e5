"""The store is a boundary: whatever DynamoDB or the network does, its reads and writes raise only StoreError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from clerk_sync.items import WriteContext
from clerk_sync.jobs import Job
from clerk_sync.models import Membership, Organization, User
from clerk_sync.store import JobStore, MembershipSyncClaims, StoreError, StoreUnavailableError, SyncStore, Table
from clerk_sync.vocabulary import SyncSource

CTX = WriteContext(SyncSource.WEBHOOK, 1_700_000_000_000, "msg_1")
ORG = {"id": "org_1", "name": "Acme", "created_at": 1, "updated_at": 2}
USER = User.model_validate({"id": "user_1", "created_at": 1, "updated_at": 2})
MEMBERSHIP = Membership.model_validate(
    {
        "id": "orgmem_1",
        "role": "org:member",
        "organization": ORG,
        "public_user_data": {"user_id": "user_1"},
        "created_at": 1,
        "updated_at": 2,
    }
)
JOB = Job(job_id="job_1", org_id="org_1", requested_by="user_1", created_at=1, updated_at=1, listed_at=1)

FAILURES: dict[str, Callable[[str], Exception]] = {
    "throttled": lambda operation: ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, operation
    ),
    "internal error": lambda operation: ClientError({"Error": {"Code": "InternalServerError"}}, operation),
    "unreachable": lambda _: EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
}

CALLS: dict[str, Callable[[SyncStore, JobStore, MembershipSyncClaims], Any]] = {
    "put_user": lambda s, _j, _c: s.put_user(USER, CTX),
    "put_user fetched": lambda s, _j, _c: s.put_user(USER, CTX, fetched=True),
    "put_organization": lambda s, _j, _c: s.put_organization(Organization.model_validate(ORG), CTX),
    "put_provisional_user": lambda s, _j, _c: s.put_provisional_user("user_1", {}, CTX),
    "put_provisional_organization": lambda s, _j, _c: s.put_provisional_organization("org_1", None, CTX),
    "delete_user": lambda s, _j, _c: s.delete_user("user_1", CTX),
    "delete_organization": lambda s, _j, _c: s.delete_organization("org_1", CTX),
    "put_membership": lambda s, _j, _c: s.put_membership(MEMBERSHIP, CTX),
    "put_membership fetched": lambda s, _j, _c: s.put_membership(MEMBERSHIP, CTX, fetched=True),
    "put_provisional_membership": lambda s, _j, _c: s.put_provisional_membership("org_1", "user_1", "org:admin", CTX),
    "remove_unlisted_membership": lambda s, _j, _c: s.remove_unlisted_membership(
        "org_1", "user_1", 5, CTX, removed_at=6
    ),
    "delete_membership": lambda s, _j, _c: s.delete_membership(MEMBERSHIP, CTX),
    "cascade_deleted_parents": lambda s, _j, _c: s.cascade_deleted_parents(["user_1"], ["org_1"]),
    "cascade_user": lambda s, _j, _c: s.cascade_user("user_1"),
    "get_user": lambda s, _j, _c: s.get_user("user_1"),
    "get_organization": lambda s, _j, _c: s.get_organization("org_1"),
    "get_membership": lambda s, _j, _c: s.get_membership("org_1", "user_1"),
    "get_many": lambda s, _j, _c: s.get_many([{"PK": "USER#user_1", "SK": "PROFILE"}]),
    "user_memberships": lambda s, _j, _c: s.user_memberships("user_1"),
    "organization_memberships": lambda s, _j, _c: s.organization_memberships("org_1"),
    "scan": lambda s, _j, _c: list(s.scan()),
    "job create": lambda _s, j, _c: j.create(JOB),
    "job get": lambda _s, j, _c: j.get("job_1"),
    "job save": lambda _s, j, _c: j.save(JOB, expected_offset=0),
    "jobs started_by": lambda _s, j, _c: j.started_by("user_1"),
    "held_unchanged": lambda s, _j, _c: s.held_unchanged([MEMBERSHIP, MEMBERSHIP], CTX),
    "job keep_listed": lambda _s, j, _c: j.keep_listed("job_1", 0, ["user_1"]),
    "job listed": lambda _s, j, _c: j.listed("job_1"),
    "claim_again": lambda _s, _j, c: c.claim_again("user_1", 5, 10, only_if_never_synced=True),
    "mark_synced": lambda _s, _j, c: c.mark_synced("user_1", 10),
    "claim state": lambda _s, _j, c: c.state("user_1"),
    "legacy_synced": lambda _s, _j, c: c.legacy_synced("user_1"),
}


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("call", CALLS)
def test_store_any_dynamodb_failure_raises_store_error_only(failure: str, call: str) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")

    def fail(model: Any, **_: Any) -> None:
        raise FAILURES[failure](model.name)

    client.meta.events.register("before-call.dynamodb.*", fail)
    table = Table(client, "clerk-sync-unit", sleep=lambda _: None)

    with pytest.raises(StoreError) as raised:
        CALLS[call](SyncStore(table), JobStore(table), MembershipSyncClaims(table))

    assert isinstance(raised.value, StoreUnavailableError)
    assert not isinstance(raised.value, ClientError | EndpointConnectionError)
