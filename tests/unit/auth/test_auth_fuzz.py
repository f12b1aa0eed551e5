"""Hostile input never escapes as anything but a TokenError: a bad token must be a 401, never a 5xx."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_sync.auth import SessionVerifier, TokenError, TokenMissingError, extract_token
from clerk_sync_local.emulator.tokens import TokenSigner
from tests.support.forge import b64url, sign_raw

from .conftest import claims

# The verifiers are function-scoped fixtures reused across examples: fine, verify() keeps no per-token state.
_FUZZ_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
claim_names = st.sampled_from(
    [
        "sub",
        "iss",
        "azp",
        "exp",
        "nbf",
        "iat",
        "sid",
        "v",
        "o",
        "fea",
        "org_id",
        "org_role",
        "org_slug",
        "org_permissions",
        "email",
        "first_name",
        "jti",
    ]
)


@st.composite
def structured_garbage(draw: st.DrawFn) -> str:
    """Three base64url JSON segments: the header often says RS256, the claims use Clerk's names."""
    header = draw(
        st.one_of(
            st.fixed_dictionaries({"alg": st.sampled_from(["RS256", "none", "HS256"]), "kid": json_values}),
            st.dictionaries(st.text(max_size=5), json_values, max_size=4),
            json_values,
        )
    )
    payload = draw(json_values | st.dictionaries(claim_names, json_values, max_size=8))
    signature = draw(st.binary(max_size=300))
    encode = lambda value: b64url(json.dumps(value).encode())  # noqa: E731
    return f"{encode(header)}.{encode(payload)}.{b64url(signature)}"


raw_text = st.text(max_size=200)
raw_bytes = st.binary(max_size=200).map(lambda data: data.decode("latin-1"))
dotted = st.lists(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.", max_size=60),
    min_size=1,
    max_size=5,
).map(".".join)
base64ish = st.lists(st.binary(max_size=80), min_size=3, max_size=3).map(
    lambda parts: ".".join(base64.urlsafe_b64encode(p).decode() for p in parts)
)


@_FUZZ_SETTINGS
@given(st.one_of(raw_text, raw_bytes, dotted, base64ish, structured_garbage()))
def test_verify_arbitrary_input_raises_only_token_error(
    verifier: SessionVerifier, pem_verifier: SessionVerifier, token: str
) -> None:
    # PEM mode ignores the kid, so header-valid garbage gets as far as the signature check.
    for each in (verifier, pem_verifier):
        with pytest.raises(TokenError):
            each.verify(token)


@_FUZZ_SETTINGS
@given(st.dictionaries(claim_names, json_values, max_size=10))
def test_verify_signed_arbitrary_claims_return_claims_or_raise_token_error(
    pem_verifier: SessionVerifier, signer: TokenSigner, overrides: dict[str, Any]
) -> None:
    # Signed by the real key: the claims parser must survive any shape Clerk (or a template) could emit.
    token = sign_raw(signer.private_key_pem, signer.kid, {**claims(), **overrides})
    try:
        result = pem_verifier.verify(token)
    except TokenError:
        return
    assert result.user_id.startswith("user_")
    assert all(isinstance(p, str) for p in result.org_permissions)


@_FUZZ_SETTINGS
@given(
    st.dictionaries(st.sampled_from(["authorization", "Authorization", "cookie", "x"]), st.text(max_size=60)),
    st.none() | st.lists(st.text(max_size=40), max_size=5),
)
def test_extract_token_arbitrary_headers_return_text_or_raise_missing(
    headers: dict[str, str], cookies: list[str] | None
) -> None:
    try:
        token = extract_token(headers, cookies)
    except TokenMissingError:
        return  # any other error fails the test
    assert token
    assert token == token.strip()
