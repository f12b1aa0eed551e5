"""SessionClaims: v1 and v2 org claims read into one shape, Clerk's permission bitmask, display fields."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clerk_sync.auth import SessionClaims, SessionVerifier, TokenClaimsError, decode_org_permissions
from clerk_sync_local.emulator.tokens import TokenSigner, encode_org_permissions

from .conftest import ISSUER, NOW, USER_ID, claims

ORG = ("org_2zZ9yXwVu", "acme-corp", "org:admin", ["org:invoices:read", "org:invoices:write", "org:team:read"])


def _payload(**overrides: Any) -> dict[str, Any]:
    return claims(**overrides)


@pytest.mark.parametrize(
    "org",
    [
        ORG,
        ("org_1", "solo", "org:member", []),
        ("org_2", "custom-role", "org:billing_manager", ["org:billing:manage", "org:reports:read"]),
    ],
)
def test_verify_v1_and_v2_org_claims_decode_to_same_fields(
    verifier: SessionVerifier, signer: TokenSigner, org: tuple[str, str, str, list[str]]
) -> None:
    v1 = verifier.verify(signer.sign(claims(org=org, version=1)))
    v2 = verifier.verify(signer.sign(claims(org=org, version=2)))

    org_id, slug, role, permissions = org
    assert (v2.org_id, v2.org_slug, v2.org_role) == (org_id, slug, role)
    assert sorted(v2.org_permissions) == sorted(permissions)
    assert (v1.org_id, v1.org_slug, v1.org_role, sorted(v1.org_permissions)) == (
        v2.org_id,
        v2.org_slug,
        v2.org_role,
        sorted(v2.org_permissions),
    )


def test_from_payload_v2_role_without_prefix_gets_org_prefix() -> None:
    payload = _payload(o={"id": "org_1", "slg": "acme", "rol": "admin", "per": "", "fpm": ""})

    assert SessionClaims.from_payload(payload).org_role == "org:admin"


def test_from_payload_v2_role_already_prefixed_is_not_doubled() -> None:
    payload = _payload(o={"id": "org_1", "rol": "org:admin"})

    assert SessionClaims.from_payload(payload).org_role == "org:admin"


def test_from_payload_without_org_has_no_org_fields() -> None:
    result = SessionClaims.from_payload(_payload())

    assert (result.org_id, result.org_slug, result.org_role, result.org_permissions) == (None, None, None, ())


def test_from_payload_v2_permissions_follow_bitmask_of_org_scoped_features() -> None:
    # Masks pair with the org-scoped features only ("o:" and "uo:"); bit i of a mask grants per[i].
    payload = _payload(
        fea="o:invoices,u:profile,uo:reports",
        o={"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,write,delete", "fpm": "5,2"},
    )

    result = SessionClaims.from_payload(payload)

    assert result.org_permissions == ("org:invoices:read", "org:invoices:delete", "org:reports:write")
    assert result.has_permission("org:invoices:delete")
    assert not result.has_permission("org:invoices:write")


@pytest.mark.parametrize(
    ("fea", "per", "fpm", "expected"),
    [
        ("o:a,o:b", "read,write", "1,abc", ["org:a:read"]),  # an unreadable mask grants nothing
        ("o:a,o:b", "read,write", "-1,2", ["org:b:write"]),
        ("o:a,obad,o:c", "read", "1,1,1", ["org:a:read", "org:c:read"]),  # a malformed entry keeps its slot
        ("o:a", "read", "", []),
        ("o:a", "", "1", []),
        ("o:a", "read,write", "18446744073709551619", ["org:a:read", "org:a:write"]),  # wider than 64 bits
        ("o:a,o:b,o:c", "read", "1", ["org:a:read"]),  # fewer masks than features
    ],
)
def test_decode_org_permissions_reads_edge_cases_as_clerk_sdk(
    fea: str, per: str, fpm: str, expected: list[str]
) -> None:
    assert decode_org_permissions(fea, per, fpm) == expected


def test_from_payload_v1_token_ignores_custom_claim_named_o() -> None:
    payload = _payload(org=ORG, version=1, o={"id": "org_custom", "rol": "owner"})

    result = SessionClaims.from_payload(payload)

    assert (result.org_id, result.org_role) == (ORG[0], "org:admin")


def test_from_payload_v2_without_o_has_no_org_even_with_v1_fields() -> None:
    assert SessionClaims.from_payload(_payload(org_id="org_v1", org_role="org:admin")).org_id is None


def test_from_payload_v2_single_mask_as_number_is_accepted() -> None:
    payload = _payload(fea="o:invoices", o={"id": "org_1", "rol": "admin", "per": "read,write", "fpm": 2})

    assert SessionClaims.from_payload(payload).org_permissions == ("org:invoices:write",)


@pytest.mark.parametrize(
    "overrides",
    [
        {"o": "org_1"},
        {"o": {"id": 5}},
        {"o": {"id": "org_1", "rol": ["admin"]}},
        {"o": {"id": "org_1", "per": "read", "fpm": [1]}, "fea": "o:x"},
        {"o": {"id": "org_1", "per": "read", "fpm": "1"}, "fea": 7},
        {"org_id": "org_1", "org_permissions": "org:a:b", "v": None},
        {"org_id": "org_1", "org_permissions": ["org:a:b", 3], "v": None},
        {"org_id": "org_1", "org_role": {"admin": True}, "v": None},
    ],
)
def test_from_payload_misshapen_org_claim_raises_claims_error(overrides: dict[str, Any]) -> None:
    with pytest.raises(TokenClaimsError):
        SessionClaims.from_payload(_payload(**overrides))


def test_from_payload_reads_times_as_unix_seconds() -> None:
    result = SessionClaims.from_payload(_payload(iat=NOW + 0.9, exp=float(NOW + 60), nbf=None))

    assert (result.issued_at, result.expires_at, result.not_before) == (NOW, NOW + 60, None)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1800000000", None, True])
def test_from_payload_exp_not_a_finite_number_raises_claims_error(value: Any) -> None:
    payload = _payload()
    payload["exp"] = value

    with pytest.raises(TokenClaimsError, match="exp"):
        SessionClaims.from_payload(payload)


def test_session_claims_are_frozen() -> None:
    result = SessionClaims.from_payload(_payload())

    with pytest.raises(dataclasses.FrozenInstanceError):
        result.user_id = "user_other"  # type: ignore[misc]


def test_display_fields_of_default_token_hold_only_user_id() -> None:
    assert SessionClaims.from_payload(_payload()).display_fields() == {"id": USER_ID}


def test_display_fields_read_custom_claims_and_their_camel_case_spellings() -> None:
    payload = _payload(
        primaryEmail="ada@example.test",
        firstName="Ada",
        last_name="Lovelace",
        imageUrl="https://img.example.test/ada.png",
        username="ada",
    )

    assert SessionClaims.from_payload(payload).display_fields() == {
        "id": USER_ID,
        "email": "ada@example.test",
        "username": "ada",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "image_url": "https://img.example.test/ada.png",
    }


def test_display_fields_skip_null_blank_and_non_string_claims() -> None:
    # Clerk renders a template for a user without the field as null; that must not reject the login.
    payload = _payload(email=None, first_name="  ", last_name=42, username="x" * 600, image_url="https://i.test/a")

    assert SessionClaims.from_payload(payload).display_fields() == {"id": USER_ID, "image_url": "https://i.test/a"}


def test_from_payload_keeps_issuer_as_signed() -> None:
    assert SessionClaims.from_payload(_payload(iss=ISSUER + "/")).issuer == ISSUER + "/"


_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@given(st.lists(st.tuples(_names, _names), max_size=12))
def test_decode_org_permissions_inverts_emulator_encoding(pairs: list[tuple[str, str]]) -> None:
    permissions = [f"org:{feature}:{action}" for feature, action in pairs if not feature.startswith("sys_")]

    decoded = decode_org_permissions(*encode_org_permissions(permissions))

    assert sorted(decoded) == sorted(set(permissions))


_masks = st.lists(st.integers(min_value=-3, max_value=2**70).map(str), max_size=5).map(",".join)


@given(st.text(max_size=40), st.text(max_size=40), st.one_of(st.text(max_size=40), _masks))
def test_decode_org_permissions_arbitrary_text_returns_only_listed_actions(fea: str, per: str, fpm: str) -> None:
    decoded = decode_org_permissions(fea, per, fpm)

    actions = {action.strip() for action in per.split(",")}
    for permission in decoded:
        prefix, feature, action = permission.split(":", 2)
        assert (prefix, bool(feature), action in actions) == ("org", True, True)
