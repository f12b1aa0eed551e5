"""The /api/admin/* routes of the operator console (platform admins only): check the caller, call one `Admin`
read (sync/admin.py), answer.

A Powertools Router that api/sync_routes.py includes in its `app`: the same middleware answers an unauthenticated
caller (401/503) before any route code runs, the same handlers shape errors. Every route then refuses anyone but a
platform admin (403), before it reads anything. Imports beyond the route table are deferred to the first admin
request, so the sync routes' cold start does not pay for them (docs/decisions/0029).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from clerk_sync.api import permissions
from clerk_sync.api.admin_schemas import (
    HISTORY_ENTITY_PATTERN,
    HISTORY_ID_PATTERN,
    MAX_QUERY_CHARS,
    DeadLetters,
    FindAnswer,
    HistoryPage,
    JobsAnswer,
    OrganizationPage,
    Overview,
    ReplayAnswer,
    ReplayRequest,
    UserPage,
)
from clerk_sync.api.documented import documented
from clerk_sync.api.errors import ApiError
from clerk_sync.api.schemas import ORG_ID_PATTERN, USER_ID_PATTERN

if TYPE_CHECKING:
    from clerk_sync.sync.admin import Admin

router = Router()  # type: ignore[no-untyped-call]


def _admin() -> Admin:
    """The console's reads, once the caller is known to be a platform admin (the middleware set the caller)."""
    permissions.require_platform_admin(router.context["caller"])
    from clerk_sync.wiring import admin

    return admin()


def _deadline() -> float:
    import time

    from clerk_sync.wiring import access_settings

    return time.monotonic() + access_settings().api_sync_budget_seconds


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no such {what} on record or in its history")


@contextmanager
def _dead_letter_errors() -> Iterator[None]:
    """The DLQ's errors as answers: not configured (DLQ_URL unset), or SQS refusing or out of reach."""
    from clerk_sync.dlq import DeadLetterError
    from clerk_sync.sync.admin import DeadLettersNotConfiguredError

    try:
        yield
    except DeadLettersNotConfiguredError as error:
        raise ApiError(503, "dlq_not_configured", "no dead-letter queue is configured (DLQ_URL)", 60) from error
    except DeadLetterError as error:
        raise ApiError(503, "dlq_unavailable", "the dead-letter queue could not be read; retry later", 5) from error


@router.get(
    "/api/admin/overview",
    summary="Records on file, webhook freshness, DLQ depth, last runs, Clerk budget, outcomes of the last 24 h "
    "(platform admins)",
    responses=documented(403),
)
def overview() -> Overview:
    admin = _admin()
    with _dead_letter_errors():
        return Overview.model_validate(admin.overview(deadline=_deadline()))


@router.get(
    "/api/admin/find",
    summary="Find a user or organization by id, or users by email address (Clerk's exact match) (platform admins)",
    responses=documented(403, 429),
)
def find(q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)]) -> FindAnswer:
    admin = _admin()
    query = q.strip()
    if not query or not (query.startswith(("user_", "org_")) or "@" in query):
        raise ApiError(400, "bad_request", "invalid request: q (a user id, an organization id or an email address)")
    if query.startswith("user_") and not _matches(USER_ID_PATTERN, query):
        raise ApiError(400, "bad_request", "invalid request: q")
    if query.startswith("org_") and not _matches(ORG_ID_PATTERN, query):
        raise ApiError(400, "bad_request", "invalid request: q")
    found = admin.find(query, deadline=_deadline())
    return FindAnswer.model_validate({"query": query, "results": [result.as_dict() for result in found]})


def _matches(pattern: str, value: str) -> bool:
    import re

    return re.fullmatch(pattern, value) is not None


@router.get(
    "/api/admin/users/<clerkUserId>",
    summary="A user as stored, its provenance, memberships and history (platform admins)",
    responses=documented(403, 404),
)
def user_page(clerkUserId: Annotated[str, Path(pattern=USER_ID_PATTERN)]) -> UserPage:  # noqa: N803
    page = _admin().user_page(clerkUserId)
    if page is None:
        raise _not_found("user")
    return UserPage.model_validate(page)


@router.get(
    "/api/admin/organizations/<clerkOrgId>",
    summary="An organization as stored, its provenance, first 200 memberships and history (platform admins)",
    responses=documented(403, 404),
)
def organization_page(clerkOrgId: Annotated[str, Path(pattern=ORG_ID_PATTERN)]) -> OrganizationPage:  # noqa: N803
    page = _admin().organization_page(clerkOrgId)
    if page is None:
        raise _not_found("organization")
    return OrganizationPage.model_validate(page)


@router.get(
    "/api/admin/history/<entity>/<entityId>",
    summary="One page of an entity's history, newest first (membership ids as org_x:user_y) (platform admins)",
    responses=documented(403),
)
def history(
    entity: Annotated[str, Path(pattern=HISTORY_ENTITY_PATTERN)],
    entityId: Annotated[str, Path(pattern=HISTORY_ID_PATTERN)],  # noqa: N803
    before: Annotated[int | None, Query(ge=0, le=10**13)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> HistoryPage:
    admin = _admin()
    expected = {"user": "user_", "organization": "org_"}.get(entity)
    is_membership = ":" in entityId
    if (entity == "membership") != is_membership or (expected and not entityId.startswith(expected)):
        raise ApiError(400, "bad_request", "invalid request: entityId")
    # The history keys a membership as `org/user`; the path carries it as `org:user`.
    entity_id = entityId.replace(":", "/")
    return HistoryPage.model_validate(admin.history(entity, entity_id, before=before, limit=limit))


@router.get(
    "/api/admin/dlq",
    summary="The dead letters (up to 100, oldest first) with the worker's last error; consumes none (platform admins)",
    responses=documented(403),
)
def dead_letters() -> DeadLetters:
    admin = _admin()
    with _dead_letter_errors():
        return DeadLetters.model_validate(admin.dead_letters(deadline=_deadline()))


@router.post(
    "/api/admin/dlq/replay",
    summary="Sends dead letters back to the event queue, then deletes them from the DLQ (platform admins)",
    responses=documented(403),
)
def replay(request: ReplayRequest) -> ReplayAnswer:
    admin = _admin()
    from clerk_sync.observability import logger

    with _dead_letter_errors():
        answer = admin.replay(request.message_ids, deadline=_deadline())
    logger.info("dead letters replayed", extra={"replayed": answer["replayed"], "left": answer["left"]})
    return ReplayAnswer.model_validate(answer)


@router.get(
    "/api/admin/jobs",
    summary="Recent member-sync jobs (newest first, up to 50) and the last backfill and reconcile runs "
    "(platform admins)",
    responses=documented(403),
)
def jobs() -> JobsAnswer:
    return JobsAnswer.model_validate(_admin().jobs())
