"""The `/v1` Backend API subset over HTTP: auth, lookups, filters, paging and parameter errors."""

from __future__ import annotations

import httpx
import pytest

from clerk_sync_local.emulator import ClerkEmulator


def _error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["code"]
    return code


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "authentication_invalid"),
        ({"Authorization": "Basic abc"}, "authentication_invalid"),
        ({"Authorization": "Bearer sk_test_wrong"}, "clerk_key_invalid"),
    ],
)
def test_backend_api_bad_secret_key_returns_401(clerk: ClerkEmulator, headers: dict[str, str], code: str) -> None:
    response = httpx.get(f"{clerk.api_url}/users", headers=headers)
    assert response.status_code == 401
    assert _error_code(response) == code
    assert set(response.json()["errors"][0]) >= {"message", "long_message", "code"}


def test_get_user_live_returns_full_user(clerk: ClerkEmulator, api: httpx.Client) -> None:
    user = clerk.create_user(first_name="Jane", email="jane@example.com", phone_number="+15555550100")
    response = api.get(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user
    assert response.json()["phone_numbers"][0]["phone_number"] == "+15555550100"


@pytest.mark.parametrize("path", ["/users/user_missing", "/organizations/org_missing", "/nope"])
def test_backend_api_unknown_resource_returns_404(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert _error_code(response) == "resource_not_found"


def test_get_user_deleted_returns_404(clerk: ClerkEmulator, api: httpx.Client) -> None:
    user = clerk.create_user()
    clerk.delete_user(user["id"])
    assert api.get(f"/users/{user['id']}").status_code == 404
    assert api.get(f"/users/{user['id']}/organization_memberships").status_code == 404


def test_get_organization_by_slug_returns_same_org(clerk: ClerkEmulator, api: httpx.Client) -> None:
    org = clerk.create_organization("Acme Corp")
    assert api.get("/organizations/acme-corp").json() == api.get(f"/organizations/{org['id']}").json() == org


def test_list_users_returns_bare_array_newest_first(clerk: ClerkEmulator, api: httpx.Client) -> None:
    ids = [clerk.create_user()["id"] for _ in range(12)]
    response = api.get("/users")
    assert isinstance(response.json(), list)
    assert [u["id"] for u in response.json()] == ids[::-1][:10]  # default limit 10
    assert [u["id"] for u in api.get("/users", params={"order_by": "created_at", "limit": 3}).json()] == ids[:3]


def test_list_users_and_count_filter_by_creation_time_strictly(clerk: ClerkEmulator, api: httpx.Client) -> None:
    users = [clerk.create_user() for _ in range(5)]
    after = users[1]["created_at"]
    params = {"order_by": "+created_at", "created_at_after": after, "limit": 10}
    assert [u["id"] for u in api.get("/users", params=params).json()] == [u["id"] for u in users[2:]]
    before = {"created_at_before": users[3]["created_at"], "created_at_after": after}
    assert api.get("/users/count", params=before).json()["total_count"] == 1
    assert api.get("/users", params={"created_at_after": "soon"}).status_code == 422


def test_list_users_user_id_filter_repeated_returns_those_users(clerk: ClerkEmulator, api: httpx.Client) -> None:
    ids = [clerk.create_user()["id"] for _ in range(4)]
    response = api.get("/users", params=[("user_id", ids[0]), ("user_id", ids[2])])
    assert {u["id"] for u in response.json()} == {ids[0], ids[2]}
    excluded = api.get("/users", params=[("user_id", f"-{ids[0]}")])
    assert {u["id"] for u in excluded.json()} == set(ids[1:])


def test_list_users_email_and_organization_filters_match(clerk: ClerkEmulator, api: httpx.Client) -> None:
    jane = clerk.create_user(email="jane@example.com")
    john = clerk.create_user(email="john@example.com")
    org = clerk.create_organization("Acme", created_by=john["id"])
    assert [u["id"] for u in api.get("/users", params={"email_address": "JANE@example.com"}).json()] == [jane["id"]]
    assert [u["id"] for u in api.get("/users", params={"organization_id": org["id"]}).json()] == [john["id"]]


def test_count_users_counts_live_users_matching_filters(clerk: ClerkEmulator, api: httpx.Client) -> None:
    ids = [clerk.create_user()["id"] for _ in range(3)]
    clerk.delete_user(ids[0])
    assert api.get("/users/count").json() == {"object": "total_count", "total_count": 2}
    assert api.get("/users/count", params={"user_id": ids[1]}).json()["total_count"] == 1


def test_user_memberships_1200_orgs_pages_of_500(clerk: ClerkEmulator, api: httpx.Client) -> None:
    user = clerk.create_user(first_name="Busy")
    for i in range(1200):
        clerk.add_membership(clerk.create_organization(f"Org {i}")["id"], user["id"])
    pages = [
        api.get(f"/users/{user['id']}/organization_memberships", params={"limit": 500, "offset": offset}).json()
        for offset in (0, 500, 1000)
    ]
    assert [len(p["data"]) for p in pages] == [500, 500, 200]
    assert {p["total_count"] for p in pages} == {1200}
    ids = [m["id"] for p in pages for m in p["data"]]
    assert len(set(ids)) == 1200
    first = pages[0]["data"][0]
    assert first["organization"]["object"] == "organization"
    assert first["public_user_data"]["user_id"] == user["id"]
    assert clerk.request_count("GET /v1/users/{user_id}/organization_memberships") == 3


def test_organization_memberships_paged_with_total_count(clerk: ClerkEmulator, api: httpx.Client) -> None:
    org = clerk.create_organization("Acme")
    users = [clerk.create_user()["id"] for _ in range(7)]
    for user_id in users:
        clerk.add_membership(org["id"], user_id)
    body = api.get(f"/organizations/{org['id']}/memberships", params={"limit": 5, "offset": 5}).json()
    assert (len(body["data"]), body["total_count"]) == (2, 7)
    by_user = api.get(f"/organizations/{org['id']}/memberships", params={"user_id": users[3]}).json()
    assert [m["public_user_data"]["user_id"] for m in by_user["data"]] == [users[3]]


def test_instance_memberships_lists_every_membership(clerk: ClerkEmulator, api: httpx.Client) -> None:
    clerk.seed_data(users=6, organizations=3, memberships_per_org=2, webhooks=False)
    body = api.get("/organization_memberships", params={"limit": 4}).json()
    assert (len(body["data"]), body["total_count"]) == (4, 6)


def test_list_organizations_paged_with_total_count(clerk: ClerkEmulator, api: httpx.Client) -> None:
    for i in range(3):
        clerk.create_organization(f"Org {i}")
    body = api.get("/organizations", params={"limit": 2}).json()
    assert (len(body["data"]), body["total_count"]) == (2, 3)
    assert [o["name"] for o in body["data"]] == ["Org 2", "Org 1"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "form_param_value_invalid"),
        ({"limit": 501}, "form_param_value_invalid"),
        ({"limit": "ten"}, "form_param_format_invalid"),
        ({"offset": -1}, "form_param_value_invalid"),
        ({"order_by": "-shoe_size"}, "form_param_value_invalid"),
    ],
)
@pytest.mark.parametrize("path", ["/users", "/organizations", "/organization_memberships"])
def test_list_invalid_paging_params_return_422(
    api: httpx.Client, path: str, params: dict[str, object], code: str
) -> None:
    response = api.get(path, params=params)  # type: ignore[arg-type]
    assert response.status_code == 422
    assert _error_code(response) == code


def test_backend_api_wrong_method_returns_405(api: httpx.Client) -> None:
    assert api.post("/users/count").status_code == 405


def test_jwks_under_v1_requires_secret_key(clerk: ClerkEmulator, api: httpx.Client) -> None:
    assert api.get("/jwks").json() == clerk.jwks
    assert httpx.get(f"{clerk.api_url}/jwks").status_code == 401
    assert httpx.get(f"{clerk.url}/.well-known/jwks.json").json() == clerk.jwks


def test_backend_api_instance_is_the_stable_id_every_webhook_carries(clerk: ClerkEmulator) -> None:
    headers = {"Authorization": f"Bearer {clerk.secret_key}"}
    first = httpx.get(f"{clerk.api_url}/instance", headers=headers)
    assert first.status_code == 200
    body = first.json()
    assert (body["object"], body["id"], body["environment_type"]) == ("instance", clerk.instance_id, "development")
    assert httpx.get(f"{clerk.api_url}/instance", headers=headers).json() == body  # stable
    clerk.create_user()
    assert {event["payload"]["instance_id"] for event in clerk.events} == {body["id"]}


def test_backend_api_instance_of_another_emulator_is_its_own() -> None:
    with ClerkEmulator(instance_id="ins_otherinstance", environment_type="production") as other:
        response = httpx.get(f"{other.api_url}/instance", headers={"Authorization": f"Bearer {other.secret_key}"})
    assert (response.json()["id"], response.json()["environment_type"]) == ("ins_otherinstance", "production")
