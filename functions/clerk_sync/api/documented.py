"""The error answers a route documents in the OpenAPI document (shared by the sync and admin routes)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from clerk_sync.api.schemas import ErrorBody


def documented(*statuses: int) -> dict[int, OpenAPIResponse]:
    error = {"application/json": {"model": ErrorBody}}
    described = {
        400: "malformed body or id",
        401: "no valid session token",
        403: "not allowed for this caller",
        404: "not in Clerk",
        413: "body over 16 KiB",
        415: "body that is not JSON",
        429: "this caller synced too often, or Clerk is rate limiting (see Retry-After)",
        503: "Clerk or storage unavailable (see Retry-After)",
    }
    # Every route refuses a body it cannot read as JSON (api/bodies.py: 400, 413, 415), whether or not it takes one.
    always = (400, 401, 413, 415, 503)
    return {status: {"description": described[status], "content": error} for status in (*always, *statuses)}  # type: ignore[typeddict-item]
