"""Session tokens: RS256, Clerk v2 claims, verifiable with the JWKS (over HTTP) and with the PEM."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from clerk_sync_local.emulator import ClerkEmulator
from clerk_sync_local.emulator.errors import NotFoundError, UnprocessableError
from clerk_sync_local.emulator.tokens import decode_org_permissions, encode_org_permissions


def _verify_with_jwks(clerk: ClerkEmulator, token: str) -> dict[str, object]:
    signing_key = jwt.PyJWKClient(f"{clerk.url}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims: dict[str, object] = jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer=clerk.issuer)
    return claims


def test_mint_token_claims_verify_with_jwks(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    before = int(time.time())
    claims = _verify_with_jwks(clerk, clerk.mint_token(user["id"]))
    assert claims["sub"] == user["id"]
    assert str(claims["sid"]).startswith("sess_")
    assert claims["iss"] == clerk.url
    assert claims["azp"] == "http://localhost:3000"
    assert claims["v"] == 2
    assert "o" not in claims
    iat, nbf, exp = (int(claims[k]) for k in ("iat", "nbf", "exp"))  # type: ignore[call-overload]
    assert before <= iat
    assert nbf < iat
    assert exp == iat + 60


def test_mint_token_header_names_jwks_kid(clerk: ClerkEmulator) -> None:
    header = jwt.get_unverified_header(clerk.mint_token(clerk.create_user()["id"]))
    assert header["alg"] == "RS256"
    assert header["kid"] == clerk.jwks["keys"][0]["kid"]


def test_mint_token_member_org_adds_v2_org_claim(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme Corp", created_by=user["id"])
    claims = _verify_with_jwks(clerk, clerk.mint_token(user["id"], org["id"]))
    o = claims["o"]
    assert isinstance(o, dict)
    assert (o["id"], o["slg"], o["rol"]) == (org["id"], "acme-corp", "admin")
    admin_permissions = clerk.state_snapshot()["memberships"][0]["permissions"]
    assert sorted(decode_org_permissions(str(claims["fea"]), o["per"], o["fpm"])) == sorted(admin_permissions)


def test_mint_token_org_slug_accepted_like_id(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme", created_by=user["id"])
    claims = jwt.decode(clerk.mint_token(user["id"], "acme"), clerk.public_key_pem, algorithms=["RS256"])
    assert claims["o"]["id"] == org["id"]


def test_mint_token_non_member_org_is_rejected(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme")
    with pytest.raises(UnprocessableError):
        clerk.mint_token(user["id"], org["id"])


def test_mint_token_unknown_user_is_rejected_but_deleted_user_allowed(clerk: ClerkEmulator) -> None:
    with pytest.raises(NotFoundError):
        clerk.mint_token("user_unknown")
    user = clerk.create_user()
    clerk.delete_user(user["id"])
    assert jwt.decode(clerk.mint_token(user["id"]), clerk.public_key_pem, algorithms=["RS256"])["sub"] == user["id"]


def test_mint_token_extra_claims_override_and_none_removes(clerk: ClerkEmulator) -> None:
    token = clerk.mint_token(clerk.create_user()["id"], azp=None, exp=int(time.time()) - 10, custom="x")
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, clerk.public_key_pem, algorithms=["RS256"])
    claims = jwt.decode(token, clerk.public_key_pem, algorithms=["RS256"], options={"verify_exp": False})
    assert "azp" not in claims
    assert claims["custom"] == "x"


def test_mint_token_version_1_uses_flat_org_claims(clerk: ClerkEmulator) -> None:
    user = clerk.create_user()
    org = clerk.create_organization("Acme", created_by=user["id"])
    claims = jwt.decode(clerk.mint_token(user["id"], org["id"], version=1), clerk.public_key_pem, algorithms=["RS256"])
    assert (claims["org_id"], claims["org_role"], claims["org_slug"]) == (org["id"], "org:admin", "acme")
    assert "v" not in claims


def test_tokens_endpoint_mints_verifiable_jwt(clerk: ClerkEmulator, admin: httpx.Client) -> None:
    user = clerk.create_user()
    response = admin.post("/tokens", json={"user_id": user["id"], "expires_in": 120, "claims": {"azp": None}})
    assert response.status_code == 200
    pem = admin.get("/jwt-public-key").text
    claims = jwt.decode(response.json()["jwt"], pem, algorithms=["RS256"])
    assert claims["exp"] - claims["iat"] == 120
    assert "azp" not in claims
    assert admin.post("/tokens", json={"user_id": "user_unknown"}).status_code == 404


def test_signing_key_pem_given_keeps_same_jwks(signing_key_pem: str) -> None:
    first = ClerkEmulator(signing_key_pem=signing_key_pem)
    second = ClerkEmulator(signing_key_pem=signing_key_pem)
    assert first.jwks == second.jwks
    assert first.public_key_pem == second.public_key_pem


@pytest.mark.parametrize(
    "permissions",
    [
        ["org:posts:read", "org:posts:write"],
        ["org:posts:read", "org:posts:write", "org:posts:delete", "org:members:manage", "org:members:read"],
        [],
    ],
)
def test_org_permissions_encode_then_decode_round_trips(permissions: list[str]) -> None:
    # Clerk's decoder yields feature by feature, in action-index order: compare as sets.
    decoded = decode_org_permissions(*encode_org_permissions(permissions))
    assert sorted(decoded) == sorted(permissions)


def test_org_permissions_system_permissions_left_out() -> None:
    fea, per, fpm = encode_org_permissions(["org:sys_memberships:read", "org:posts:read"])
    assert (fea, per, fpm) == ("o:posts", "read", "1")
