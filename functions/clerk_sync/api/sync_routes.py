"""The /api/sync/* routes (Powertools event handler): check the caller, call one SyncService function, answer.

Every route sits behind the session authorizer; a global middleware turns an unauthenticated caller into
its 401/503 before any route code runs. Errors answer `{"error": {"code", "message"}}` (api/errors.py).
"""

from __future__ import annotations

import json
import math
import time
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path

from clerk_sync.api import permissions
from clerk_sync.api.admin_routes import router as admin_router
from clerk_sync.api.admin_schemas import ADMIN_FIELDS
from clerk_sync.api.bodies import JsonBodyResolver
from clerk_sync.api.caller import Caller
from clerk_sync.api.console_routes import is_console_path
from clerk_sync.api.console_routes import router as console_router
from clerk_sync.api.documented import documented as _documented
from clerk_sync.api.errors import ApiError, from_exception
from clerk_sync.api.schemas import (
    JOB_ID_PATTERN,
    ORG_ID_PATTERN,
    USER_ID_PATTERN,
    MembershipStatus,
    MembershipSyncRequest,
    MembersSyncResult,
    SyncStatus,
    UserSyncResult,
)
from clerk_sync.items import client_view
from clerk_sync.jobs import Job
from clerk_sync.observability import count, logger
from clerk_sync.reports import SyncReport
from clerk_sync.sync.service import SyncService
from clerk_sync.sync.walks import StartedSync
from clerk_sync.vocabulary import SyncSource
from clerk_sync.wiring import access_settings, caller_limits, sync_service, webhook_freshness

# Bodies are checked (content type, size, JSON) before routing: api/bodies.py.
app = JsonBodyResolver(enable_validation=True, response_validation_error_http_code=500)


def _error_response(error: ApiError) -> Response[dict[str, Any]]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error.body(),
        headers=error.headers(),
    )


def caller() -> Caller:
    """The authenticated caller of this request (set by the middleware)."""
    found: Caller = app.context["caller"]
    return found


def _service() -> SyncService:
    return sync_service()


def _deadline(service: SyncService) -> float:
    return service.deadline_in(access_settings().api_sync_budget_seconds)


def _spend_sync(current: Caller) -> None:
    """Counts a manual sync against the caller's limit, before any Clerk call; 429 with Retry-After past it."""
    settings = access_settings()
    window_ms = settings.sync_caller_window_seconds * 1000
    decision = caller_limits().take(
        current.userId, time.time_ns() // 1_000_000, limit=settings.sync_caller_limit, window_ms=window_ms
    )
    if not decision.allowed:
        count("SyncLimited")
        retry = max(1, math.ceil(decision.retry_after_ms / 1000))
        raise ApiError(
            429,
            "sync_rate_limited",
            f"a caller may start {settings.sync_caller_limit} sync(s) every {settings.sync_caller_window_seconds} s",
            retry,
        )


def _counted(report: SyncReport) -> SyncReport:
    count("SyncCompleted", Trigger=SyncSource.API.value)
    logger.info(
        "sync done", extra={"summary": report.summary, "clerk_calls": report.clerk_calls, "found": report.found}
    )
    return report


def _found(report: SyncReport, what: str) -> SyncReport:
    if not report.found:
        raise ApiError(404, "not_found", f"Clerk has no such {what}")
    return _counted(report)


def require_caller(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Answers an unauthenticated request (bad token, missing context) before any route code runs."""
    if is_console_path(app.current_event.path):  # the console's static shell: no data, no caller
        return next_middleware(app)
    context = app.current_event.request_context.authorizer.get_lambda
    current = Caller.from_context(context)
    if not current.authenticated:
        status = current.status if current.status in (401, 403, 503) else 401
        retry = 5 if status == 503 else None
        return _error_response(ApiError(status, current.denial or "unauthenticated", current.message, retry))
    app.context["caller"] = current  # cleared by the resolver after each request
    logger.append_keys(user_id=current.userId)
    return next_middleware(app)


app.use(middlewares=[require_caller])
# The operator console's reads (platform admins only): api/admin_routes.py, behind the same middleware.
app.include_router(admin_router)
app.include_router(console_router)


# ---- the caller ------------------------------------------------------------------------------------------


def _user_sync(result: StartedSync, *, not_found: bool = False) -> Response[UserSyncResult]:
    """200 when the inline part finished the sync, else 202 with the job that carries on (`Location`)."""
    report = _found(result.report, "user") if not_found else _counted(result.report)
    status_url = f"/api/sync/jobs/{result.job.job_id}" if result.job else None
    body = UserSyncResult(**report.model_dump(exclude={"summary"}), job=result.job, status_url=status_url)
    return Response(
        status_code=202 if result.job else 200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Location": status_url} if status_url else {},
    )


@app.post(
    "/api/sync/user",
    summary="Full sync of the caller: user, organizations, memberships; 202 with a job beyond one page",
    responses=_documented(429),
)
def sync_caller() -> Response[UserSyncResult]:
    _spend_sync(caller())
    service = _service()
    user_id = caller().userId
    return _user_sync(service.start_full_user_sync(user_id, user_id, deadline=_deadline(service)))


@app.post(
    "/api/sync/user/full", summary="Full sync of the caller (same as POST /api/sync/user)", responses=_documented(429)
)
def sync_caller_full() -> Response[UserSyncResult]:
    return sync_caller()


@app.post(
    "/api/sync/user/organizations",
    summary="The caller's organizations and memberships (removes those Clerk no longer lists); 202 with a job "
    "beyond one page",
    responses=_documented(429),
)
def sync_caller_organizations() -> Response[UserSyncResult]:
    _spend_sync(caller())
    service = _service()
    user_id = caller().userId
    return _user_sync(service.start_user_organizations_sync(user_id, user_id, deadline=_deadline(service)))


@app.post(
    "/api/sync/user/<clerkUserId>",
    summary="Full sync of any user (platform admins); 202 with a job beyond one page",
    responses=_documented(400, 403, 404, 429),
)
def sync_any_user(clerkUserId: Annotated[str, Path(pattern=USER_ID_PATTERN)]) -> Response[UserSyncResult]:  # noqa: N803
    current = caller()
    permissions.require_platform_admin(current)
    _spend_sync(current)
    service = _service()
    started = service.start_full_user_sync(clerkUserId, current.userId, deadline=_deadline(service))
    return _user_sync(started, not_found=True)


# ---- organizations and memberships ---------------------------------------------------------------------


@app.post(
    "/api/sync/organization/<clerkOrgId>",
    summary="Sync one organization (its members and platform admins)",
    responses=_documented(400, 403, 404, 429),
)
def sync_organization(clerkOrgId: Annotated[str, Path(pattern=ORG_ID_PATTERN)]) -> SyncReport:  # noqa: N803
    service = _service()
    permissions.require_member(caller(), clerkOrgId, service)
    _spend_sync(caller())
    return _found(service.sync_organization(clerkOrgId, deadline=_deadline(service)), "organization")


@app.post(
    "/api/sync/organization/<clerkOrgId>/members",
    summary="Sync all members of an organization (its admins and platform admins); 202 with a job beyond one page",
    responses=_documented(400, 403, 404, 429),
)
def sync_organization_members(
    clerkOrgId: Annotated[str, Path(pattern=ORG_ID_PATTERN)],  # noqa: N803
) -> Response[MembersSyncResult]:
    service = _service()
    current = caller()
    permissions.require_org_admin(current, clerkOrgId, service)
    _spend_sync(current)
    result = service.start_members_sync(clerkOrgId, current.userId, deadline=_deadline(service))
    _found(result.report, "organization")
    status_url = f"/api/sync/jobs/{result.job.job_id}" if result.job else None
    body = MembersSyncResult(report=result.report, job=result.job, status_url=status_url)
    headers = {"Location": status_url} if status_url else {}
    return Response(
        status_code=202 if result.job else 200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers=headers,
    )


@app.post(
    "/api/sync/membership",
    summary="Sync one membership (the member, org admins, platform admins); reports a role mismatch with Clerk",
    responses=_documented(400, 403, 404, 429),
)
def sync_membership(request: MembershipSyncRequest) -> SyncReport:
    service = _service()
    permissions.require_self_or_org_admin(caller(), request.clerkOrgId, request.clerkUserId, service)
    _spend_sync(caller())
    report = service.sync_membership(request.clerkOrgId, request.clerkUserId, request.role, deadline=_deadline(service))
    return _counted(report)


# ---- status and jobs -----------------------------------------------------------------------------------


def _seconds_since(at_ms: int) -> int:
    return max(0, (time.time_ns() // 1_000_000 - at_ms) // 1000)


@app.get(
    "/api/sync/status",
    summary="The caller's record, organizations, memberships and pending jobs; when a webhook was last processed",
    responses=_documented(),
)
def sync_status() -> SyncStatus:
    service = _service()
    user_id = caller().userId
    found = service.caller_records(user_id)
    user = found.user
    last_webhook = webhook_freshness().last()
    return SyncStatus(
        last_webhook_at=last_webhook.at if last_webhook else None,
        seconds_since_last_webhook=_seconds_since(last_webhook.at) if last_webhook else None,
        user_id=user_id,
        user=client_view(user) if user else None,
        stale=user is None or not service.is_fresh(user),
        provisional=bool(user and user.get("provisional")),
        memberships=[
            MembershipStatus(
                org_id=str(m["org_id"]),
                role=m.get("role"),
                stale=not service.is_fresh(m),
                provisional=bool(m.get("provisional")),
                membership=client_view(m),
                organization=client_view(org) if (org := found.organizations.get(str(m["org_id"]))) else None,
            )
            for m in found.memberships
        ],
        pending_jobs=[job for job in found.jobs if not job.done],
    )


@app.get(
    "/api/sync/jobs/<jobId>",
    summary="Progress of a membership job (its requester; the organization's admins; platform admins)",
    responses=_documented(400, 403, 404),
)
def job_status(jobId: Annotated[str, Path(pattern=JOB_ID_PATTERN)]) -> Job:  # noqa: N803
    service = _service()
    current = caller()
    job = service.get_job(jobId)
    if job is None:
        raise ApiError(404, "not_found", "no such job")
    if job.requested_by != current.userId:
        if job.org_id is None:  # a user's memberships: its requester and platform admins
            permissions.require_platform_admin(current)
        else:
            permissions.require_org_admin(current, job.org_id, service)
    return job


# ---- errors --------------------------------------------------------------------------------------------


# The names a validation error may report: the request body's fields and the routes' path parameters. Any other
# location part (an unexpected key, a list index) is the client's own input and is never echoed.
_REPORTED_FIELDS = frozenset({*MembershipSyncRequest.model_fields, "clerkUserId", "clerkOrgId", "jobId", *ADMIN_FIELDS})


def _place(location: Any) -> str:
    parts = [part for part in location if part in _REPORTED_FIELDS] if isinstance(location, list | tuple) else []
    return parts[0] if parts else "body"


def _refused(error: ApiError) -> Response[dict[str, Any]]:
    logger.info("request refused", extra={"status": error.status, "code": error.code})
    return _error_response(error)


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _bad_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return _refused(ApiError(400, "bad_request", "the body is not valid JSON"))
    places = sorted({_place(problem.get("loc", ())) for problem in problems})
    return _refused(ApiError(400, "bad_request", f"invalid request: {', '.join(places)}"))


@app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
def _unsupported_type(_: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    # api/bodies.py refuses these before routing; this keeps a 415 (not a 500) should one get through.
    return _refused(ApiError(415, "unsupported_media_type", "send the body as JSON (application/json)"))


@app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
def _not_utf8(_: UnicodeDecodeError) -> Response[dict[str, Any]]:
    # API Gateway base64-encodes a body that is not UTF-8; the resolver cannot read it as JSON.
    return _refused(ApiError(400, "bad_request", "the body is not UTF-8 JSON"))


@app.not_found
def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
    return _error_response(ApiError(404, "no_route", "no such route"))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _failed(error: Exception) -> Response[dict[str, Any]]:
    mapped = from_exception(error)
    if mapped is None:
        logger.exception("request failed")
        mapped = ApiError(500, "internal_error", "clerk-sync failed to handle this request")
    elif mapped.status >= 500:
        logger.warning("request failed", extra={"code": mapped.code, "error": type(error).__name__})
    else:
        logger.info("request refused", extra={"status": mapped.status, "code": mapped.code})
    if mapped.status >= 500 or mapped.status == 429:
        count("SyncFailed", Trigger=SyncSource.API.value)
    return _error_response(mapped)


def openapi_document() -> str:
    """The OpenAPI 3.1 document of the sync routes, as checked in at docs/openapi.json."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    document = app.get_openapi_json_schema(
        title="clerk-sync sync API",
        version="1",
        description=(
            "Manual sync of Clerk users, organizations and memberships into clerk-sync's table. Every route needs "
            "a Clerk session token (Authorization: Bearer; the __session cookie only where the authorizer cache is "
            'off); errors answer {"error": {"code", "message"}}.'
        ),
        security_schemes={"clerkSession": HTTPBearer(bearerFormat="JWT", description="Clerk session token")},
        security=[{"clerkSession": []}],
    )
    parsed = json.loads(document)
    for item in parsed["paths"].values():
        for operation in item.values():
            # Validation failures answer 400 (see _bad_request), not the resolver's default 422.
            operation["responses"].pop("422", None)
    return json.dumps(parsed, indent=2, sort_keys=True)
