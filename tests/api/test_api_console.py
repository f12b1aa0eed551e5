"""The operator console's shell through the gateway: served without a token, from an allow-list of packaged files,
with the contract's CSP and security headers; the data routes it calls stay behind the authorizer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clerk_sync.api.console_routes import ASSETS, CONTENT_SECURITY_POLICY
from infra.endpoints import ROUTES, Route
from tests.api.conftest import Api

CONSOLE_DIR = Path(__file__).resolve().parents[2] / "functions" / "clerk_sync" / "console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def test_console_routes_are_unauthorized_sync_api_routes() -> None:
    assert Route("GET", "/console", "sync_api", authorized=False) in ROUTES
    assert Route("GET", "/console/{asset}", "sync_api", authorized=False) in ROUTES


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/console", "text/html; charset=utf-8", 'data-testid="error-banner"'),
        ("/console/console.js", "text/javascript; charset=utf-8", "createElementNS"),
        ("/console/console.css", "text/css; charset=utf-8", ":root"),
    ],
)
def test_shell_is_served_without_a_token_with_security_headers(
    api: Api, path: str, content_type: str, marker: str
) -> None:
    reply = api.call("GET", path, headers={"content-type": ""})
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.headers["content-security-policy"] == CSP == CONTENT_SECURITY_POLICY
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["cache-control"] == "no-store"
    assert marker in reply.body


@pytest.mark.parametrize("asset", ["other.js", "index.htm", "..%2Fconsole_routes.py", "%2e%2e", "__init__.py"])
def test_a_name_off_the_allow_list_is_a_404_with_the_same_headers(api: Api, asset: str) -> None:
    reply = api.call("GET", f"/console/{asset}")
    assert reply.status == 404
    assert reply.body == {"error": {"code": "not_found", "message": "no such console file"}}
    assert reply.headers["content-security-policy"] == CSP


def test_a_bad_token_does_not_matter_to_the_shell(api: Api) -> None:
    assert api.call("GET", "/console", token="not-a-jwt").status == 200


def test_the_sync_routes_still_need_a_caller(api: Api) -> None:
    assert api.call("GET", "/api/sync/status").status == 401


def test_the_allow_list_is_exactly_the_packaged_files() -> None:
    assert set(ASSETS) == {path.name for path in CONSOLE_DIR.iterdir() if path.is_file()}


def test_the_shell_loads_nothing_external_and_has_no_inline_script_or_style() -> None:
    html = (CONSOLE_DIR / "index.html").read_text()
    assert re.findall(r'(?:src|href)="([^"#]+)"', html) == ["data:,", "/console/console.css", "/console/console.js"]
    assert "<style" not in html
    assert " style=" not in html
    assert re.search(r"<script>", html) is None  # every script has a src: the CSP allows no inline one
    code = (CONSOLE_DIR / "console.js").read_text()
    # Data is drawn with textContent/createElement only; nothing assigns markup.
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function", code)
    assert "http://" not in code.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in code
