"""Payload 2.0 events as API Gateway builds them, and how it reads Lambda's answers."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest

from clerk_sync_local.gateway.events import (
    GatewayRequest,
    MalformedResponseError,
    RequestStamp,
    authorizer_event,
    http_event,
    is_text,
    read_http_response,
    read_simple_authorizer_response,
)
from clerk_sync_local.gateway.route_table import RouteTable
from infra.endpoints import ROUTES

STAMP = RequestStamp(request_id="req-1", epoch_ms=1_583_348_638_390)


def _event(request: GatewayRequest, context: dict[str, Any] | None = None) -> dict[str, Any]:
    match = RouteTable(ROUTES).match(request.method, request.raw_path)
    assert match is not None
    return http_event(request, match, STAMP, context)


def test_http_event_carries_route_key_template_and_path_parameters() -> None:
    event = _event(GatewayRequest("POST", "/api/sync/user/user_1"))
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /api/sync/user/{clerkUserId}"
    assert event["rawPath"] == "/api/sync/user/user_1"
    assert event["pathParameters"] == {"clerkUserId": "user_1"}
    context = event["requestContext"]
    assert context["routeKey"] == "POST /api/sync/user/{clerkUserId}"
    assert context["stage"] == "$default"
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/api/sync/user/user_1"
    assert context["requestId"] == "req-1"
    assert context["timeEpoch"] == 1_583_348_638_390
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert "authorizer" not in context


def test_http_event_lowercases_and_joins_headers_and_splits_cookies() -> None:
    headers = (
        ("X-Trace", "a"),
        ("x-trace", "b"),
        ("Cookie", "__session=tok; theme=dark"),
        ("User-Agent", "curl/8"),
        ("Host", "127.0.0.1:8787"),
    )
    event = _event(GatewayRequest("GET", "/api/sync/status", headers=headers))
    assert event["headers"] == {"x-trace": "a,b", "user-agent": "curl/8", "host": "127.0.0.1:8787"}
    assert event["cookies"] == ["__session=tok", "theme=dark"]
    assert event["requestContext"]["http"]["userAgent"] == "curl/8"
    assert event["requestContext"]["domainName"] == "127.0.0.1:8787"


def test_http_event_joins_repeated_query_keys_and_keeps_raw_query() -> None:
    event = _event(GatewayRequest("GET", "/api/sync/status", raw_query="a=1&a=2&b=x%20y"))
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}


def test_http_event_leaves_out_empty_optional_keys() -> None:
    event = _event(GatewayRequest("GET", "/api/sync/status"))
    assert "cookies" not in event
    assert "queryStringParameters" not in event
    assert "pathParameters" not in event
    assert "body" not in event
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("application/json", False),
        ("application/json; charset=utf-8", False),
        ("text/plain", False),
        ("application/xml", False),
        ("application/octet-stream", True),
        ("application/x-www-form-urlencoded", True),
        (None, True),
    ],
)
def test_http_event_base64_encodes_non_text_bodies(content_type: str | None, encoded: bool) -> None:
    headers = (("content-type", content_type),) if content_type else ()
    event = _event(GatewayRequest("POST", "/api/webhooks/clerk", headers=headers, body=b'{"a":1}'))
    assert event["isBase64Encoded"] is encoded
    body = base64.b64decode(event["body"]) if encoded else event["body"].encode()
    assert body == b'{"a":1}'


def test_http_event_text_type_with_invalid_utf8_travels_base64() -> None:
    json_type = (("content-type", "application/json"),)
    request = GatewayRequest("POST", "/api/webhooks/clerk", headers=json_type, body=b"\xff")
    event = _event(request)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff"


def test_http_event_authorizer_context_goes_under_lambda() -> None:
    event = _event(GatewayRequest("POST", "/api/sync/user"), {"userId": "user_1", "admin": False})
    assert event["requestContext"]["authorizer"] == {"lambda": {"userId": "user_1", "admin": False}}


def test_authorizer_event_has_request_type_route_arn_and_identity_source() -> None:
    request = GatewayRequest("POST", "/api/sync/user/user_1", headers=(("Authorization", "Bearer t"),))
    match = RouteTable(ROUTES).match("POST", "/api/sync/user/user_1")
    assert match is not None
    event = authorizer_event(request, match, STAMP, ["Bearer t"])
    assert event["type"] == "REQUEST"
    assert event["version"] == "2.0"
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/$default/POST/api/sync/user/user_1"
    assert event["identitySource"] == ["Bearer t"]
    assert event["headers"]["authorization"] == "Bearer t"
    assert event["pathParameters"] == {"clerkUserId": "user_1"}
    assert "authorizer" not in event["requestContext"]


def test_authorizer_event_without_identity_sources_has_null_identity_source() -> None:
    match = RouteTable(ROUTES).match("GET", "/api/sync/status")
    assert match is not None
    assert authorizer_event(GatewayRequest("GET", "/api/sync/status"), match, STAMP, [])["identitySource"] is None


def test_is_text_treats_missing_content_type_as_binary() -> None:
    assert not is_text(None)
    assert is_text("TEXT/HTML")


def test_read_http_response_maps_status_headers_cookies_and_body() -> None:
    headers = {"X-A": "1", "Content-Type": "text/plain"}
    response = read_http_response({"statusCode": 201, "headers": headers, "cookies": ["a=1", "b=2"], "body": "hi"})
    assert response.status == 201
    assert ("x-a", "1") in response.headers
    assert ("content-type", "text/plain") in response.headers
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1", "b=2"]
    assert response.body == b"hi"


def test_read_http_response_decodes_base64_body() -> None:
    body = base64.b64encode(b"\x00\x01").decode()
    response = read_http_response({"statusCode": 200, "body": body, "isBase64Encoded": True})
    assert response.body == b"\x00\x01"


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], "text", 7, None, {"a": Decimal("1.5")}])
def test_read_http_response_without_status_code_is_200_json(value: Any) -> None:
    response = read_http_response(value)
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    expected = {"a": 1.5} if isinstance(value, dict) and "a" in value and isinstance(value["a"], Decimal) else value
    assert json.loads(response.body) == expected


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
        {"statusCode": 200, "body": object()},
    ],
)
def test_read_http_response_malformed_result_raises(result: Any) -> None:
    with pytest.raises(MalformedResponseError):
        read_http_response(result)


def test_read_simple_authorizer_response_reads_verdict_and_context() -> None:
    verdict = read_simple_authorizer_response({"isAuthorized": True, "context": {"userId": "u"}})
    assert (verdict.authorized, verdict.context) == (True, {"userId": "u"})
    assert read_simple_authorizer_response({"isAuthorized": False}).context == {}


@pytest.mark.parametrize("result", [{}, {"isAuthorized": "true"}, {"isAuthorized": True, "context": []}, None, "x"])
def test_read_simple_authorizer_response_malformed_raises(result: Any) -> None:
    with pytest.raises(MalformedResponseError):
        read_simple_authorizer_response(result)
