"""Every console page drawn from answers shaped as the contract gives them (docs/decisions/0030): the shell is the
local stack's, /api/* is answered by the browser's request interception. This holds the pages' drawing to the
contract on its own; test_console.py runs the same pages against the real admin API."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.browser.conftest import Console, write_timing

NOW = int(time.time() * 1000)
HOUR = 3_600_000
XSS = "<img src=x onerror=window.__xss=1>"
EMPTY_HISTORY = {"entries": [], "counts": {"stale": 0, "duplicate": 0}, "next_before": None, "enabled": True}


def _hours() -> list[dict[str, Any]]:
    hours = []
    for back in range(23, -1, -1):
        at = time.gmtime((NOW - back * HOUR) / 1000)
        hours.append({"hour": time.strftime("%Y-%m-%dT%H", at), "applied": back % 5, "stale": back % 2, "duplicate": 0})
    return hours


OVERVIEW = {
    "generated_at": NOW,
    "records": {
        "users": {"live": 12, "tombstoned": 2, "provisional": 1},
        "organizations": {"live": 3, "tombstoned": 0, "provisional": 0},
        "memberships": {"live": 7, "tombstoned": 1, "provisional": 0},
        "counted_at": NOW,
        "complete": True,
    },
    "last_webhook_at": NOW - 42_000,
    "seconds_since_last_webhook": 42,
    "dlq": {"depth": 1},
    "last_reconcile": {
        "run_id": "run_r1",
        "status": "completed",
        "started_at": NOW - HOUR,
        "finished_at": NOW - HOUR + 9000,
        "drift": {"missing": 2, "role": 1},
    },
    "last_backfill": None,
    "clerk_budget": {"limit_per_10s": 100, "used": 30},
    "outcomes": _hours(),
}


def _entry(at: int, outcome: str, event_id: str | None, version: int) -> dict[str, Any]:
    return {
        "at": at,
        "entity": "user",
        "entity_id": "user_x",
        "source": "webhook" if event_id else "api",
        "outcome": outcome,
        "version": version,
        "event_id": event_id,
        "change": "user.updated" if event_id else "sync",
        "cascaded": 0,
    }


USER = {
    "user": {"user_id": "user_x", "first_name": XSS, "last_name": "Doe", "public_metadata": {"role": "<b>x</b>"}},
    "provenance": {"sync_source": "webhook", "synced_at": NOW, "version": 5, "provisional": False, "deleted": False},
    "memberships": [
        {
            "org_id": "org_a",
            "role": "org:admin",
            "deleted": False,
            "sync_source": "api",
            "synced_at": NOW,
            "version": 2,
            "organization_name": XSS,
        }
    ],
    "history": {
        "entries": [_entry(NOW - n * 1000, "applied", f"msg_{n}", 5 - n) for n in range(2)],
        "counts": {"stale": 3, "duplicate": 1, "last_stale_at": NOW, "last_duplicate_at": NOW},
        "next_before": NOW - 2000,
        "enabled": True,
    },
}
OLDER = {
    "entries": [_entry(NOW - 5000, "stale", "msg_old", 1)],
    "counts": USER["history"]["counts"],  # type: ignore[index]
    "next_before": None,
    "enabled": True,
}
DLQ = {
    "depth": 1,
    "messages": [
        {
            "message_id": "11111111-2222-4333-8444-555555555555",
            "kind": "event",
            "type": "user.updated",
            "entity_id": "user_x",
            "svix_id": "msg_dead",
            "receive_count": 5,
            "sent_at": NOW,
            "decodes": True,
            "problem": None,
            "last_error": {"error_class": "ClerkRateLimitedError", "message": XSS, "at": NOW, "receive_count": 5},
        }
    ],
    "truncated": False,
}
JOBS = {
    "jobs": [
        {
            "job_id": "job_1",
            "kind": "organization_members",
            "org_id": "org_a",
            "requested_by": "user_admin",
            "status": "running",
            "created_at": NOW,
            "updated_at": NOW,
            "stage": "listing",
            "synced": 40,
            "total": 100,
        }
    ],
    "runs": [
        {
            "run_id": "run_b1",
            "kind": "backfill",
            "status": "running",
            "started_at": NOW,
            "updated_at": NOW,
            "phase": 2,
            "step": 4,
            "counts": {"user": {"created": 10}},
        }
    ],
}


class FakeApi:
    """Answers /api/* in the browser, and remembers what the page asked."""

    def __init__(self, console: Console, status: int = 200) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        self.status = status
        self.jobs_running = True
        console.page.route("**/api/**", self._answer)

    def _answer(self, route: Any) -> None:
        request = route.request
        path = request.url.split("://", 1)[1].split("/", 1)[1]
        self.calls.append((request.method, "/" + path, request.headers.get("authorization")))
        if self.status != 200:
            body: Any = {"error": {"code": "forbidden", "message": "only platform admins may do this"}}
            route.fulfill(status=self.status, content_type="application/json", body=json.dumps(body))
            return
        body = self._body(request.method, "/" + path)
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    def _body(self, method: str, path: str) -> Any:
        if path.startswith("/api/admin/overview"):
            return OVERVIEW
        if path.startswith("/api/admin/find"):
            return {
                "query": "x",
                "results": [{"kind": "user", "id": "user_x", "label": XSS, "deleted": False, "on_record": True}],
            }
        if path.startswith("/api/admin/users/"):
            return USER
        if path.startswith("/api/admin/history/") and "before=" in path:
            return OLDER
        if path.startswith("/api/admin/history/"):
            return USER["history"]
        if path.startswith("/api/admin/dlq/replay"):
            return {"replayed": 1, "not_found": []}
        if path.startswith("/api/admin/dlq"):
            return DLQ
        if path.startswith("/api/admin/jobs"):
            if self.jobs_running:
                return JOBS
            return {"jobs": [{**JOBS["jobs"][0], "status": "succeeded"}], "runs": []}
        if path.startswith("/api/sync/user/"):
            return {"summary": {"applied": 1}, "changes": [], "job": None, "status_url": None}
        return {}


def _open(console: Console, route: str) -> None:
    console.page.goto(f"{console.url}#token=header.payload.signature")
    console.page.wait_for_function("() => !location.hash.startsWith('#token=')")
    console.page.evaluate("(route) => { location.hash = route; }", route)


def _clean(console: Console) -> None:
    assert console.errors == []
    assert console.csp_violations() == []
    assert console.page.evaluate("window.__xss") is None


def test_overview_draws_counts_freshness_drift_budget_and_the_hourly_chart(console: Console) -> None:
    api = FakeApi(console)
    _open(console, "#/overview")
    console.page.wait_for_selector("body[data-loaded='overview']")
    assert console.testid("overview-users-live").text_content() == "12"
    assert console.testid("overview-users-tombstoned").text_content() == "2"
    assert console.testid("overview-memberships-live").text_content() == "7"
    assert console.testid("overview-last-webhook").text_content().startswith("42 s ago")
    assert console.testid("overview-dlq-depth").text_content() == "1"
    assert "missing: 2" in console.testid("overview-drift").text_content()
    assert console.testid("overview-budget").text_content().startswith("30 of 100")
    bars = console.page.locator("[data-testid='overview-outcomes-chart'] g[data-hour]")
    assert bars.count() == 24
    assert console.page.locator("[data-testid='overview-outcomes-chart'] rect[data-outcome='applied']").count() > 0
    assert all(auth == "Bearer header.payload.signature" for _, _, auth in api.calls)
    console.screenshot("fake-overview")
    # The shell's share of the overview's load time (the admin API answered by the browser at once).
    loaded = console.page.evaluate("() => performance.getEntriesByName('overview-loaded').at(-1).startTime")
    write_timing("overview_with_instant_api_navigation_to_data_loaded", {"ms": round(loaded)})
    print(f"overview with an instant API: navigation -> data drawn {loaded:.0f} ms")
    _clean(console)


def test_find_then_record_page_shows_fields_as_text_history_older_and_sync_now(console: Console) -> None:
    api = FakeApi(console)
    _open(console, "#/find")
    console.testid("find-input").fill("ada@example.com")
    console.testid("find-submit").click()
    result = console.testid("find-result")
    assert result.text_content() == XSS
    result.click()
    console.testid("record-fields").wait_for()
    assert XSS in console.testid("record-fields").text_content()
    assert console.page.locator("#view img, #view b").count() == 0
    provenance = console.testid("record-provenance").text_content()
    assert "webhook" in provenance
    assert "5" in provenance
    assert console.testid("membership-row").count() == 1
    rows = console.testid("history-row")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-event-id") == "msg_0"
    assert rows.first.get_attribute("data-outcome") == "applied"
    assert "Stale deliveries: 3" in console.testid("history-counts").text_content()
    console.testid("history-older").click()
    console.page.wait_for_selector("[data-testid='history-row'][data-event-id='msg_old']")
    assert console.testid("history-older").is_hidden()
    console.screenshot("fake-record")
    console.testid("sync-now").click()
    console.page.wait_for_function(
        "() => document.querySelector('[data-testid=sync-result]')?.textContent.startsWith('Synced')"
    )
    assert ("POST", "/api/sync/user/user_x") in [(m, p) for m, p, _ in api.calls]
    synced_at = [(m, p) for m, p, _ in api.calls].index(("POST", "/api/sync/user/user_x"))
    assert ("GET", "/api/admin/users/user_x") in [(m, p) for m, p, _ in api.calls][synced_at:]  # drawn afresh
    assert ("GET", "/api/admin/find?q=ada%40example.com") in [(m, p) for m, p, _ in api.calls]
    _clean(console)


def test_dlq_replays_one_and_all_after_a_confirm(console: Console) -> None:
    api = FakeApi(console)
    _open(console, "#/dlq")
    console.page.wait_for_selector("body[data-loaded='dlq']")
    row = console.testid("dlq-row")
    assert row.get_attribute("data-message-id") == DLQ["messages"][0]["message_id"]  # type: ignore[index]
    assert console.testid("dlq-reason").text_content() == f"ClerkRateLimitedError: {XSS}"
    assert "null" not in console.page.locator("#view").inner_text()  # an absent part draws nothing
    console.screenshot("fake-dlq")
    row.get_by_test_id("dlq-replay").click()
    console.page.wait_for_function(
        "() => document.querySelector('[data-testid=dlq-result]')?.textContent === 'Replayed 1'"
    )
    dialogs: list[str] = []

    def dismiss(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    console.page.once("dialog", dismiss)
    console.testid("dlq-replay-all").click()
    assert len(dialogs) == 1
    assert "Replay every dead letter" in dialogs[0]
    posted = [p for m, p, _ in api.calls if m == "POST"]
    assert posted == ["/api/admin/dlq/replay"]  # the dismissed confirm sent nothing
    console.page.once("dialog", lambda dialog: dialog.accept())
    console.testid("dlq-replay-all").click()
    console.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=dlq-result]').length === 1 && "
        "document.querySelector('[data-testid=dlq-result]').textContent === 'Replayed 1'"
    )
    assert [p for m, p, _ in api.calls if m == "POST"] == ["/api/admin/dlq/replay", "/api/admin/dlq/replay"]
    _clean(console)


def test_jobs_refresh_while_something_runs_and_stop_when_done(console: Console) -> None:
    api = FakeApi(console)
    _open(console, "#/jobs")
    console.page.wait_for_selector("body[data-loaded='jobs']")
    assert console.testid("jobs-row").get_attribute("data-status") == "running"
    assert console.page.locator("[data-testid='jobs-row'] progress").get_attribute("value") == "40"
    assert console.testid("runs-row").count() == 1
    console.screenshot("fake-jobs")
    api.jobs_running = False
    console.page.wait_for_selector("[data-testid='jobs-row'][data-status='succeeded']", timeout=10_000)
    fetched = len([p for _, p, _ in api.calls if p == "/api/admin/jobs"])
    console.page.wait_for_timeout(3500)
    assert len([p for _, p, _ in api.calls if p == "/api/admin/jobs"]) == fetched  # nothing running: no refresh
    _clean(console)


def test_a_403_shows_the_platform_admin_message(console: Console) -> None:
    FakeApi(console, status=403)
    _open(console, "#/overview")
    banner = console.testid("error-banner")
    banner.wait_for(state="visible")
    assert "Forbidden (403)" in banner.text_content()
    assert set(console.errors) <= {"Failed to load resource: the server responded with a status of 403 (Forbidden)"}
    assert console.csp_violations() == []
