"""Random changes to the Clerk emulator: a small instance's users, organizations and memberships living their lives.

Each change goes through the emulator's API, so its webhooks and the Backend API's answers agree by construction.
Populations stay small (a handful of users and organizations), so updates, role changes, removals, re-adds and
deletes with their cascades keep meeting the same records. Metadata values are strings and whole numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from clerk_sync_local.emulator import ClerkEmulator

NAMES = ("Ada", "Grace", "Linus", "Barbara", "Edsger", "Margaret", "Ken", "Frances", "Donald", "Radia")
ROLES = ("org:admin", "org:member")


@dataclass
class RandomChanges:
    """The live picture it keeps of the instance, and `step()`: one weighted random change."""

    clerk: ClerkEmulator
    rng: random.Random
    max_users: int = 8
    max_orgs: int = 3
    users: list[str] = field(default_factory=list)
    deleted_users: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # org id → user id → role
    applied: int = 0

    def memberships_of(self, user_id: str) -> list[str]:
        return [org for org, members in self.members.items() if user_id in members]

    def step(self) -> str:
        """Makes one change the current picture allows; returns its name."""
        options: list[tuple[float, str, Callable[[], None]]] = [
            (3.0 if len(self.users) < 3 else 1.0, "create_user", self._create_user),
        ]
        if self.users:
            options += [(2.5, "update_user", self._update_user), (1.5, "create_org", self._create_org)]
        if len(self.users) > 2:
            options.append((0.6, "delete_user", self._delete_user))
        if self.orgs:
            options += [(1.5, "update_org", self._update_org), (4.0, "add_member", self._add_member)]
        if len(self.orgs) > 1:
            options.append((0.4, "delete_org", self._delete_org))
        if any(self.members.values()):
            options += [(2.5, "change_role", self._change_role), (2.0, "remove_member", self._remove_member)]
        usable = [(weight, name, change) for weight, name, change in options if self._possible(name)]
        _, name, change = self.rng.choices(usable, weights=[weight for weight, _, _ in usable])[0]
        change()
        self.applied += 1
        return name

    def _possible(self, name: str) -> bool:
        if name == "create_user":
            return len(self.users) < self.max_users
        if name == "create_org":
            return len(self.orgs) < self.max_orgs
        if name == "add_member":
            return any(len(self.members[org]) < len(self.users) for org in self.orgs)
        return True

    # ---- the changes ------------------------------------------------------------------------------

    def _create_user(self) -> None:
        name = self.rng.choice(NAMES)
        number = self.rng.randrange(10**6)
        user = self.clerk.create_user(
            first_name=name, last_name=f"N{number}", email=f"{name.lower()}.{number}@example.com"
        )
        self.users.append(user["id"])

    def _update_user(self) -> None:
        user_id = self.rng.choice(self.users)
        if self.rng.random() < 0.5:
            self.clerk.update_user(user_id, first_name=self.rng.choice(NAMES))
        else:
            self.clerk.update_user(
                user_id, public_metadata={"plan": self.rng.choice(["free", "pro"]), "seats": self.rng.randrange(1, 50)}
            )

    def _delete_user(self) -> None:
        user_id = self.rng.choice(self.users)
        self.clerk.delete_user(user_id)
        self.users.remove(user_id)
        self.deleted_users.append(user_id)
        for members in self.members.values():
            members.pop(user_id, None)

    def _create_org(self) -> None:
        creator = self.rng.choice(self.users)
        org = self.clerk.create_organization(f"Team {self.rng.randrange(10**6)}", created_by=creator)
        self.orgs.append(org["id"])
        self.members[org["id"]] = {creator: "org:admin"}

    def _update_org(self) -> None:
        org = self.rng.choice(self.orgs)
        if self.rng.random() < 0.5:
            self.clerk.update_organization(org, name=f"Team {self.rng.randrange(10**6)}")
        else:
            self.clerk.update_organization(org, public_metadata={"tier": self.rng.randrange(1, 4)})

    def _delete_org(self) -> None:
        org = self.rng.choice(self.orgs)
        self.clerk.delete_organization(org)
        self.orgs.remove(org)
        del self.members[org]

    def _add_member(self) -> None:
        org = self.rng.choice([org for org in self.orgs if len(self.members[org]) < len(self.users)])
        user_id = self.rng.choice([user for user in self.users if user not in self.members[org]])
        role = self.rng.choice(ROLES)
        self.clerk.add_membership(org, user_id, role)
        self.members[org][user_id] = role

    def _change_role(self) -> None:
        org = self.rng.choice([org for org, members in self.members.items() if members])
        user_id = self.rng.choice(sorted(self.members[org]))
        role = "org:member" if self.members[org][user_id] == "org:admin" else "org:admin"
        self.clerk.update_membership(org, user_id, role=role)
        self.members[org][user_id] = role

    def _remove_member(self) -> None:
        org = self.rng.choice([org for org, members in self.members.items() if members])
        user_id = self.rng.choice(sorted(self.members[org]))
        self.clerk.remove_membership(org, user_id)
        del self.members[org][user_id]
