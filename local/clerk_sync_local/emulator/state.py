"""In-memory Clerk instance: users, organizations and memberships, rendered in Backend API shapes.

Every mutation returns the webhook-worthy `PendingEvent`s it caused, in order; the caller (the emulator)
publishes them while still holding `ClerkState.lock`, so event order equals version order.
Versions (`updated_at`) come from one `MsClock`: Unix ms, strictly increasing across the instance.
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from . import errors

T = TypeVar("T")
JSON = dict[str, Any]

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_LENGTH = 27  # Clerk ids are a prefix plus a 27-character KSUID-like body
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_DEFAULT_PROFILE_IMAGE = "https://www.gravatar.com/avatar?d=mp"


class IdGenerator:
    """Clerk-style ids (`user_…`, `org_…`, `orgmem_…`, `msg_…`); never repeats within a process."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._lock = threading.Lock()
        self._issued: set[str] = set()

    def new(self, prefix: str) -> str:
        with self._lock:
            while True:
                candidate = f"{prefix}_" + "".join(self._rng.choice(_BASE62) for _ in range(_ID_LENGTH))
                if candidate not in self._issued:
                    self._issued.add(candidate)
                    return candidate


class MsClock:
    """Unix milliseconds, strictly increasing per tick, so every change has a version of its own."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._last = 0
        self._lock = threading.Lock()

    def tick(self) -> int:
        with self._lock:
            self._last = max(int(self._now() * 1000), self._last + 1)
            return self._last


@dataclass(frozen=True)
class Role:
    key: str
    name: str
    permissions: tuple[str, ...]


# As in the webhook examples: members can read and write posts, admins also delete and manage members.
DEFAULT_ROLES: Mapping[str, Role] = {
    "org:admin": Role(
        "org:admin", "Admin", ("org:posts:read", "org:posts:write", "org:posts:delete", "org:members:manage")
    ),
    "org:member": Role("org:member", "Member", ("org:posts:read", "org:posts:write")),
}


@dataclass(frozen=True)
class PendingEvent:
    """One webhook-worthy change: the event type, its `data`, and when it happened (Unix ms)."""

    type: str
    data: JSON
    at_ms: int


# --- inputs (validated the same way for the Python API and the admin HTTP API) ---


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Input):
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    external_id: str | None = None
    email: str | None = None
    email_addresses: list[str] = Field(default_factory=list)
    phone_number: str | None = None
    phone_numbers: list[str] = Field(default_factory=list)
    public_metadata: JSON = Field(default_factory=dict)
    private_metadata: JSON = Field(default_factory=dict)
    unsafe_metadata: JSON = Field(default_factory=dict)
    password_enabled: bool = False


class UserUpdate(_Input):
    """Only the fields present are changed (`model_fields_set`)."""

    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    external_id: str | None = None
    email: str | None = None
    email_addresses: list[str] | None = None
    phone_number: str | None = None
    phone_numbers: list[str] | None = None
    public_metadata: JSON | None = None
    private_metadata: JSON | None = None
    unsafe_metadata: JSON | None = None
    has_image: bool | None = None
    banned: bool | None = None
    locked: bool | None = None
    deprovisioned: bool | None = None  # as Directory Sync (SCIM) sets it
    password_enabled: bool | None = None
    two_factor_enabled: bool | None = None
    last_sign_in_at: int | None = None
    last_active_at: int | None = None


class OrganizationCreate(_Input):
    name: str = Field(min_length=1, max_length=256)
    slug: str | None = None
    created_by: str | None = None
    public_metadata: JSON = Field(default_factory=dict)
    private_metadata: JSON = Field(default_factory=dict)
    max_allowed_memberships: int = Field(default=0, ge=0)  # 0 = unlimited
    admin_delete_enabled: bool = True


class OrganizationUpdate(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=256)
    slug: str | None = None
    public_metadata: JSON | None = None
    private_metadata: JSON | None = None
    max_allowed_memberships: int | None = Field(default=None, ge=0)
    admin_delete_enabled: bool | None = None
    has_image: bool | None = None


class MembershipCreate(_Input):
    user_id: str
    role: str = "org:member"
    public_metadata: JSON = Field(default_factory=dict)
    private_metadata: JSON = Field(default_factory=dict)


class MembershipUpdate(_Input):
    role: str | None = None
    public_metadata: JSON | None = None
    private_metadata: JSON | None = None


# --- records ---


@dataclass
class _Email:
    id: str
    email_address: str
    created_at: int
    updated_at: int


@dataclass
class _Phone:
    id: str
    phone_number: str
    created_at: int
    updated_at: int


@dataclass
class _User:
    id: str
    created_at: int
    updated_at: int
    first_name: str | None
    last_name: str | None
    username: str | None
    external_id: str | None
    emails: list[_Email]
    primary_email_address_id: str | None
    phones: list[_Phone]
    primary_phone_number_id: str | None
    public_metadata: JSON
    private_metadata: JSON
    unsafe_metadata: JSON
    password_enabled: bool
    has_image: bool = False
    image_version: int = 0
    banned: bool = False
    locked: bool = False
    deprovisioned: bool = False
    two_factor_enabled: bool = False
    last_sign_in_at: int | None = None
    last_active_at: int | None = None


@dataclass
class _Organization:
    id: str
    created_at: int
    updated_at: int
    name: str
    slug: str
    created_by: str
    public_metadata: JSON
    private_metadata: JSON
    max_allowed_memberships: int
    admin_delete_enabled: bool
    has_image: bool = False
    image_version: int = 0


@dataclass
class _Membership:
    id: str
    org_id: str
    user_id: str
    role: str
    public_metadata: JSON
    private_metadata: JSON
    created_at: int
    updated_at: int


@dataclass
class _Deleted:
    id: str
    deleted_at: int
    slug: str | None = None
    external_id: str | None = None


@dataclass
class _Store:
    users: dict[str, _User] = field(default_factory=dict)
    orgs: dict[str, _Organization] = field(default_factory=dict)
    # Both indexes hold the same records: by org then user, and by user then org.
    members_by_org: dict[str, dict[str, _Membership]] = field(default_factory=dict)
    members_by_user: dict[str, dict[str, _Membership]] = field(default_factory=dict)
    deleted_users: dict[str, _Deleted] = field(default_factory=dict)
    deleted_orgs: dict[str, _Deleted] = field(default_factory=dict)


# --- paging and ordering ---


def page(items: Sequence[T], limit: int, offset: int) -> list[T]:
    """The `limit` items after skipping `offset` (Clerk's offset paging)."""
    return list(items[offset : offset + limit])


def _sorted(items: Iterable[T], order_by: str, keys: Mapping[str, Callable[[T], Any]], param: str) -> list[T]:
    """Sort by Clerk's `order_by` (`[+|-]field`); ties by creation, then id, so pages are stable."""
    descending = order_by.startswith("-")
    name = order_by.lstrip("+-")
    if name not in keys:
        raise errors.invalid_param(
            param, f"order_by must be one of {', '.join(sorted(keys))}, optionally prefixed with + or -"
        )
    key = keys[name]
    created = keys["created_at"]

    def sort_key(item: T) -> tuple[Any, ...]:
        value = key(item)
        # None sorts last in ascending order, like SQL NULLS LAST.
        return (value is None, value if value is not None else 0, created(item), getattr(item, "id", ""))

    return sorted(items, key=sort_key, reverse=descending)


def _include_exclude(values: Sequence[str]) -> tuple[set[str], set[str]]:
    """Clerk's `+id`/`-id` filter values: plain or `+` includes, `-` excludes."""
    include = {v.lstrip("+") for v in values if not v.startswith("-")}
    exclude = {v[1:] for v in values if v.startswith("-")}
    return include, exclude


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "org"


class ClerkState:
    """The instance's live and deleted objects; all access goes through `lock`."""

    def __init__(self, ids: IdGenerator, clock: MsClock, roles: Mapping[str, Role] | None = None) -> None:
        self.lock = threading.RLock()
        self.ids = ids
        self.clock = clock
        self.roles: Mapping[str, Role] = dict(roles or DEFAULT_ROLES)
        self._s = _Store()

    def reset(self) -> None:
        with self.lock:
            self._s = _Store()

    # --- rendering (Backend API shapes, as in backend-api.yml) ---

    def _user_image_url(self, user: _User) -> str:
        kind = f"uploaded/{user.image_version}" if user.has_image else "default"
        return f"https://img.clerk.com/emulator/{kind}/{user.id}"

    def _org_image_url(self, org: _Organization) -> str:
        kind = f"uploaded/{org.image_version}" if org.has_image else "default"
        return f"https://img.clerk.com/emulator/{kind}/{org.id}"

    @staticmethod
    def _verification() -> JSON:
        # What Clerk shows for identifiers created through the Backend API.
        return {
            "object": "verification_admin",
            "status": "verified",
            "strategy": "admin",
            "attempts": None,
            "expire_at": None,
        }

    def _render_email(self, email: _Email) -> JSON:
        return {
            "id": email.id,
            "object": "email_address",
            "email_address": email.email_address,
            "reserved": False,
            "verification": self._verification(),
            "linked_to": [],
            "matches_sso_connection": False,
            "created_at": email.created_at,
            "updated_at": email.updated_at,
        }

    def _render_phone(self, phone: _Phone) -> JSON:
        return {
            "id": phone.id,
            "object": "phone_number",
            "phone_number": phone.phone_number,
            "reserved_for_second_factor": False,
            "default_second_factor": False,
            "reserved": False,
            "verification": self._verification(),
            "linked_to": [],
            "backup_codes": None,
            "created_at": phone.created_at,
            "updated_at": phone.updated_at,
        }

    def render_user(self, user: _User) -> JSON:
        image_url = self._user_image_url(user)
        return {
            "id": user.id,
            "object": "user",
            "external_id": user.external_id,
            "primary_email_address_id": user.primary_email_address_id,
            "primary_phone_number_id": user.primary_phone_number_id,
            "primary_web3_wallet_id": None,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "locale": None,
            "profile_image_url": image_url if user.has_image else _DEFAULT_PROFILE_IMAGE,
            "image_url": image_url,
            "has_image": user.has_image,
            "public_metadata": dict(user.public_metadata),
            "private_metadata": dict(user.private_metadata),
            "unsafe_metadata": dict(user.unsafe_metadata),
            "email_addresses": [self._render_email(e) for e in user.emails],
            "phone_numbers": [self._render_phone(p) for p in user.phones],
            "web3_wallets": [],
            "passkeys": [],
            "password_enabled": user.password_enabled,
            "two_factor_enabled": user.two_factor_enabled,
            "totp_enabled": False,
            "backup_code_enabled": False,
            "mfa_enabled_at": None,
            "mfa_disabled_at": None,
            "password_last_updated_at": None,
            "external_accounts": [],
            "saml_accounts": [],
            "enterprise_accounts": [],
            "last_sign_in_at": user.last_sign_in_at,
            "banned": user.banned,
            "locked": user.locked,
            "deprovisioned": user.deprovisioned,
            "lockout_expires_in_seconds": None,
            "verification_attempts_remaining": 100,
            "updated_at": user.updated_at,
            "created_at": user.created_at,
            "delete_self_enabled": True,
            "create_organization_enabled": True,
            "create_organizations_limit": None,
            "last_active_at": user.last_active_at,
            "legal_accepted_at": None,
            "bypass_client_trust": False,
        }

    def render_organization(self, org: _Organization) -> JSON:
        return {
            "object": "organization",
            "id": org.id,
            "name": org.name,
            "slug": org.slug,
            "image_url": self._org_image_url(org),
            "has_image": org.has_image,
            "members_count": len(self._s.members_by_org.get(org.id, {})),
            "missing_member_with_elevated_permissions": False,
            "pending_invitations_count": 0,
            "max_allowed_memberships": org.max_allowed_memberships,
            "admin_delete_enabled": org.admin_delete_enabled,
            "public_metadata": dict(org.public_metadata),
            "private_metadata": dict(org.private_metadata),
            "created_by": org.created_by,
            "created_at": org.created_at,
            "updated_at": org.updated_at,
        }

    def _identifier(self, user: _User) -> str:
        for email in user.emails:
            if email.id == user.primary_email_address_id:
                return email.email_address
        if user.username:
            return user.username
        for phone in user.phones:
            if phone.id == user.primary_phone_number_id:
                return phone.phone_number
        return ""

    def _public_user_data(self, user: _User) -> JSON:
        image_url = self._user_image_url(user)
        return {
            "user_id": user.id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "profile_image_url": image_url,
            "image_url": image_url,
            "has_image": user.has_image,
            "identifier": self._identifier(user),
        }

    def render_membership(self, membership: _Membership, updated_at: int | None = None) -> JSON:
        role = self.roles.get(membership.role)
        return {
            "object": "organization_membership",
            "id": membership.id,
            "role": membership.role,
            "role_name": role.name if role else membership.role,
            "permissions": list(role.permissions) if role else [],
            "public_metadata": dict(membership.public_metadata),
            "private_metadata": dict(membership.private_metadata),
            "organization": self.render_organization(self._s.orgs[membership.org_id]),
            "public_user_data": self._public_user_data(self._s.users[membership.user_id]),
            "created_at": membership.created_at,
            "updated_at": membership.updated_at if updated_at is None else updated_at,
        }

    # --- lookups ---

    def _user(self, user_id: str) -> _User:
        user = self._s.users.get(user_id)
        if user is None:
            raise errors.resource_not_found()
        return user

    def _org(self, id_or_slug: str) -> _Organization:
        org = self._s.orgs.get(id_or_slug)
        if org is None:
            org = next((o for o in self._s.orgs.values() if o.slug == id_or_slug), None)
        if org is None:
            raise errors.resource_not_found()
        return org

    def _membership(self, org_id: str, user_id: str) -> _Membership:
        membership = self._s.members_by_org.get(org_id, {}).get(user_id)
        if membership is None:
            raise errors.resource_not_found()
        return membership

    def _role(self, role: str) -> Role:
        if role not in self.roles:
            raise errors.invalid_param("role", f"role must be one of {', '.join(sorted(self.roles))}")
        return self.roles[role]

    def is_deleted_user(self, user_id: str) -> bool:
        with self.lock:
            return user_id in self._s.deleted_users

    def membership_claim(self, user_id: str, org_id: str) -> tuple[str, str, str, tuple[str, ...]] | None:
        """(org id, slug, role, permissions) of a live membership, for session tokens; None if not a member."""
        with self.lock:
            membership = self._s.members_by_user.get(user_id, {}).get(org_id)
            if membership is None:
                org = next((o for o in self._s.orgs.values() if o.slug == org_id), None)
                membership = self._s.members_by_user.get(user_id, {}).get(org.id) if org else None
            if membership is None:
                return None
            role = self.roles.get(membership.role)
            slug = self._s.orgs[membership.org_id].slug
            return membership.org_id, slug, membership.role, role.permissions if role else ()

    # --- uniqueness ---

    def _check_user_identifiers(
        self, user_id: str | None, emails: Sequence[str], username: str | None, external_id: str | None
    ) -> None:
        wanted = {e.lower() for e in emails}
        if len(wanted) != len(emails):
            raise errors.identifier_exists("email_address")
        for other in self._s.users.values():
            if other.id == user_id:
                continue
            if wanted & {e.email_address.lower() for e in other.emails}:
                raise errors.identifier_exists("email_address")
            if username is not None and other.username == username:
                raise errors.identifier_exists("username")
            if external_id is not None and other.external_id == external_id:
                raise errors.identifier_exists("external_id")

    def _unique_slug(self, wanted: str | None, name: str, org_id: str | None) -> str:
        taken = {o.slug for o in self._s.orgs.values() if o.id != org_id}
        if wanted is not None:
            if not _SLUG.match(wanted):
                raise errors.invalid_param("slug", "slug can contain only lowercase letters, digits and dashes")
            if wanted in taken:
                raise errors.identifier_exists("slug")
            return wanted
        base = _slugify(name)
        slug, n = base, 1
        while slug in taken:
            n += 1
            slug = f"{base}-{n}"
        return slug

    # --- users ---

    def _set_emails(self, user: _User, addresses: Sequence[str], now: int) -> None:
        existing = {e.email_address.lower(): e for e in user.emails}
        user.emails = [existing.get(a.lower()) or _Email(self.ids.new("idn"), a, now, now) for a in addresses]
        user.primary_email_address_id = user.emails[0].id if user.emails else None

    def _set_phones(self, user: _User, numbers: Sequence[str], now: int) -> None:
        existing = {p.phone_number: p for p in user.phones}
        user.phones = [existing.get(n) or _Phone(self.ids.new("idn"), n, now, now) for n in numbers]
        user.primary_phone_number_id = user.phones[0].id if user.phones else None

    def create_user(self, spec: UserCreate) -> tuple[JSON, list[PendingEvent]]:
        emails = ([spec.email] if spec.email else []) + [e for e in spec.email_addresses if e != spec.email]
        phones = ([spec.phone_number] if spec.phone_number else []) + [
            p for p in spec.phone_numbers if p != spec.phone_number
        ]
        with self.lock:
            self._check_user_identifiers(None, emails, spec.username, spec.external_id)
            now = self.clock.tick()
            user = _User(
                id=self.ids.new("user"),
                created_at=now,
                updated_at=now,
                first_name=spec.first_name,
                last_name=spec.last_name,
                username=spec.username,
                external_id=spec.external_id,
                emails=[],
                primary_email_address_id=None,
                phones=[],
                primary_phone_number_id=None,
                public_metadata=dict(spec.public_metadata),
                private_metadata=dict(spec.private_metadata),
                unsafe_metadata=dict(spec.unsafe_metadata),
                password_enabled=spec.password_enabled,
            )
            self._set_emails(user, emails, now)
            self._set_phones(user, phones, now)
            self._s.users[user.id] = user
            rendered = self.render_user(user)
            return rendered, [PendingEvent("user.created", rendered, now)]

    def update_user(self, user_id: str, spec: UserUpdate) -> tuple[JSON, list[PendingEvent]]:
        changed = spec.model_fields_set
        with self.lock:
            user = self._user(user_id)
            emails = [e.email_address for e in user.emails]
            if "email_addresses" in changed:
                emails = list(spec.email_addresses or [])
            if "email" in changed and spec.email:
                emails = [spec.email] + [e for e in emails if e.lower() != spec.email.lower()]
            self._check_user_identifiers(
                user_id,
                emails,
                spec.username if "username" in changed else None,
                spec.external_id if "external_id" in changed else None,
            )
            now = self.clock.tick()
            for name in (
                "first_name",
                "last_name",
                "username",
                "external_id",
                "banned",
                "locked",
                "deprovisioned",
                "password_enabled",
                "two_factor_enabled",
                "last_sign_in_at",
                "last_active_at",
            ):
                if name in changed:
                    value = getattr(spec, name)
                    if isinstance(getattr(user, name), bool) and value is None:
                        continue  # null is not a boolean; leave it
                    setattr(user, name, value)
            for name in ("public_metadata", "private_metadata", "unsafe_metadata"):
                if name in changed:
                    setattr(user, name, dict(getattr(spec, name) or {}))
            if "has_image" in changed and spec.has_image is not None:
                user.has_image = spec.has_image
                user.image_version += 1
            self._set_emails(user, emails, now)
            if "phone_numbers" in changed or "phone_number" in changed:
                phones = (
                    list(spec.phone_numbers or [])
                    if "phone_numbers" in changed
                    else [p.phone_number for p in user.phones]
                )
                if spec.phone_number:
                    phones = [spec.phone_number] + [p for p in phones if p != spec.phone_number]
                self._set_phones(user, phones, now)
            user.updated_at = now
            rendered = self.render_user(user)
            return rendered, [PendingEvent("user.updated", rendered, now)]

    def delete_user(self, user_id: str, *, bump_deleted_membership: bool = True) -> tuple[JSON, list[PendingEvent]]:
        """Delete a user and their memberships: `organizationMembership.deleted` for each, then `user.deleted`."""
        with self.lock:
            user = self._user(user_id)
            changes = [
                self._remove_membership(m, bump_deleted_membership)
                for m in self._by_created(self._s.members_by_user.get(user_id, {}).values())
            ]
            now = self.clock.tick()
            del self._s.users[user_id]
            self._s.members_by_user.pop(user_id, None)
            self._s.deleted_users[user_id] = _Deleted(user_id, now, external_id=user.external_id)
            deleted = {"object": "user", "id": user_id, "deleted": True, "external_id": user.external_id}
            changes.append(PendingEvent("user.deleted", deleted, now))
            return deleted, changes

    # --- organizations ---

    def create_organization(self, spec: OrganizationCreate) -> tuple[JSON, list[PendingEvent]]:
        """Create an organization; `created_by` becomes its first admin, as in Clerk."""
        with self.lock:
            creator = self._user(spec.created_by) if spec.created_by else None
            slug = self._unique_slug(spec.slug, spec.name, None)
            now = self.clock.tick()
            org = _Organization(
                id=self.ids.new("org"),
                created_at=now,
                updated_at=now,
                name=spec.name,
                slug=slug,
                created_by=creator.id if creator else "",
                public_metadata=dict(spec.public_metadata),
                private_metadata=dict(spec.private_metadata),
                max_allowed_memberships=spec.max_allowed_memberships,
                admin_delete_enabled=spec.admin_delete_enabled,
            )
            self._s.orgs[org.id] = org
            self._s.members_by_org[org.id] = {}
            membership_changes: list[PendingEvent] = []
            if creator is not None:
                _, membership_changes = self.add_membership(
                    org.id, MembershipCreate(user_id=creator.id, role="org:admin")
                )
            # Rendered after the creator joined: Clerk's organization.created counts the creator.
            rendered = self.render_organization(org)
            return rendered, [PendingEvent("organization.created", rendered, now), *membership_changes]

    def update_organization(self, org_id: str, spec: OrganizationUpdate) -> tuple[JSON, list[PendingEvent]]:
        changed = spec.model_fields_set
        with self.lock:
            org = self._org(org_id)
            slug = self._unique_slug(spec.slug, org.name, org.id) if "slug" in changed and spec.slug else org.slug
            now = self.clock.tick()
            org.slug = slug
            if "name" in changed and spec.name is not None:
                org.name = spec.name
            for name in ("public_metadata", "private_metadata"):
                if name in changed:
                    setattr(org, name, dict(getattr(spec, name) or {}))
            if "max_allowed_memberships" in changed and spec.max_allowed_memberships is not None:
                org.max_allowed_memberships = spec.max_allowed_memberships
            if "admin_delete_enabled" in changed and spec.admin_delete_enabled is not None:
                org.admin_delete_enabled = spec.admin_delete_enabled
            if "has_image" in changed and spec.has_image is not None:
                org.has_image = spec.has_image
                org.image_version += 1
            org.updated_at = now
            rendered = self.render_organization(org)
            return rendered, [PendingEvent("organization.updated", rendered, now)]

    def delete_organization(
        self, org_id: str, *, bump_deleted_membership: bool = True
    ) -> tuple[JSON, list[PendingEvent]]:
        """Delete an org and its memberships: `organizationMembership.deleted` for each, then `organization.deleted`."""
        with self.lock:
            org = self._org(org_id)
            changes = [
                self._remove_membership(m, bump_deleted_membership)
                for m in self._by_created(self._s.members_by_org.get(org.id, {}).values())
            ]
            now = self.clock.tick()
            del self._s.orgs[org.id]
            self._s.members_by_org.pop(org.id, None)
            self._s.deleted_orgs[org.id] = _Deleted(org.id, now, slug=org.slug)
            deleted = {"object": "organization", "id": org.id, "slug": org.slug, "deleted": True}
            changes.append(PendingEvent("organization.deleted", deleted, now))
            return deleted, changes

    # --- memberships ---

    def add_membership(self, org_id: str, spec: MembershipCreate) -> tuple[JSON, list[PendingEvent]]:
        """Add a member; a re-added member gets a new membership id and timestamps."""
        with self.lock:
            org = self._org(org_id)
            self._user(spec.user_id)
            self._role(spec.role)
            members = self._s.members_by_org[org.id]
            if spec.user_id in members:
                raise errors.already_member()
            if org.max_allowed_memberships and len(members) >= org.max_allowed_memberships:
                raise errors.membership_quota_exceeded()
            now = self.clock.tick()
            membership = _Membership(
                id=self.ids.new("orgmem"),
                org_id=org.id,
                user_id=spec.user_id,
                role=spec.role,
                public_metadata=dict(spec.public_metadata),
                private_metadata=dict(spec.private_metadata),
                created_at=now,
                updated_at=now,
            )
            members[spec.user_id] = membership
            self._s.members_by_user.setdefault(spec.user_id, {})[org.id] = membership
            rendered = self.render_membership(membership)
            return rendered, [PendingEvent("organizationMembership.created", rendered, now)]

    def update_membership(self, org_id: str, user_id: str, spec: MembershipUpdate) -> tuple[JSON, list[PendingEvent]]:
        changed = spec.model_fields_set
        with self.lock:
            membership = self._membership(self._org(org_id).id, user_id)
            if "role" in changed and spec.role is not None:
                self._role(spec.role)
            now = self.clock.tick()
            if "role" in changed and spec.role is not None:
                membership.role = spec.role
            for name in ("public_metadata", "private_metadata"):
                if name in changed:
                    setattr(membership, name, dict(getattr(spec, name) or {}))
            membership.updated_at = now
            rendered = self.render_membership(membership)
            return rendered, [PendingEvent("organizationMembership.updated", rendered, now)]

    def remove_membership(
        self, org_id: str, user_id: str, *, bump_deleted_membership: bool = True
    ) -> tuple[JSON, list[PendingEvent]]:
        with self.lock:
            membership = self._membership(self._org(org_id).id, user_id)
            change = self._remove_membership(membership, bump_deleted_membership)
            return change.data, [change]

    def _remove_membership(self, membership: _Membership, bump: bool) -> PendingEvent:
        now = self.clock.tick()
        del self._s.members_by_org[membership.org_id][membership.user_id]
        self._s.members_by_user.get(membership.user_id, {}).pop(membership.org_id, None)
        # Rendered after removal: the embedded org's members_count no longer counts this member.
        rendered = self.render_membership(membership, updated_at=now if bump else None)
        return PendingEvent("organizationMembership.deleted", rendered, now)

    @staticmethod
    def _by_created(memberships: Iterable[_Membership]) -> list[_Membership]:
        return sorted(memberships, key=lambda m: (m.created_at, m.id))

    # --- reads for the Backend API ---

    _USER_ORDER: Mapping[str, Callable[[_User], Any]] = {
        "created_at": lambda u: u.created_at,
        "updated_at": lambda u: u.updated_at,
        "first_name": lambda u: u.first_name,
        "last_name": lambda u: u.last_name,
        "username": lambda u: u.username,
        "email_address": lambda u: u.emails[0].email_address if u.emails else None,
        "phone_number": lambda u: u.phones[0].phone_number if u.phones else None,
        "last_sign_in_at": lambda u: u.last_sign_in_at,
        "last_active_at": lambda u: u.last_active_at,
    }

    def get_user(self, user_id: str) -> JSON:
        with self.lock:
            return self.render_user(self._user(user_id))

    def _filter_users(
        self,
        *,
        user_ids: Sequence[str],
        emails: Sequence[str],
        usernames: Sequence[str],
        external_ids: Sequence[str],
        organization_ids: Sequence[str],
        created_after: int | None = None,
        created_before: int | None = None,
    ) -> list[_User]:
        users: Iterable[_User] = self._s.users.values()
        # Clerk's created_at_after / created_at_before: strictly after / before, in ms.
        if created_after is not None:
            users = [u for u in users if u.created_at > created_after]
        if created_before is not None:
            users = [u for u in users if u.created_at < created_before]
        if user_ids:
            include, exclude = _include_exclude(user_ids)
            users = [u for u in users if (not include or u.id in include) and u.id not in exclude]
        if emails:
            wanted = {e.lower() for e in emails}
            users = [u for u in users if wanted & {e.email_address.lower() for e in u.emails}]
        if usernames:
            users = [u for u in users if u.username in set(usernames)]
        if external_ids:
            include, exclude = _include_exclude(external_ids)
            users = [u for u in users if (not include or u.external_id in include) and u.external_id not in exclude]
        if organization_ids:
            include, exclude = _include_exclude(organization_ids)
            users = [
                u
                for u in users
                if (not include or include & self._s.members_by_user.get(u.id, {}).keys())
                and not exclude & self._s.members_by_user.get(u.id, {}).keys()
            ]
        return list(users)

    def list_users(
        self,
        *,
        limit: int,
        offset: int,
        order_by: str = "-created_at",
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        external_ids: Sequence[str] = (),
        organization_ids: Sequence[str] = (),
        created_after: int | None = None,
        created_before: int | None = None,
    ) -> list[JSON]:
        with self.lock:
            users = self._filter_users(
                user_ids=user_ids,
                emails=emails,
                usernames=usernames,
                external_ids=external_ids,
                organization_ids=organization_ids,
                created_after=created_after,
                created_before=created_before,
            )
            ordered = _sorted(users, order_by, self._USER_ORDER, "order_by")
            return [self.render_user(u) for u in page(ordered, limit, offset)]

    def count_users(
        self,
        *,
        user_ids: Sequence[str] = (),
        emails: Sequence[str] = (),
        usernames: Sequence[str] = (),
        external_ids: Sequence[str] = (),
        organization_ids: Sequence[str] = (),
        created_after: int | None = None,
        created_before: int | None = None,
    ) -> int:
        with self.lock:
            found = self._filter_users(
                user_ids=user_ids,
                emails=emails,
                usernames=usernames,
                external_ids=external_ids,
                organization_ids=organization_ids,
                created_after=created_after,
                created_before=created_before,
            )
            return len(found)

    def get_organization(self, id_or_slug: str) -> JSON:
        with self.lock:
            return self.render_organization(self._org(id_or_slug))

    def list_organizations(
        self,
        *,
        limit: int,
        offset: int,
        order_by: str = "-created_at",
        query: str | None = None,
        organization_ids: Sequence[str] = (),
        user_ids: Sequence[str] = (),
    ) -> tuple[list[JSON], int]:
        with self.lock:
            orgs: Iterable[_Organization] = self._s.orgs.values()
            if query:
                q = query.lower()
                orgs = [o for o in orgs if o.id == query or q in o.name.lower() or q in o.slug]
            if organization_ids:
                include, exclude = _include_exclude(organization_ids)
                orgs = [o for o in orgs if (not include or o.id in include) and o.id not in exclude]
            if user_ids:
                include, exclude = _include_exclude(user_ids)
                orgs = [
                    o
                    for o in orgs
                    if (not include or include & self._s.members_by_org[o.id].keys())
                    and not exclude & self._s.members_by_org[o.id].keys()
                ]
            keys: Mapping[str, Callable[[_Organization], Any]] = {
                "created_at": lambda o: o.created_at,
                "name": lambda o: o.name,
                "members_count": lambda o: len(self._s.members_by_org[o.id]),
            }
            ordered = _sorted(orgs, order_by, keys, "order_by")
            return [self.render_organization(o) for o in page(ordered, limit, offset)], len(ordered)

    def _membership_order(self) -> Mapping[str, Callable[[_Membership], Any]]:
        users = self._s.users
        return {
            "created_at": lambda m: m.created_at,
            "first_name": lambda m: users[m.user_id].first_name,
            "last_name": lambda m: users[m.user_id].last_name,
            "username": lambda m: users[m.user_id].username,
            "email_address": lambda m: self._USER_ORDER["email_address"](users[m.user_id]),
            "phone_number": lambda m: self._USER_ORDER["phone_number"](users[m.user_id]),
        }

    def _membership_page(
        self, memberships: Iterable[_Membership], limit: int, offset: int, order_by: str
    ) -> tuple[list[JSON], int]:
        ordered = _sorted(memberships, order_by, self._membership_order(), "order_by")
        return [self.render_membership(m) for m in page(ordered, limit, offset)], len(ordered)

    def list_user_memberships(self, user_id: str, *, limit: int, offset: int) -> tuple[list[JSON], int]:
        with self.lock:
            self._user(user_id)
            return self._membership_page(
                self._s.members_by_user.get(user_id, {}).values(), limit, offset, "-created_at"
            )

    def list_organization_memberships(
        self,
        org_id: str,
        *,
        limit: int,
        offset: int,
        order_by: str = "-created_at",
        user_ids: Sequence[str] = (),
        roles: Sequence[str] = (),
    ) -> tuple[list[JSON], int]:
        with self.lock:
            org = self._org(org_id)
            memberships: Iterable[_Membership] = self._s.members_by_org[org.id].values()
            if user_ids:
                include, exclude = _include_exclude(user_ids)
                memberships = [
                    m for m in memberships if (not include or m.user_id in include) and m.user_id not in exclude
                ]
            if roles:
                memberships = [m for m in memberships if m.role in set(roles)]
            return self._membership_page(memberships, limit, offset, order_by)

    def list_all_memberships(self, *, limit: int, offset: int, order_by: str = "-created_at") -> tuple[list[JSON], int]:
        with self.lock:
            everything = [m for members in self._s.members_by_org.values() for m in members.values()]
            return self._membership_page(everything, limit, offset, order_by)

    # --- snapshots ---

    def snapshot(self) -> JSON:
        """Every live object in API shape (oldest first) plus deleted ids: what tests compare a copy against."""
        with self.lock:
            memberships = self._by_created(m for members in self._s.members_by_org.values() for m in members.values())
            return {
                "users": [self.render_user(u) for u in sorted(self._s.users.values(), key=lambda u: u.created_at)],
                "organizations": [
                    self.render_organization(o) for o in sorted(self._s.orgs.values(), key=lambda o: o.created_at)
                ],
                "memberships": [self.render_membership(m) for m in memberships],
                "deleted_user_ids": sorted(self._s.deleted_users),
                "deleted_organization_ids": sorted(self._s.deleted_orgs),
            }

    def has_user(self, user_id: str) -> bool:
        with self.lock:
            return user_id in self._s.users
