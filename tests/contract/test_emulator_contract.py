"""Contract: every implemented /v1 route's responses (200, 401, 404, 422, 429, 5xx) match Clerk's OpenAPI spec.

Where the spec declares a status for the operation, openapi-core validates the whole response. Where it
does not (it omits 401/404/429 on several routes that Clerk does answer with them), the body is validated
against the spec's `ClerkErrors` schema and the gap must be listed in `SPEC_GAPS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.exceptions import InvalidData
from openapi_core.validation.schemas import oas30_read_schema_validators_factory
from werkzeug.datastructures import Headers, ImmutableMultiDict

from clerk_sync.vocabulary import CLERK_API_URL
from clerk_sync_local.emulator import ClerkEmulator

SPEC = Path(__file__).resolve().parents[1] / "clerk" / "backend-api.yml"
CLERK_HOST = CLERK_API_URL  # the spec's server is https://api.clerk.com/v1

# (spec path, takes limit/offset)
ROUTES: tuple[tuple[str, bool], ...] = (
    ("/users", True),
    ("/users/count", False),
    ("/users/{user_id}", False),
    ("/users/{user_id}/organization_memberships", True),
    ("/organizations", True),
    ("/organizations/{organization_id}", False),
    ("/organizations/{organization_id}/memberships", True),
    ("/organization_memberships", True),
    ("/jwks", False),
    ("/instance", False),
)
PARAMETERISED = [path for path, _ in ROUTES if "{" in path]
LISTS = [path for path, paged in ROUTES if paged]

# Statuses the emulator answers (like Clerk) that the spec does not declare for the operation.
SPEC_GAPS: frozenset[tuple[str, int]] = frozenset(
    {(path, 429) for path, _ in ROUTES}
    | {(path, status) for path, _ in ROUTES for status in (500, 503)} - {("/organization_memberships", 500)}
    | {
        ("/users/count", 401),
        ("/users/{user_id}/organization_memberships", 401),
        ("/users/{user_id}/organization_memberships", 404),
        ("/users/{user_id}/organization_memberships", 422),
        ("/organizations", 401),
        ("/organizations/{organization_id}", 401),
        ("/organizations/{organization_id}/memberships", 404),
        ("/jwks", 401),
        ("/instance", 401),
    }
)


@dataclass
class OpenAPIRequest:
    """openapi-core's Request protocol over an httpx request, presented as a request to api.clerk.com."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str

    @classmethod
    def from_httpx(cls, request: httpx.Request) -> OpenAPIRequest:
        return cls(
            host_url=CLERK_HOST,
            path=request.url.path,
            method=request.method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict(list(request.url.params.multi_items())),
                header=Headers(list(request.headers.items())),
            ),
            body=request.content or None,
            content_type=request.headers.get("content-type", "application/json"),
        )


@dataclass
class OpenAPIResponse:
    """openapi-core's Response protocol over an httpx response."""

    status_code: int
    headers: Headers
    content_type: str
    data: bytes

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> OpenAPIResponse:
        return cls(
            response.status_code,
            Headers(list(response.headers.items())),
            response.headers.get("content-type", ""),
            response.content,
        )


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    # ~1.5 s for the 20k-line spec: load it once per module.
    return OpenAPI.from_file_path(str(SPEC))


@pytest.fixture(scope="module")
def clerk() -> Iterator[ClerkEmulator]:
    with ClerkEmulator(seed=42) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def ids(clerk: ClerkEmulator) -> dict[str, str]:
    """Data that exercises optional fields: phones, usernames, external ids, images, bans, metadata."""
    full = clerk.create_user(
        first_name="Jane",
        last_name="Doe",
        username="jane",
        external_id="ext-1",
        email="jane@example.com",
        email_addresses=["jane.doe@example.com"],
        phone_number="+15555550100",
        public_metadata={"plan": "pro"},
        private_metadata={"crm": 1},
        unsafe_metadata={"theme": "dark"},
        password_enabled=True,
    )
    clerk.update_user(full["id"], has_image=True, banned=True, last_sign_in_at=1_700_000_000_000)
    bare = clerk.create_user()  # no names, no identifiers: nulls where the spec allows them
    org = clerk.create_organization("Acme Corp", created_by=full["id"], public_metadata={"tier": "gold"})
    clerk.add_membership(org["id"], bare["id"], public_metadata={"team": "a"})
    clerk.create_organization("No Creator")
    clerk.seed_data(users=5, organizations=2, memberships_per_org=3, webhooks=False)
    return {"user_id": full["id"], "organization_id": org["id"], "slug": org["slug"]}


@pytest.fixture
def api(clerk: ClerkEmulator) -> Iterator[httpx.Client]:
    clerk.faults.reset()  # default knobs, empty rate-limit window
    with httpx.Client(base_url=clerk.url, headers={"Authorization": f"Bearer {clerk.secret_key}"}) as client:
        yield client


def _url(path: str, ids: dict[str, str], *, missing: bool = False) -> str:
    user_id = "user_doesnotexist0000000000000" if missing else ids["user_id"]
    org_id = "org_doesnotexist00000000000000" if missing else ids["organization_id"]
    return "/v1" + path.replace("{user_id}", user_id).replace("{organization_id}", org_id)


def _declared(openapi: OpenAPI, path: str) -> set[str]:
    return set((openapi.spec / "paths" / path / "get" / "responses").keys())


def assert_matches_spec(openapi: OpenAPI, path: str, response: httpx.Response) -> None:
    """Validate against the operation when it declares the status, else against ClerkErrors (a known gap)."""
    if str(response.status_code) in _declared(openapi, path):
        openapi.validate_response(OpenAPIRequest.from_httpx(response.request), OpenAPIResponse.from_httpx(response))
        return
    assert (path, response.status_code) in SPEC_GAPS, f"{path} {response.status_code} is neither declared nor a gap"
    schema = openapi.spec / "components" / "schemas" / "ClerkErrors"
    oas30_read_schema_validators_factory.create(openapi.spec, schema).validate(response.json())
    assert response.headers["content-type"] == "application/json"


SUCCESS_CASES: list[tuple[str, dict[str, Any]]] = [
    ("/users", {"limit": 500}),
    ("/users", {"order_by": "+created_at", "limit": 2, "offset": 1}),
    ("/users/count", {}),
    ("/users/{user_id}", {}),
    ("/users/{user_id}/organization_memberships", {"limit": 500}),
    ("/organizations", {"limit": 500}),
    ("/organizations/{organization_id}", {}),
    ("/organizations/{organization_id}/memberships", {"limit": 500}),
    ("/organization_memberships", {"limit": 500}),
    ("/jwks", {}),
    ("/instance", {}),
]


@pytest.mark.parametrize(("path", "params"), SUCCESS_CASES)
def test_contract_success_response_matches_spec(
    openapi: OpenAPI, api: httpx.Client, ids: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    response = api.get(_url(path, ids), params=params)
    assert response.status_code == 200
    assert_matches_spec(openapi, path, response)


def test_contract_user_filter_by_repeated_user_id_matches_spec(
    openapi: OpenAPI, api: httpx.Client, ids: dict[str, str]
) -> None:
    response = api.get("/v1/users", params=[("user_id", ids["user_id"]), ("user_id", "user_other")])
    assert [u["id"] for u in response.json()] == [ids["user_id"]]
    assert_matches_spec(openapi, "/users", response)


def test_contract_organization_by_slug_matches_spec(openapi: OpenAPI, api: httpx.Client, ids: dict[str, str]) -> None:
    response = api.get(f"/v1/organizations/{ids['slug']}")
    assert response.json()["id"] == ids["organization_id"]
    assert_matches_spec(openapi, "/organizations/{organization_id}", response)


@pytest.mark.parametrize("path", PARAMETERISED)
def test_contract_missing_resource_returns_404_matching_spec(
    openapi: OpenAPI, api: httpx.Client, ids: dict[str, str], path: str
) -> None:
    response = api.get(_url(path, ids, missing=True))
    assert response.status_code == 404
    assert_matches_spec(openapi, path, response)


@pytest.mark.parametrize("path", [p for p, _ in ROUTES])
def test_contract_without_secret_key_returns_401_matching_spec(
    openapi: OpenAPI, clerk: ClerkEmulator, ids: dict[str, str], path: str
) -> None:
    response = httpx.get(clerk.url + _url(path, ids), headers={"Authorization": "Bearer sk_test_wrong"})
    assert response.status_code == 401
    assert_matches_spec(openapi, path, response)


@pytest.mark.parametrize("limit", ["0", "501", "many"])
@pytest.mark.parametrize("path", LISTS)
def test_contract_invalid_limit_returns_422_matching_spec(
    openapi: OpenAPI, api: httpx.Client, ids: dict[str, str], path: str, limit: str
) -> None:
    response = api.get(_url(path, ids), params={"limit": limit})
    assert response.status_code == 422
    assert_matches_spec(openapi, path, response)


@pytest.mark.parametrize("path", [p for p, _ in ROUTES])
def test_contract_over_rate_limit_returns_429_matching_spec(
    openapi: OpenAPI, clerk: ClerkEmulator, api: httpx.Client, ids: dict[str, str], path: str
) -> None:
    clerk.set_knobs(rate_limit=1)
    assert api.get(_url(path, ids)).status_code == 200
    response = api.get(_url(path, ids))
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert_matches_spec(openapi, path, response)


@pytest.mark.parametrize("case", [(p, status) for p, _ in ROUTES for status in (500, 503)], ids=str)
def test_contract_injected_server_error_matches_spec(
    openapi: OpenAPI, clerk: ClerkEmulator, api: httpx.Client, ids: dict[str, str], case: tuple[str, int]
) -> None:
    path, status = case
    clerk.set_knobs(error_rate=1.0, error_statuses=[status])
    response = api.get(_url(path, ids))
    assert response.status_code == status
    assert_matches_spec(openapi, path, response)


def test_contract_spec_gaps_are_exactly_the_undeclared_statuses(openapi: OpenAPI) -> None:
    answered = {(path, status) for path, _ in ROUTES for status in (200, 401, 429, 500, 503)}
    answered |= {(path, 404) for path in PARAMETERISED} | {(path, 422) for path in LISTS}
    undeclared = {(path, status) for path, status in answered if str(status) not in _declared(openapi, path)}
    assert undeclared == SPEC_GAPS


def test_contract_validator_rejects_user_with_unknown_field(
    openapi: OpenAPI, api: httpx.Client, ids: dict[str, str]
) -> None:
    # Guards the tests above against passing vacuously: the User schema forbids extra properties.
    response = api.get(_url("/users/{user_id}", ids))
    tampered = httpx.Response(200, json={**response.json(), "nickname": "jj"}, request=response.request)
    with pytest.raises(InvalidData):
        assert_matches_spec(openapi, "/users/{user_id}", tampered)
