"""RS256 session tokens in Clerk's format, and the JWKS / PEM that verify them.

v2 org claim, as Clerk's SDKs decode it (`@clerk/shared` jwtPayloadParser): `o = {id, slg, rol, per, fpm}`
with `rol` lacking the `org:` prefix, `per` the comma-joined permission actions, and `fpm` one bitmask
per org feature listed in the top-level `fea` claim (`o:<feature>,…`); bit i of a feature's mask grants
`org:<feature>:<per[i]>`. System permissions (`org:sys_*`) never appear in tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_LIFETIME_S = 60
CLOCK_SKEW_S = 5  # nbf is this far before iat, like Clerk's default allowed clock skew


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode_org_permissions(permissions: Sequence[str]) -> tuple[str, str, str]:
    """(`fea`, `per`, `fpm`) for custom permissions `org:<feature>:<action>`, in first-seen order."""
    features: list[str] = []
    actions: list[str] = []
    granted: dict[str, int] = {}
    for permission in permissions:
        parts = permission.split(":")
        if len(parts) != 3 or parts[0] != "org" or parts[1].startswith("sys_"):
            continue
        feature, action = parts[1], parts[2]
        if feature not in features:
            features.append(feature)
        if action not in actions:
            actions.append(action)
        granted[feature] = granted.get(feature, 0) | (1 << actions.index(action))
    fea = ",".join(f"o:{f}" for f in features)
    return fea, ",".join(actions), ",".join(str(granted[f]) for f in features)


def decode_org_permissions(fea: str, per: str, fpm: str) -> list[str]:
    """The inverse of `encode_org_permissions`, as Clerk's SDKs read it (for tests and tooling)."""
    features = [f.split(":", 1)[1] for f in fea.split(",") if f and "o" in f.split(":", 1)[0]]
    actions = [a.strip() for a in per.split(",") if a.strip()]
    masks = [int(m) for m in fpm.split(",") if m.strip()]
    return [
        f"org:{feature}:{action}"
        for feature, mask in zip(features, masks, strict=False)
        for i, action in enumerate(actions)
        if mask >> i & 1
    ]


class TokenSigner:
    """An RSA key pair: signs session tokens and publishes the public half as JWKS and PEM."""

    def __init__(self, private_key_pem: str | None = None) -> None:
        if private_key_pem is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            loaded = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("the signing key must be an RSA private key")
            self._key = loaded
        numbers = self._key.public_key().public_numbers()
        self._jwk = {"kty": "RSA", "e": _b64url_uint(numbers.e), "n": _b64url_uint(numbers.n)}
        # RFC 7638 thumbprint as kid: two emulators never share a kid with different keys.
        thumbprint = hashlib.sha256(json.dumps(self._jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
        self.kid = "ins_" + base64.urlsafe_b64encode(thumbprint).rstrip(b"=").decode()[:27]

    @property
    def private_key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def public_key_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [{"use": "sig", "kty": "RSA", "kid": self.kid, "alg": "RS256", **self._jwk}]}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def session_claims(
    *,
    user_id: str,
    session_id: str,
    issuer: str,
    authorized_party: str | None,
    expires_in: int = DEFAULT_LIFETIME_S,
    org: tuple[str, str, str, Sequence[str]] | None = None,
    version: int = 2,
    now: float | None = None,
) -> dict[str, Any]:
    """Clerk's default session claims; `org` is (id, slug, role, permissions) of the active organization."""
    iat = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": user_id,
        "sid": session_id,
        "iss": issuer,
        "iat": iat,
        "nbf": iat - CLOCK_SKEW_S,
        "exp": iat + expires_in,
        "fva": [0, -1],
    }
    if authorized_party:
        claims["azp"] = authorized_party
    if version == 2:
        claims["v"] = 2
        if org is not None:
            org_id, slug, role, permissions = org
            fea, per, fpm = encode_org_permissions(permissions)
            claims["o"] = {"id": org_id, "slg": slug, "rol": role.removeprefix("org:"), "per": per, "fpm": fpm}
            if fea:
                claims["fea"] = fea
    elif org is not None:
        org_id, slug, role, permissions = org
        claims.update(
            org_id=org_id,
            org_slug=slug,
            org_role=role,
            org_permissions=[p for p in permissions if not p.startswith("org:sys_")],
        )
    return claims
