"""Demo data: users, organizations and memberships, the same for the same seed (ids aside)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .state import ClerkState, MembershipCreate, OrganizationCreate, PendingEvent, UserCreate

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dennis",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "John",
    "Ken",
    "Leslie",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
    "Tony",
    "Whitfield",
)
LAST_NAMES = (
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Backus",
    "Thompson",
    "Lamport",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "Hoare",
    "Diffie",
)
ORG_ADJECTIVES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne")
ORG_NOUNS = ("Corp", "Labs", "Industries", "Systems", "Works", "Group", "Partners", "Studio")
PLANS = ("free", "pro", "enterprise")


class SeedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: int = Field(default=10, ge=0, le=100_000)
    organizations: int = Field(default=3, ge=0, le=100_000)
    memberships_per_org: int = Field(default=3, ge=0)
    seed: int = 0
    webhooks: bool = True  # False: the data appears without events, as if it predated the webhook endpoint


def seed_state(
    state: ClerkState,
    publish: Callable[[list[PendingEvent]], None],
    *,
    users: int,
    organizations: int,
    memberships_per_org: int,
    seed: int,
) -> dict[str, Any]:
    """Create demo data; each org's first member is its creator (an admin), about one in four others is admin."""
    rng = random.Random(seed)
    user_ids: list[str] = []
    for i in range(users):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = f"{first}.{last}".lower().replace("-", "")
        spec = UserCreate(
            first_name=first,
            last_name=last,
            email=f"{handle}.{seed}.{i}@example.com",
            username=f"{handle.replace('.', '_')}_{seed}_{i}" if rng.random() < 0.5 else None,
            public_metadata={"plan": rng.choice(PLANS)},
        )
        user, changes = state.create_user(spec)
        publish(changes)
        user_ids.append(user["id"])
    org_ids: list[str] = []
    memberships = 0
    for i in range(organizations):
        members = rng.sample(user_ids, min(memberships_per_org, len(user_ids)))
        name = f"{rng.choice(ORG_ADJECTIVES)} {rng.choice(ORG_NOUNS)} {seed}-{i}"
        org, changes = state.create_organization(
            OrganizationCreate(
                name=name, created_by=members[0] if members else None, public_metadata={"tier": rng.choice(PLANS)}
            )
        )
        publish(changes)
        org_ids.append(org["id"])
        for user_id in members[1:]:
            role = "org:admin" if rng.random() < 0.25 else "org:member"
            _, changes = state.add_membership(org["id"], MembershipCreate(user_id=user_id, role=role))
            publish(changes)
        memberships += len(members)
    return {"users": user_ids, "organizations": org_ids, "memberships": memberships}
