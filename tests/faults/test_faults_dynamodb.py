"""DynamoDB throttling, server errors, unprocessed batch items and lost responses, injected into the product's own
boto3 client (`clerk_sync_local.soak.aws_faults`): below botocore's retries, so the SDK's standard mode runs as on
AWS. `clerk_sync.aws` configures `max_attempts: 4`, which botocore counts as retries: five attempts in all.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clerk_sync.store.table import UNPROCESSED_ATTEMPTS
from clerk_sync_local.soak.aws_faults import LOST_RESPONSE, SERVER_ERROR, THROTTLE, UNPROCESSED, Fault
from clerk_sync_local.soak.world import SoakWorld
from tests.faults.conftest import assert_settled

SDK_ATTEMPTS = 5  # botocore standard mode, max_attempts 4 retries


def _org_with_members(world: SoakWorld) -> tuple[str, str, list[str]]:
    clerk = world.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    members = [clerk.create_user(first_name=f"Member {n}")["id"] for n in range(2)]
    for user_id in members:
        clerk.add_membership(org, user_id)
    world.deliver()
    world.drain()
    return owner, org, members


def _add_user(world: SoakWorld) -> None:
    world.clerk.create_user(first_name="Newcomer")


def _add_member(world: SoakWorld) -> None:
    org = world.clerk.state_snapshot()["organizations"][0]["id"]
    world.clerk.add_membership(org, world.clerk.create_user(first_name="Joiner")["id"])


def _delete_org(world: SoakWorld) -> None:
    world.clerk.delete_organization(world.clerk.state_snapshot()["organizations"][0]["id"])


def _delete_user(world: SoakWorld) -> None:
    world.clerk.delete_user(world.clerk.state_snapshot()["memberships"][-1]["public_user_data"]["user_id"])


def _add_org(world: SoakWorld) -> None:
    world.clerk.create_organization("Newco")


# Which change makes the worker call each operation: an organization's put, a user's profile (one UpdateItem that
# also asks for the membership sync), a membership's transaction, the cascades' queries and batch deletes.
CHANGES: dict[str, Callable[[SoakWorld], None]] = {
    "PutItem": _add_org,
    "UpdateItem": _add_user,
    "TransactWriteItems": _add_member,
    "Query": _delete_user,
    "BatchWriteItem": _delete_org,
}


def _outcomes(world: SoakWorld) -> dict[str, list[str]]:
    return {msg_id: trail.outcomes for msg_id, trail in world.ledger.events.items()}


@pytest.mark.parametrize("operation", sorted(CHANGES))
def test_throttles_within_the_sdk_retries_cost_no_redelivery_and_each_event_applies_once(
    world: SoakWorld, operation: str
) -> None:
    _org_with_members(world)
    handled_before = {msg_id: len(outcomes) for msg_id, outcomes in _outcomes(world).items()}
    CHANGES[operation](world)
    world.deliver()
    world.faults.plan(Fault(THROTTLE, "dynamodb", frozenset({operation}), times=2))
    world.drain()

    assert world.faults.fired["dynamodb_throttle"] == 2
    assert world.worker.failed_records == 0  # the SDK rode them out: SQS never saw a failure
    new = {msg_id: outcomes for msg_id, outcomes in _outcomes(world).items() if msg_id not in handled_before}
    assert new
    assert all(len(outcomes) == 1 for outcomes in new.values()), new
    assert_settled(world)


def test_throttled_login_read_within_the_sdk_retries_still_answers_from_the_store(world: SoakWorld) -> None:
    owner, org, _ = _org_with_members(world)
    token = world.token(owner, org)
    assert world.call("GET", "/api/sync/status", token=token).status == 200
    world.faults.plan(Fault(THROTTLE, "dynamodb", frozenset({"GetItem"}), times=2))
    reply = world.call("GET", "/api/sync/status", token=token)
    assert reply.status == 200
    assert world.faults.fired["dynamodb_throttle"] == 2
    assert world.clerk.request_count("GET /v1/users/{user_id}") == 0  # fresh: no Clerk call, no fallback
    assert_settled(world)


@pytest.mark.parametrize("kind", [SERVER_ERROR, THROTTLE])
def test_write_errors_beyond_the_sdk_retries_fail_the_record_and_its_redelivery_applies_it(
    world: SoakWorld, kind: str
) -> None:
    _org_with_members(world)
    _add_member(world)
    world.deliver()
    world.faults.plan(Fault(kind, "dynamodb", frozenset({"TransactWriteItems"}), times=SDK_ATTEMPTS))
    world.drain()

    assert world.faults.fired[f"dynamodb_{kind}"] == SDK_ATTEMPTS
    [failed] = [trail for trail in world.ledger.events.values() if trail.failures]
    assert failed.event_type == "organizationMembership.created"
    assert (failed.failures, failed.outcomes) == (1, ["applied"])  # SQS redelivered it and it went through
    assert_settled(world)


def test_read_errors_beyond_the_sdk_retries_at_login_answer_503_with_retry_after_never_500(world: SoakWorld) -> None:
    owner, org, _ = _org_with_members(world)
    token = world.token(owner, org)
    world.faults.plan(Fault(SERVER_ERROR, "dynamodb", frozenset({"GetItem"}), times=SDK_ATTEMPTS))
    reply = world.call("GET", "/api/sync/status", token=token)
    assert reply.status == 503
    assert reply.error_code == "unavailable"
    assert int(reply.headers["retry-after"]) > 0
    assert world.call("GET", "/api/sync/status", token=token).status == 200
    assert_settled(world)


def test_write_errors_during_a_manual_sync_answer_503_then_the_retried_sync_converges(world: SoakWorld) -> None:
    owner, org, _ = _org_with_members(world)
    token = world.token(owner, org)
    assert world.call("GET", "/api/sync/status", token=token).status == 200
    world.clerk.update_user(owner, first_name="Owner Renamed")
    world.new_events()  # a missed webhook: the manual sync brings the change
    # The profile's write (an UpdateItem); the organization and membership, unchanged, are read and not written.
    world.faults.plan(Fault(SERVER_ERROR, "dynamodb", frozenset({"UpdateItem"}), times=SDK_ATTEMPTS))
    reply = world.call("POST", "/api/sync/user", token=token)
    assert reply.status == 503
    assert reply.error_code == "storage_unavailable"
    assert int(reply.headers["retry-after"]) > 0

    assert world.call("POST", "/api/sync/user", token=token).status == 200
    assert world.differences() == []
    assert_settled(world)


def test_cascade_deletes_left_unprocessed_are_resent_until_done(world: SoakWorld) -> None:
    _org_with_members(world)
    _delete_org(world)
    world.deliver()
    world.faults.plan(Fault(UNPROCESSED, "dynamodb", frozenset({"BatchWriteItem"}), times=2))
    world.drain()
    assert world.faults.fired["dynamodb_unprocessed"] == 2
    assert world.worker.failed_records == 0
    assert world.differences() == []
    assert_settled(world)


def test_cascade_deletes_left_unprocessed_past_every_resend_fail_the_event_and_its_redelivery_converges(
    world: SoakWorld,
) -> None:
    _org_with_members(world)
    _delete_org(world)
    world.deliver()
    world.faults.plan(Fault(UNPROCESSED, "dynamodb", frozenset({"BatchWriteItem"}), times=UNPROCESSED_ATTEMPTS))
    world.drain()
    assert world.faults.fired["dynamodb_unprocessed"] == UNPROCESSED_ATTEMPTS
    [failed] = [trail for trail in world.ledger.events.values() if trail.failures]
    assert failed.event_type == "organization.deleted"
    assert failed.outcomes == ["duplicate"]  # the tombstone was written the first time; the cascade finished now
    assert_settled(world)


@pytest.mark.parametrize(
    ("operation", "event_type"),
    [("UpdateItem", "user.created"), ("TransactWriteItems", "organizationMembership.created")],
)
def test_a_write_whose_answer_is_lost_is_resent_by_the_sdk_and_judged_a_duplicate_of_itself(
    world: SoakWorld, operation: str, event_type: str
) -> None:
    _org_with_members(world)
    _add_member(world)
    world.deliver()
    world.faults.plan(Fault(LOST_RESPONSE, "dynamodb", frozenset({operation}), times=1))
    world.drain()
    assert world.faults.fired["dynamodb_lost_response"] == 1
    assert world.worker.failed_records == 0
    [resent] = [
        trail
        for trail in world.ledger.events.values()
        if trail.event_type == event_type and trail.outcomes and trail.outcomes != ["applied"]
    ]
    # DynamoDB did the first write; the SDK's resend found it there, with the same content.
    assert resent.outcomes == ["duplicate"]
    assert world.differences() == []
    assert_settled(world)


def test_a_member_sync_job_whose_creation_answer_is_lost_still_runs_to_the_end(world: SoakWorld) -> None:
    """Fails before the fix: the members route answers 503 storage_unavailable and the job never finishes."""
    clerk = world.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    org = clerk.create_organization("Big", created_by=owner)["id"]
    for n in range(500):  # 501 members with the owner: two pages, so a job
        clerk.add_membership(org, clerk.create_user(first_name=f"Member {n}")["id"])
    world.new_events()  # only the member sync brings them
    token = world.token(owner, org)
    assert world.call("GET", "/api/sync/status", token=token).status == 200
    world.faults.plan(Fault(LOST_RESPONSE, "dynamodb", frozenset({"PutItem"}), body_contains='"JOB#'))

    reply = world.call("POST", f"/api/sync/organization/{org}/members", token=token)

    assert world.faults.fired["dynamodb_lost_response"] == 1
    assert reply.status == 202, reply
    world.drain()
    job = world.call("GET", reply.headers["location"], token=token)
    assert job.body["status"] == "succeeded"
    # The webhooks were not delivered, so only the memberships the job brings are compared.
    assert [line for line in world.differences() if "MEMBER#" in line] == []


def test_a_provisional_membership_whose_write_answer_is_lost_is_still_replaced_by_a_queued_sync(
    world: SoakWorld,
) -> None:
    """Fails before the fix: after Clerk is back and the queue is drained, the membership is still provisional."""
    clerk = world.clerk
    owner = clerk.create_user(first_name="Owner")["id"]
    [user_created] = world.new_events()
    world.deliver([user_created])  # the user is on record; the organization's webhooks are lost
    world.drain()
    org = clerk.create_organization("Acme", created_by=owner)["id"]
    world.new_events()
    clerk.set_knobs(outage=True)
    world.faults.plan(Fault(LOST_RESPONSE, "dynamodb", frozenset({"TransactWriteItems"}), body_contains='"MEMBER#'))

    reply = world.call("GET", "/api/sync/status", token=world.token(owner, org))

    assert reply.status == 200
    assert world.faults.fired["dynamodb_lost_response"] == 1
    clerk.set_knobs(outage=False)
    world.drain()
    membership = world.check_store().get_membership(org, owner)
    assert membership is not None
    assert membership["provisional"] is False
