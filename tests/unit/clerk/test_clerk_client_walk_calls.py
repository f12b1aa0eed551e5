"""The client calls membership walks make: one page of a user's memberships, and a lookup of up to 100 members."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from clerk_sync.clerk import ClerkClient, ClerkNotFoundError

if TYPE_CHECKING:
    from conftest import FakeClerk

MakeClient = Callable[..., ClerkClient]


def test_list_user_memberships_page_is_one_request_at_the_offset(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_memberships("user_a", 7)
    page = make_client().list_user_memberships_page("user_a", limit=3, offset=3)
    assert [m.org_id for m in page.items] == [f"org_user_a_{n:05d}" for n in (3, 4, 5)]
    assert (page.total_count, page.next_offset) == (7, 6)
    assert [(r.path, r.params) for r in clerk.seen] == [
        ("/v1/users/user_a/organization_memberships", {"limit": "3", "offset": "3"})
    ]


def test_find_organization_memberships_asks_for_every_user_in_one_request(
    clerk: FakeClerk, make_client: MakeClient
) -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        found = [clerk.membership_json("org_a", "user_1"), clerk.membership_json("org_a", "user_stranger")]
        return httpx.Response(200, json={"data": found, "total_count": 2})

    client = make_client(transport=httpx.MockTransport(answer))
    found = client.find_organization_memberships("org_a", ["user_1", "user_2"])
    assert [m.user_id for m in found] == ["user_1"]  # only the users asked about
    [url] = asked
    assert url.path == "/v1/organizations/org_a/memberships"
    assert url.params.get_list("user_id") == ["user_1", "user_2"]
    assert (url.params["limit"], url.params["offset"]) == ("100", "0")


@pytest.mark.parametrize("user_ids", [[], [f"user_{n}" for n in range(101)], ["+user_1"], ["-user_1"], [""]])
def test_find_organization_memberships_refuses_what_clerk_would_misread(
    make_client: MakeClient, user_ids: list[str]
) -> None:
    with pytest.raises(ValueError, match="user id"):
        make_client().find_organization_memberships("org_a", user_ids)


def test_find_organization_memberships_of_a_gone_organization_is_not_found(
    clerk: FakeClerk, make_client: MakeClient
) -> None:
    clerk.fail_next(clerk.error_response(404, "resource_not_found", "not found"))
    with pytest.raises(ClerkNotFoundError):
        make_client().find_organization_memberships("org_gone", ["user_1"])
