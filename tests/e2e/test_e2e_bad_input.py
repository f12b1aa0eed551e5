"""The bad-input suite: every surface of a running local stack refuses bad input with its documented status.

For each surface (the webhook, each sync route, the authorizer) a table of bad inputs goes over HTTP through
the local gateway to `clerk-sync local up`: wrong content types, bad JSON, deep nesting, huge bodies, bad ids,
unicode tricks, bad or missing signatures, old timestamps, bad tokens (alg none, wrong key, expired, wrong azp,
garbage cookies) and callers who may not. Each case must get the documented status and error code (README,
"The sync API" and "Webhooks"), write nothing to the table (a full snapshot before and after), and leave
exactly one line in the stack's log: its own request line, with no warning, error or traceback beside it.
How many cases were tried per surface is printed at the end of the run ("bad inputs tried per surface").
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_sync.api.bodies import MAX_API_BODY_BYTES
from clerk_sync.jsondata import MAX_JSON_DEPTH
from infra.endpoints import ROUTES
from tests.e2e.conftest import Stack
from tests.support.bad_input import Case, Expected, Request, StackProbe, header_list, other_secret, svix_signed
from tests.support.forge import forge, hs256, sign_raw, with_payload
from tests.support.tally import TALLY_PROPERTY

WEBHOOK = "/api/webhooks/clerk"
REPRIME_AFTER_SECONDS = 120.0  # well within USER_FRESHNESS_SECONDS (300): the callers stay fresh, logins read only


@dataclass
class Env:
    """What the cases need from the running stack: ids, the webhook secret and session tokens."""

    secret: str
    user_id: str
    org_id: str
    admin_id: str
    tokens: dict[str, str]
    prime: Callable[[], None]
    primed_at: float = field(default=0.0)

    def bearer(self, name: str = "valid") -> dict[str, str | bytes]:
        return {"authorization": f"Bearer {self.tokens[name]}"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _event(event_type: str = "user.updated", **data: Any) -> dict[str, Any]:
    return {"type": event_type, "object": "event", "data": {"id": "user_badinput", **data}, "timestamp": 1}


def _deep_metadata_event(depth: int) -> str:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return json.dumps(_event(unsafe_metadata=value))


# ---- the webhook ------------------------------------------------------------------------------------------


def _signed(body: str, **sign: Any) -> Callable[[Env], Request]:
    return lambda env: Request("POST", WEBHOOK, header_list(svix_signed(env.secret, body, **sign)), body.encode())


def _headers_changed(change: Callable[[dict[str, str | bytes]], None]) -> Callable[[Env], Request]:
    body = json.dumps(_event())

    def build(env: Env) -> Request:
        headers = svix_signed(env.secret, body)
        change(headers)
        return Request("POST", WEBHOOK, header_list(headers), body.encode())

    return build


def _tampered(env: Env) -> Request:
    body = json.dumps(_event(first_name="Alice"))
    headers = svix_signed(env.secret, body)
    return Request("POST", WEBHOOK, header_list(headers), body.replace("Alice", "Mallory").encode())


def _other_message_id(env: Env) -> Request:
    body = json.dumps(_event())
    headers = svix_signed(env.secret, body, msg_id="msg_original")
    headers["svix-id"] = "msg_replayed_under_a_new_id"
    return Request("POST", WEBHOOK, header_list(headers), body.encode())


def _not_utf8(env: Env) -> Request:
    headers = svix_signed(env.secret, "{}")
    return Request("POST", WEBHOOK, header_list(headers), b'{"type": "user.updated", "data": {"x": "\xff\xfe"}}')


def _wrong_secret(env: Env) -> Request:
    body = json.dumps(_event())
    return Request("POST", WEBHOOK, header_list(svix_signed(other_secret(), body)), body.encode())


def _unsigned(env: Env) -> Request:
    return Request("POST", WEBHOOK, header_list({"content-type": "application/json"}), json.dumps(_event()).encode())


def _drop(name: str) -> Callable[[dict[str, str | bytes]], None]:
    return lambda headers: headers.pop(name) and None


def _set(name: str, value: str | bytes) -> Callable[[dict[str, str | bytes]], None]:
    return lambda headers: headers.__setitem__(name, value)


INVALID_SIGNATURE = Expected(401, "invalid_signature")
WEBHOOK_CASES = [
    Case("webhook", "no svix headers", _unsigned, INVALID_SIGNATURE),
    Case("webhook", "svix-id missing", _headers_changed(_drop("svix-id")), INVALID_SIGNATURE),
    Case("webhook", "svix-timestamp missing", _headers_changed(_drop("svix-timestamp")), INVALID_SIGNATURE),
    Case("webhook", "svix-signature missing", _headers_changed(_drop("svix-signature")), INVALID_SIGNATURE),
    Case("webhook", "signed with another secret", _wrong_secret, INVALID_SIGNATURE),
    Case("webhook", "body changed after signing", _tampered, INVALID_SIGNATURE),
    Case("webhook", "signature replayed under another svix-id", _other_message_id, INVALID_SIGNATURE),
    Case("webhook", "signature garbage", _headers_changed(_set("svix-signature", "garbage")), INVALID_SIGNATURE),
    Case("webhook", "signature not base64", _headers_changed(_set("svix-signature", "v1,@@@@")), INVALID_SIGNATURE),
    Case(
        "webhook",
        "signature list of 500 junk entries",
        _headers_changed(_set("svix-signature", " ".join(["v1,AAAA"] * 500))),
        INVALID_SIGNATURE,
    ),
    Case("webhook", "timestamp not a number", _headers_changed(_set("svix-timestamp", "soon")), INVALID_SIGNATURE),
    Case(
        "webhook",
        "timestamp 30 digits",
        _headers_changed(_set("svix-timestamp", "9" * 30)),
        INVALID_SIGNATURE,
    ),
    Case(
        "webhook",
        "replayed: signed 6 minutes ago",
        _signed(json.dumps(_event()), age=timedelta(minutes=6)),
        INVALID_SIGNATURE,
    ),
    Case(
        "webhook",
        "replayed: signed a year ago",
        _signed(json.dumps(_event()), age=timedelta(days=365)),
        INVALID_SIGNATURE,
    ),
    Case(
        "webhook",
        "signed 6 minutes in the future",
        _signed(json.dumps(_event()), age=-timedelta(minutes=6)),
        INVALID_SIGNATURE,
    ),
    Case(
        "webhook",
        "svix-id with a right-to-left override",
        _headers_changed(_set("svix-id", "msg_\u202eevil".encode())),
        INVALID_SIGNATURE,
    ),
    Case("webhook", "body not UTF-8", _not_utf8, INVALID_SIGNATURE),
    Case("webhook", "signed, not JSON", _signed("this is not json"), Expected(400, "malformed_json")),
    Case("webhook", "signed, empty body", _signed(""), Expected(400, "malformed_json")),
    Case("webhook", "signed, UTF-8 BOM", _signed("\ufeff" + json.dumps(_event())), Expected(400, "malformed_json")),
    Case(
        "webhook",
        "signed, NaN",
        _signed('{"type": "user.updated", "data": {"n": NaN}}'),
        Expected(400, "malformed_json"),
    ),
    Case("webhook", "signed, a JSON array", _signed("[1, 2]"), Expected(400, "malformed_envelope")),
    Case("webhook", "signed, no type", _signed('{"data": {}}'), Expected(400, "malformed_envelope")),
    Case("webhook", "signed, type a number", _signed('{"type": 7, "data": {}}'), Expected(400, "malformed_envelope")),
    Case(
        "webhook",
        "signed, data a string",
        _signed('{"type": "user.updated", "data": "x"}'),
        Expected(400, "malformed_envelope"),
    ),
    Case("webhook", "signed, nested 5,000 levels", _signed(_nested(5000)), Expected(400, "json_too_deep")),
    Case(
        "webhook",
        f"signed, metadata nested past {MAX_JSON_DEPTH} levels",
        _signed(_deep_metadata_event(MAX_JSON_DEPTH + 10)),
        Expected(400, "json_too_deep"),
    ),
    Case(
        "webhook",
        "signed, lone surrogate escape",
        _signed('{"type": "user.updated", "data": {"id": "user_x", "first_name": "\\ud800"}}'),
        Expected(400, "invalid_unicode"),
    ),
    Case(
        "webhook",
        "signed, body over 128 KiB",
        _signed(json.dumps(_event(unsafe_metadata={"blob": "x" * (129 * 1024)}))),
        Expected(413, "payload_too_large"),
    ),
    Case(
        "webhook",
        "body over API Gateway's 10 MB",
        lambda env: Request(
            "POST", WEBHOOK, header_list({"content-type": "application/json"}), b" " * (10 * 1024 * 1024 + 1)
        ),
        Expected(413, gateway_message="Request Entity Too Large"),
    ),
    Case(
        "webhook",
        "signed, an event type clerk-sync does not apply",
        _signed(json.dumps({"type": "session.created", "object": "event", "data": {"id": "sess_1"}})),
        Expected(200),
    ),
    Case(
        "webhook",
        "signed, an unknown event type with data null",
        _signed(json.dumps({"type": "directoryGroup.member.added", "data": None})),
        Expected(200),
    ),
    Case(
        "webhook",
        "GET instead of POST",
        lambda env: Request("GET", WEBHOOK),
        Expected(404, gateway_message="Not Found"),
    ),
]


# ---- the sync routes ---------------------------------------------------------------------------------------

BODY_ROUTES = [
    ("POST", "/api/sync/user"),
    ("POST", "/api/sync/user/full"),
    ("POST", "/api/sync/user/organizations"),
    ("POST", "/api/sync/user/{user}"),
    ("POST", "/api/sync/organization/{org}"),
    ("POST", "/api/sync/organization/{org}/members"),
    ("GET", "/api/sync/status"),
    ("GET", "/api/sync/jobs/job_doesnotexist"),
]
MEMBERSHIP = ("POST", "/api/sync/membership")


def _route_path(template: str, env: Env) -> str:
    return template.replace("{user}", env.user_id).replace("{org}", env.org_id)


def _with_body(method: str, template: str, content_type: str, body: bytes) -> Callable[[Env], Request]:
    def build(env: Env) -> Request:
        headers = {**env.bearer(), "content-type": content_type}
        return Request(method, _route_path(template, env), header_list(headers), body)

    return build


BAD_REQUEST = Expected(400, "bad_request")
FORBIDDEN = Expected(403, "forbidden")
UNSUPPORTED = Expected(415, "unsupported_media_type")
# (name, content type, body, expected): bodies no route can read, whatever the route.
BODIES: list[tuple[str, str, bytes, Expected]] = [
    ("octet-stream body", "application/octet-stream", b'{"clerkOrgId": "org_x"}', UNSUPPORTED),
    ("form body", "application/x-www-form-urlencoded", b"clerkOrgId=org_x&clerkUserId=user_x", UNSUPPORTED),
    ("text/plain, not JSON", "text/plain;charset=UTF-8", b"hello", BAD_REQUEST),
    ("JSON nested 1,000 levels", "application/json", _nested(1000).encode(), BAD_REQUEST),
    ("body over 16 KiB", "application/json", b" " * (MAX_API_BODY_BYTES + 1), Expected(413, "payload_too_large")),
]
MEMBERSHIP_BODIES: list[tuple[str, str, bytes, Expected]] = [
    *BODIES,
    ("multipart body", "multipart/form-data; boundary=x", b"--x\r\n\r\n--x--", UNSUPPORTED),
    ("XML body", "application/xml", b"<clerkOrgId/>", UNSUPPORTED),
    ("truncated JSON", "application/json", b'{"clerkOrgId": ', BAD_REQUEST),
    ("JSON with NaN", "application/json", b'{"clerkOrgId": NaN}', BAD_REQUEST),
    ("UTF-8 BOM", "application/json", '\ufeff{"clerkOrgId": "org_x"}'.encode(), BAD_REQUEST),
    ("UTF-16 body", "application/json", '{"clerkOrgId": "org_x"}'.encode("utf-16"), BAD_REQUEST),
    ("Latin-1 bytes", "text/plain", b'{"role": "\xe9"}', BAD_REQUEST),
    ("lone surrogate escape", "application/json", b'{"clerkOrgId": "\\ud800"}', BAD_REQUEST),
    (f"JSON nested {MAX_JSON_DEPTH + 1} levels", "application/json", _nested(MAX_JSON_DEPTH + 1).encode(), BAD_REQUEST),
    ("empty object", "application/json", b"{}", BAD_REQUEST),
    ("null", "application/json", b"null", BAD_REQUEST),
    ("a JSON array", "application/json", b'["org_x", "user_x"]', BAD_REQUEST),
    ("a JSON string", "text/plain", b'"org_x"', BAD_REQUEST),
    ("ids of the wrong type", "application/json", b'{"clerkOrgId": 5, "clerkUserId": ["user_x"]}', BAD_REQUEST),
    ("ids swapped", "application/json", b'{"clerkOrgId": "user_abc", "clerkUserId": "org_abc"}', BAD_REQUEST),
    (
        "unknown key with markup",
        "application/json",
        b'{"clerkOrgId": "org_a", "clerkUserId": "user_a", "<b>": 1}',
        BAD_REQUEST,
    ),
    (
        "role with injection",
        "application/json",
        b'{"clerkOrgId": "org_a", "clerkUserId": "user_a", "role": "admin; drop"}',
        BAD_REQUEST,
    ),
    (
        "Cyrillic homoglyph in an id",
        "application/json",
        '{"clerkOrgId": "org_\u0430bc", "clerkUserId": "user_a"}'.encode(),
        BAD_REQUEST,
    ),
    (
        "zero-width space in an id",
        "application/json",
        '{"clerkOrgId": "org_a\u200b", "clerkUserId": "user_a"}'.encode(),
        BAD_REQUEST,
    ),
    (
        "right-to-left override in an id",
        "application/json",
        '{"clerkOrgId": "org_a\u202e", "clerkUserId": "user_a"}'.encode(),
        BAD_REQUEST,
    ),
    ("NUL in an id", "application/json", b'{"clerkOrgId": "org_a\\u0000", "clerkUserId": "user_a"}', BAD_REQUEST),
    (
        "id of 65 characters",
        "application/json",
        ('{"clerkOrgId": "org_' + "a" * 65 + '", "clerkUserId": "user_a"}').encode(),
        BAD_REQUEST,
    ),
]
# Path ids that are not Clerk's form: percent-encoded as a client would send them.
BAD_PATH_IDS = [
    ("wrong prefix", "{other}abc"),
    ("empty after the prefix", "{prefix}"),
    ("punctuation", "{prefix}abc!"),
    ("right-to-left override", "{prefix}abc%E2%80%AE"),
    ("Cyrillic homoglyph", "{prefix}%D0%B0bc"),
    ("zero-width space", "{prefix}abc%E2%80%8B"),
    ("NUL byte", "{prefix}abc%00"),
    ("emoji", "{prefix}%F0%9F%98%80"),
    ("trailing space", "{prefix}abc%20"),
    ("encoded slash", "{prefix}abc%2F..%2F..%2Fadmin"),
    ("double-encoded", "{prefix}abc%252F"),
    ("65 characters", "{prefix}" + "a" * 65),
    ("upper-case prefix", "{upper}abc"),
]
PATH_ROUTES = [
    ("POST", "/api/sync/user/{id}", "user_", "org_"),
    ("POST", "/api/sync/organization/{id}", "org_", "user_"),
    ("POST", "/api/sync/organization/{id}/members", "org_", "user_"),
    ("GET", "/api/sync/jobs/{id}", "job_", "org_"),
]


PATH_PARAMETERS = {"user_": "{clerkUserId}", "org_": "{clerkOrgId}", "job_": "{jobId}"}


def _path_case(route: tuple[str, str, str, str], name: str, form: str) -> Case:
    method, template, prefix, other = route
    raw_id = form.format(prefix=prefix, other=other, upper=prefix.upper())
    surface = f"{method} {template.replace('{id}', PATH_PARAMETERS[prefix])}"

    def build(env: Env) -> Request:
        return Request(method, template.replace("{id}", raw_id), header_list(env.bearer()))

    return Case(surface, f"path id: {name}", build, BAD_REQUEST)


def _route_cases() -> list[Case]:
    cases = []
    for method, template in BODY_ROUTES:
        surface = f"{method} {template.replace('{user}', '{clerkUserId}').replace('{org}', '{clerkOrgId}')}"
        surface = surface.replace("job_doesnotexist", "{jobId}")
        for name, content_type, body, expected in BODIES:
            cases.append(Case(surface, name, _with_body(method, template, content_type, body), expected))
    for name, content_type, body, expected in MEMBERSHIP_BODIES:
        cases.append(Case(" ".join(MEMBERSHIP), name, _with_body(*MEMBERSHIP, content_type, body), expected))
    for route in PATH_ROUTES:
        cases += [_path_case(route, name, form) for name, form in BAD_PATH_IDS]
    # Callers who may not: answered before any Clerk call or write.
    not_allowed = Expected(403, "forbidden")
    cases += [
        Case(
            "POST /api/sync/user/{clerkUserId}",
            "not a platform admin",
            lambda env: Request("POST", f"/api/sync/user/{env.admin_id}", header_list(env.bearer())),
            not_allowed,
        ),
        Case(
            "POST /api/sync/organization/{clerkOrgId}",
            "not a member",
            lambda env: Request("POST", "/api/sync/organization/org_notamember", header_list(env.bearer("plain"))),
            not_allowed,
        ),
        Case(
            "POST /api/sync/organization/{clerkOrgId}/members",
            "not an org admin",
            lambda env: Request(
                "POST", f"/api/sync/organization/{env.org_id}/members", header_list(env.bearer("plain"))
            ),
            not_allowed,
        ),
        Case(
            "GET /api/sync/jobs/{jobId}",
            "no such job",
            lambda env: Request("GET", "/api/sync/jobs/job_doesnotexist", header_list(env.bearer())),
            Expected(404, "not_found"),
        ),
        Case(
            "POST /api/sync/user",
            "wrong method",
            lambda env: Request("DELETE", "/api/sync/user", header_list(env.bearer())),
            Expected(404, gateway_message="Not Found"),
        ),
    ]
    return cases + _admin_cases()


# ---- the admin routes (the operator console's) -------------------------------------------------------------

ADMIN_ROUTES = [route for route in ROUTES if route.path.startswith("/api/admin/")]
ADMIN_SAMPLE_PATHS = {
    "{clerkUserId}": "user_abc",
    "{clerkOrgId}": "org_abc",
    "{entity}": "user",
    "{entityId}": "user_abc",
}
# (surface, name, method, path with its query, body): refused before any read; the caller is a platform admin.
ADMIN_BAD: list[tuple[str, str, str, str, bytes | None]] = [
    ("GET /api/admin/find", "no query", "GET", "/api/admin/find", None),
    ("GET /api/admin/find", "empty query", "GET", "/api/admin/find?q=", None),
    ("GET /api/admin/find", "query of 300 characters", "GET", "/api/admin/find?q=" + "a" * 300, None),
    ("GET /api/admin/users/{clerkUserId}", "an organization id", "GET", "/api/admin/users/org_abc", None),
    ("GET /api/admin/users/{clerkUserId}", "encoded slash", "GET", "/api/admin/users/user_a%2F..%2Fb", None),
    ("GET /api/admin/organizations/{clerkOrgId}", "a user id", "GET", "/api/admin/organizations/user_abc", None),
    ("GET /api/admin/history/{entity}/{entityId}", "unknown entity", "GET", "/api/admin/history/job/user_a", None),
    ("GET /api/admin/history/{entity}/{entityId}", "id with markup", "GET", "/api/admin/history/user/%3Cb%3E", None),
    ("GET /api/admin/history/{entity}/{entityId}", "limit 0", "GET", "/api/admin/history/user/user_a?limit=0", None),
    ("GET /api/admin/history/{entity}/{entityId}", "limit text", "GET", "/api/admin/history/user/user_a?limit=x", None),
    (
        "GET /api/admin/history/{entity}/{entityId}",
        "before < 0",
        "GET",
        "/api/admin/history/user/user_a?before=-1",
        None,
    ),
    ("POST /api/admin/dlq/replay", "no body", "POST", "/api/admin/dlq/replay", None),
    ("POST /api/admin/dlq/replay", "empty object", "POST", "/api/admin/dlq/replay", b"{}"),
    (
        "POST /api/admin/dlq/replay",
        "both ids and all",
        "POST",
        "/api/admin/dlq/replay",
        b'{"all": true, "message_ids": ["a"]}',
    ),
    ("POST /api/admin/dlq/replay", "no ids", "POST", "/api/admin/dlq/replay", b'{"message_ids": []}'),
    ("POST /api/admin/dlq/replay", "all false", "POST", "/api/admin/dlq/replay", b'{"all": false}'),
    ("POST /api/admin/dlq/replay", "id with markup", "POST", "/api/admin/dlq/replay", b'{"message_ids": ["<b>"]}'),
    (
        "POST /api/admin/dlq/replay",
        "101 ids",
        "POST",
        "/api/admin/dlq/replay",
        ('{"message_ids": [' + ",".join(['"a"'] * 101) + "]}").encode(),
    ),
    ("POST /api/admin/dlq/replay", "not JSON", "POST", "/api/admin/dlq/replay", b"replay"),
]


def _admin_request(method: str, path: str, body: bytes | None, who: str) -> Callable[[Env], Request]:
    def build(env: Env) -> Request:
        headers = {**env.bearer(who), **({"content-type": "application/json"} if body is not None else {})}
        return Request(method, path, header_list(headers), body or b"")

    return build


def _admin_cases() -> list[Case]:
    cases = []
    for route in ADMIN_ROUTES:
        path = route.path
        for parameter, sample in ADMIN_SAMPLE_PATHS.items():
            path = path.replace(parameter, sample)
        path += "?q=user_abc" if path.endswith("/find") else ""
        body = b'{"all": true}' if route.method == "POST" else None
        surface = f"{route.method} {route.path}"
        # Signed-in users who are no platform admins: one without organizations, one with its active organization.
        for who in ("plain", "valid"):
            cases.append(Case(surface, f"{who} user", _admin_request(route.method, path, body, who), FORBIDDEN))
    for surface, name, method, path, body in ADMIN_BAD:
        cases.append(Case(surface, name, _admin_request(method, path, body, "admin"), BAD_REQUEST))
    return cases


# ---- the authorizer ---------------------------------------------------------------------------------------


def _authorizer_case(name: str, headers: Callable[[Env], dict[str, str | bytes]], expected: Expected) -> Case:
    return Case("authorizer", name, lambda env: Request("GET", "/api/sync/status", header_list(headers(env))), expected)


def _token(name: str) -> Callable[[Env], dict[str, str | bytes]]:
    return lambda env: env.bearer(name)


def _cookie(value: str) -> Callable[[Env], dict[str, str | bytes]]:
    # With caching on (as deployed), API Gateway needs the Authorization header before it calls the authorizer,
    # and caches its verdict under that header alone: each case sends its own. The authorizer then never reads the
    # cookie (docs/decisions/0007), so whatever it holds, the answer is token_missing.
    return lambda env: {"authorization": f"Basic {uuid.uuid4().hex}", "cookie": value.format(**env.tokens)}


TOKEN = Expected(401, code_prefix="token_")
AUTHORIZER_CASES = [
    _authorizer_case("no Authorization header", lambda env: {}, Expected(401, gateway_message="Unauthorized")),
    _authorizer_case(
        "empty Authorization header", lambda env: {"authorization": ""}, Expected(401, gateway_message="Unauthorized")
    ),
    _authorizer_case("Bearer without a token", lambda env: {"authorization": "Bearer"}, Expected(401, "token_missing")),
    _authorizer_case(
        "Basic credentials", lambda env: {"authorization": "Basic Y2xlcms6c3luYw=="}, Expected(401, "token_missing")
    ),
    _authorizer_case(
        "Bearer garbage", lambda env: {"authorization": "Bearer garbage"}, Expected(401, "token_malformed")
    ),
    _authorizer_case(
        "three empty segments", lambda env: {"authorization": "Bearer .."}, Expected(401, "token_malformed")
    ),
    _authorizer_case("two tokens", _token("two"), TOKEN),
    _authorizer_case(
        "10 KB token", lambda env: {"authorization": "Bearer " + "a" * 10_000}, Expected(401, "token_malformed")
    ),
    _authorizer_case("non-ASCII token", lambda env: {"authorization": "Bearer tök.én.✓".encode()}, TOKEN),
    _authorizer_case("alg none", _token("alg_none"), Expected(401, "token_algorithm")),
    _authorizer_case("HS256 keyed with the public PEM", _token("hs256"), Expected(401, "token_algorithm")),
    _authorizer_case("RS256 with another key", _token("wrong_key"), Expected(401, "token_signature")),
    _authorizer_case("payload swapped under a valid signature", _token("tampered"), Expected(401, "token_signature")),
    _authorizer_case("expired", _token("expired"), Expected(401, "token_expired")),
    _authorizer_case("not valid yet", _token("not_yet"), Expected(401, "token_not_yet_valid")),
    _authorizer_case("another issuer", _token("wrong_iss"), Expected(401, "token_issuer")),
    _authorizer_case("another authorized party", _token("wrong_azp"), Expected(401, "token_authorized_party")),
    _authorizer_case("no authorized party", _token("no_azp"), Expected(401, "token_authorized_party")),
    _authorizer_case("no subject", _token("no_sub"), TOKEN),
    _authorizer_case("subject not a user id", _token("sub_org"), TOKEN),
    _authorizer_case("exp a string", _token("exp_string"), TOKEN),
    _authorizer_case("garbage __session cookie", _cookie("__session=garbage"), Expected(401, "token_missing")),
    _authorizer_case("empty __session cookie", _cookie("__session="), Expected(401, "token_missing")),
    _authorizer_case(
        "200 junk cookies", _cookie("; ".join(f"c{i}=x" for i in range(200))), Expected(401, "token_missing")
    ),
    # A valid session in the cookie behind a Basic header: served from the cache to anyone sending that header, it
    # would be a stolen identity (trust point 2).
    _authorizer_case("valid token in the cookie", _cookie("__session={valid}"), Expected(401, "token_missing")),
    _authorizer_case("expired token in the cookie", _cookie("__session={expired}"), Expected(401, "token_missing")),
    _authorizer_case("banned user", _token("banned"), Expected(403, gateway_message="Forbidden")),
    _authorizer_case("deleted user", _token("deleted"), Expected(403, gateway_message="Forbidden")),
]

CASES = [*WEBHOOK_CASES, *_route_cases(), *AUTHORIZER_CASES]


# ---- the environment and the test --------------------------------------------------------------------------


def _mint(stack: Stack, user_id: str, org_id: str | None = None, **claims: Any) -> str:
    body: dict[str, Any] = {"user_id": user_id, "expires_in": 3600, "claims": claims}
    if org_id:
        body["org_id"] = org_id
    response = stack.clerk.post("/tokens", json=body)
    assert response.status_code == 200, response.text
    token: str = response.json()["jwt"]
    return token


def _forged_tokens(stack: Stack, valid: str, admin_id: str) -> dict[str, str]:
    kid = jwt.get_unverified_header(valid)["kid"]
    payload = jwt.decode(valid, options={"verify_signature": False})
    public_pem = stack.clerk.get("/jwt-public-key").text
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    now = int(time.time())
    return {
        "alg_none": forge({"alg": "none", "typ": "JWT", "kid": kid}, payload),
        "hs256": hs256({"alg": "HS256", "typ": "JWT", "kid": kid}, payload, public_pem.encode()),
        "wrong_key": sign_raw(other_pem, kid, payload),
        "tampered": with_payload(valid, {**payload, "sub": admin_id}),
        "two": f"{valid} {valid}",
        "exp_string": sign_raw(other_pem, kid, {**payload, "exp": str(now + 600)}),
    }


@pytest.fixture(scope="module")
def env(stack: Stack) -> Env:
    ready = stack.ready
    assert ready.demo_user_id
    assert ready.demo_org_id
    assert ready.admin_user_id
    assert ready.webhook_secret
    user_id, org_id, admin_id = ready.demo_user_id, ready.demo_org_id, ready.admin_user_id
    plain = stack.clerk.post("/users", json={"first_name": "Plain"}).json()["id"]
    banned = stack.clerk.post("/users", json={"first_name": "Banned"}).json()["id"]
    deleted = stack.clerk.post("/users", json={"first_name": "Deleted"}).json()["id"]
    assert stack.clerk.patch(f"/users/{banned}", json={"banned": True}).status_code == 200
    assert stack.clerk.delete(f"/users/{deleted}").status_code == 200
    stack.converge()
    now = int(time.time())
    valid = _mint(stack, user_id, org_id)
    tokens = {
        "valid": valid,
        "plain": _mint(stack, plain),
        "admin": _mint(stack, admin_id),
        "banned": _mint(stack, banned),
        "deleted": _mint(stack, deleted),
        "expired": _mint(stack, user_id, exp=now - 3600, iat=now - 7200, nbf=now - 7200),
        "not_yet": _mint(stack, user_id, nbf=now + 3600),
        "wrong_iss": _mint(stack, user_id, iss="https://clerk.evil.example"),
        "wrong_azp": _mint(stack, user_id, azp="https://evil.example"),
        "no_azp": _mint(stack, user_id, azp=None),
        "no_sub": _mint(stack, user_id, sub=None),
        "sub_org": _mint(stack, user_id, sub="org_notauser"),
        **_forged_tokens(stack, valid, admin_id),
    }

    def prime() -> None:
        # Logins of fresh users only read: the cases' snapshots then see no login write.
        for name in ("valid", "plain", "admin", "banned"):
            stack.api.get("/api/sync/status", headers={"authorization": f"Bearer {tokens[name]}"})
        stack.converge()

    environment = Env(ready.webhook_secret, user_id, org_id, admin_id, tokens, prime)
    prime()
    environment.primed_at = time.monotonic()
    return environment


@pytest.fixture(scope="module")
def probe(stack: Stack) -> StackProbe:
    return StackProbe(stack.api, stack.store, stack.log)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gets_its_status_writes_nothing_and_logs_one_line(
    case: Case, env: Env, probe: StackProbe, record_property: Callable[[str, object], None]
) -> None:
    record_property(TALLY_PROPERTY, case.surface)
    if time.monotonic() - env.primed_at > REPRIME_AFTER_SECONDS:
        env.prime()
        env.primed_at = time.monotonic()
    outcome = probe.send(case.build(env))
    case.expected.check(outcome.response)
    assert outcome.after == outcome.before, "the table changed"
    assert len(outcome.lines) == 1, outcome.lines
