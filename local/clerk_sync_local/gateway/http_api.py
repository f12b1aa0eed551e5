"""A local API Gateway HTTP API (payload 2.0) on 127.0.0.1 that calls the real Lambda handlers.

Routes come from `infra.endpoints.ROUTES`, the table the CDK stack deploys. What API Gateway answers itself:

| condition                                             | status | body                                   |
|-------------------------------------------------------|--------|----------------------------------------|
| body over `max_body_bytes` (10 MB)                    | 413    | {"message":"Request Entity Too Large"} |
| no route for method + path (wrong method included)    | 404    | {"message":"Not Found"}                |
| identity source configured and missing or empty       | 401    | {"message":"Unauthorized"}             |
| authorizer says `isAuthorized: false`                 | 403    | {"message":"Forbidden"}                |
| authorizer or integration raises or answers malformed | 500    | {"message":"Internal Server Error"}    |
| authorizer or integration exceeds the timeout (30 s)  | 503    | {"message":"Service Unavailable"}      |

Otherwise the integration's answer is mapped as payload 2.0 prescribes (see `gateway.events`). Simple
authorizer verdicts are cached per identity-source value for `authorizer_cache_ttl` seconds; as on AWS
(and in the CDK stack), the Authorization header is an identity source only when caching is on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import quote

from starlette.types import Message, Receive, Scope, Send

from clerk_sync_local.gateway.events import (
    IDENTITY_HEADER_PREFIX,
    AuthorizerVerdict,
    GatewayRequest,
    GatewayResponse,
    MalformedResponseError,
    RequestStamp,
    authorizer_event,
    http_event,
    identity_values,
    read_http_response,
    read_simple_authorizer_response,
)
from clerk_sync_local.gateway.invoke import FunctionInvoker, Handler, Invocation
from clerk_sync_local.gateway.route_table import RouteMatch, RouteTable
from clerk_sync_local.servers import HOST, BackgroundServer, HttpService
from infra import endpoints as api_routes

T = TypeVar("T")

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # HTTP API's payload limit
INTEGRATION_TIMEOUT_SECONDS: Final = 30.0  # HTTP API's maximum integration timeout
_CORS_METHODS: Final = "GET,POST"
_CORS_HEADERS: Final = "authorization,content-type"
_CORS_MAX_AGE: Final = "3600"
_CACHE_PRUNE_AT: Final = 1024  # cached verdicts (one per token) before expired ones are dropped

log = logging.getLogger("clerk_sync_local.gateway")

NOT_FOUND: Final = GatewayResponse.message(404, "Not Found")
TOO_LARGE: Final = GatewayResponse.message(413, "Request Entity Too Large")
UNAUTHORIZED: Final = GatewayResponse.message(401, "Unauthorized")
FORBIDDEN: Final = GatewayResponse.message(403, "Forbidden")
INTERNAL_ERROR: Final = GatewayResponse.message(500, "Internal Server Error")
UNAVAILABLE: Final = GatewayResponse.message(503, "Service Unavailable")


class _TooLargeError(Exception):
    pass


class Gateway(HttpService):
    """The HTTP API: route table, Lambda authorizer, limits, and a uvicorn server in a background thread."""

    def __init__(
        self,
        *,
        routes: Sequence[api_routes.Route] = api_routes.ROUTES,
        handler_paths: Mapping[api_routes.FunctionKey, str] = api_routes.HANDLERS,
        handlers: Mapping[api_routes.FunctionKey, Handler] | None = None,
        authorizer_function: api_routes.FunctionKey = api_routes.AUTHORIZER_FUNCTION,
        authorizer_cache_ttl: float = 0.0,
        identity_sources: Sequence[str] | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        max_body_bytes: int = MAX_BODY_BYTES,
        cors_allowed_origins: Sequence[str] = (),
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = RouteTable(routes)
        self.invoker = FunctionInvoker(handler_paths, handlers)
        self._authorizer = authorizer_function
        self._cache_ttl = authorizer_cache_ttl
        # As the CDK stack configures it: the header is the cache key, so it is required only with caching.
        self._identity_sources = tuple(
            api_routes.authorizer_identity_sources(authorizer_cache_ttl > 0)
            if identity_sources is None
            else identity_sources
        )
        for source in self._identity_sources:
            if not source.startswith(IDENTITY_HEADER_PREFIX):
                raise ValueError(f"unsupported identity source {source!r}: only {IDENTITY_HEADER_PREFIX}<name>")
        self._cache: dict[tuple[str, ...], tuple[float, AuthorizerVerdict]] = {}
        self._timeout = integration_timeout
        self._max_body = max_body_bytes
        self._cors_origins = frozenset(cors_allowed_origins)
        self._clock = clock
        self._http = BackgroundServer(self, port=port, name="gateway", thread_name="gateway-http")

    # --- the API Gateway pipeline (no sockets: tests call it directly or through the ASGI app) ---

    async def dispatch(self, request: GatewayRequest) -> GatewayResponse:
        """One request through routing, the authorizer and the integration; every answer names its request id."""
        stamp = RequestStamp()
        response = await self._answer(request, stamp)
        headers = (*response.headers, ("apigw-requestid", stamp.request_id))
        return GatewayResponse(response.status, headers, response.body)

    async def _answer(self, request: GatewayRequest, stamp: RequestStamp) -> GatewayResponse:
        if len(request.body) > self._max_body:
            return TOO_LARGE
        match = self.table.match(request.method, request.raw_path)
        if match is None:
            return NOT_FOUND
        context: dict[str, Any] | None = None
        if match.route.authorized:
            verdict_or_error = await self._authorize(request, match, stamp)
            if isinstance(verdict_or_error, GatewayResponse):
                return verdict_or_error
            if not verdict_or_error.authorized:
                return FORBIDDEN
            context = verdict_or_error.context
        event = http_event(request, match, stamp, context)
        invocation = await self.invoker.invoke(match.route.function, event, self._timeout)
        return self._read(invocation, match.route.function, read_http_response)

    async def _authorize(
        self, request: GatewayRequest, match: RouteMatch, stamp: RequestStamp
    ) -> AuthorizerVerdict | GatewayResponse:
        identity = identity_values(request, self._identity_sources)
        if identity is None:
            return UNAUTHORIZED  # API Gateway refuses before calling the authorizer
        key = tuple(identity)
        if self._cache_ttl > 0:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > self._clock():
                return cached[1]
        event = authorizer_event(request, match, stamp, identity)
        invocation = await self.invoker.invoke(self._authorizer, event, self._timeout)
        verdict = self._read(invocation, self._authorizer, read_simple_authorizer_response)
        if isinstance(verdict, AuthorizerVerdict) and self._cache_ttl > 0:
            now = self._clock()
            if len(self._cache) >= _CACHE_PRUNE_AT:
                self._cache = {k: entry for k, entry in self._cache.items() if entry[0] > now}
            self._cache[key] = (now + self._cache_ttl, verdict)
        return verdict

    def _read(self, invocation: Invocation, function: str, reader: Callable[[Any], T]) -> T | GatewayResponse:
        if invocation.timed_out:
            log.warning("function %s timed out after %.1f s", function, self._timeout)
            return UNAVAILABLE
        if invocation.error is not None:
            error = invocation.error
            log.error("function %s raised", function, exc_info=(type(error), error, error.__traceback__))
            return INTERNAL_ERROR
        try:
            return reader(invocation.result)
        except MalformedResponseError as error:
            log.error("function %s answered malformed: %s", function, error)
            return INTERNAL_ERROR

    def clear_authorizer_cache(self) -> None:
        self._cache.clear()

    # --- CORS, answered by API Gateway itself as the CDK stack configures it ---

    def _preflight(self, request: GatewayRequest) -> GatewayResponse | None:
        origin = request.header("origin")
        if request.method != "OPTIONS" or not origin or not request.header("access-control-request-method"):
            return None
        if origin not in self._cors_origins:
            return GatewayResponse(204)
        headers = (
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", _CORS_METHODS),
            ("access-control-allow-headers", _CORS_HEADERS),
            ("access-control-max-age", _CORS_MAX_AGE),
            ("vary", "origin"),
        )
        return GatewayResponse(204, headers)

    def _with_cors(self, request: GatewayRequest, response: GatewayResponse) -> GatewayResponse:
        origin = request.header("origin")
        answered = any(name == "access-control-allow-origin" for name, _ in response.headers)
        if not origin or origin not in self._cors_origins or answered:
            return response
        extra = (("access-control-allow-origin", origin), ("vary", "origin"))
        return GatewayResponse(response.status, (*response.headers, *extra), response.body)

    # --- ASGI ---

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no lifespan (uvicorn runs with it off) and no websockets
        started = time.perf_counter()
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        raw_path = scope.get("raw_path")
        request = GatewayRequest(
            method=scope["method"],
            raw_path=raw_path.decode("latin-1") if raw_path else quote(scope["path"]),
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            source_ip=(scope.get("client") or (HOST, 0))[0],
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        )
        try:
            body = await self._read_body(request, receive)
        except _TooLargeError:
            response = TOO_LARGE
        else:
            request = GatewayRequest(
                request.method,
                request.raw_path,
                request.raw_query,
                request.headers,
                body,
                request.source_ip,
                request.protocol,
            )
            response = self._preflight(request) or await self.dispatch(request)
        response = self._with_cors(request, response)
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info(
            "%s %s → %d (%.0f ms)",
            request.method,
            request.raw_path,
            response.status,
            elapsed_ms,
            extra={"status": response.status, "duration_ms": round(elapsed_ms, 1)},
        )

    async def _read_body(self, request: GatewayRequest, receive: Receive) -> bytes:
        declared = request.header("content-length")
        if declared and declared.strip().isdigit() and int(declared) > self._max_body:
            raise _TooLargeError
        chunks: list[bytes] = []
        size = 0
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise _TooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @property
    def webhook_url(self) -> str:
        return f"{self.url}{api_routes.WEBHOOK_PATH}"
