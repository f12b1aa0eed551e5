"""Clerk session-token verification for the authorizer: `SessionVerifier.verify(extract_token(...))`; the process-wide
verifier is built by `clerk_sync.wiring.session_verifier()`.

The errors load with the package (plain Python), so code that only catches `AuthError` pays nothing. The
verifier (PyJWT and cryptography), the key sources and the settings (pydantic) load when one of their
names is first used. The JWKS fetcher adds no import of its own: it uses urllib, which PyJWT already loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clerk_sync.auth.errors import (
    AuthError,
    JwksFetchError,
    KeysUnavailableError,
    TokenAlgorithmError,
    TokenAuthorizedPartyError,
    TokenClaimsError,
    TokenError,
    TokenExpiredError,
    TokenIssuerError,
    TokenMalformedError,
    TokenMissingError,
    TokenNotYetValidError,
    TokenSignatureError,
    TokenUnknownKeyError,
)
from clerk_sync.lazy import lazy_exports

if TYPE_CHECKING:
    from clerk_sync.auth.claims import SessionClaims, decode_org_permissions
    from clerk_sync.auth.jwks import (
        HttpJwksFetcher,
        JwksKeySource,
        KeySource,
        PemKeySource,
        key_source_from_settings,
        parse_jwks,
    )
    from clerk_sync.auth.settings import AuthSettings
    from clerk_sync.auth.tokens import SessionVerifier, extract_token

# Name -> module it is loaded from on first access (PEP 562).
_LAZY = {
    "SessionClaims": "clerk_sync.auth.claims",
    "decode_org_permissions": "clerk_sync.auth.claims",
    "HttpJwksFetcher": "clerk_sync.auth.jwks",
    "JwksKeySource": "clerk_sync.auth.jwks",
    "KeySource": "clerk_sync.auth.jwks",
    "PemKeySource": "clerk_sync.auth.jwks",
    "key_source_from_settings": "clerk_sync.auth.jwks",
    "parse_jwks": "clerk_sync.auth.jwks",
    "AuthSettings": "clerk_sync.auth.settings",
    "SessionVerifier": "clerk_sync.auth.tokens",
    "extract_token": "clerk_sync.auth.tokens",
}

__all__ = [
    "AuthError",
    "AuthSettings",
    "HttpJwksFetcher",
    "JwksFetchError",
    "JwksKeySource",
    "KeySource",
    "KeysUnavailableError",
    "PemKeySource",
    "SessionClaims",
    "SessionVerifier",
    "TokenAlgorithmError",
    "TokenAuthorizedPartyError",
    "TokenClaimsError",
    "TokenError",
    "TokenExpiredError",
    "TokenIssuerError",
    "TokenMalformedError",
    "TokenMissingError",
    "TokenNotYetValidError",
    "TokenSignatureError",
    "TokenUnknownKeyError",
    "decode_org_permissions",
    "extract_token",
    "key_source_from_settings",
    "parse_jwks",
]


__getattr__ = lazy_exports(__name__, globals(), _LAZY)
