"""A small model of a Clerk instance that records the webhook events its changes emit.

Property tests replay these events in any order, with duplicates, and compare the table with the state
this model ends in. Every change bumps one clock, so versions of different records never tie (ties are
tested separately). Memberships follow Clerk: a re-add is a new membership id (an incarnation), and the
`organizationMembership.deleted` payload may be the membership as it last was, an earlier state of it
(Clerk's bundled examples carry the created-time `updated_at`, older than the update before it), or
stamped with the deletion time (the emulator's default).
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
    # Every state the live incarnation of each membership has had, oldest first: what a delete may carry.
    membership_states: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
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
            # A new incarnation: Clerk gives a re-added membership a new id.
            data = membership_data(org_id, user_id, membership_id=f"orgmem_{now}", updated_at=now, created_at=now)
            data["role"] = role
            self.membership_states[(org_id, user_id)] = [data]
            self._emit("organizationMembership.created", data)
        else:
            data = {**current, "role": role, "updated_at": now}
            self.membership_states[(org_id, user_id)].append(data)
            self._emit("organizationMembership.updated", data)
        self.memberships[(org_id, user_id)] = data

    def remove_membership(self, org_id: str, user_id: str, *, announce: bool = True, payload_age: int = 0) -> None:
        """Removes the membership; its deleted payload is the state `payload_age` changes back (0: as it last
        was, clamped to the created state), or, for a negative age, the last state stamped with the deletion time.
        """
        data = self.memberships.pop((org_id, user_id), None)
        states = self.membership_states.pop((org_id, user_id), [])
        if data is None or not announce:
            return
        if payload_age < 0:
            payload = {**data, "updated_at": self._tick()}
        else:
            payload = states[max(0, len(states) - 1 - payload_age)]
        self._emit("organizationMembership.deleted", payload)

    def delete_user(self, user_id: str, *, announce_memberships: bool, payload_age: int = 0) -> None:
        if user_id not in self.users:
            return
        for org_id, member in list(self.memberships):
            if member == user_id:
                self.remove_membership(org_id, user_id, announce=announce_memberships, payload_age=payload_age)
        del self.users[user_id]
        self.deleted_users.add(user_id)
        self._tick()
        self._emit("user.deleted", deleted_data(user_id, "user"))

    def delete_org(self, org_id: str, *, announce_memberships: bool, payload_age: int = 0) -> None:
        if org_id not in self.orgs:
            return
        for org, user_id in list(self.memberships):
            if org == org_id:
                self.remove_membership(org_id, user_id, announce=announce_memberships, payload_age=payload_age)
        del self.orgs[org_id]
        self.deleted_orgs.add(org_id)
        self._tick()
        self._emit("organization.deleted", deleted_data(org_id, "organization"))

    def apply(self, operation: tuple[Any, ...]) -> None:
        """One drawn operation; removals and deletes may end with the delete payload's age (default 0)."""
        name, *args = operation
        match name:
            case "upsert_user":
                self.upsert_user(*args)
            case "upsert_org":
                self.upsert_org(*args)
            case "set_membership":
                self.set_membership(*args)
            case "remove_membership":
                self.remove_membership(args[0], args[1], payload_age=_age(args, 2))
            case "churn_membership":
                # Added (or kept), promoted, demoted, removed: deletes older than the last update are the norm.
                org_id, user_id = args[0], args[1]
                for role in ("org:member", "org:admin", "org:member"):
                    self.set_membership(org_id, user_id, role)
                self.remove_membership(org_id, user_id, payload_age=_age(args, 2))
            case "update_nth_membership":
                # Targets an existing membership, so updates (and deletes older than them) are common.
                if self.memberships:
                    org_id, user_id = sorted(self.memberships)[args[0] % len(self.memberships)]
                    self.set_membership(org_id, user_id, args[1])
            case "remove_nth_membership":
                # Targets an existing membership, so every drawn removal takes effect.
                if self.memberships:
                    org_id, user_id = sorted(self.memberships)[args[0] % len(self.memberships)]
                    self.remove_membership(org_id, user_id, payload_age=_age(args, 1))
            case "delete_user":
                self.delete_user(args[0], announce_memberships=args[1], payload_age=_age(args, 2))
            case "delete_org":
                self.delete_org(args[0], announce_memberships=args[1], payload_age=_age(args, 2))
            case _:
                raise ValueError(name)


def _age(args: list[Any], index: int) -> int:
    return int(args[index]) if len(args) > index else 0
