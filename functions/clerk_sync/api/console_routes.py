"""The operator console's shell: GET /console and GET /console/<asset>, static files that hold no data.

A browser navigation cannot send a bearer token, so the shell is served without the authorizer and without the
caller middleware; every byte of data comes from /api/admin/* behind both (docs/decisions/0030). The files ship in
the function package (clerk_sync/console/) and are read per request from an allow-list; any other name is a 404.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from clerk_sync.vocabulary import error_body

CONSOLE_PATH: Final = "/console"  # as infra/endpoints.py routes it
_ASSETS_DIR: Final = Path(__file__).resolve().parent.parent / "console"
_INDEX: Final = "index.html"
# The only files served, with their content types: no directory listing, no path from the request.
ASSETS: Final = {
    _INDEX: "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
# Nothing external, no inline script or style: an injected tag cannot run or load anything.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # A deploy takes effect on the next load; the files are a few KiB.
    "Cache-Control": "no-store",
}

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves Router.__init__ unannotated


def is_console_path(path: str) -> bool:
    """The shell's paths, which the caller middleware lets through (they carry no data)."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def _file(name: str) -> Response[str]:
    content_type = ASSETS.get(name)
    if content_type is None:
        return Response(
            status_code=404,
            content_type="application/json",
            body=json.dumps(error_body("not_found", "no such console file")),
            headers=SECURITY_HEADERS,
        )
    body = (_ASSETS_DIR / name).read_text(encoding="utf-8")
    return Response(status_code=200, content_type=content_type, body=body, headers=SECURITY_HEADERS)


@router.get(CONSOLE_PATH, include_in_schema=False)
def console_index() -> Response[str]:
    return _file(_INDEX)


@router.get(CONSOLE_PATH + "/<asset>", include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    return _file(asset)
