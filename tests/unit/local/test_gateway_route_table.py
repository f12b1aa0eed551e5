"""Route matching from the deployed route table: methods, `{param}` segments, specificity."""

from __future__ import annotations

from clerk_sync_local.gateway.route_table import RouteTable
from infra.endpoints import ROUTES, Route

table = RouteTable(ROUTES)


def test_route_table_literal_segment_beats_parameter() -> None:
    match = table.match("POST", "/api/sync/user/organizations")
    assert match is not None
    assert match.route_key == "POST /api/sync/user/organizations"
    assert match.path_parameters == {}


def test_route_table_parameter_segment_yields_decoded_path_parameter() -> None:
    match = table.match("POST", "/api/sync/user/user_2abc%20x")
    assert match is not None
    assert match.route_key == "POST /api/sync/user/{clerkUserId}"
    assert match.path_parameters == {"clerkUserId": "user_2abc x"}


def test_route_table_nested_parameters_match() -> None:
    match = table.match("POST", "/api/sync/organization/org_1/members")
    assert match is not None
    assert (match.route.function, match.path_parameters) == ("sync_api", {"clerkOrgId": "org_1"})


def test_route_table_wrong_method_matches_nothing() -> None:
    assert table.match("GET", "/api/sync/user") is None
    assert table.match("POST", "/api/sync/status") is None


def test_route_table_unknown_or_trailing_slash_path_matches_nothing() -> None:
    assert table.match("POST", "/api/sync/nope") is None
    assert table.match("POST", "/api/sync/user/") is None
    assert table.match("POST", "/api/sync/user/a/b/c") is None


def test_route_table_encoded_slash_stays_inside_one_segment() -> None:
    match = table.match("POST", "/api/sync/user/a%2Fb")
    assert match is not None
    assert match.path_parameters == {"clerkUserId": "a/b"}


def test_route_table_most_specific_wins_regardless_of_order() -> None:
    routes = (Route("GET", "/x/{a}/{b}", "sync_api", False), Route("GET", "/x/{a}/fixed", "webhook", False))
    match = RouteTable(routes).match("GET", "/x/1/fixed")
    assert match is not None
    assert match.route.function == "webhook"
