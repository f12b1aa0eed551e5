"""Errors of session-token verification. The authorizer catches the two bases; `code` names the leaf.

    AuthError                           anything `verify()` or `extract_token()` raises; `code` is stable
     ├── TokenError                     the request's token is missing or not acceptable: answer 401
     │    ├── TokenMissingError         token_missing: no `Authorization: Bearer` header, no `__session` cookie
     │    ├── TokenMalformedError       token_malformed: not three base64url parts of JSON, too long, not ASCII
     │    ├── TokenAlgorithmError       token_algorithm: header `alg` is anything but RS256 (`none`, HS256, PS256, ...)
     │    ├── TokenUnknownKeyError      token_unknown_key: no `kid`, or a `kid` the (refreshed) JWKS does not hold
     │    ├── TokenSignatureError       token_signature: the signature does not match the header and claims
     │    ├── TokenExpiredError         token_expired: `exp` passed more than the clock skew ago
     │    ├── TokenNotYetValidError     token_not_yet_valid: `nbf` or `iat` more than the clock skew ahead
     │    ├── TokenIssuerError          token_issuer: `iss` is missing or another Clerk instance's
     │    ├── TokenAuthorizedPartyError token_authorized_party: `azp` missing or not an authorized party
     │    └── TokenClaimsError          token_claims: `sub`/`iat`/`exp` missing, or a claim of the wrong shape
     └── KeysUnavailableError           jwks_unavailable: the JWKS could not be fetched and no cached key fits;
                                        our fault, not the client's: answer 503, never 401

    JwksFetchError                      fetching or reading the JWKS failed; raised by the fetcher, absorbed by
                                        the key source (cached keys keep serving), never raised by `verify()`

`code` is a class attribute: the value for API error bodies and the metric dimension, stable across releases.
Messages are fixed text about the failure and never contain the token (it is a bearer credential).
"""

from __future__ import annotations

from typing import ClassVar


class AuthError(Exception):
    """Verification failed; `code` says why in one stable word."""

    code: ClassVar[str] = "auth_error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.__doc__ or self.code
        super().__init__(self.message)


class TokenError(AuthError):
    """The request carries no usable session token: the client must sign in again or send a fresh token."""

    code = "token_invalid"


class TokenMissingError(TokenError):
    """Neither an `Authorization: Bearer` header nor a `__session` cookie carries a token."""

    code = "token_missing"


class TokenMalformedError(TokenError):
    """The token is not a compact JWS: three base64url parts, header and claims JSON objects."""

    code = "token_malformed"


class TokenAlgorithmError(TokenError):
    """The header names an algorithm other than RS256."""

    code = "token_algorithm"


class TokenUnknownKeyError(TokenError):
    """The header's `kid` is absent or names no key the JWKS holds, even after a refresh."""

    code = "token_unknown_key"


class TokenSignatureError(TokenError):
    """The signature does not verify with the key the header names."""

    code = "token_signature"


class TokenExpiredError(TokenError):
    """The token's `exp` is in the past, beyond the allowed clock skew."""

    code = "token_expired"


class TokenNotYetValidError(TokenError):
    """The token's `nbf` or `iat` is in the future, beyond the allowed clock skew."""

    code = "token_not_yet_valid"


class TokenIssuerError(TokenError):
    """The token's `iss` is missing or is not the configured Clerk instance."""

    code = "token_issuer"


class TokenAuthorizedPartyError(TokenError):
    """The token's `azp` is missing or not one of the authorized parties."""

    code = "token_authorized_party"


class TokenClaimsError(TokenError):
    """A required claim (`sub`, `iat`, `exp`) is missing, or a claim has the wrong shape."""

    code = "token_claims"


class KeysUnavailableError(AuthError):
    """The JWKS could not be fetched and no cached key fits: a server-side outage, not a bad token."""

    code = "jwks_unavailable"


class JwksFetchError(Exception):
    """Fetching or reading the JWKS document failed (network, status, size, JSON, no usable key)."""
