"""AuthSettings from the environment: defaults, normalisation, and cold-start errors that name the variable."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from clerk_sync.auth import AuthSettings, JwksKeySource, PemKeySource, SessionVerifier
from clerk_sync.wiring import auth_settings
from clerk_sync.wiring import session_verifier as get_session_verifier
from clerk_sync_local.emulator.tokens import TokenSigner

from .conftest import ISSUER, PARTY, USER_ID, claims


def test_auth_settings_with_only_issuer_uses_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER + "/")

    settings = AuthSettings()

    assert settings.clerk_issuer == ISSUER
    assert settings.clerk_authorized_parties == []
    assert settings.clerk_jwt_key is None
    assert settings.jwks_url == ISSUER + "/.well-known/jwks.json"
    assert (settings.clerk_clock_skew_seconds, settings.clerk_jwks_cache_seconds) == (5, 3600)
    assert settings.clerk_jwks_min_refresh_seconds == 30


def test_auth_settings_without_issuer_fails_naming_it() -> None:
    with pytest.raises(ValidationError, match="clerk_issuer"):
        AuthSettings()


def test_auth_settings_reads_every_knob(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", f"{PARTY}/, https://admin.example.test  http://localhost:3000")
    monkeypatch.setenv("CLERK_JWKS_URL", "https://keys.example.test/jwks.json")
    monkeypatch.setenv("CLERK_CLOCK_SKEW_SECONDS", "10")
    monkeypatch.setenv("CLERK_JWKS_CACHE_SECONDS", "600")
    monkeypatch.setenv("CLERK_JWKS_MIN_REFRESH_SECONDS", "5")

    settings = AuthSettings()

    assert settings.clerk_authorized_parties == [PARTY, "https://admin.example.test", "http://localhost:3000"]
    assert settings.jwks_url == "https://keys.example.test/jwks.json"
    assert (settings.clerk_clock_skew_seconds, settings.clerk_jwks_cache_seconds) == (10, 600)
    assert settings.clerk_jwks_min_refresh_seconds == 5


def test_auth_settings_pem_with_escaped_newlines_is_accepted(
    monkeypatch: pytest.MonkeyPatch, signer: TokenSigner
) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    monkeypatch.setenv("CLERK_JWT_KEY", signer.public_key_pem.strip().replace("\n", "\\n"))

    settings = AuthSettings()

    assert settings.clerk_jwt_key == signer.public_key_pem
    assert isinstance(SessionVerifier.from_settings(settings).key_source, PemKeySource)


def test_auth_settings_pem_mode_allows_plain_http_issuer(monkeypatch: pytest.MonkeyPatch, signer: TokenSigner) -> None:
    # Nothing is fetched with a PEM, so the issuer is only compared, never contacted.
    monkeypatch.setenv("CLERK_ISSUER", "http://clerk.internal.test")
    monkeypatch.setenv("CLERK_JWT_KEY", signer.public_key_pem)

    assert AuthSettings().clerk_issuer == "http://clerk.internal.test"


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:8787", "http://localhost:8787", "http://[::1]:8787"])
def test_auth_settings_plain_http_on_loopback_is_accepted(monkeypatch: pytest.MonkeyPatch, issuer: str) -> None:
    monkeypatch.setenv("CLERK_ISSUER", issuer)

    assert AuthSettings().jwks_url == issuer + "/.well-known/jwks.json"


_EC_PEM = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CLERK_JWT_KEY", "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", "CLERK_JWT_KEY must be"),
        ("CLERK_JWT_KEY", _EC_PEM, "CLERK_JWT_KEY must be.*RSA"),
        ("CLERK_ISSUER", "clerk.example.test", "CLERK_ISSUER must be"),
        ("CLERK_ISSUER", "http://clerk.example.test", "must use https"),
        ("CLERK_JWKS_URL", "http://keys.example.test/jwks.json", "must use https"),
        ("CLERK_JWKS_URL", "ftp://keys.example.test/jwks.json", "CLERK_JWKS_URL must be"),
        ("CLERK_AUTHORIZED_PARTIES", "https://app.example.test/login", "must be origins"),
        ("CLERK_AUTHORIZED_PARTIES", "app.example.test", "must be origins"),
        ("CLERK_CLOCK_SKEW_SECONDS", "61", "clerk_clock_skew_seconds"),
        ("CLERK_CLOCK_SKEW_SECONDS", "-1", "clerk_clock_skew_seconds"),
        ("CLERK_JWKS_MIN_REFRESH_SECONDS", "0", "clerk_jwks_min_refresh_seconds"),
        ("CLERK_JWKS_CACHE_SECONDS", "10", "clerk_jwks_cache_seconds"),
    ],
)
def test_auth_settings_invalid_value_fails_naming_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError, match=message):
        AuthSettings()


@pytest.mark.parametrize("name", ["CLERK_JWT_KEY", "CLERK_JWKS_URL"])
def test_auth_settings_blank_optional_value_is_unset(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    monkeypatch.setenv(name, "  ")

    settings = AuthSettings()

    assert settings.clerk_jwt_key is None
    assert settings.jwks_url == ISSUER + "/.well-known/jwks.json"


def test_auth_settings_getter_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    first = auth_settings()
    monkeypatch.setenv("CLERK_ISSUER", "https://clerk.other.test")

    assert auth_settings() is first


def test_get_session_verifier_from_environment_verifies_and_is_reused(
    monkeypatch: pytest.MonkeyPatch, signer: TokenSigner
) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)
    monkeypatch.setenv("CLERK_AUTHORIZED_PARTIES", PARTY)
    monkeypatch.setenv("CLERK_JWT_KEY", signer.public_key_pem)
    now = int(time.time())  # the process-wide verifier runs on the real clock
    token = signer.sign(claims(iat=now, nbf=None, exp=now + 60))

    verifier = get_session_verifier()

    assert verifier.verify(token).user_id == USER_ID
    assert get_session_verifier() is verifier
    assert verifier.authorized_parties == frozenset({PARTY})


def test_get_session_verifier_without_pem_uses_jwks_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_ISSUER", ISSUER)

    assert isinstance(get_session_verifier().key_source, JwksKeySource)
