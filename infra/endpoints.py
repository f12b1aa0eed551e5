"""The HTTP API surface: functions, handlers and routes, shared by the CDK stack and the local gateway.

Pure data (no aws_cdk import), so the local gateway builds exactly the routes, handlers and authorizer
wiring that AWS gets, and the two cannot drift.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal, NamedTuple

FunctionKey = Literal["webhook", "worker", "sync_api", "authorizer"]
HttpMethod = Literal["GET", "POST"]

# One code asset; each function is one entry point in it.
HANDLERS: Final[MappingProxyType[FunctionKey, str]] = MappingProxyType(
    {
        "webhook": "clerk_sync.handlers.webhook.handler",
        "worker": "clerk_sync.handlers.worker.handler",
        "sync_api": "clerk_sync.handlers.sync_api.handler",
        "authorizer": "clerk_sync.handlers.authorizer.handler",
    }
)

# HTTP API Lambda authorizer, as API Gateway runs it: payload v2, simple {isAuthorized, context}
# responses, cached per Authorization header value (or not cached, and called for every request).
AUTHORIZER_FUNCTION: Final[FunctionKey] = "authorizer"
AUTHORIZER_IDENTITY_SOURCE: Final = "$request.header.Authorization"
AUTHORIZER_RESPONSE_TYPE: Final = "simple"
PAYLOAD_FORMAT_VERSION: Final = "2.0"

WEBHOOK_PATH: Final = "/api/webhooks/clerk"
CONSOLE_PATH: Final = "/console"  # the operator console's shell (clerk_sync/api/console_routes.py)


def authorizer_identity_sources(caching: bool) -> tuple[str, ...]:
    """What API Gateway requires before it calls the authorizer: the header when results are cached, else nothing."""
    # A request without an identity source gets 401 from API Gateway itself; with caching off there is
    # none, so a session cookie alone reaches the authorizer too.
    return (AUTHORIZER_IDENTITY_SOURCE,) if caching else ()


def is_console(path: str) -> bool:
    """A route of the console's static shell (a page for a browser, not an API operation)."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


class Route(NamedTuple):
    method: HttpMethod
    path: str  # API Gateway syntax: `{name}` is one path segment
    function: FunctionKey
    authorized: bool  # behind the Lambda authorizer


ROUTES: Final[tuple[Route, ...]] = (
    # Svix signs the body; the webhook function verifies it, so no authorizer here.
    Route("POST", WEBHOOK_PATH, "webhook", authorized=False),
    Route("POST", "/api/sync/user", "sync_api", authorized=True),
    Route("POST", "/api/sync/user/organizations", "sync_api", authorized=True),
    Route("POST", "/api/sync/user/full", "sync_api", authorized=True),
    Route("POST", "/api/sync/user/{clerkUserId}", "sync_api", authorized=True),
    Route("POST", "/api/sync/organization/{clerkOrgId}", "sync_api", authorized=True),
    Route("POST", "/api/sync/organization/{clerkOrgId}/members", "sync_api", authorized=True),
    Route("POST", "/api/sync/membership", "sync_api", authorized=True),
    Route("GET", "/api/sync/status", "sync_api", authorized=True),
    Route("GET", "/api/sync/jobs/{jobId}", "sync_api", authorized=True),
    # The operator console's reads and the DLQ replay: platform admins only (api/admin_routes.py).
    Route("GET", "/api/admin/overview", "sync_api", authorized=True),
    Route("GET", "/api/admin/find", "sync_api", authorized=True),
    Route("GET", "/api/admin/users/{clerkUserId}", "sync_api", authorized=True),
    Route("GET", "/api/admin/organizations/{clerkOrgId}", "sync_api", authorized=True),
    Route("GET", "/api/admin/history/{entity}/{entityId}", "sync_api", authorized=True),
    Route("GET", "/api/admin/dlq", "sync_api", authorized=True),
    Route("POST", "/api/admin/dlq/replay", "sync_api", authorized=True),
    Route("GET", "/api/admin/jobs", "sync_api", authorized=True),
    # The operator console's static shell: a browser navigation sends no bearer token, and the shell holds no
    # data; what it shows comes from /api/admin/* behind the authorizer (docs/decisions/0030).
    Route("GET", CONSOLE_PATH, "sync_api", authorized=False),
    Route("GET", CONSOLE_PATH + "/{asset}", "sync_api", authorized=False),
)
