"""Request bodies of the sync API: what is read as JSON, and the 4xx for a body that cannot be.

The routes take JSON only. `application/json` (any case, `+json` types too) and `text/plain` (what a browser's
fetch sends for a string body without a content type) are read as JSON; an absent content type is too. Any
other type with a body is a 415. A body over `MAX_API_BODY_BYTES` is a 413; one that is not UTF-8, not JSON,
nests deeper than MAX_JSON_DEPTH or holds a lone surrogate is a 400. All of this happens before routing and
validation, where Powertools would otherwise raise (RecursionError, unsupported content type) into a 500
(docs/decisions/0015). Messages name the problem, never the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from clerk_sync import jsondata
from clerk_sync.observability import child_logger
from clerk_sync.vocabulary import error_body

logger = child_logger()

# The largest body the sync API reads: its one request body (POST /api/sync/membership) is under 300 bytes.
MAX_API_BODY_BYTES: Final = 16 * 1024
_JSON: Final = "application/json"


def media_type(content_type: str | None) -> str:
    """`Text/Plain; charset=UTF-8` → `text/plain`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def reads_as_json(media: str) -> bool:
    return media in ("", _JSON, "text/plain") or (media.startswith("application/") and media.endswith("+json"))


def _refusal(status: int, code: str, message: str) -> dict[str, Any]:
    logger.info("request refused", extra={"status": status, "code": code})
    return {
        "statusCode": status,
        "headers": {"Content-Type": _JSON},
        "body": json.dumps(error_body(code, message)),
        "isBase64Encoded": False,
    }


def _raw_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if not isinstance(body, str):
        raise ValueError("body is not a string")
    return base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()


def checked(event: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any] | None]:
    """The event to route (its JSON content type normalised), or the answer that refuses its body."""
    try:
        raw = _raw_body(event)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return event, _refusal(400, "bad_request", "the body is not valid base64")
    if not raw:
        return event, None
    if len(raw) > MAX_API_BODY_BYTES:
        return event, _refusal(413, "payload_too_large", f"the body exceeds {MAX_API_BODY_BYTES} bytes")
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    media = media_type(headers.get("content-type"))
    if not reads_as_json(media):
        return event, _refusal(415, "unsupported_media_type", "send the body as JSON (application/json)")
    try:
        jsondata.loads(raw)
    except jsondata.InvalidJsonError as error:
        return event, _refusal(400, "bad_request", error.message)
    # Powertools parses application/json only; text/plain and +json bodies are JSON too.
    return {**event, "headers": {**headers, "content-type": _JSON}}, None


class JsonBodyResolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver with the sync API's body rules applied before anything else."""

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        routed, refused = checked(event)
        if refused is not None:
            return refused
        return super().resolve(routed, context)
