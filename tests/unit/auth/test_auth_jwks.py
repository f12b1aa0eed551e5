"""Key sources: which JWKS keys are usable, the cache and refresh rules, the HTTP fetcher, the PEM source."""

from __future__ import annotations

import base64
import email.message
import io
import json
import socket
import urllib.error
import urllib.request
import urllib.response
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clerk_sync.auth import (
    AuthSettings,
    HttpJwksFetcher,
    JwksFetchError,
    JwksKeySource,
    KeysUnavailableError,
    PemKeySource,
    TokenUnknownKeyError,
    key_source_from_settings,
    parse_jwks,
)
from clerk_sync.auth.jwks import MAX_JWKS_BYTES, _opener
from clerk_sync_local.emulator.tokens import TokenSigner

from .conftest import ISSUER, FakeClock, FakeJwks


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def _rsa_jwk(kid: str, bits: int = 2048, **extra: Any) -> dict[str, Any]:
    numbers = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": _b64(numbers.n), "e": _b64(numbers.e), **extra}


def test_parse_jwks_keeps_only_rs256_signing_keys(signer: TokenSigner) -> None:
    good = signer.jwks["keys"][0]
    document = {
        "keys": [
            good,
            _rsa_jwk("no-alg-no-use"),
            _rsa_jwk("rs512", alg="RS512"),
            _rsa_jwk("encryption", use="enc"),
            _rsa_jwk("weak", bits=1024),
            _rsa_jwk("", alg="RS256"),
            {**good, "kid": 42},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not-a-key",
        ]
    }

    keys = parse_jwks(document)

    assert set(keys) == {signer.kid, "no-alg-no-use"}
    published = serialization.load_pem_public_key(signer.public_key_pem.encode())
    assert isinstance(published, rsa.RSAPublicKey)
    assert keys[signer.kid].public_numbers() == published.public_numbers()


@pytest.mark.parametrize(
    "document", [{"keys": []}, {"keys": [{"kty": "oct", "kid": "a", "k": "eA"}]}, {"keys": "x"}, [], None, {}]
)
def test_parse_jwks_without_usable_key_raises_fetch_error(document: Any) -> None:
    with pytest.raises(JwksFetchError):
        parse_jwks(document)


def test_jwks_key_source_cache_expiry_refetches_once(
    signer: TokenSigner, jwks: FakeJwks, monotonic_clock: FakeClock
) -> None:
    source = JwksKeySource(jwks, cache_seconds=3600, min_refresh_seconds=30, clock=monotonic_clock)
    source.key_for(signer.kid)
    monotonic_clock.advance(3599)
    source.key_for(signer.kid)
    assert jwks.calls == 1

    monotonic_clock.advance(1)
    source.key_for(signer.kid)
    source.key_for(signer.kid)

    assert jwks.calls == 2


def test_jwks_key_source_failed_refresh_backs_off_for_min_refresh_interval(
    signer: TokenSigner, jwks: FakeJwks, monotonic_clock: FakeClock
) -> None:
    source = JwksKeySource(jwks, cache_seconds=60, min_refresh_seconds=30, clock=monotonic_clock)
    key = source.key_for(signer.kid)
    jwks.failure = JwksFetchError("HTTP 503")
    monotonic_clock.advance(60)

    assert source.key_for(signer.kid) is key  # stale key served
    monotonic_clock.advance(29)
    assert source.key_for(signer.kid) is key
    with pytest.raises(KeysUnavailableError):
        source.key_for("ins_unknown")  # the last attempt failed: an unknown kid may be a rotation we cannot see
    assert jwks.calls == 2

    monotonic_clock.advance(1)
    jwks.failure = None
    assert source.key_for(signer.kid) is not None
    assert jwks.calls == 3


def test_jwks_key_source_unexpected_fetcher_error_is_absorbed(signer: TokenSigner, monotonic_clock: FakeClock) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("a bug in a custom fetcher")

    source = JwksKeySource(broken, clock=monotonic_clock)

    with pytest.raises(KeysUnavailableError):
        source.key_for(signer.kid)


def test_jwks_key_source_unknown_kid_after_successful_fetch_is_token_error(
    signer: TokenSigner, jwks: FakeJwks, monotonic_clock: FakeClock
) -> None:
    source = JwksKeySource(jwks, clock=monotonic_clock)

    with pytest.raises(TokenUnknownKeyError):
        source.key_for("ins_nope")
    assert source.kids == frozenset({signer.kid})


@pytest.mark.parametrize(("cache", "refresh"), [(0, 30), (3600, 0), (-1, 30)])
def test_jwks_key_source_non_positive_intervals_raise_value_error(cache: float, refresh: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        JwksKeySource(FakeJwks(), cache_seconds=cache, min_refresh_seconds=refresh)


def test_pem_key_source_returns_one_key_for_any_kid(signer: TokenSigner) -> None:
    source = PemKeySource(signer.public_key_pem)

    assert source.key_for(None) is source.key_for("anything") is source.key_for(signer.kid)


@pytest.mark.parametrize(
    "pem",
    [
        "not a pem",
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505  # the weak key to refuse
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    ],
)
def test_pem_key_source_non_rsa_or_weak_key_raises_value_error(pem: str) -> None:
    with pytest.raises(ValueError, match=r"PEM|RSA|bits"):
        PemKeySource(pem)


def test_key_source_from_settings_with_pem_never_fetches(signer: TokenSigner) -> None:
    settings = AuthSettings(clerk_issuer=ISSUER, clerk_jwt_key=signer.public_key_pem)

    source = key_source_from_settings(settings)

    assert isinstance(source, PemKeySource)


def test_key_source_from_settings_without_pem_fetches_issuer_well_known_jwks() -> None:
    source = key_source_from_settings(AuthSettings(clerk_issuer=ISSUER + "/", clerk_jwks_min_refresh_seconds=10))

    assert isinstance(source, JwksKeySource)
    assert repr(source.fetch) == f"HttpJwksFetcher(url='{ISSUER}/.well-known/jwks.json')"
    assert source.min_refresh_seconds == 10


# --- HttpJwksFetcher against a fake urllib handler (no sockets) -----------------------------------------------


class FakeHandler(urllib.request.BaseHandler):
    """Answers https requests from a queue of (status, body) or exceptions; records each request."""

    def __init__(self, *responses: tuple[int, bytes] | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[urllib.request.Request] = []

    def https_open(self, request: urllib.request.Request) -> urllib.response.addinfourl:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        status, body = response
        return urllib.response.addinfourl(io.BytesIO(body), email.message.Message(), request.full_url, status)


def _fetcher(handler: FakeHandler) -> HttpJwksFetcher:
    opener = urllib.request.OpenerDirector()
    opener.add_handler(handler)
    return HttpJwksFetcher("https://clerk.example.test/.well-known/jwks.json", opener=opener)


def test_http_jwks_fetcher_returns_document_and_sends_connect_timeout(signer: TokenSigner) -> None:
    handler = FakeHandler((200, json.dumps(signer.jwks).encode()))

    document = _fetcher(handler)()

    assert document == signer.jwks
    (request,) = handler.requests
    assert request.full_url == "https://clerk.example.test/.well-known/jwks.json"
    assert request.get_method() == "GET"
    assert request.get_header("Accept") == "application/json"
    assert request.timeout == 1.0


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ((500, b"oops"), "HTTP 500"),
        ((301, b""), "HTTP 301"),
        ((200, b"<html>"), "not JSON"),
        ((200, b"[1]"), "not an object"),
        ((200, b" " * (MAX_JWKS_BYTES + 1)), "more than"),
        (TimeoutError("timed out"), "TimeoutError"),
        (urllib.error.URLError("Name or service not known"), "URLError"),
    ],
)
def test_http_jwks_fetcher_failure_raises_fetch_error(response: tuple[int, bytes] | Exception, message: str) -> None:
    with pytest.raises(JwksFetchError, match=message):
        _fetcher(FakeHandler(response))()


def test_http_jwks_fetcher_non_http_url_raises_value_error() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpJwksFetcher("file:///etc/passwd")


def test_default_opener_handles_only_http_and_https_without_redirects_or_proxies() -> None:
    opener = _opener(2.0)

    assert set(opener.handle_open) == {"http", "https"}
    assert not opener.process_response  # no HTTPErrorProcessor, no redirect handler: statuses come back as is


class FakeSocket:
    """Just enough socket for http.client: records what is sent and the timeouts set, replays a response."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.sent = b""
        self.timeouts: list[float | None] = []

    def settimeout(self, timeout: float | None) -> None:
        self.timeouts.append(timeout)

    def setsockopt(self, *args: Any) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return io.BytesIO(self.response)

    def close(self) -> None:
        pass


def test_default_opener_connects_with_connect_timeout_then_reads_with_read_timeout(
    monkeypatch: pytest.MonkeyPatch, signer: TokenSigner
) -> None:
    body = json.dumps(signer.jwks).encode()
    fake = FakeSocket(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    connects: list[tuple[Any, float]] = []

    def create_connection(address: Any, timeout: float, *args: Any, **kwargs: Any) -> FakeSocket:
        connects.append((address, timeout))
        return fake

    monkeypatch.setattr(socket, "create_connection", create_connection)

    document = HttpJwksFetcher("http://127.0.0.1:8787/.well-known/jwks.json")()

    assert document == signer.jwks
    assert connects == [(("127.0.0.1", 8787), 1.0)]
    assert fake.timeouts == [2.0]
    assert fake.sent.startswith(b"GET /.well-known/jwks.json HTTP/1.1\r\n")


def test_default_opener_redirect_is_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeSocket(b"HTTP/1.1 302 Found\r\nLocation: http://evil.test/jwks\r\nContent-Length: 0\r\n\r\n")
    monkeypatch.setattr(socket, "create_connection", lambda *args, **kwargs: fake)

    with pytest.raises(JwksFetchError, match="HTTP 302"):
        HttpJwksFetcher("http://127.0.0.1:8787/.well-known/jwks.json")()
