"""Reads and paging: what each call sends, what it parses, and how many requests it costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from clerk_sync.clerk import ClerkClient, ClerkNotFoundError, ClerkResponseError
from clerk_sync.models import Membership, Organization, User

if TYPE_CHECKING:
    from conftest import FakeClerk

MakeClient = Callable[..., ClerkClient]


@pytest.mark.parametrize(("memberships", "requests"), [(1200, 3), (1000, 2), (500, 1), (3, 1), (0, 1)])
def test_list_user_memberships_by_count_costs_ceil_m_over_500_requests(
    clerk: FakeClerk, make_client: MakeClient, memberships: int, requests: int
) -> None:
    clerk.add_memberships("user_a", memberships)
    clerk.add_memberships("user_b", 7)  # someone else's memberships must not leak in
    client = make_client()

    listing = client.list_user_memberships("user_a")

    assert len(listing) == memberships
    assert {m.user_id for m in listing} <= {"user_a"}
    assert len({m.id for m in listing}) == memberships
    assert listing.total_count == memberships
    assert listing.calls == listing.pages == requests == len(clerk.seen)
    assert client.stats.requests == requests
    assert [r.path for r in clerk.seen] == ["/v1/users/user_a/organization_memberships"] * requests
    assert [r.params for r in clerk.seen] == [{"limit": "500", "offset": str(500 * i)} for i in range(requests)]


def test_list_user_memberships_embeds_organization_without_org_fetches(
    clerk: FakeClerk, make_client: MakeClient
) -> None:
    clerk.add_memberships("user_a", 2)

    listing = make_client().list_user_memberships("user_a")

    assert all(isinstance(m, Membership) and isinstance(m.organization, Organization) for m in listing)
    assert [m.org_id for m in listing] == ["org_user_a_00000", "org_user_a_00001"]
    assert not any(r.path.startswith("/v1/organizations") for r in clerk.seen)


def test_list_user_memberships_with_shifting_offsets_keeps_each_membership_once(
    clerk: FakeClerk, make_client: MakeClient
) -> None:
    clerk.add_memberships("user_a", 501)
    first = httpx.Response(200, json={"data": clerk.memberships[:500], "total_count": 501})
    # A membership added mid-walk shifts the list: the second page repeats the last item of the first.
    shifted = httpx.Response(200, json={"data": clerk.memberships[499:501], "total_count": 502})
    clerk.fail_next(first, shifted)

    listing = make_client().list_user_memberships("user_a")

    assert len(listing) == 501
    assert len({m.id for m in listing}) == 501
    assert listing.calls == 2


def test_list_organization_memberships_pages_through_all(clerk: FakeClerk, make_client: MakeClient) -> None:
    for index in range(750):
        clerk.memberships.append(clerk.membership_json("org_big", f"user_{index:04d}"))

    listing = make_client().list_organization_memberships("org_big")

    assert len(listing) == listing.total_count == 750
    assert listing.calls == 2
    assert {r.path for r in clerk.seen} == {"/v1/organizations/org_big/memberships"}


def test_list_all_memberships_one_page_per_call_for_checkpointing(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_memberships("user_a", 3)
    clerk.add_memberships("user_b", 2)
    client = make_client()

    page = client.list_all_memberships(limit=4)
    rest = client.list_all_memberships(limit=4, offset=page.next_offset or 0)

    assert [r.path for r in clerk.seen] == ["/v1/organization_memberships"] * 2
    assert (page.total_count, len(page.items), page.next_offset) == (5, 4, 4)
    assert (len(rest.items), rest.next_offset) == (1, None)


def test_list_users_bare_array_page_has_no_total_count(clerk: FakeClerk, make_client: MakeClient) -> None:
    for index in range(3):
        clerk.add_user(f"user_{index}")

    page = make_client().list_users(limit=2, offset=1)

    assert [u.id for u in page.items] == ["user_1", "user_2"]
    assert page.total_count is None
    assert page.next_offset == 3  # a full page: there may be more
    assert clerk.seen[0].params == {"limit": "2", "offset": "1"}


def test_count_users_reads_total_count(clerk: FakeClerk, make_client: MakeClient) -> None:
    for index in range(4):
        clerk.add_user(f"user_{index}")

    assert make_client().count_users() == 4
    assert clerk.seen[0].path == "/v1/users/count"


def test_get_user_parses_into_user_model(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_user("user_abc")

    user = make_client().get_user("user_abc")

    assert isinstance(user, User)
    assert (user.id, user.primary_email, user.private_metadata) == ("user_abc", "jane.doe@example.com", {})
    assert clerk.seen[0].path == "/v1/users/user_abc"


def test_get_organization_by_slug_returns_organization(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.add_memberships("user_a", 1)

    org = make_client().get_organization("org-user-a-00000")

    assert org.id == "org_user_a_00000"


def test_get_user_path_traversal_id_stays_one_segment(clerk: FakeClerk, make_client: MakeClient) -> None:
    with pytest.raises(ClerkNotFoundError):
        make_client().get_user("../organizations")

    assert clerk.seen[0].raw_path == "/v1/users/..%2Forganizations"


@pytest.mark.parametrize("bad", ["", ".", ".."])
def test_get_user_empty_or_dot_id_raises_value_error_without_request(
    clerk: FakeClerk, make_client: MakeClient, bad: str
) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        make_client().get_user(bad)

    assert clerk.seen == []


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (501, 0), (10, -1)])
def test_list_all_memberships_out_of_range_paging_raises_value_error(
    clerk: FakeClerk, make_client: MakeClient, limit: int, offset: int
) -> None:
    with pytest.raises(ValueError, match=r"limit|offset"):
        make_client().list_all_memberships(limit=limit, offset=offset)

    assert clerk.seen == []


def test_get_user_body_not_matching_model_raises_response_error_without_input_values(
    clerk: FakeClerk, make_client: MakeClient
) -> None:
    clerk.fail_next(httpx.Response(200, json={"id": "jane.doe@example.com", "created_at": "soon"}))

    with pytest.raises(ClerkResponseError) as raised:
        make_client().get_user("user_x")

    text = str(raised.value)
    assert text.startswith("GetUser")
    assert "id, updated_at" in text
    assert "jane.doe@example.com" not in text
    assert len(clerk.seen) == 1  # a bad shape is not retried


def test_get_user_non_json_2xx_raises_response_error(clerk: FakeClerk, make_client: MakeClient) -> None:
    clerk.fail_next(httpx.Response(200, text="<html>ok</html>"))

    with pytest.raises(ClerkResponseError, match="not JSON"):
        make_client().get_user("user_x")
