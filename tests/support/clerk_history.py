"""A small model of a Clerk instance that records the webhook events its changes emit.

Property tests replay these events in any order, with duplicates, and compare the table with the state
this model ends in. Every change bumps one clock, so versions never tie (ties are tested separately).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.support.clerk_payloads import deleted_data, envelope, membership_data, org_data, user_data


@dataclass
class ClerkHistory:
    clock: int = 1_000_000
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    orgs: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deleted_users: set[str] = field(default_factory=set)
    deleted_orgs: set[str] = field(default_factory=set)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (svix id, envelope)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def _emit(self, event_type: str, data: dict[str, Any]) -> None:
        self.events.append((f"msg_{next(self._ids):05d}", envelope(event_type, data, timestamp_ms=self.clock)))

    def upsert_user(self, user_id: str, first_name: str) -> None:
        if user_id in self.deleted_users:
            return
        now = self._tick()
        created = self.users.get(user_id, {}).get("created_at", now)
        self.users[user_id] = user_data(user_id, updated_at=now, created_at=created, first_name=first_name)
        self._emit("user.updated" if created != now else "user.created", self.users[user_id])

    def upsert_org(self, org_id: str, name: str) -> None:
        if org_id in self.deleted_orgs:
            return
        now = self._tick()
        created = self.orgs.get(org_id, {}).get("created_at", now)
        self.orgs[org_id] = org_data(org_id, updated_at=now, created_at=created, name=name)
        self._emit("organization.updated" if created != now else "organization.created", self.orgs[org_id])

    def set_membership(self, org_id: str, user_id: str, role: str) -> None:
        if org_id not in self.orgs or user_id not in self.users:
            return
        now = self._tick()
        current = self.memberships.get((org_id, user_id))
        if current is None:
            data = membership_data(org_id, user_id, membership_id=f"orgmem_{now}", updated_at=now, created_at=now)
            data["role"] = role
            self.memberships[(org_id, user_id)] = data
            self._emit("organizationMembership.created", data)
        else:
            data = {**current, "role": role, "updated_at": now}
            self.memberships[(org_id, user_id)] = data
            self._emit("organizationMembership.updated", data)

    def remove_membership(self, org_id: str, user_id: str, *, announce: bool = True) -> None:
        data = self.memberships.pop((org_id, user_id), None)
        if data is not None and announce:
            # Clerk's deleted payload is the membership as it last was: same updated_at.
            self._emit("organizationMembership.deleted", data)

    def delete_user(self, user_id: str, *, announce_memberships: bool) -> None:
        if user_id not in self.users:
            return
        for org_id, member in list(self.memberships):
            if member == user_id:
                self.remove_membership(org_id, user_id, announce=announce_memberships)
        del self.users[user_id]
        self.deleted_users.add(user_id)
        self._tick()
        self._emit("user.deleted", deleted_data(user_id, "user"))

    def delete_org(self, org_id: str, *, announce_memberships: bool) -> None:
        if org_id not in self.orgs:
            return
        for org, user_id in list(self.memberships):
            if org == org_id:
                self.remove_membership(org_id, user_id, announce=announce_memberships)
        del self.orgs[org_id]
        self.deleted_orgs.add(org_id)
        self._tick()
        self._emit("organization.deleted", deleted_data(org_id, "organization"))

    def apply(self, operation: tuple[Any, ...]) -> None:
        name, *args = operation
        match name:
            case "upsert_user":
                self.upsert_user(*args)
            case "upsert_org":
                self.upsert_org(*args)
            case "set_membership":
                self.set_membership(*args)
            case "remove_membership":
                self.remove_membership(*args)
            case "remove_nth_membership":
                # Targets an existing membership, so every drawn removal takes effect.
                if self.memberships:
                    org_id, user_id = sorted(self.memberships)[args[0] % len(self.memberships)]
                    self.remove_membership(org_id, user_id)
            case "delete_user":
                self.delete_user(args[0], announce_memberships=args[1])
            case "delete_org":
                self.delete_org(args[0], announce_memberships=args[1])
            case _:
                raise ValueError(name)
