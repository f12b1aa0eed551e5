"""Membership walks (sync/walks.py) over a fake Clerk whose lists shift between pages, and moto: nothing Clerk
still has is ever removed, what it no longer has is removed, and jobs confirm in bounded, idempotent rounds."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from clerk_sync.jobs import JobStage, JobStatus
from clerk_sync.reports import ChangeOutcome
from clerk_sync.sync.walks import Scope
from tests.support.walks import WalkWorld, walk_world

ORG = "org_acme"
USER = "user_ada"


def _members(world: WalkWorld, count: int) -> list[str]:
    """`count` members of ORG in Clerk and on record; returned newest first, the order Clerk lists them in."""
    users = [f"user_{number:02d}" for number in range(count)]
    for user_id in users:
        world.on_record(world.clerk.add(ORG, user_id))
    return users[::-1]


def _organizations(world: WalkWorld, count: int) -> list[str]:
    """`count` memberships of USER in Clerk and on record, newest first."""
    orgs = [f"org_{number:02d}" for number in range(count)]
    for org_id in orgs:
        world.on_record(world.clerk.add(org_id, USER))
    return orgs[::-1]


@pytest.fixture
def world(aws: Any) -> WalkWorld:
    return walk_world(aws.store(), page_size=3)


def test_member_job_keeps_the_member_shifted_across_a_page_boundary(world: WalkWorld) -> None:
    listed = _members(world, 7)  # pages of 3: [0 1 2] [3 4 5] [6]
    scope = Scope.organization(ORG)
    job = world.start(scope)
    assert job is not None
    world.clerk.remove(ORG, listed[0])  # an earlier member leaves: listed[3] moves onto page 1, already read
    world.drain()
    assert listed[3] in world.live(scope)
    assert world.live(scope) == set(listed)  # listed[0] was read before it left: its webhook removes it
    done = world.deps.jobs.get(job.job_id)
    assert done is not None
    assert (done.status, done.checked, done.kept, done.removed) == (JobStatus.SUCCEEDED, 1, 1, 0)
    assert world.clerk.lookups == 1  # one request confirmed the candidate


def test_user_job_keeps_the_membership_shifted_across_a_page_boundary(world: WalkWorld) -> None:
    listed = _organizations(world, 5)
    scope = Scope.user(USER)
    assert world.start(scope) is not None
    world.clerk.remove(listed[1], USER)
    world.drain()
    assert listed[3] in world.live(scope)
    assert world.live(scope) == set(listed)


def test_inline_walk_keeps_a_shifted_member_and_removes_the_ones_clerk_dropped(world: WalkWorld) -> None:
    listed = _members(world, 8)
    gone = listed[5]
    world.clerk.remove(ORG, gone)  # before the walk: Clerk no longer has it
    scope = Scope.organization(ORG)

    def leave_once(scope_id: str, offset: int) -> None:
        if offset == 0:
            world.clerk.remove(ORG, listed[1])

    world.clerk.after_page = leave_once
    report = world.walk(scope)
    assert world.live(scope) == set(listed) - {gone}
    assert report.count(ChangeOutcome.REMOVED) == 1


def test_walk_of_one_page_removes_what_it_did_not_list_without_a_lookup(world: WalkWorld) -> None:
    listed = _members(world, 3)
    world.clerk.remove(ORG, listed[2])
    report = world.walk(Scope.organization(ORG))
    assert world.live(Scope.organization(ORG)) == set(listed[:2])
    assert report.count(ChangeOutcome.REMOVED) == 1
    assert world.clerk.lookups == 0


def test_user_job_confirms_in_bounded_rounds_until_every_candidate_is_settled(aws: Any) -> None:
    world = walk_world(aws.store(), page_size=3, confirm_requests=2)
    listed = _organizations(world, 10)
    dropped = listed[3:8]  # five memberships Clerk no longer has
    for org_id in dropped:
        world.clerk.remove(org_id, USER)
    scope = Scope.user(USER)
    job = world.start(scope)
    assert job is not None
    lookups: list[int] = []

    def count_lookups(_job: Any, _offset: int) -> None:
        lookups.append(world.clerk.lookups)

    world.drain(on_step=count_lookups)
    lookups.append(world.clerk.lookups)
    per_step = [after - before for before, after in itertools.pairwise(lookups)]
    assert max(per_step) == 2  # never more than `confirm_requests` lookups in one message
    assert world.live(scope) == set(listed) - set(dropped)
    done = world.deps.jobs.get(job.job_id)
    assert done is not None
    assert (done.status, done.checked, done.kept, done.removed, done.next_offset) == (
        JobStatus.SUCCEEDED,
        5,
        0,
        5,
        None,
    )


def test_job_step_delivered_twice_changes_nothing_the_second_time(aws: Any) -> None:
    world = walk_world(aws.store(), page_size=3, confirm_requests=1)
    listed = _organizations(world, 7)
    for org_id in listed[4:6]:
        world.clerk.remove(org_id, USER)
    job = world.start(Scope.user(USER))
    assert job is not None
    seen: list[tuple[str, int, JobStage]] = []
    while world.queue.steps:
        step, offset = world.queue.steps.pop(0)
        before = world.deps.jobs.get(step.job_id)
        assert before is not None
        seen.append((step.job_id, offset, before.stage))
        world.walks.continue_job(step.job_id, offset, step.kind)
        lookups = world.clerk.lookups
        repeat = world.walks.continue_job(step.job_id, offset, step.kind)  # a redelivery
        assert (repeat.changes, world.clerk.lookups) == ([], lookups)
    stages = [stage for _, _, stage in seen]
    # Clerk lists 5: the first page inline, the second queued, then one confirmation round per candidate.
    assert stages == [JobStage.LISTING, JobStage.CONFIRMING, JobStage.CONFIRMING]
    offsets = [offset for _, offset, _ in seen]
    assert offsets == sorted(set(offsets))  # the checkpoint only moves forward


def test_confirmation_of_an_organization_asks_for_up_to_a_hundred_members_at_once(aws: Any) -> None:
    world = walk_world(aws.store(), page_size=100, confirm_requests=25)
    listed = _members(world, 230)
    for user_id in listed[200:]:
        world.clerk.remove(ORG, user_id)
    world.clerk.after_page = lambda _scope, offset: world.clerk.remove(ORG, listed[0]) if offset == 0 else None
    report = world.walk(Scope.organization(ORG))
    # Candidates: listed[100] (shifted onto the first page) and the 30 Clerk dropped: one lookup of 31 ids.
    assert world.clerk.lookups == 1
    assert report.count(ChangeOutcome.REMOVED) == 30
    assert listed[100] in world.live(Scope.organization(ORG))


def test_steps_near_their_deadline_write_one_chunk_and_leave_the_rest_of_the_page_to_the_next(aws: Any) -> None:
    world = walk_world(aws.store(), page_size=5, write_chunk=2)
    listed = _organizations(world, 7)
    world.clerk.remove(listed[6], USER)  # Clerk dropped the oldest: the removal still comes after the whole walk
    scope = Scope.user(USER)
    near = world.clerk.clock()  # already inside the reserve: one chunk per step, never none
    job = world.start(scope, deadline=near)
    assert job is not None
    assert (job.next_offset, job.synced) == (2, 2)
    offsets: list[int] = []
    world.drain(on_step=lambda _job, offset: offsets.append(offset), deadline=near)
    # Listing steps read on from the last write (2, then 4: the short last page), then one confirmation round.
    assert offsets == [2, 4, 5]
    assert world.live(scope) == set(listed[:6])
    done = world.deps.jobs.get(job.job_id)
    assert done is not None
    assert (done.status, done.synced, done.removed) == (JobStatus.SUCCEEDED, 6, 1)
