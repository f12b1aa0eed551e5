"""Session-token attacks against the authorizer: each is a 401 with its reason, never a 5xx, never a write."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from clerk_sync_local.emulator.tokens import TokenSigner, session_claims
from clerk_sync_local.gateway import Gateway
from infra.endpoints import ROUTES, Route
from tests.api.conftest import PARTY, Api
from tests.support.forge import forge, hs256, sign_raw, with_payload

ROUTE = "/api/sync/user"


def _claims(api: Api, user_id: str, **overrides: Any) -> dict[str, Any]:
    claims = session_claims(user_id=user_id, session_id="sess_1", issuer=api.clerk.issuer, authorized_party=PARTY)
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(api: Api, claims: dict[str, Any], kid: str | None = None) -> str:
    signer = api.clerk.signer
    return sign_raw(signer.private_key_pem, kid or signer.kid, claims)


Attack = Callable[[Api, str], str]

ATTACKS: dict[str, tuple[Attack, str]] = {
    "alg none": (lambda api, u: forge({"alg": "none", "typ": "JWT"}, _claims(api, u)), "token_algorithm"),
    "hs256 keyed with the public key": (
        lambda api, u: hs256({"alg": "HS256", "typ": "JWT"}, _claims(api, u), api.clerk.public_key_pem.encode()),
        "token_algorithm",
    ),
    "expired": (
        lambda api, u: _signed(api, _claims(api, u, exp=int(time.time()) - 120, iat=int(time.time()) - 180)),
        "token_expired",
    ),
    "nbf in the future": (
        lambda api, u: _signed(api, _claims(api, u, nbf=int(time.time()) + 300, exp=int(time.time()) + 600)),
        "token_not_yet_valid",
    ),
    "wrong issuer": (lambda api, u: _signed(api, _claims(api, u, iss="https://evil.example.com")), "token_issuer"),
    "wrong azp": (
        lambda api, u: _signed(api, _claims(api, u, azp="https://evil.example.com")),
        "token_authorized_party",
    ),
    "tampered payload": (
        lambda api, u: with_payload(api.token(u), _claims(api, "user_someoneelse")),
        "token_signature",
    ),
    "unknown kid": (lambda api, u: _signed(api, _claims(api, u), kid="ins_unknown"), "token_unknown_key"),
    "another key, same kid": (
        lambda api, u: sign_raw(TokenSigner().private_key_pem, api.clerk.signer.kid, _claims(api, u)),
        "token_signature",
    ),
    "garbage": (lambda api, u: "not-a-token", "token_malformed"),
    "empty bearer": (lambda api, u: "", "token_missing"),
}


@pytest.fixture(params=["pem", "jwks"])
def key_mode(request: pytest.FixtureRequest, api: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    """CLERK_JWT_KEY (networkless) or the JWKS the emulator publishes beside its issuer."""
    if request.param == "jwks":
        from clerk_sync import wiring

        monkeypatch.delenv("CLERK_JWT_KEY")
        monkeypatch.setenv("CLERK_JWKS_URL", f"{api.clerk.url}/.well-known/jwks.json")
        wiring.reset()
    mode: str = request.param
    return mode


# With a PEM key there is no kid to be unknown: the signature alone decides.
CASES = [
    (mode, attack) for mode in ("pem", "jwks") for attack in sorted(ATTACKS) if (mode, attack) != ("pem", "unknown kid")
]


@pytest.mark.parametrize(("key_mode", "attack"), CASES, indirect=["key_mode"])
def test_authorizer_rejects_attack_with_401_and_writes_nothing(api: Api, key_mode: str, attack: str) -> None:
    user_id = api.clerk.create_user(first_name="Victim")["id"]
    make, code = ATTACKS[attack]
    reply = api.call("POST", ROUTE, token=make(api, user_id))
    assert reply.status == 401
    assert reply.body["error"]["code"] == code
    assert api.items() == []
    assert api.clerk.request_count() == 0  # a bad token never costs a Clerk call


def test_authorizer_without_token_is_401(api: Api) -> None:
    reply = api.call("POST", ROUTE)
    assert reply.status == 401
    assert reply.body["error"]["code"] == "token_missing"


def test_gateway_with_cached_authorizer_refuses_missing_header_itself(api: Api) -> None:
    api.gateway = Gateway(authorizer_cache_ttl=60)
    reply = api.call("POST", ROUTE)
    assert reply.status == 401
    assert reply.body == {"message": "Unauthorized"}


def test_valid_token_is_accepted_in_both_key_modes(api: Api, key_mode: str) -> None:
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    reply = api.call("POST", ROUTE, token=api.token(user_id))
    assert reply.status == 200


def test_session_cookie_is_accepted_without_authorization_header(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Cookie")["id"]
    reply = api.call("POST", ROUTE, headers={"cookie": f"theme=dark; __session={api.token(user_id)}"})
    assert reply.status == 200
    assert reply.body["user_id"] == user_id


def test_v1_token_org_claims_are_read(api: Api) -> None:
    user_id = api.clerk.create_user(first_name="Ada")["id"]
    org_id = api.clerk.create_organization("Acme", created_by=user_id)["id"]
    token = api.clerk.mint_token(user_id, org_id, version=1)
    reply = api.call("POST", f"/api/sync/organization/{org_id}/members", token=token)
    assert reply.status == 200  # an org admin by the v1 org_role claim


@pytest.mark.parametrize("route", [r for r in ROUTES if r.authorized], ids=lambda r: f"{r.method} {r.path}")
def test_every_authorized_route_answers_a_bad_token_with_401(api: Api, route: Route) -> None:
    path = route.path.replace("{clerkUserId}", "user_x").replace("{clerkOrgId}", "org_x").replace("{jobId}", "job_x")
    path = path.replace("{entity}/{entityId}", "user/user_x") + ("?q=user_x" if path.endswith("/find") else "")
    body: dict[str, object] | None = None
    if route.method == "POST":
        body = (
            {"all": True} if route.path.startswith("/api/admin/") else {"clerkOrgId": "org_x", "clerkUserId": "user_x"}
        )
    reply = api.call(route.method, path, token="expired.or.forged", body=body)
    assert reply.status == 401
    assert reply.body["error"]["code"] == "token_malformed"
