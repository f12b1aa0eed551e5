"""Domain models: the Clerk fields clerk-sync keeps, parsed from webhook payloads and Backend API responses.

Unknown fields are ignored so Clerk can add fields without breaking parsing. Timestamps are Unix ms,
as Clerk sends them; `updated_at` is the version that orders writes (docs/decisions/0003).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clerk_sync.vocabulary import EVENT_TYPES


class ClerkModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _none_to_empty_dict(value: Any) -> Any:
    # Clerk sends `null` for metadata it never set (user.updated's private_metadata).
    return {} if value is None else value


def _verified(verification: Any) -> bool:
    return isinstance(verification, dict) and verification.get("status") == "verified"


class EmailAddress(ClerkModel):
    id: str | None = None
    email_address: str
    verified: bool = False

    @model_validator(mode="before")
    @classmethod
    def _read_verification(cls, data: Any) -> Any:
        if isinstance(data, dict) and "verification" in data:
            data = {**data, "verified": _verified(data["verification"])}
        return data


class PhoneNumber(ClerkModel):
    id: str | None = None
    phone_number: str
    verified: bool = False

    @model_validator(mode="before")
    @classmethod
    def _read_verification(cls, data: Any) -> Any:
        if isinstance(data, dict) and "verification" in data:
            data = {**data, "verified": _verified(data["verification"])}
        return data


class User(ClerkModel):
    id: str = Field(pattern=r"^user_\w+$")
    external_id: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    has_image: bool = False
    primary_email_address_id: str | None = None
    email_addresses: list[EmailAddress] = Field(default_factory=list)
    primary_phone_number_id: str | None = None
    phone_numbers: list[PhoneNumber] = Field(default_factory=list)
    public_metadata: dict[str, Any] = Field(default_factory=dict)
    unsafe_metadata: dict[str, Any] = Field(default_factory=dict)
    private_metadata: dict[str, Any] = Field(default_factory=dict)
    # Sign-in restrictions: banned by an admin, locked after failed attempts, or deprovisioned by Directory Sync
    # (which sends user.updated, not user.deleted). The authorizer refuses such a user (api/authorization.py).
    banned: bool = False
    locked: bool = False
    deprovisioned: bool = False
    two_factor_enabled: bool = False
    created_at: int
    updated_at: int
    last_sign_in_at: int | None = None
    last_active_at: int | None = None

    _metadata = field_validator("public_metadata", "unsafe_metadata", "private_metadata", mode="before")(
        _none_to_empty_dict
    )

    @property
    def primary_email(self) -> str | None:
        for email in self.email_addresses:
            if email.id == self.primary_email_address_id:
                return email.email_address
        return None

    @property
    def primary_phone(self) -> str | None:
        for phone in self.phone_numbers:
            if phone.id == self.primary_phone_number_id:
                return phone.phone_number
        return None


class Organization(ClerkModel):
    id: str = Field(pattern=r"^org_\w+$")
    name: str
    slug: str | None = None
    image_url: str | None = None
    has_image: bool = False
    public_metadata: dict[str, Any] = Field(default_factory=dict)
    private_metadata: dict[str, Any] = Field(default_factory=dict)
    members_count: int | None = None
    max_allowed_memberships: int | None = None
    created_by: str | None = None
    created_at: int
    updated_at: int

    _metadata = field_validator("public_metadata", "private_metadata", mode="before")(_none_to_empty_dict)


class PublicUserData(ClerkModel):
    user_id: str = Field(pattern=r"^user_\w+$")
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None
    has_image: bool = False
    identifier: str | None = None
    username: str | None = None


class Membership(ClerkModel):
    """An organization membership; `organization` is the org Clerk embeds in every membership payload."""

    id: str
    role: str
    role_name: str | None = None
    permissions: list[str] = Field(default_factory=list)
    public_metadata: dict[str, Any] = Field(default_factory=dict)
    private_metadata: dict[str, Any] = Field(default_factory=dict)
    organization: Organization
    public_user_data: PublicUserData
    created_at: int
    updated_at: int

    _metadata = field_validator("public_metadata", "private_metadata", mode="before")(_none_to_empty_dict)

    @property
    def org_id(self) -> str:
        return self.organization.id

    @property
    def user_id(self) -> str:
        return self.public_user_data.user_id


class DeletedObject(ClerkModel):
    """What `user.deleted` and `organization.deleted` carry: the id and nothing else we can trust."""

    id: str
    object: str | None = None
    deleted: Literal[True] = True


HANDLED_EVENT_TYPES: frozenset[str] = frozenset(EVENT_TYPES)

# Envelope timestamps below this are seconds (some real payloads), above it milliseconds.
_SECONDS_BOUNDARY = 10**12


def normalise_timestamp_ms(value: int | float) -> int:
    """Clerk's envelope `timestamp` is seconds in some payloads and milliseconds in others."""
    number = int(value)
    return number * 1000 if number < _SECONDS_BOUNDARY else number


class Envelope(ClerkModel):
    """The webhook envelope around `data`, shared by all Clerk events."""

    type: str
    object: Literal["event"] = "event"
    instance_id: str | None = None
    timestamp: int | None = None
    data: dict[str, Any]

    @field_validator("timestamp", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return normalise_timestamp_ms(value)
        return value

    @property
    def handled(self) -> bool:
        return self.type in HANDLED_EVENT_TYPES


class UserUpserted(ClerkModel):
    kind: Literal["user_upserted"] = "user_upserted"
    user: User


class UserDeleted(ClerkModel):
    kind: Literal["user_deleted"] = "user_deleted"
    user_id: str


class OrganizationUpserted(ClerkModel):
    kind: Literal["organization_upserted"] = "organization_upserted"
    organization: Organization


class OrganizationDeleted(ClerkModel):
    kind: Literal["organization_deleted"] = "organization_deleted"
    org_id: str


class MembershipUpserted(ClerkModel):
    kind: Literal["membership_upserted"] = "membership_upserted"
    membership: Membership


class MembershipDeleted(ClerkModel):
    kind: Literal["membership_deleted"] = "membership_deleted"
    membership: Membership


Change = (
    UserUpserted | UserDeleted | OrganizationUpserted | OrganizationDeleted | MembershipUpserted | MembershipDeleted
)


def change_from_envelope(envelope: Envelope) -> Change:
    """The typed change an event describes; raises `ValueError` (pydantic's) for a payload that does not fit."""
    data = envelope.data
    match envelope.type:
        case "user.created" | "user.updated":
            return UserUpserted(user=User.model_validate(data))
        case "user.deleted":
            return UserDeleted(user_id=DeletedObject.model_validate(data).id)
        case "organization.created" | "organization.updated":
            return OrganizationUpserted(organization=Organization.model_validate(data))
        case "organization.deleted":
            return OrganizationDeleted(org_id=DeletedObject.model_validate(data).id)
        case "organizationMembership.created" | "organizationMembership.updated":
            return MembershipUpserted(membership=Membership.model_validate(data))
        case "organizationMembership.deleted":
            return MembershipDeleted(membership=Membership.model_validate(data))
        case _:
            raise ValueError(f"unhandled event type {envelope.type!r}")
