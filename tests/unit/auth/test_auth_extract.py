"""extract_token: the bearer header first, then the __session cookie in either place API Gateway puts it."""

from __future__ import annotations

import pytest

from clerk_sync.auth import TokenMissingError, extract_token


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Bearer tok.en.value"},
        {"authorization": "bearer tok.en.value"},
        {"Authorization": "BEARER   tok.en.value  "},
    ],
)
def test_extract_token_bearer_header_any_case_returns_token(headers: dict[str, str]) -> None:
    assert extract_token(headers) == "tok.en.value"


def test_extract_token_payload_v2_cookies_list_returns_session_cookie() -> None:
    cookies = ["theme=dark", "__client_uat=1700000000", "__session=tok.en.cookie"]

    assert extract_token({}, cookies) == "tok.en.cookie"


def test_extract_token_cookie_header_returns_session_cookie() -> None:
    headers = {"cookie": 'theme=dark; __session="tok.en.cookie"; __client_uat=0'}

    assert extract_token(headers) == "tok.en.cookie"


def test_extract_token_header_wins_over_cookie() -> None:
    assert extract_token({"authorization": "Bearer from.the.header"}, ["__session=from.the.cookie"]) == (
        "from.the.header"
    )


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "tok.en.value", ""])
def test_extract_token_non_bearer_authorization_falls_back_to_cookie(authorization: str) -> None:
    assert extract_token({"authorization": authorization}, ["__session=tok.en.cookie"]) == "tok.en.cookie"


@pytest.mark.parametrize(
    ("headers", "cookies"),
    [
        ({}, None),
        (None, []),
        ({"authorization": "Basic dXNlcjpwYXNz"}, ["theme=dark"]),
        ({}, ["__session="]),
        ({}, ["__session_abc123=tok.en.value", "x__session=tok.en.value", "__session"]),
        ({"cookie": "__sessionx=tok.en.value"}, None),
    ],
)
def test_extract_token_without_token_raises_missing_error(
    headers: dict[str, str] | None, cookies: list[str] | None
) -> None:
    with pytest.raises(TokenMissingError) as raised:
        extract_token(headers, cookies)

    assert raised.value.code == "token_missing"


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "tok.en.value"])
def test_extract_token_with_an_identity_source_never_reads_the_cookie(authorization: str) -> None:
    """With caching on, the verdict is served to every request carrying the same Authorization value, so the cookie
    (not in the cache key) must not decide it. Fails before the fix: the cookie's token was returned."""
    with pytest.raises(TokenMissingError):
        extract_token({"authorization": authorization}, ["__session=tok.en.cookie"], identity_source=[authorization])


def test_extract_token_with_an_identity_source_reads_only_a_bearer_it_contains() -> None:
    headers = {"authorization": "Bearer tok.en.value"}
    assert extract_token(headers, identity_source=["Bearer tok.en.value"]) == "tok.en.value"
    with pytest.raises(TokenMissingError):
        extract_token(headers, identity_source=["Bearer other.to.ken"])
