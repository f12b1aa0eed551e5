"""The /api/sync/* routes (Powertools event handler): check the caller, call one SyncService function, answer.

Every route sits behind the session authorizer; a global middleware turns an unauthenticated caller into
its 401/503 before any route code runs. Errors answer `{"error": {"code", "message"}}` (api/errors.py).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from clerk_sync import keys
from clerk_sync.api import permissions
from clerk_sync.api.caller import Caller
from clerk_sync.api.errors import ApiError, from_exception
from clerk_sync.api.schemas import (
    JOB_ID_PATTERN,
    ORG_ID_PATTERN,
    USER_ID_PATTERN,
    ErrorBody,
    MembershipStatus,
    MembershipSyncRequest,
    MembersSyncResult,
    SyncStatus,
    UserSyncResult,
)
from clerk_sync.items import from_dynamo_value
from clerk_sync.jobs import Job
from clerk_sync.observability import count, logger
from clerk_sync.reports import SyncReport
from clerk_sync.sync.service import SyncService
from clerk_sync.sync.walks import StartedSync
from clerk_sync.vocabulary import SyncSource
from clerk_sync.wiring import access_settings, sync_service

app = APIGatewayHttpResolver(enable_validation=True, response_validation_error_http_code=500)

_INTERNAL_FIELDS = frozenset({keys.PK, keys.SK, keys.GSI1_PK, keys.GSI1_SK, "content_hash", "entity"})


def _error_response(error: ApiError) -> Response[dict[str, Any]]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error.body(),
        headers=error.headers(),
    )


def _documented(*statuses: int) -> dict[int, OpenAPIResponse]:
    error = {"application/json": {"model": ErrorBody}}
    described = {
        400: "malformed body or id",
        401: "no valid session token",
        403: "not allowed for this caller",
        404: "not in Clerk",
        429: "Clerk is rate limiting (see Retry-After)",
        503: "Clerk or storage unavailable (see Retry-After)",
    }
    return {status: {"description": described[status], "content": error} for status in (401, 503, *statuses)}  # type: ignore[typeddict-item]


def caller() -> Caller:
    """The authenticated caller of this request (set by the middleware)."""
    found: Caller = app.context["caller"]
    return found


def _service() -> SyncService:
    return sync_service()


def _deadline(service: SyncService) -> float:
    return service.deadline_in(access_settings().api_sync_budget_seconds)


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
    responses=_documented(),
)
def sync_caller() -> Response[UserSyncResult]:
    service = _service()
    user_id = caller().userId
    return _user_sync(service.start_full_user_sync(user_id, user_id, deadline=_deadline(service)))


@app.post(
    "/api/sync/user/full", summary="Full sync of the caller (same as POST /api/sync/user)", responses=_documented()
)
def sync_caller_full() -> Response[UserSyncResult]:
    return sync_caller()


@app.post(
    "/api/sync/user/organizations",
    summary="The caller's organizations and memberships (removes those Clerk no longer lists); 202 with a job "
    "beyond one page",
    responses=_documented(),
)
def sync_caller_organizations() -> Response[UserSyncResult]:
    service = _service()
    user_id = caller().userId
    return _user_sync(service.start_user_organizations_sync(user_id, user_id, deadline=_deadline(service)))


@app.post(
    "/api/sync/user/<clerkUserId>",
    summary="Full sync of any user (platform admins); 202 with a job beyond one page",
    responses=_documented(400, 403, 404),
)
def sync_any_user(clerkUserId: Annotated[str, Path(pattern=USER_ID_PATTERN)]) -> Response[UserSyncResult]:  # noqa: N803
    current = caller()
    permissions.require_platform_admin(current)
    service = _service()
    started = service.start_full_user_sync(clerkUserId, current.userId, deadline=_deadline(service))
    return _user_sync(started, not_found=True)


# ---- organizations and memberships ---------------------------------------------------------------------


@app.post(
    "/api/sync/organization/<clerkOrgId>",
    summary="Sync one organization (its members and platform admins)",
    responses=_documented(400, 403, 404),
)
def sync_organization(clerkOrgId: Annotated[str, Path(pattern=ORG_ID_PATTERN)]) -> SyncReport:  # noqa: N803
    service = _service()
    permissions.require_member(caller(), clerkOrgId, service)
    return _found(service.sync_organization(clerkOrgId, deadline=_deadline(service)), "organization")


@app.post(
    "/api/sync/organization/<clerkOrgId>/members",
    summary="Sync all members of an organization (its admins and platform admins); 202 with a job beyond one page",
    responses=_documented(400, 403, 404),
)
def sync_organization_members(
    clerkOrgId: Annotated[str, Path(pattern=ORG_ID_PATTERN)],  # noqa: N803
) -> Response[MembersSyncResult]:
    service = _service()
    current = caller()
    permissions.require_org_admin(current, clerkOrgId, service)
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
    responses=_documented(400, 403, 404),
)
def sync_membership(request: MembershipSyncRequest) -> SyncReport:
    service = _service()
    permissions.require_self_or_org_admin(caller(), request.clerkOrgId, request.clerkUserId, service)
    report = service.sync_membership(request.clerkOrgId, request.clerkUserId, request.role, deadline=_deadline(service))
    return _counted(report)


# ---- status and jobs -----------------------------------------------------------------------------------


def _view(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = from_dynamo_value({k: v for k, v in item.items() if k not in _INTERNAL_FIELDS})
    return plain


@app.get(
    "/api/sync/status",
    summary="The caller's record, organizations, memberships and pending jobs",
    responses=_documented(),
)
def sync_status() -> SyncStatus:
    service = _service()
    user_id = caller().userId
    found = service.caller_records(user_id)
    user = found.user
    return SyncStatus(
        user_id=user_id,
        user=_view(user) if user else None,
        stale=user is None or not service.is_fresh(user),
        provisional=bool(user and user.get("provisional")),
        memberships=[
            MembershipStatus(
                org_id=str(m["org_id"]),
                role=m.get("role"),
                stale=not service.is_fresh(m),
                provisional=bool(m.get("provisional")),
                membership=_view(m),
                organization=_view(org) if (org := found.organizations.get(str(m["org_id"]))) else None,
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


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _bad_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    problems = error.errors()
    if any(problem.get("type") == "json_invalid" for problem in problems):
        return _error_response(ApiError(400, "bad_request", "the body is not valid JSON"))
    # Field locations only: echoing input could repeat whatever a client sent.
    places = sorted({".".join(str(part) for part in p.get("loc", ()) if part != "body") or "body" for p in problems})
    return _error_response(ApiError(400, "bad_request", f"invalid request: {', '.join(places)[:300]}"))


@app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
def _not_utf8(_: UnicodeDecodeError) -> Response[dict[str, Any]]:
    # API Gateway base64-encodes a body that is not UTF-8; the resolver cannot read it as JSON.
    return _error_response(ApiError(400, "bad_request", "the body is not UTF-8 JSON"))


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
            "a Clerk session token (Authorization: Bearer, or the __session cookie); errors answer "
            '{"error": {"code", "message"}}.'
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
