"""Where verification keys come from: the networkless PEM (`CLERK_JWT_KEY`) or Clerk's JWKS over HTTP.

`JwksKeySource` caches RSA keys by `kid` and refetches the JWKS when the cache is empty or older than
`cache_seconds`, and when a token names a `kid` it does not hold, but that last at most once per
`min_refresh_seconds`: a rotated key is picked up on its first token, while a flood of tokens with made-up
kids costs the JWKS endpoint one request per interval, not one per token. After a failed fetch nothing is
fetched for `min_refresh_seconds` either, and the cached keys keep serving; only a token whose key is not
cached then fails, with `KeysUnavailableError` (503, not 401).

The fetcher is the standard library's http.client behind a minimal urllib opener (no proxies, no redirects,
separate connect and read timeouts), not httpx: PyJWT already imports urllib.request and http.client for its
own `PyJWKClient`, so the fetcher costs no import at all, where httpx measured ~290 ms cold on this project's
machine (~380 ms with its client). `PyJWKClient` itself is not used: it refetches on every unknown `kid`
(no throttle), has one 30 s timeout and keeps keys of any algorithm.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from clerk_sync.auth.errors import JwksFetchError, KeysUnavailableError, TokenUnknownKeyError

if TYPE_CHECKING:
    import http.client
    import urllib.request

    from aws_lambda_powertools import Logger

    from clerk_sync.auth.settings import AuthSettings

# RSA below 2048 bits is breakable in practice; Clerk's keys are 2048.
MIN_RSA_BITS: Final = 2048
# A JWKS is a few keys, ~500 bytes each; anything this big is not Clerk's.
MAX_JWKS_BYTES: Final = 64 * 1024
CONNECT_TIMEOUT_SECONDS: Final = 1.0
READ_TIMEOUT_SECONDS: Final = 2.0

JwksFetcher = Callable[[], Mapping[str, Any]]
Clock = Callable[[], float]


class KeySource(Protocol):
    """Finds the public key for a token header's `kid`."""

    def key_for(self, kid: str | None) -> RSAPublicKey:
        """The key, or `TokenUnknownKeyError`, or `KeysUnavailableError` when keys cannot be had right now."""
        ...


def load_rsa_public_key(pem: str) -> RSAPublicKey:
    """An RSA public key (>= 2048 bits) from PEM; `ValueError` for anything else."""
    try:
        key = load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeError) as error:
        raise ValueError("not a PEM public key (-----BEGIN PUBLIC KEY-----)") from error
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA public key: Clerk signs session tokens with RS256")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"the RSA key has {key.key_size} bits, fewer than {MIN_RSA_BITS}")
    return key


class PemKeySource:
    """The one key from `CLERK_JWT_KEY`: networkless, and the header's `kid` is not consulted."""

    def __init__(self, pem: str) -> None:
        self._key = load_rsa_public_key(pem)

    def key_for(self, kid: str | None) -> RSAPublicKey:
        return self._key


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """Usable keys by `kid`: RSA, `alg` RS256 or absent, `use` sig or absent, >= 2048 bits; others skipped."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksFetchError("the JWKS is not an object with a 'keys' list")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid or kid in keys:
            continue
        if jwk.get("alg", "RS256") != "RS256" or jwk.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(jwk, algorithm="RS256").key
        except PyJWTError:
            continue
        if isinstance(key, RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
            keys[kid] = key
    if not keys:
        raise JwksFetchError("the JWKS holds no usable RS256 signing key")
    return keys


class JwksKeySource:
    """RSA keys from a JWKS, cached by `kid`; refetched on expiry, and on an unknown `kid` at most once per interval."""

    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        cache_seconds: float = 3600.0,
        min_refresh_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if min_refresh_seconds <= 0 or cache_seconds <= 0:
            raise ValueError("cache_seconds and min_refresh_seconds must be positive")
        self.fetch = fetch
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._last_attempt_failed = False
        self._unknown_kid_fetch_at: float | None = None  # last refetch an unknown kid caused
        # The local gateway serves requests on threads; one refresh at a time, the others wait for its keys.
        self._lock = threading.Lock()

    @property
    def kids(self) -> frozenset[str]:
        """The `kid`s currently cached."""
        return frozenset(self._keys)

    def key_for(self, kid: str | None) -> RSAPublicKey:
        if kid is None:
            # Clerk always names the key; without a kid there is nothing to look up or refetch for.
            raise TokenUnknownKeyError("the token header names no key (kid)")
        with self._lock:
            now = self._clock()
            key = self._keys.get(kid)
            fresh = self._fetched_at is not None and now - self._fetched_at < self.cache_seconds
            if key is not None and fresh:
                return key
            reason = self._fetch_reason(now, fresh=fresh)
            if reason is not None:
                self._refresh(now, reason=reason)
                key = self._keys.get(kid)
            if key is not None:
                return key  # fresh, or stale while the JWKS cannot be fetched
            if self._last_attempt_failed or self._fetched_at is None:
                raise KeysUnavailableError("the JWKS cannot be fetched and no cached key matches the token's kid")
            raise TokenUnknownKeyError("the token's kid names no key in the JWKS")

    def _fetch_reason(self, now: float, *, fresh: bool) -> str | None:
        """Why to fetch now, or None: cache empty or expired; else an unknown kid, once per interval."""
        interval = self.min_refresh_seconds
        if self._last_attempt_failed and self._attempted_at is not None and now - self._attempted_at < interval:
            return None  # the endpoint just failed: back off rather than add seconds of timeout to every request
        if not fresh:
            return "load" if self._fetched_at is None else "expired"
        if self._unknown_kid_fetch_at is None or now - self._unknown_kid_fetch_at >= interval:
            # A rotated key shows up right away; a flood of made-up kids costs one fetch per interval.
            self._unknown_kid_fetch_at = now
            return "unknown_kid"
        return None

    def _refresh(self, now: float, *, reason: str) -> None:
        self._attempted_at = now
        try:
            keys = parse_jwks(self.fetch())
        # The fetcher is a network boundary (and injectable): whatever it raises, cached keys keep serving.
        except Exception as error:  # noqa: BLE001
            self._last_attempt_failed = True
            _logger().warning(
                "JWKS refresh failed",
                extra={"reason": reason, "error": type(error).__name__, "detail": str(error)[:200]},
            )
            return
        self._keys = keys
        self._fetched_at = now
        self._last_attempt_failed = False
        _logger().info("JWKS refreshed", extra={"reason": reason, "keys": len(keys)})


def _logger() -> Logger:
    # Powertools loads on the first refresh, not with the module: the authorizer handler has it already.
    # Refreshes are rare (at most one per JWKS_MIN_REFRESH_SECONDS), so a logger is built for each.
    from clerk_sync.observability import child_logger

    return child_logger()


class HttpJwksFetcher:
    """GETs the JWKS with a 1 s connect and 2 s read timeout; no redirects, no proxies, at most 64 KiB."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        opener: urllib.request.OpenerDirector | None = None,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the JWKS URL must be http(s)")
        self.url = url
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._opener = opener

    def __repr__(self) -> str:
        return f"HttpJwksFetcher(url={self.url!r})"

    def __call__(self) -> Mapping[str, Any]:
        import urllib.request

        if self._opener is None:
            self._opener = _opener(self.read_timeout)
        request = urllib.request.Request(  # noqa: S310  # scheme checked in __init__: http(s) only
            self.url, headers={"Accept": "application/json", "User-Agent": "clerk-sync"}
        )
        try:
            # The connect timeout; the opener's connections switch to the read timeout once connected.
            with self._opener.open(request, timeout=self.connect_timeout) as response:
                status = response.status
                body = response.read(MAX_JWKS_BYTES + 1)
        except OSError as error:  # URLError, timeouts, TLS and connection errors are all OSErrors
            raise JwksFetchError(f"GET {self.url} failed: {type(error).__name__}: {error}") from error
        if status != 200:
            raise JwksFetchError(f"GET {self.url} returned HTTP {status}")
        if len(body) > MAX_JWKS_BYTES:
            raise JwksFetchError(f"GET {self.url} returned more than {MAX_JWKS_BYTES} bytes")
        try:
            document = json.loads(body)
        except ValueError as error:
            raise JwksFetchError(f"GET {self.url} returned a body that is not JSON") from error
        if not isinstance(document, dict):
            raise JwksFetchError(f"GET {self.url} returned JSON that is not an object")
        return document


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    """An opener with only http and https: no proxy, redirect, file or ftp handlers, and no error raising."""
    import http.client
    import ssl
    import urllib.request

    # urllib has one timeout, the socket's: it bounds connect and the TLS handshake, then these switch it.
    class HttpConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read_timeout)

    class HttpsConnection(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read_timeout)

    context = ssl.create_default_context()

    class HttpHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HttpConnection, req)

    class HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(HttpsConnection, req, context=context)

    opener = urllib.request.OpenerDirector()
    opener.add_handler(HttpHandler())
    opener.add_handler(HttpsHandler(context=context))
    return opener


def key_source_from_settings(settings: AuthSettings) -> KeySource:
    """The PEM key when `CLERK_JWT_KEY` is set (the JWKS is then never fetched), else the cached JWKS."""
    if settings.clerk_jwt_key:
        return PemKeySource(settings.clerk_jwt_key)
    return JwksKeySource(
        HttpJwksFetcher(settings.jwks_url),
        cache_seconds=settings.clerk_jwks_cache_seconds,
        min_refresh_seconds=settings.clerk_jwks_min_refresh_seconds,
    )
