"""Verifies Clerk session tokens: `extract_token` finds one in a request, `SessionVerifier.verify` checks it.

`verify` accepts a token only when all of these hold, checked in this order (the first failure is the error):
the token is a compact JWS of at most 16 KiB; its header says RS256 (so `none`, HS256 keyed with the public
PEM, PS256 and the rest fail before any key is looked up); the header's `kid` names a key (PEM mode: the one
key, `kid` ignored); the signature verifies with that key; `iss` equals the configured issuer (trailing slash
ignored); `sub`, `iat`, `exp` are present and well-formed; `azp` is an authorized party when parties are
configured; `exp`, `nbf` and `iat` hold within the clock skew.

A token without `azp` is rejected when authorized parties are configured: Clerk sets `azp` on every browser
session token, so a missing one means a token minted elsewhere (a JWT template, a backend-issued token)
being replayed against the API. With no parties configured `azp` is not checked at all.

Every failure is an `AuthError`: a `TokenError` (401) or `KeysUnavailableError` (503). PyJWT's exceptions and
anything a hostile token could provoke are mapped here; an unexpected exception would become a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import jwt
from jwt.exceptions import InvalidAlgorithmError, InvalidSignatureError, PyJWTError

from clerk_sync.auth.claims import SessionClaims
from clerk_sync.auth.errors import (
    TokenAlgorithmError,
    TokenAuthorizedPartyError,
    TokenExpiredError,
    TokenIssuerError,
    TokenMalformedError,
    TokenMissingError,
    TokenNotYetValidError,
    TokenSignatureError,
)

if TYPE_CHECKING:
    from jwt.types import Options

    from clerk_sync.auth.jwks import KeySource
    from clerk_sync.auth.settings import AuthSettings

ALGORITHM: Final = "RS256"
SESSION_COOKIE: Final = "__session"
# Clerk's tokens are ~1 KiB (4 KiB with custom claims, the cookie limit); the cap bounds parsing work.
MAX_TOKEN_CHARS: Final = 16 * 1024

# Signature only: every claim is checked below against our own clock, so PyJWT's time checks stay off.
_DECODE_OPTIONS: Final[Options] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_iss": False,
    "verify_aud": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


class SessionVerifier:
    """Checks a Clerk session token's signature and claims; one per process, so the JWKS cache survives."""

    def __init__(
        self,
        *,
        issuer: str,
        key_source: KeySource,
        authorized_parties: Iterable[str] = (),
        clock_skew_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not issuer.strip():
            raise ValueError("issuer must be the Clerk instance's Frontend API URL")
        if not 0 <= clock_skew_seconds <= 60:
            raise ValueError("clock_skew_seconds must be between 0 and 60")
        self.issuer = _origin(issuer)
        self.authorized_parties = frozenset(_origin(party) for party in authorized_parties)
        self.clock_skew_seconds = clock_skew_seconds
        self.key_source = key_source
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: AuthSettings | None = None,
        *,
        key_source: KeySource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> SessionVerifier:
        """A verifier for `settings` (default: the environment's), with the key source they describe."""
        # Imported here: the settings models are only needed when settings are read, not by callers passing args.
        from clerk_sync.auth.jwks import key_source_from_settings
        from clerk_sync.auth.settings import AuthSettings

        settings = settings or AuthSettings.from_environment()
        return cls(
            issuer=settings.clerk_issuer,
            key_source=key_source or key_source_from_settings(settings),
            authorized_parties=settings.clerk_authorized_parties,
            clock_skew_seconds=settings.clerk_clock_skew_seconds,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"SessionVerifier(issuer={self.issuer!r}, authorized_parties={sorted(self.authorized_parties)!r})"

    def verify(self, token: str) -> SessionClaims:
        """The claims of a valid session token; an `AuthError` subclass for anything else."""
        header = _header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenAlgorithmError("the token is not signed with RS256")
        key = self.key_source.key_for(header.get("kid"))
        payload = _verified_payload(token, key)
        issuer = payload.get("iss")
        if not isinstance(issuer, str) or _origin(issuer) != self.issuer:
            raise TokenIssuerError("the token was not issued by the configured Clerk instance")
        claims = SessionClaims.from_payload(payload)
        self._check_authorized_party(claims)
        self._check_times(claims)
        return claims

    def _check_authorized_party(self, claims: SessionClaims) -> None:
        if not self.authorized_parties:
            return
        if claims.authorized_party is None:
            raise TokenAuthorizedPartyError("the token names no authorized party (azp)")
        if _origin(claims.authorized_party) not in self.authorized_parties:
            raise TokenAuthorizedPartyError("the token's authorized party (azp) is not allowed")

    def _check_times(self, claims: SessionClaims) -> None:
        now = self._clock()
        skew = self.clock_skew_seconds
        # Same bounds as PyJWT and Clerk's SDKs: usable while now < exp + skew, and from nbf - skew.
        if claims.expires_at <= now - skew:
            raise TokenExpiredError("the token has expired")
        if claims.not_before is not None and claims.not_before > now + skew:
            raise TokenNotYetValidError("the token is not valid yet (nbf)")
        if claims.issued_at > now + skew:
            raise TokenNotYetValidError("the token was issued in the future (iat)")


def _origin(url: str) -> str:
    return url.strip().rstrip("/")


def _header(token: str) -> dict[str, Any]:
    """The unverified JOSE header, after the cheap shape checks; `TokenMalformedError` otherwise."""
    if not isinstance(token, str) or not token:
        raise TokenMissingError("no session token")
    # Non-ASCII would fail later anyway, and a lone surrogate raises UnicodeEncodeError inside PyJWT.
    if len(token) > MAX_TOKEN_CHARS or not token.isascii() or token.count(".") != 2:
        raise TokenMalformedError("the token is not a compact JWS (header.claims.signature)")
    try:
        return jwt.get_unverified_header(token)
    except PyJWTError as error:
        raise TokenMalformedError("the token header is not base64url-encoded JSON") from error


def _verified_payload(token: str, key: Any) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], options=_DECODE_OPTIONS)
    # InvalidSignatureError is a DecodeError: the order of these clauses matters.
    except InvalidSignatureError as error:
        raise TokenSignatureError("the token's signature does not verify") from error
    except InvalidAlgorithmError as error:
        raise TokenAlgorithmError("the token is not signed with RS256") from error
    except PyJWTError as error:  # DecodeError and the rest: not a JWS whose claims are a JSON object
        raise TokenMalformedError("the token's claims are not a base64url-encoded JSON object") from error
    return payload


def extract_token(
    headers: Mapping[str, str] | None,
    cookies: Sequence[str] | None = None,
    *,
    identity_source: Sequence[str] | None = None,
) -> str:
    """The bearer token from `Authorization`, else the `__session` cookie; `TokenMissingError` when neither.

    `headers` as API Gateway passes them (names lower-cased; any case is accepted here); `cookies` is payload
    v2's list of `name=value` strings. A `cookie` header is read too, for payload v1 and local tools.

    `identity_source` is the event's `identitySource`: the values API Gateway keys its authorizer cache by. When it
    is given, the verdict is served to every request with the same values, so the token must be the bearer
    credential of an `Authorization` header it contains, and nothing else (no cookie) is read: a Basic header, or
    `Bearer ` with nothing after it, must not let one caller's cookie answer for everyone sending that header.
    """
    lowered = {name.lower(): value for name, value in (headers or {}).items() if isinstance(value, str)}
    authorization = lowered.get("authorization", "")
    scheme, _, credentials = authorization.strip().partition(" ")
    bearer = credentials.strip() if scheme.lower() == "bearer" else ""
    if identity_source:
        if bearer and authorization in identity_source:
            return bearer
        raise TokenMissingError("no Authorization: Bearer header (the __session cookie is not read while cached)")
    if bearer:
        return bearer
    pairs = list(cookies or [])
    if "cookie" in lowered:
        pairs.extend(lowered["cookie"].split(";"))
    for pair in pairs:
        name, equals, value = pair.partition("=")
        value = value.strip().strip('"')
        if equals and name.strip() == SESSION_COOKIE and value:
            return value
    raise TokenMissingError("no Authorization: Bearer header and no __session cookie")
