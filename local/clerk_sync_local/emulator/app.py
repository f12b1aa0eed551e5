"""The emulator's HTTP surface: Backend API subset (`/v1`), JWKS, and admin routes (`/_emulator`).

`BackendGate` wraps the app: for `/v1` only it counts the request, applies the fault knobs, and checks
the secret key, before the route handler runs. Admin routes are never faulted nor authenticated.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .seed import SeedRequest
from .state import MembershipCreate, OrganizationCreate, UserCreate
from .tokens import DEFAULT_LIFETIME_S

if TYPE_CHECKING:
    from .server import ClerkEmulator

Handler = Callable[[Request], Awaitable[Response]]

# (method, path as in backend-api.yml without the /v1 server prefix): read by the coverage generator.
IMPLEMENTED_BACKEND_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/users"),
    ("GET", "/users/count"),
    ("GET", "/users/{user_id}"),
    ("GET", "/users/{user_id}/organization_memberships"),
    ("GET", "/organizations"),
    ("GET", "/organizations/{organization_id}"),
    ("GET", "/organizations/{organization_id}/memberships"),
    ("GET", "/organization_memberships"),
    ("GET", "/jwks"),
    ("GET", "/instance"),
)

MAX_LIMIT = 500


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = None
    secret: str | None = None
    extra_secrets: list[str] = Field(default_factory=list)


class FlushRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(default=10.0, gt=0, le=300)


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str
    org_id: str | None = None
    expires_in: int = Field(default=DEFAULT_LIFETIME_S, ge=1)
    session_id: str | None = None
    version: Literal[1, 2] = 2
    claims: dict[str, Any] = Field(default_factory=dict)  # extra or overriding claims


class ConnectionDropped(Exception):  # noqa: N818 - it is an event, not an error the caller handles
    """Raised after starting a response so the server cuts the connection (outage_mode="drop")."""


# --- parameters ---


def _int_param(request: Request, name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_param(name, f"{name} must be an integer", "form_param_format_invalid") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise errors.invalid_param(name, f"{name} must be {bounds}")
    return value


def _optional_int(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    return None if raw is None or raw == "" else _int_param(request, name, 0, 0)


def _paging(request: Request) -> tuple[int, int]:
    """Clerk's `limit` (1..500, default 10) and `offset` (>= 0, default 0)."""
    return _int_param(request, "limit", 10, 1, MAX_LIMIT), _int_param(request, "offset", 0, 0)


def _many(request: Request, name: str) -> list[str]:
    return [v for v in request.query_params.getlist(name) if v]


def _order_by(request: Request, default: str = "-created_at") -> str:
    # Clerk keeps only the first order_by when several are given.
    values = request.query_params.getlist("order_by")
    return values[0] if values and values[0] else default


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        raise errors.UnprocessableError(
            "invalid JSON", "The request body is not valid JSON", "request_body_invalid"
        ) from None
    if not isinstance(body, dict):
        raise errors.UnprocessableError(
            "invalid JSON", "The request body must be a JSON object", "request_body_invalid"
        )
    return body


def _validation_error(exc: ValidationError) -> errors.UnprocessableError:
    first = exc.errors()[0]
    name = ".".join(str(p) for p in first["loc"]) or "body"
    return errors.invalid_param(name, f"{name}: {first['msg']}")


# --- Backend API handlers ---


def backend_routes(emulator: ClerkEmulator) -> list[BaseRoute]:
    state = emulator.state

    async def list_users(request: Request) -> Response:
        limit, offset = _paging(request)
        users = state.list_users(
            limit=limit,
            offset=offset,
            order_by=_order_by(request),
            user_ids=_many(request, "user_id"),
            emails=_many(request, "email_address"),
            usernames=_many(request, "username"),
            external_ids=_many(request, "external_id"),
            organization_ids=_many(request, "organization_id"),
            created_after=_optional_int(request, "created_at_after"),
            created_before=_optional_int(request, "created_at_before"),
        )
        return JSONResponse(users)

    async def count_users(request: Request) -> Response:
        total = state.count_users(
            user_ids=_many(request, "user_id"),
            emails=_many(request, "email_address"),
            usernames=_many(request, "username"),
            external_ids=_many(request, "external_id"),
            organization_ids=_many(request, "organization_id"),
            created_after=_optional_int(request, "created_at_after"),
            created_before=_optional_int(request, "created_at_before"),
        )
        return JSONResponse({"object": "total_count", "total_count": total})

    async def get_user(request: Request) -> Response:
        return JSONResponse(state.get_user(request.path_params["user_id"]))

    async def user_memberships(request: Request) -> Response:
        limit, offset = _paging(request)
        data, total = state.list_user_memberships(request.path_params["user_id"], limit=limit, offset=offset)
        return JSONResponse({"data": data, "total_count": total})

    async def list_organizations(request: Request) -> Response:
        limit, offset = _paging(request)
        data, total = state.list_organizations(
            limit=limit,
            offset=offset,
            order_by=_order_by(request),
            query=request.query_params.get("query"),
            organization_ids=_many(request, "organization_id"),
            user_ids=_many(request, "user_id"),
        )
        return JSONResponse({"data": data, "total_count": total})

    async def get_organization(request: Request) -> Response:
        return JSONResponse(state.get_organization(request.path_params["organization_id"]))

    async def organization_memberships(request: Request) -> Response:
        limit, offset = _paging(request)
        data, total = state.list_organization_memberships(
            request.path_params["organization_id"],
            limit=limit,
            offset=offset,
            order_by=_order_by(request),
            user_ids=_many(request, "user_id"),
            roles=_many(request, "role"),
        )
        return JSONResponse({"data": data, "total_count": total})

    async def all_memberships(request: Request) -> Response:
        limit, offset = _paging(request)
        data, total = state.list_all_memberships(limit=limit, offset=offset, order_by=_order_by(request))
        return JSONResponse({"data": data, "total_count": total})

    async def jwks(request: Request) -> Response:
        return JSONResponse(emulator.jwks)

    async def instance(request: Request) -> Response:
        return JSONResponse(emulator.instance)

    handlers: dict[str, Handler] = {
        "/users": list_users,
        "/users/count": count_users,
        "/users/{user_id}": get_user,
        "/users/{user_id}/organization_memberships": user_memberships,
        "/organizations": list_organizations,
        "/organizations/{organization_id}": get_organization,
        "/organizations/{organization_id}/memberships": organization_memberships,
        "/organization_memberships": all_memberships,
        "/jwks": jwks,
        "/instance": instance,
    }
    return [Route(f"/v1{path}", handlers[path], methods=[method]) for method, path in IMPLEMENTED_BACKEND_ROUTES]


# --- admin handlers ---


def admin_routes(emulator: ClerkEmulator) -> list[BaseRoute]:
    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True, "url": emulator.url})

    async def reset(request: Request) -> Response:
        emulator.reset()
        return JSONResponse({"ok": True})

    async def seed(request: Request) -> Response:
        spec = SeedRequest.model_validate(await _body(request))
        return JSONResponse(emulator.seed_data(**spec.model_dump()))

    async def snapshot(request: Request) -> Response:
        return JSONResponse(emulator.state_snapshot())

    async def create_user(request: Request) -> Response:
        spec = UserCreate.model_validate(await _body(request))
        return JSONResponse(emulator.create_user(**spec.model_dump()))

    async def update_user(request: Request) -> Response:
        return JSONResponse(emulator.update_user(request.path_params["user_id"], **await _body(request)))

    async def delete_user(request: Request) -> Response:
        return JSONResponse(emulator.delete_user(request.path_params["user_id"]))

    async def create_org(request: Request) -> Response:
        spec = OrganizationCreate.model_validate(await _body(request))
        return JSONResponse(emulator.create_organization(**spec.model_dump()))

    async def update_org(request: Request) -> Response:
        return JSONResponse(emulator.update_organization(request.path_params["org_id"], **await _body(request)))

    async def delete_org(request: Request) -> Response:
        return JSONResponse(emulator.delete_organization(request.path_params["org_id"]))

    async def add_member(request: Request) -> Response:
        spec = MembershipCreate.model_validate(await _body(request))
        return JSONResponse(emulator.add_membership(request.path_params["org_id"], **spec.model_dump()))

    async def update_member(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(emulator.update_membership(params["org_id"], params["user_id"], **await _body(request)))

    async def remove_member(request: Request) -> Response:
        params = request.path_params
        return JSONResponse(emulator.remove_membership(params["org_id"], params["user_id"]))

    async def get_knobs(request: Request) -> Response:
        return JSONResponse(emulator.knobs.model_dump())

    async def put_knobs(request: Request) -> Response:
        return JSONResponse(emulator.set_knobs(**await _body(request)).model_dump())

    async def get_webhook(request: Request) -> Response:
        dispatcher = emulator.webhooks
        return JSONResponse(
            {"url": dispatcher.url, "secret": dispatcher.secret, "extra_secrets": dispatcher.extra_secrets}
        )

    async def put_webhook(request: Request) -> Response:
        spec = WebhookTarget.model_validate(await _body(request))
        emulator.set_webhook(spec.url, secret=spec.secret, extra_secrets=spec.extra_secrets)
        return await get_webhook(request)

    async def events(request: Request) -> Response:
        return JSONResponse(emulator.events)

    async def deliveries(request: Request) -> Response:
        return JSONResponse(emulator.deliveries)

    async def flush(request: Request) -> Response:
        timeout = FlushRequest.model_validate(await _body(request)).timeout
        idle = emulator.webhooks.idle() or await asyncio.to_thread(emulator.webhooks.wait_idle, timeout)
        return JSONResponse({"idle": idle}, status_code=200 if idle else 504)

    async def stats(request: Request) -> Response:
        return JSONResponse(emulator.stats)

    async def reset_stats(request: Request) -> Response:
        emulator.reset_stats()
        return JSONResponse(emulator.stats)

    async def mint_token(request: Request) -> Response:
        spec = TokenRequest.model_validate(await _body(request))
        token = emulator.mint_token(
            spec.user_id,
            spec.org_id,
            expires_in=spec.expires_in,
            session_id=spec.session_id,
            version=spec.version,
            **spec.claims,
        )
        return JSONResponse({"jwt": token})

    async def public_key(request: Request) -> Response:
        return PlainTextResponse(emulator.public_key_pem, media_type="application/x-pem-file")

    async def well_known_jwks(request: Request) -> Response:
        return JSONResponse(emulator.jwks)

    a = "/_emulator"
    return [
        Route("/.well-known/jwks.json", well_known_jwks, methods=["GET"]),
        Route(f"{a}/health", health, methods=["GET"]),
        Route(f"{a}/reset", reset, methods=["POST"]),
        Route(f"{a}/seed", seed, methods=["POST"]),
        Route(f"{a}/state", snapshot, methods=["GET"]),
        Route(f"{a}/users", create_user, methods=["POST"]),
        Route(f"{a}/users/{{user_id}}", update_user, methods=["PATCH"]),
        Route(f"{a}/users/{{user_id}}", delete_user, methods=["DELETE"]),
        Route(f"{a}/organizations", create_org, methods=["POST"]),
        Route(f"{a}/organizations/{{org_id}}", update_org, methods=["PATCH"]),
        Route(f"{a}/organizations/{{org_id}}", delete_org, methods=["DELETE"]),
        Route(f"{a}/organizations/{{org_id}}/memberships", add_member, methods=["POST"]),
        Route(f"{a}/organizations/{{org_id}}/memberships/{{user_id}}", update_member, methods=["PATCH"]),
        Route(f"{a}/organizations/{{org_id}}/memberships/{{user_id}}", remove_member, methods=["DELETE"]),
        Route(f"{a}/knobs", get_knobs, methods=["GET"]),
        Route(f"{a}/knobs", put_knobs, methods=["PUT"]),
        Route(f"{a}/webhook", get_webhook, methods=["GET"]),
        Route(f"{a}/webhook", put_webhook, methods=["PUT"]),
        Route(f"{a}/events", events, methods=["GET"]),
        Route(f"{a}/deliveries", deliveries, methods=["GET"]),
        Route(f"{a}/flush", flush, methods=["POST"]),
        Route(f"{a}/stats", stats, methods=["GET"]),
        Route(f"{a}/stats", reset_stats, methods=["DELETE"]),
        Route(f"{a}/tokens", mint_token, methods=["POST"]),
        Route(f"{a}/jwt-public-key", public_key, methods=["GET"]),
    ]


# --- error mapping (the one place errors become HTTP) ---


async def _emulator_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.EmulatorError)
    return errors.error_response(exc)


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    return errors.error_response(_validation_error(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return errors.error_response(errors.method_not_allowed())
    return errors.error_response(errors.resource_not_found())


class BackendGate:
    """ASGI middleware for `/v1`: stats, outage, latency, authentication, rate limit, injected errors."""

    def __init__(self, app: ASGIApp, emulator: ClerkEmulator, routes: list[BaseRoute]) -> None:
        self.app = app
        self.emulator = emulator
        self.routes = routes

    def _template(self, scope: Scope) -> str:
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL and isinstance(route, Route):
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} (unmatched)"

    def _authenticate(self, scope: Scope) -> errors.EmulatorError | None:
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return errors.missing_authentication()
        if not hmac.compare_digest(token.strip().encode(), self.emulator.secret_key.encode()):
            return errors.invalid_secret_key()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1"):
            await self.app(scope, receive, send)
            return
        route = self._template(scope)
        stats = self.emulator.request_stats
        recorded = False

        async def recording_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start" and not recorded:
                # Counted before the response leaves, so a client that has its answer sees the count.
                stats.record(route, str(message["status"]))
                recorded = True
            await send(message)

        faults = self.emulator.faults
        try:
            verdict = faults.before_auth()
            if verdict.drop:
                stats.record(route, "dropped")
                recorded = True
                # Promise a body, then die: the client sees the connection cut mid-response.
                await send({"type": "http.response.start", "status": 503, "headers": [(b"content-length", b"1024")]})
                raise ConnectionDropped(route)
            if verdict.error is None and verdict.latency_s:
                await asyncio.sleep(verdict.latency_s)
            error = verdict.error or self._authenticate(scope) or faults.after_auth()
            if error is not None:
                await errors.error_response(error)(scope, receive, recording_send)
            else:
                await self.app(scope, receive, recording_send)
        finally:
            if not recorded:
                stats.record(route, "error")


def build_app(emulator: ClerkEmulator) -> ASGIApp:
    """The whole emulator as one ASGI app."""
    backend = backend_routes(emulator)
    app = Starlette(
        routes=[*backend, *admin_routes(emulator)],
        exception_handlers={
            errors.EmulatorError: _emulator_error,
            ValidationError: _validation,
            HTTPException: _http_error,
        },
    )
    return BackendGate(app, emulator, backend)
