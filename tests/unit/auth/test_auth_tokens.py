"""SessionVerifier.verify: what it accepts, and the typed error for every way a token can be wrong or forged."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jwt
import pytest

from clerk_sync.auth import (
    AuthError,
    KeysUnavailableError,
    SessionClaims,
    SessionVerifier,
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
from clerk_sync.auth.tokens import MAX_TOKEN_CHARS
from clerk_sync_local.emulator.tokens import TokenSigner
from tests.support.forge import forge, hs256, private_key, segment, sign_raw, with_payload

from .conftest import ISSUER, NOW, PARTY, SESSION_ID, USER_ID, FakeClock, FakeJwks, MakeVerifier, claims

if TYPE_CHECKING:
    from clerk_sync.auth.jwks import JwksKeySource


def _rejects(verifier: SessionVerifier, token: str, error: type[AuthError]) -> AuthError:
    """Asserts `verify` raises exactly `error` (not a sibling) and that the message does not echo the token."""
    with pytest.raises(AuthError) as raised:
        verifier.verify(token)
    assert type(raised.value) is error
    assert token not in str(raised.value)
    assert token not in repr(raised.value)
    return raised.value


def test_verify_clerk_default_token_returns_its_claims(verifier: SessionVerifier, signer: TokenSigner) -> None:
    result = verifier.verify(signer.sign(claims()))

    assert result == SessionClaims(
        user_id=USER_ID,
        issuer=ISSUER,
        issued_at=NOW,
        expires_at=NOW + 60,
        session_id=SESSION_ID,
        authorized_party=PARTY,
        not_before=NOW - 5,
    )


def test_verify_pem_mode_accepts_token_whatever_its_kid(pem_verifier: SessionVerifier, signer: TokenSigner) -> None:
    token = jwt.encode(
        claims(), private_key(signer.private_key_pem), algorithm="RS256", headers={"kid": "ins_somethingElse"}
    )

    assert pem_verifier.verify(token).user_id == USER_ID
    assert pem_verifier.verify(signer.sign(claims())).user_id == USER_ID


def test_verify_alg_none_raises_algorithm_error_without_key_lookup(
    make_verifier: MakeVerifier, pem_verifier: SessionVerifier, signer: TokenSigner, jwks: FakeJwks
) -> None:
    for header in ({"alg": "none", "kid": signer.kid}, {"alg": "none", "kid": "unknown"}, {"alg": "None"}):
        token = forge(header, claims())
        _rejects(make_verifier(), token, TokenAlgorithmError)
        _rejects(pem_verifier, token, TokenAlgorithmError)

    assert jwks.calls == 0  # rejected from the header alone: a forged kid cannot make us fetch


def test_verify_hs256_keyed_with_public_pem_raises_algorithm_error(
    verifier: SessionVerifier, pem_verifier: SessionVerifier, signer: TokenSigner
) -> None:
    # The classic confusion: a verifier that let the header pick the algorithm would HMAC with the PEM and accept.
    for secret in (signer.public_key_pem.encode(), signer.public_key_pem.strip().encode()):
        token = hs256({"alg": "HS256", "typ": "JWT", "kid": signer.kid}, claims(), secret)
        _rejects(verifier, token, TokenAlgorithmError)
        _rejects(pem_verifier, token, TokenAlgorithmError)


@pytest.mark.parametrize("algorithm", ["PS256", "RS512", "RS384"])
def test_verify_other_rsa_algorithm_with_right_key_raises_algorithm_error(
    verifier: SessionVerifier, signer: TokenSigner, algorithm: str
) -> None:
    token = jwt.encode(claims(), private_key(signer.private_key_pem), algorithm=algorithm, headers={"kid": signer.kid})

    _rejects(verifier, token, TokenAlgorithmError)


@pytest.mark.parametrize(("exp_offset", "accepted"), [(-5, False), (-4, True), (-3600, False), (1, True)])
def test_verify_expiry_within_and_beyond_skew(
    verifier: SessionVerifier, signer: TokenSigner, exp_offset: int, accepted: bool
) -> None:
    # Skew is 5 s: a token is usable while now < exp + 5.
    token = signer.sign(claims(exp=NOW + exp_offset, iat=NOW - 60, nbf=NOW - 65))

    if accepted:
        assert verifier.verify(token).expires_at == NOW + exp_offset
    else:
        _rejects(verifier, token, TokenExpiredError)


@pytest.mark.parametrize(("claim", "offset", "accepted"), [("nbf", 5, True), ("nbf", 6, False), ("iat", 6, False)])
def test_verify_not_before_and_issued_at_within_and_beyond_skew(
    verifier: SessionVerifier, signer: TokenSigner, claim: str, offset: int, accepted: bool
) -> None:
    overrides: dict[str, Any] = {"iat": NOW, "nbf": None, claim: NOW + offset}
    token = signer.sign(claims(**overrides))

    if accepted:
        verifier.verify(token)
    else:
        _rejects(verifier, token, TokenNotYetValidError)


def test_verify_with_zero_skew_rejects_token_one_second_early(make_verifier: MakeVerifier, signer: TokenSigner) -> None:
    _rejects(make_verifier(clock_skew_seconds=0), signer.sign(claims(nbf=NOW + 1)), TokenNotYetValidError)


def test_verify_after_clock_moves_past_expiry_rejects_same_token(
    verifier: SessionVerifier, signer: TokenSigner, wall_clock: FakeClock
) -> None:
    token = signer.sign(claims())
    verifier.verify(token)

    wall_clock.advance(65)

    _rejects(verifier, token, TokenExpiredError)


@pytest.mark.parametrize(
    "issuer", ["https://clerk.other.test", "https://clerk.example.test.evil.test", "http://clerk.example.test", None]
)
def test_verify_wrong_or_missing_issuer_raises_issuer_error(
    verifier: SessionVerifier, signer: TokenSigner, issuer: str | None
) -> None:
    _rejects(verifier, signer.sign(claims(iss=issuer)), TokenIssuerError)


@pytest.mark.parametrize("issuer", [7, ["https://clerk.example.test"], {"url": ISSUER}])
def test_verify_non_string_issuer_raises_issuer_error(
    verifier: SessionVerifier, signer: TokenSigner, issuer: object
) -> None:
    _rejects(verifier, sign_raw(signer.private_key_pem, signer.kid, claims(iss=issuer)), TokenIssuerError)


def test_verify_issuer_trailing_slash_on_either_side_is_ignored(
    make_verifier: MakeVerifier, signer: TokenSigner
) -> None:
    assert make_verifier().verify(signer.sign(claims(iss=ISSUER + "/"))).user_id == USER_ID
    assert make_verifier(issuer=ISSUER + "/").verify(signer.sign(claims())).user_id == USER_ID


def test_verify_wrong_authorized_party_raises_authorized_party_error(
    verifier: SessionVerifier, signer: TokenSigner
) -> None:
    _rejects(verifier, signer.sign(claims(azp="https://evil.test")), TokenAuthorizedPartyError)


def test_verify_missing_azp_with_parties_configured_raises_authorized_party_error(
    verifier: SessionVerifier, signer: TokenSigner
) -> None:
    _rejects(verifier, signer.sign(claims(azp=None)), TokenAuthorizedPartyError)


def test_verify_any_of_several_parties_is_accepted(make_verifier: MakeVerifier, signer: TokenSigner) -> None:
    verifier = make_verifier(authorized_parties=["https://admin.example.test", PARTY + "/"])

    assert verifier.verify(signer.sign(claims())).authorized_party == PARTY
    assert verifier.verify(signer.sign(claims(azp="https://admin.example.test"))).user_id == USER_ID


def test_verify_without_parties_configured_ignores_azp(make_verifier: MakeVerifier, signer: TokenSigner) -> None:
    verifier = make_verifier(authorized_parties=[])

    assert verifier.verify(signer.sign(claims(azp=None))).authorized_party is None
    assert verifier.verify(signer.sign(claims(azp="https://anything.test"))).authorized_party == "https://anything.test"


@pytest.mark.parametrize(
    "changes",
    [{"sub": "user_attacker"}, {"exp": NOW + 86_400}, {"azp": PARTY, "o": {"id": "org_x", "rol": "admin"}}],
)
def test_verify_tampered_payload_with_original_signature_raises_signature_error(
    verifier: SessionVerifier, pem_verifier: SessionVerifier, signer: TokenSigner, changes: dict[str, Any]
) -> None:
    token = with_payload(signer.sign(claims()), {**claims(), **changes})

    _rejects(verifier, token, TokenSignatureError)
    _rejects(pem_verifier, token, TokenSignatureError)


def test_verify_token_signed_by_other_key_under_our_kid_raises_signature_error(
    verifier: SessionVerifier, signer: TokenSigner, other_signer: TokenSigner, jwks: FakeJwks
) -> None:
    token = jwt.encode(
        claims(), private_key(other_signer.private_key_pem), algorithm="RS256", headers={"kid": signer.kid}
    )

    _rejects(verifier, token, TokenSignatureError)
    assert jwks.calls == 1  # the first load only: the kid was known, so no refetch


def test_verify_token_signed_by_other_key_in_pem_mode_raises_signature_error(
    pem_verifier: SessionVerifier, other_signer: TokenSigner
) -> None:
    _rejects(pem_verifier, other_signer.sign(claims()), TokenSignatureError)


def test_verify_unknown_kid_refetches_once_then_raises_unknown_key(
    verifier: SessionVerifier, signer: TokenSigner, other_signer: TokenSigner, jwks: FakeJwks
) -> None:
    verifier.verify(signer.sign(claims()))
    assert jwks.calls == 1

    _rejects(verifier, other_signer.sign(claims()), TokenUnknownKeyError)
    assert jwks.calls == 2

    # A second unknown kid inside the min-refresh interval costs no fetch: kid floods cannot hammer the JWKS.
    for i in range(50):
        forged = jwt.encode(
            claims(), private_key(other_signer.private_key_pem), algorithm="RS256", headers={"kid": f"ins_{i}"}
        )
        _rejects(verifier, forged, TokenUnknownKeyError)
    assert jwks.calls == 2


def test_verify_unknown_kid_after_min_refresh_interval_refetches_again(
    verifier: SessionVerifier,
    signer: TokenSigner,
    other_signer: TokenSigner,
    jwks: FakeJwks,
    monotonic_clock: FakeClock,
) -> None:
    verifier.verify(signer.sign(claims()))
    _rejects(verifier, other_signer.sign(claims()), TokenUnknownKeyError)

    monotonic_clock.advance(30)
    _rejects(verifier, other_signer.sign(claims()), TokenUnknownKeyError)

    assert jwks.calls == 3


def test_verify_after_key_rotation_refetches_once_and_accepts_new_kid(
    verifier: SessionVerifier,
    signer: TokenSigner,
    other_signer: TokenSigner,
    jwks: FakeJwks,
    monotonic_clock: FakeClock,
) -> None:
    verifier.verify(signer.sign(claims()))
    monotonic_clock.advance(31)  # the cold-start fetch was a while ago
    jwks.publish(signer, other_signer)  # Clerk rotates: the new key appears beside the old one

    assert verifier.verify(other_signer.sign(claims())).user_id == USER_ID
    assert verifier.verify(other_signer.sign(claims())).user_id == USER_ID
    assert verifier.verify(signer.sign(claims())).user_id == USER_ID
    assert jwks.calls == 2


def test_verify_rotation_right_after_cold_start_fetch_is_accepted_at_once(
    verifier: SessionVerifier, signer: TokenSigner, other_signer: TokenSigner, jwks: FakeJwks
) -> None:
    verifier.verify(signer.sign(claims()))
    jwks.publish(other_signer)  # the old key is gone from the JWKS too

    assert verifier.verify(other_signer.sign(claims())).user_id == USER_ID
    _rejects(verifier, signer.sign(claims()), TokenUnknownKeyError)  # a refetch replaces the cached keys
    assert jwks.calls == 2


def test_verify_token_without_kid_in_jwks_mode_raises_unknown_key_without_fetch(
    verifier: SessionVerifier, signer: TokenSigner, jwks: FakeJwks
) -> None:
    token = jwt.encode(claims(), private_key(signer.private_key_pem), algorithm="RS256")

    _rejects(verifier, token, TokenUnknownKeyError)
    assert jwks.calls == 0


def test_verify_jwks_down_with_cached_key_still_verifies(
    verifier: SessionVerifier, signer: TokenSigner, jwks: FakeJwks, monotonic_clock: FakeClock
) -> None:
    verifier.verify(signer.sign(claims()))
    jwks.failure = OSError("connection refused")

    assert verifier.verify(signer.sign(claims())).user_id == USER_ID
    monotonic_clock.advance(7200)  # cache expired: the refresh fails, the stale key keeps serving
    assert verifier.verify(signer.sign(claims())).user_id == USER_ID
    assert verifier.verify(signer.sign(claims())).user_id == USER_ID
    assert jwks.calls == 2  # one failed refresh; the next attempt waits for the min-refresh interval


def test_verify_jwks_down_with_no_key_raises_keys_unavailable_not_token_error(
    verifier: SessionVerifier, signer: TokenSigner, jwks: FakeJwks
) -> None:
    jwks.failure = TimeoutError("read timed out")

    error = _rejects(verifier, signer.sign(claims()), KeysUnavailableError)

    assert not isinstance(error, TokenError)  # the authorizer answers 503, not 401
    assert error.code == "jwks_unavailable"


def test_verify_jwks_down_with_unknown_kid_raises_keys_unavailable(
    verifier: SessionVerifier,
    signer: TokenSigner,
    other_signer: TokenSigner,
    jwks: FakeJwks,
    monotonic_clock: FakeClock,
) -> None:
    verifier.verify(signer.sign(claims()))
    monotonic_clock.advance(30)
    jwks.failure = OSError("connection reset")

    # We cannot tell a rotated key from a forged kid while the JWKS is down: not the client's fault.
    _rejects(verifier, other_signer.sign(claims()), KeysUnavailableError)
    assert verifier.verify(signer.sign(claims())).user_id == USER_ID


def test_verify_jwks_recovers_after_outage(
    verifier: SessionVerifier, signer: TokenSigner, jwks: FakeJwks, monotonic_clock: FakeClock
) -> None:
    jwks.failure = OSError("down")
    _rejects(verifier, signer.sign(claims()), KeysUnavailableError)
    _rejects(verifier, signer.sign(claims()), KeysUnavailableError)
    assert jwks.calls == 1

    jwks.failure = None
    monotonic_clock.advance(30)

    assert verifier.verify(signer.sign(claims())).user_id == USER_ID
    assert jwks.calls == 2


@pytest.mark.parametrize("missing", ["sub", "iat", "exp"])
def test_verify_missing_required_claim_raises_claims_error(
    verifier: SessionVerifier, signer: TokenSigner, missing: str
) -> None:
    _rejects(verifier, signer.sign(claims(**{missing: None})), TokenClaimsError)


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "usr_123"},
        {"sub": "user_"},
        {"sub": "user_abc\n"},
        {"sub": "user_abc/../admin"},
        {"sub": 12},
        {"exp": "tomorrow"},
        {"iat": True},
        {"nbf": [1]},
        {"sid": 5},
        {"azp": ["https://app.example.test"]},
    ],
)
def test_verify_misshapen_claim_raises_claims_error(
    make_verifier: MakeVerifier, signer: TokenSigner, overrides: dict[str, Any]
) -> None:
    _rejects(make_verifier(authorized_parties=[]), signer.sign(claims(**overrides)), TokenClaimsError)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        "a.b",
        "a.b.c.d",
        "....",
        "eyJhbGciOiJSUzI1NiJ9.e30",
        "!!!.???.***",
        "eyJ.eyJ.sig",
        segment([1, 2]) + "." + segment({}) + ".",
        segment("RS256") + "." + segment({}) + ".",
        "ünïcode.tökén.sïg",
        "\ud800.x.y",
        "a" * (MAX_TOKEN_CHARS + 1),
    ],
)
def test_verify_garbage_raises_malformed_error(verifier: SessionVerifier, jwks: FakeJwks, token: str) -> None:
    _rejects(verifier, token, TokenMalformedError)
    assert jwks.calls == 0


def test_verify_signed_payload_that_is_not_an_object_raises_malformed_error(
    verifier: SessionVerifier, signer: TokenSigner
) -> None:
    header = {"alg": "RS256", "typ": "JWT", "kid": signer.kid}
    token = jwt.api_jws.encode(b"[1,2,3]", private_key(signer.private_key_pem), algorithm="RS256", headers=header)

    _rejects(verifier, token, TokenMalformedError)


def test_verify_header_with_non_string_kid_raises_malformed_error(verifier: SessionVerifier) -> None:
    _rejects(verifier, forge({"alg": "RS256", "kid": 7}, claims(), b"sig"), TokenMalformedError)


def test_verify_empty_token_raises_missing_error(verifier: SessionVerifier) -> None:
    with pytest.raises(TokenMissingError):
        verifier.verify("")


def test_verify_unknown_extra_claims_are_ignored(verifier: SessionVerifier, signer: TokenSigner) -> None:
    token = signer.sign(claims(jti="abc", fva=[0, -1], pla="u:free", custom={"nested": [1, 2]}, act={"sub": "x"}))

    assert verifier.verify(token).user_id == USER_ID


def test_session_verifier_invalid_arguments_raise_value_error(signer: TokenSigner, key_source: JwksKeySource) -> None:
    with pytest.raises(ValueError, match="issuer"):
        SessionVerifier(issuer=" ", key_source=key_source)
    with pytest.raises(ValueError, match="clock_skew_seconds"):
        SessionVerifier(issuer=ISSUER, key_source=key_source, clock_skew_seconds=61)


def test_session_verifier_repr_names_issuer_and_parties(verifier: SessionVerifier) -> None:
    assert repr(verifier) == f"SessionVerifier(issuer={ISSUER!r}, authorized_parties=[{PARTY!r}])"
