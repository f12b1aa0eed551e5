"""Membership walks under any shifts: whatever joins or leaves Clerk's list between pages, a membership Clerk has
from the start to the end of a walk is never removed, and one Clerk did not have at all is always removed.

Inline walks and jobs, of an organization's members and of a user's memberships, with small pages, small write
chunks and deadlines that cut steps short, over a fake Clerk that lists newest first and pages by offset.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from clerk_sync import resources
from clerk_sync.jobs import JobStatus
from clerk_sync.store import SyncStore, Table
from clerk_sync.sync.walks import Scope
from tests.support.walks import walk_world

ORG = "org_scope"
USER = "user_scope"

# After the n-th page Clerk answers: an existing membership leaves (the i-th of those listed now) or one joins.
changes = st.lists(
    st.tuples(st.integers(min_value=1, max_value=6), st.sampled_from(["leave", "join"]), st.integers(0, 20)),
    max_size=6,
)


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


def _fresh_store(dynamodb: Any) -> SyncStore:
    name = f"walks-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(**resources.table_create_kwargs(name))
    return SyncStore(Table(dynamodb, name))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    of_organization=st.booleans(),
    as_job=st.booleans(),
    members=st.integers(min_value=1, max_value=9),
    gone=st.sets(st.integers(min_value=0, max_value=8), max_size=4),
    page_size=st.integers(min_value=1, max_value=4),
    write_chunk=st.integers(min_value=1, max_value=3),
    near_deadline=st.booleans(),
    drawn_changes=changes,
)
def test_walk_never_removes_what_clerk_kept_and_always_removes_what_it_never_had(
    dynamodb: Any,
    *,
    of_organization: bool,
    as_job: bool,
    members: int,
    gone: set[int],
    page_size: int,
    write_chunk: int,
    near_deadline: bool,
    drawn_changes: list[tuple[int, str, int]],
) -> None:
    world = walk_world(_fresh_store(dynamodb), page_size=page_size, confirm_requests=1, write_chunk=write_chunk)
    clerk = world.clerk
    scope = Scope.organization(ORG) if of_organization else Scope.user(USER)
    pair = (lambda key: (ORG, key)) if of_organization else (lambda key: (key, USER))
    keys = [f"{'user' if of_organization else 'org'}_{number}" for number in range(members)]
    for key in keys:
        world.on_record(clerk.add(*pair(key)))
    never_had = {key for number, key in enumerate(keys) if number in gone}
    for key in never_had:
        clerk.remove(*pair(key))
    left_during_walk: set[str] = set()
    joined = itertools.count()
    pages = itertools.count(1)

    def between_pages(_scope_id: str, _offset: int) -> None:
        page = next(pages)
        for after, action, index in drawn_changes:
            if after != page:
                continue
            listed = sorted(scope.key(org, user) for org, user in clerk.memberships)
            if action == "leave" and listed:
                key = listed[index % len(listed)]
                clerk.remove(*pair(key))
                left_during_walk.add(key)
            elif action == "join":
                clerk.add(*pair(f"{'user' if of_organization else 'org'}_joined{next(joined)}"))

    clerk.after_page = between_pages
    deadline = clerk.clock() if near_deadline else None
    if as_job:
        job = world.start(scope, deadline=deadline)
        world.drain(deadline=deadline)
        if job is not None:
            done = world.deps.jobs.get(job.job_id)
            assert done is not None
            assert done.status is JobStatus.SUCCEEDED
    else:
        world.walk(scope)
    live = world.live(scope)
    kept_throughout = set(keys) - never_had - left_during_walk
    assert kept_throughout <= live, f"removed while Clerk still listed them: {sorted(kept_throughout - live)}"
    assert not never_had & live, f"Clerk never had them, still live: {sorted(never_had & live)}"
