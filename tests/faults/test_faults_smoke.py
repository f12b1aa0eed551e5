from __future__ import annotations

from clerk_sync_local.soak.world import SoakWorld
from tests.faults.conftest import assert_settled


def test_world_smoke(world: SoakWorld) -> None:
    clerk = world.clerk
    user = clerk.create_user(first_name="Ada")["id"]
    org = clerk.create_organization("Acme", created_by=user)["id"]
    world.deliver()
    world.drain()
    assert world.differences() == []
    reply = world.call("GET", "/api/sync/status", token=world.token(user, org))
    assert reply.status == 200, reply
    assert_settled(world)
    print(world.ledger.outcomes(), world.ledger.syncs, world.worker)
