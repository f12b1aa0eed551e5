"""Settings for session-token verification, named as Clerk's own SDKs name them, read once per cold start
(`clerk_sync.wiring`).

None of these is a secret: the issuer and authorized parties are public origins and `CLERK_JWT_KEY` is the
instance's public key (Dashboard > API keys > Show JWT public key), so they come from the environment only.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from clerk_sync.settings import _Settings, _split_list

JWKS_PATH: Final = "/.well-known/jwks.json"


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthSettings(_Settings):
    """Which Clerk instance's session tokens to accept, from which origins, and where its keys are."""

    # The exact `iss` of the instance's tokens: its Frontend API URL, e.g. https://clerk.example.com.
    clerk_issuer: str
    # Origins (scheme://host[:port]) whose sessions are accepted; empty means `azp` is not checked.
    clerk_authorized_parties: list[str] = Field(default_factory=list)
    # PEM public key: verification without any network call; when set the JWKS is never fetched.
    clerk_jwt_key: str | None = None
    # Defaults to <CLERK_ISSUER>/.well-known/jwks.json, where Clerk's Frontend API (and our emulator) serve it.
    clerk_jwks_url: str | None = None
    clerk_clock_skew_seconds: int = Field(default=5, ge=0, le=60)
    clerk_jwks_cache_seconds: int = Field(default=3600, ge=60, le=86_400)
    # An unknown kid refetches the JWKS at most once per this interval, however many tokens carry one.
    clerk_jwks_min_refresh_seconds: int = Field(default=30, ge=1, le=3600)

    _split = field_validator("clerk_authorized_parties", mode="before")(_split_list)

    @field_validator("clerk_issuer", mode="after")
    @classmethod
    def _issuer_is_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("CLERK_ISSUER must be the instance's Frontend API URL, e.g. https://clerk.example.com")
        return value

    @field_validator("clerk_authorized_parties", mode="after")
    @classmethod
    def _parties_are_origins(cls, value: list[str]) -> list[str]:
        origins = []
        for party in value:
            origin = party.rstrip("/")
            parts = urlsplit(origin)
            if parts.scheme not in ("https", "http") or not parts.hostname or parts.path or parts.query:
                raise ValueError("CLERK_AUTHORIZED_PARTIES entries must be origins, e.g. https://app.example.com")
            origins.append(origin)
        return list(dict.fromkeys(origins))

    @field_validator("clerk_jwt_key", "clerk_jwks_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value if not isinstance(value, str) or value.strip() else None

    @field_validator("clerk_jwt_key", mode="after")
    @classmethod
    def _jwt_key_is_rsa_pem(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Environment variables often carry the PEM on one line with literal \n escapes.
        pem = value.replace("\\n", "\n").strip()
        # Imported here: only a PEM-configured instance needs cryptography this early.
        from clerk_sync.auth.jwks import load_rsa_public_key

        try:
            load_rsa_public_key(pem)
        except ValueError as error:
            raise ValueError(f"CLERK_JWT_KEY must be the instance's PEM RSA public key: {error}") from None
        return pem + "\n"

    @model_validator(mode="after")
    def _jwks_url_is_safe(self) -> AuthSettings:
        if self.clerk_jwt_key is not None:
            return self
        parts = urlsplit(self.jwks_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("CLERK_JWKS_URL must be an http(s) URL")
        # Keys fetched over plain HTTP could be swapped in transit; the local emulator on loopback is the exception.
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            raise ValueError(
                "CLERK_JWKS_URL (or CLERK_ISSUER, which it defaults from) must use https except on localhost"
            )
        return self

    @property
    def jwks_url(self) -> str:
        return self.clerk_jwks_url.strip() if self.clerk_jwks_url else self.clerk_issuer + JWKS_PATH
