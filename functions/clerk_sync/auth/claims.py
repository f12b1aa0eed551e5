"""The claims of a verified Clerk session token, org claims v1 and v2 read into one shape.

Clerk writes the active organization in one of two forms. v1 (session token version 1): `org_id`, `org_slug`,
`org_role` (`org:admin`) and `org_permissions` (a list). v2 (`"v": 2`): `o = {id, slg, rol, per, fpm}`
with `rol` lacking the `org:` prefix, `per` the comma-joined permission actions, `fpm` one bitmask per org
feature listed in the top-level `fea` claim (`o:<feature>`, `u:<feature>`, `uo:<feature>`, comma-joined);
bit i of a feature's mask grants `org:<feature>:<per[i]>`. Both become `org_id`, `org_slug`, `org_role`
(always `org:`-prefixed) and `org_permissions`.

Only signed claims reach this module (`SessionVerifier` checks the signature first); shapes are still checked,
since a claim of the wrong type must become `TokenClaimsError`, never a TypeError and a 5xx.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from clerk_sync.auth.errors import TokenClaimsError

# \Z, not $: `$` also matches before a trailing newline. ASCII: Clerk ids are base62, never other scripts.
_USER_ID: Final = re.compile(r"user_\w+\Z", re.ASCII)

# Custom session claims an instance may add, first name wins (Clerk's docs show both spellings).
_DISPLAY_CLAIMS: Final[dict[str, tuple[str, ...]]] = {
    "email": ("email", "primary_email_address", "primaryEmail", "primaryEmailAddress"),
    "username": ("username",),
    "first_name": ("first_name", "firstName"),
    "last_name": ("last_name", "lastName"),
    "image_url": ("image_url", "imageUrl", "picture"),
}
_MAX_DISPLAY_CHARS: Final = 512


def decode_org_permissions(fea: str, per: str, fpm: str) -> list[str]:
    """`org:<feature>:<action>` for each bit set in the feature's `fpm` mask, as Clerk's SDKs decode v2 claims."""
    if not per or not fpm:
        return []
    # Scopes are the letters before the colon: "o" (org), "u" (user) or "uo" (both); only org scopes count.
    # A malformed org entry still takes its mask slot, as in Clerk's SDK, so later features stay aligned.
    features: list[str | None] = []
    for entry in fea.split(","):
        parts = entry.strip().split(":")
        if "o" in parts[0]:
            features.append(parts[1] if len(parts) > 1 and parts[1] else None)
    actions = [action.strip() for action in per.split(",")]
    masks = [_mask(part) for part in fpm.split(",")]
    return [
        f"org:{feature}:{action}"
        for feature, mask in zip(features, masks, strict=False)
        if feature is not None
        for bit, action in enumerate(actions)
        if action and mask >> bit & 1
    ]


def _mask(text: str) -> int:
    """A decimal bitmask; anything else grants nothing, as Clerk's SDK reads it (masks can exceed 64 bits)."""
    text = text.strip()
    # isdecimal() alone admits other scripts' digits; the length cap keeps int() cheap on hostile input.
    if not (text.isascii() and text.isdecimal()) or len(text) > 1000:
        return 0
    return int(text)


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """Who the token is for and which organization is active; times are Unix seconds."""

    user_id: str
    issuer: str
    issued_at: int
    expires_at: int
    session_id: str | None = None
    authorized_party: str | None = None
    not_before: int | None = None
    org_id: str | None = None
    org_slug: str | None = None
    org_role: str | None = None
    org_permissions: tuple[str, ...] = ()
    # Custom session claims a provisional user can be built from; Clerk's default token has none of them.
    email: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> SessionClaims:
        """The claims of a signature-checked payload; `TokenClaimsError` when one is missing or misshapen."""
        sub = payload.get("sub")
        if not isinstance(sub, str) or not _USER_ID.match(sub):
            raise TokenClaimsError("the token's subject (sub) is missing or not a Clerk user id")
        issuer = payload.get("iss")
        if not isinstance(issuer, str):
            raise TokenClaimsError("the token's issuer (iss) is missing or not a string")
        org_id, org_slug, org_role, org_permissions = _active_org(payload)
        display = _display(payload)
        return cls(
            user_id=sub,
            issuer=issuer,
            issued_at=_numeric_date(payload, "iat"),
            expires_at=_numeric_date(payload, "exp"),
            not_before=None if payload.get("nbf") is None else _numeric_date(payload, "nbf"),
            session_id=_optional_str(payload, "sid"),
            authorized_party=_optional_str(payload, "azp"),
            org_id=org_id,
            org_slug=org_slug,
            org_role=org_role,
            org_permissions=org_permissions,
            email=display.get("email"),
            username=display.get("username"),
            first_name=display.get("first_name"),
            last_name=display.get("last_name"),
            image_url=display.get("image_url"),
        )

    def display_fields(self) -> dict[str, str]:
        """`id` plus whichever of email, username, first_name, last_name, image_url the token carries."""
        fields = {name: getattr(self, name) for name in _DISPLAY_CLAIMS}
        return {"id": self.user_id, **{name: value for name, value in fields.items() if value is not None}}

    def has_permission(self, permission: str) -> bool:
        """Whether the active organization grants `permission` (`org:<feature>:<action>`)."""
        return permission in self.org_permissions


def _numeric_date(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    # bool is an int subclass; NaN and infinities pass json.loads; neither is a date.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenClaimsError(f"the token's {name} claim is missing or not a number")
    return int(value)


def _optional_str(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TokenClaimsError(f"the token's {name} claim is not a string")
    return value


def _active_org(payload: Mapping[str, Any]) -> tuple[str | None, str | None, str | None, tuple[str, ...]]:
    """(id, slug, role with `org:`, permissions) of the active organization, from the v2 or the v1 claims."""
    # As Clerk's SDK: version 2 reads only `o` (a v1 instance may have a custom claim named "o"), others v1.
    if payload.get("v") == 2:
        org = payload.get("o")
        if org is None:
            return None, None, None, ()
        if not isinstance(org, dict):
            raise TokenClaimsError("the token's org claim (o) is not an object")
        org_id = _optional_str(org, "id")
        if org_id is None:
            return None, None, None, ()
        permissions = decode_org_permissions(
            _optional_str(payload, "fea") or "",
            _optional_str(org, "per") or "",
            _fpm(org.get("fpm")),
        )
        return org_id, _optional_str(org, "slg"), _role(_optional_str(org, "rol")), tuple(permissions)
    org_id = _optional_str(payload, "org_id")
    if org_id is None:
        return None, None, None, ()
    listed = payload.get("org_permissions") or []
    if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
        raise TokenClaimsError("the token's org_permissions claim is not a list of strings")
    return org_id, _optional_str(payload, "org_slug"), _role(_optional_str(payload, "org_role")), tuple(listed)


def _role(role: str | None) -> str | None:
    # v2 drops the prefix ("admin"), v1 keeps it ("org:admin"); the result always has it exactly once.
    return "org:" + role.removeprefix("org:") if role else None


def _fpm(value: Any) -> str:
    # Clerk writes a comma-joined string; a lone mask may arrive as a JSON number.
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TokenClaimsError("the org claim's permission mask (o.fpm) is not a string")
    return str(value)


def _display(payload: Mapping[str, Any]) -> dict[str, str]:
    fields = {}
    for field, names in _DISPLAY_CLAIMS.items():
        for name in names:
            value = payload.get(name)
            # Custom claims are the instance's templates: a null or odd value is skipped, not an error.
            if isinstance(value, str) and value.strip() and len(value) <= _MAX_DISPLAY_CHARS:
                fields[field] = value.strip()
                break
    return fields
