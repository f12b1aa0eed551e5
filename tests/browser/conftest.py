"""Browser tier: the operator console in headless Chromium (Debian's `chromium`, driven by Playwright's Python
package with `executable_path`; `playwright install` downloads browsers and is never needed), against a real
local stack as the e2e tier starts it.

Without the executable the whole tier is skipped with the reason. CHROMIUM overrides the path.
Screenshots and the overview's load time go to build/console-screenshots/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, running_stack

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "console-screenshots"
SKIP_REASON = (
    f"Chromium not found at {CHROMIUM}; install Debian's chromium (apt-get install chromium) to run the browser tests"
)
# Listens before any page script runs: a CSP violation is an event, not always a console message.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="session")
def console_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("console-stack"), environment={"SYNC_CALLER_LIMIT": "1000"}) as stack:
        yield stack


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in this thread while it is open,
# and tests of other tiers on the same xdist worker call asyncio.run(); pytest tears a module fixture down before
# another module's test runs.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


@dataclass
class Console:
    """One browser tab on the console, with what its page logged."""

    stack: Stack
    page: Any
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions

    @property
    def url(self) -> str:
        return f"{self.stack.ready.api_url}/console"

    def token(self, user_id: str, expires_in: int = 600) -> str:
        response = self.stack.clerk.post("/tokens", json={"user_id": user_id, "expires_in": expires_in})
        assert response.status_code == 200, response.text
        jwt: str = response.json()["jwt"]
        return jwt

    def open(self, user_id: str, route: str = "#/overview") -> None:
        """The console signed in as the user: the token through the fragment, as the banner's URL does it."""
        self.page.goto(f"{self.url}#token={self.token(user_id)}")
        self.page.wait_for_function("() => !location.hash.startsWith('#token=')")
        if route != "#/overview":
            self.page.evaluate("(route) => { location.hash = route; }", route)

    def csp_violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__csp || []")
        return found

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def testid(self, name: str) -> Any:
        return self.page.get_by_test_id(name)


@pytest.fixture
def console(browser: Any, console_stack: Stack) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(CSP_LISTENER)
    opened = Console(console_stack, page)
    page.on("console", lambda message: opened.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: opened.errors.append(f"uncaught: {error}"))
    yield opened
    context.close()


@pytest.fixture(scope="session")
def admin_api(console_stack: Stack) -> None:
    """Skips a test that needs /api/admin/*, while this build has none (a route missing from the gateway is 404)."""
    if console_stack.api.get("/api/admin/overview").status_code == 404:
        pytest.skip("the /api/admin/* routes are not in this build yet")


def write_timing(name: str, value: dict[str, Any]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {}
    timings[name] = value
    path.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n")
