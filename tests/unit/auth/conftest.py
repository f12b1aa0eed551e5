"""Keys, a fake JWKS endpoint, fake clocks and a token minter for the verifier: no sockets, no sleeping."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.auth.jwks import JwksKeySource, PemKeySource
from clerk_sync.auth.tokens import SessionVerifier
from clerk_sync_local.emulator.tokens import TokenSigner, session_claims

ISSUER = "https://clerk.example.test"
PARTY = "https://app.example.test"
NOW = 1_800_000_000  # a fixed Unix time: tokens and the verifier's clock agree on it
USER_ID = "user_2aBcDeFgHiJkLmNoPqRsTuVwXyZ"
SESSION_ID = "sess_2aBcDeFgHiJkLmNoPqRsTu"

AUTH_VARIABLES = (
    "CLERK_ISSUER",
    "CLERK_AUTHORIZED_PARTIES",
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "CLERK_CLOCK_SKEW_SECONDS",
    "CLERK_JWKS_CACHE_SECONDS",
    "CLERK_JWKS_MIN_REFRESH_SECONDS",
)


@pytest.fixture(autouse=True)
def clean_auth_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No developer variable leaks in, and no cached settings or verifier leak between tests."""
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture(scope="session")
def signer() -> TokenSigner:
    return TokenSigner()


@pytest.fixture(scope="session")
def other_signer() -> TokenSigner:
    """A second key pair: an attacker's, or the instance's next key after rotation."""
    return TokenSigner()


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeJwks:
    """A JWKS endpoint as a fetcher: serves `document`, or raises `failure`; counts every call."""

    def __init__(self, *signers: TokenSigner) -> None:
        self.document: dict[str, Any] = {"keys": [key for s in signers for key in s.jwks["keys"]]}
        self.failure: Exception | None = None
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return self.document

    def publish(self, *signers: TokenSigner) -> None:
        self.document = {"keys": [key for s in signers for key in s.jwks["keys"]]}


@pytest.fixture
def wall_clock() -> FakeClock:
    """Unix time for exp/nbf/iat checks."""
    return FakeClock(NOW)


@pytest.fixture
def monotonic_clock() -> FakeClock:
    """Monotonic time for the JWKS cache."""
    return FakeClock(10_000.0)


@pytest.fixture
def jwks(signer: TokenSigner) -> FakeJwks:
    return FakeJwks(signer)


@pytest.fixture
def key_source(jwks: FakeJwks, monotonic_clock: FakeClock) -> JwksKeySource:
    return JwksKeySource(jwks, cache_seconds=3600, min_refresh_seconds=30, clock=monotonic_clock)


MakeVerifier = Callable[..., SessionVerifier]


@pytest.fixture
def make_verifier(key_source: JwksKeySource, wall_clock: FakeClock) -> MakeVerifier:
    """A JWKS-mode verifier for ISSUER and PARTY; keyword arguments override."""

    def make(**overrides: Any) -> SessionVerifier:
        arguments: dict[str, Any] = {
            "issuer": ISSUER,
            "key_source": key_source,
            "authorized_parties": [PARTY],
            "clock_skew_seconds": 5,
            "clock": wall_clock,
        }
        arguments.update(overrides)
        return SessionVerifier(**arguments)

    return make


@pytest.fixture
def verifier(make_verifier: MakeVerifier) -> SessionVerifier:
    return make_verifier()


@pytest.fixture
def pem_verifier(signer: TokenSigner, wall_clock: FakeClock) -> SessionVerifier:
    return SessionVerifier(
        issuer=ISSUER, key_source=PemKeySource(signer.public_key_pem), authorized_parties=[PARTY], clock=wall_clock
    )


def claims(**overrides: Any) -> dict[str, Any]:
    """Clerk's default v2 claims for USER_ID at NOW; an override of None removes the claim."""
    org = overrides.pop("org", None)
    version = overrides.pop("version", 2)
    base = session_claims(
        user_id=USER_ID,
        session_id=SESSION_ID,
        issuer=ISSUER,
        authorized_party=PARTY,
        org=org,
        version=version,
        now=NOW,
    )
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}
