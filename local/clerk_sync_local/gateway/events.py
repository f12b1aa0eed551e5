"""API Gateway HTTP API payload format 2.0: the events it sends to Lambda and how it reads the answers.

Shapes follow AWS's documentation and observed events: header names lower-cased, repeated headers and
repeated query keys joined with commas, the Cookie header moved to `cookies`, empty optional keys left
out, and a body base64-encoded unless its content type is text. AWS does not list the text types; the
split here is the one observed on real HTTP APIs (text/*, application/json, application/xml,
application/javascript); anything else, a missing content type and form posts included, arrives base64.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formatdate
from typing import Any, Final
from urllib.parse import parse_qsl

from clerk_sync_local.gateway.route_table import RouteMatch
from infra.endpoints import PAYLOAD_FORMAT_VERSION

ACCOUNT_ID: Final = "123456789012"
API_ID: Final = "local"
STAGE: Final = "$default"
REGION: Final = "us-east-1"
TEXT_MEDIA_TYPES: Final = frozenset({"application/json", "application/xml", "application/javascript"})
IDENTITY_HEADER_PREFIX: Final = "$request.header."


class MalformedResponseError(ValueError):
    """A function answered with something API Gateway cannot turn into an HTTP response (it answers 500)."""


@dataclass(frozen=True)
class GatewayRequest:
    """An HTTP request as the gateway received it."""

    method: str
    raw_path: str
    raw_query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """All values of a header joined with commas (as API Gateway joins them), or None."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ",".join(values) if values else None


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def message(cls, status: int, message: str) -> GatewayResponse:
        """API Gateway's own answers: `{"message": "..."}`."""
        body = json.dumps({"message": message}).encode()
        return cls(status, (("content-type", "application/json"),), body)


@dataclass(frozen=True)
class RequestStamp:
    """What API Gateway assigns to each request: an id and the time it arrived."""

    request_id: str = field(default_factory=lambda: base64.b64encode(os.urandom(10)).decode())
    epoch_ms: int = field(default_factory=lambda: time.time_ns() // 1_000_000)

    @property
    def clf_time(self) -> str:
        """`12/Mar/2020:19:03:58 +0000`, the format of requestContext.time."""
        day, month, year, clock = formatdate(self.epoch_ms / 1000, usegmt=True).split()[1:5]
        return f"{day}/{month}/{year}:{clock} +0000"


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def _headers(request: GatewayRequest) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for name, value in request.headers:
        if name.lower() != "cookie":
            joined.setdefault(name.lower(), []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def _cookies(request: GatewayRequest) -> list[str]:
    return [
        part.strip()
        for name, value in request.headers
        if name.lower() == "cookie"
        for part in value.split(";")
        if part.strip()
    ]


def _query(raw_query: str) -> dict[str, str]:
    joined: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        joined.setdefault(key, []).append(value)
    return {key: ",".join(values) for key, values in joined.items()}


def _request_context(request: GatewayRequest, match: RouteMatch, stamp: RequestStamp) -> dict[str, Any]:
    host = request.header("host") or "127.0.0.1"
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": stamp.request_id,
        "routeKey": match.route_key,
        "stage": STAGE,
        "time": stamp.clf_time,
        "timeEpoch": stamp.epoch_ms,
    }


def _common(request: GatewayRequest, match: RouteMatch, stamp: RequestStamp) -> dict[str, Any]:
    """The keys both event kinds share; optional ones are left out when empty, as AWS does."""
    event: dict[str, Any] = {
        "version": PAYLOAD_FORMAT_VERSION,
        "routeKey": match.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": _headers(request),
    }
    if cookies := _cookies(request):
        event["cookies"] = cookies
    if query := _query(request.raw_query):
        event["queryStringParameters"] = query
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    event["requestContext"] = _request_context(request, match, stamp)
    return event


def http_event(
    request: GatewayRequest,
    match: RouteMatch,
    stamp: RequestStamp,
    authorizer_context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The integration event; `authorizer_context` is what a simple authorizer response allowed with."""
    event = _common(request, match, stamp)
    if authorizer_context is not None:
        event["requestContext"]["authorizer"] = {"lambda": dict(authorizer_context)}
    encoded = False
    if request.body:
        text: str | None = None
        if is_text(request.header("content-type")):
            try:
                text = request.body.decode()
            except UnicodeDecodeError:
                text = None  # a "text" body that is not UTF-8 can only travel base64-encoded
        encoded = text is None
        event["body"] = base64.b64encode(request.body).decode() if text is None else text
    event["isBase64Encoded"] = encoded
    return event


def identity_values(request: GatewayRequest, identity_sources: tuple[str, ...]) -> list[str] | None:
    """The values of the identity sources (`$request.header.<name>`), or None when one is missing or empty."""
    values: list[str] = []
    for source in identity_sources:
        value = request.header(source.removeprefix(IDENTITY_HEADER_PREFIX))
        if not value or not value.strip():
            return None
        values.append(value)
    return values


def authorizer_event(
    request: GatewayRequest, match: RouteMatch, stamp: RequestStamp, identity: list[str]
) -> dict[str, Any]:
    """The REQUEST authorizer event of payload 2.0; identitySource is null when none is configured (no caching)."""
    route_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{STAGE}/{request.method}{request.raw_path}"
    sources = identity or None
    return {"type": "REQUEST", "routeArn": route_arn, "identitySource": sources, **_common(request, match, stamp)}


def _runtime_json(value: Any) -> Any:
    """The value as the Lambda runtime hands it over: serialised to JSON (Decimals as numbers) and read back."""

    def number(item: Any) -> Any:
        if isinstance(item, Decimal):
            return int(item) if item == item.to_integral_value() else float(item)
        raise TypeError(f"{type(item).__name__} is not JSON serializable")

    try:
        return json.loads(json.dumps(value, default=number))
    except (TypeError, ValueError) as error:
        raise MalformedResponseError(f"the function's result is not JSON: {error}") from error


def read_http_response(result: Any) -> GatewayResponse:
    """Maps an integration's result: a dict with statusCode is a response, anything else is a 200 JSON body."""
    payload = _runtime_json(result)
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return GatewayResponse(200, (("content-type", "application/json"),), json.dumps(payload).encode())
    status = payload["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponseError(f"statusCode {status!r} is not an HTTP status")
    headers = payload.get("headers") or {}
    cookies = payload.get("cookies") or []
    body = payload.get("body")
    if not isinstance(headers, dict) or not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MalformedResponseError("headers must be an object and cookies a list of strings")
    if body is not None and not isinstance(body, str):
        raise MalformedResponseError("body must be a string")
    raw = (body or "").encode()
    if payload.get("isBase64Encoded") and body:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedResponseError("isBase64Encoded is true but the body is not base64") from error
    pairs = [(str(name).lower(), _header_value(value)) for name, value in headers.items()]
    if not any(name == "content-type" for name, _ in pairs):
        pairs.append(("content-type", "application/json"))
    pairs += [("set-cookie", cookie) for cookie in cookies]
    return GatewayResponse(status, tuple(pairs), raw)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise MalformedResponseError(f"header value {value!r} is not a string")


@dataclass(frozen=True)
class AuthorizerVerdict:
    authorized: bool
    context: dict[str, Any]


def read_simple_authorizer_response(result: Any) -> AuthorizerVerdict:
    """A simple response: `{"isAuthorized": bool, "context": {...}}`; anything else is malformed (500)."""
    payload = _runtime_json(result)
    if not isinstance(payload, dict) or not isinstance(payload.get("isAuthorized"), bool):
        raise MalformedResponseError("a simple authorizer response needs a boolean isAuthorized")
    context = payload.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise MalformedResponseError("the authorizer's context must be an object")
    return AuthorizerVerdict(payload["isAuthorized"], context)
