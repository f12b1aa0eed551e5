"""No secret, session token, email address or phone number in the local stack's logs, whatever happens.

The module runs its own `clerk-sync local up` (through tests/support/log_capture.py, which adds a DEBUG-level
JSON handler to the functions' Powertools logger) and keeps two logs: the process's whole stdout/stderr and
every Powertools record as JSON lines. Each test plays a scenario (webhooks of all nine types with emails and
phones in them, logins, manual syncs, failures, the worker, the CLI), lets it settle, and scans what the logs
gained since the previous scan: patterns for each kind (sk_test_..., whsec_..., eyJ..., private keys, emails,
E.164 phones) plus the exact values the test knows (the stack's keys from the ready file, every token it minted,
every email and phone it put in, also URL-encoded). What remains after the last test is scanned at teardown.

The start-up banner is scanned like every other line: it says where the emulator's keys are and how to mint a
session token (`$(clerk-sync token ...)`), never their values.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from clerk_sync.vocabulary import EVENT_TYPES
from tests.e2e.conftest import BANNER_FIRST, BANNER_LAST, Stack, running_stack, wait_for_banner
from tests.support.clerk_payloads import example
from tests.support.log_scan import PATTERNS, SECRET_KINDS, Finding, Known, report, scan
from tests.support.signing import svix_headers

LAUNCHER = Path(__file__).resolve().parents[1] / "support" / "log_capture.py"
SETTLE_SECONDS = 60.0


def _pii_in(value: Any) -> Iterator[str]:
    """Every string inside `value` that looks like an email address or a phone number."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _pii_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _pii_in(item)
    elif isinstance(value, str):
        for kind in ("email address", "phone number"):
            yield from (match.group(0) for match in PATTERNS[kind].finditer(value))


@dataclass
class Logs:
    """The stack, its two logs, what has been scanned of them, and every value that must never show up."""

    stack: Stack
    functions_log: Path
    start_up: str  # the process output up to the end of the banner
    banner: str
    offsets: dict[Path, int] = field(default_factory=dict)
    known: set[Known] = field(default_factory=set)

    # --- what the test puts in ---

    def secret(self, kind: str, value: str | None) -> None:
        if value:
            self.known.add(Known(kind, value))

    def pii(self, *values: str) -> None:
        for value in values:
            kind = "email address" if "@" in value else "phone number"
            self.known.update({Known(kind, value), Known(kind, quote(value, safe=""))})

    def mint(self, user_id: str, org_id: str | None = None, **claims: Any) -> dict[str, str]:
        body: dict[str, Any] = {"user_id": user_id, "expires_in": 300, "claims": claims}
        if org_id:
            body["org_id"] = org_id
        response = self.stack.clerk.post("/tokens", json=body)
        assert response.status_code == 200, response.text
        token = str(response.json()["jwt"])
        self.secret("session token (JWT)", token)
        return {"Authorization": f"Bearer {token}"}

    def create_user(self, first_name: str, email: str, phone: str) -> str:
        self.pii(email, phone)
        created = self.stack.clerk.post(
            "/users", json={"first_name": first_name, "email": email, "phone_number": phone}
        )
        assert created.status_code == 200, created.text
        return str(created.json()["id"])

    # --- waiting and scanning ---

    def settle(self) -> None:
        """Every webhook delivered and every queue message handled (and so logged), or failed into the DLQ."""
        assert self.stack.clerk.post("/flush", json={"timeout": SETTLE_SECONDS}).status_code == 200
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.stack.queue_depth() > 0:
            if time.monotonic() > deadline:
                pytest.fail(f"queue not empty after {SETTLE_SECONDS:.0f} s")
            time.sleep(0.1)

    def everything_known(self) -> set[Known]:
        """What the test added, plus every email and phone of the emulator's state now."""
        state = self.stack.clerk.get("/state").json()
        for value in _pii_in(state):
            self.pii(value)
        return self.known

    def new_findings(self, *, stopped: bool = False) -> list[Finding]:
        """Scans what each log gained since the last call (once `stopped`, with the values known by then)."""
        known = self.known if stopped else self.everything_known()
        findings: list[Finding] = []
        for path in (self.stack.log, self.functions_log):
            with path.open("rb") as handle:
                start = self.offsets.get(path, 0)
                handle.seek(start)
                chunk = handle.read()
            self.offsets[path] = start + len(chunk)
            findings += scan(chunk.decode("utf-8", errors="replace"), f"{path.name}@{start}", known)
        return findings

    def assert_clean(self) -> None:
        self.settle()
        findings = self.new_findings()
        assert findings == [], "leaks in the logs:\n" + report(findings)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    workdir = tmp_path_factory.mktemp("hygiene-stack")
    functions_log = workdir / "functions.jsonl"
    # Every scenario syncs the same few users again and again: the per-caller sync limit is not what is tested
    # here (test_e2e_caller_limit.py does), so it is lifted as on the shared stack.
    cli = (sys.executable, str(LAUNCHER), str(functions_log))
    with running_stack(workdir, cli=cli, environment={"SYNC_CALLER_LIMIT": "1000"}) as stack:
        text = wait_for_banner(stack.log)
        begin = text.index(BANNER_FIRST)
        end = text.index(BANNER_LAST) + len(BANNER_LAST)
        found = Logs(stack, functions_log, start_up=text[:end], banner=text[begin:end])
        found.offsets[stack.log] = len(text[:end].encode())
        found.secret("clerk secret key", stack.ready.clerk_secret_key)
        found.secret("webhook secret", stack.ready.webhook_secret)
        yield found
        found.everything_known()
    # Stopped: the logs are complete. Whatever came after the last test's scan is scanned here.
    findings = found.new_findings(stopped=True)
    assert findings == [], "leaks in the logs after the last scenario:\n" + report(findings)


def _ids(stack: Stack) -> tuple[str, str, str]:
    ready = stack.ready
    assert ready.demo_user_id is not None
    assert ready.demo_org_id is not None
    assert ready.admin_user_id is not None
    return ready.demo_user_id, ready.demo_org_id, ready.admin_user_id


def test_start_up_and_its_banner_print_nothing_secret(logs: Logs) -> None:
    """Fails before the fix: the banner printed the emulator's secret key and webhook secret, the demo user's and
    the admin's session tokens, and an email address in its curl example (local/clerk_sync_local/stack/banner.py).
    """
    findings = scan(logs.start_up, "start-up and banner", logs.everything_known())
    assert findings == [], report(findings)
    # Not vacuous: the banner is there and hands out commands instead of the values.
    demo, org, admin = _ids(logs.stack)
    assert f"export DEMO_TOKEN=$(clerk-sync token {demo} --org {org} --ready-file" in logs.banner
    assert f"export ADMIN_TOKEN=$(clerk-sync token {admin} --ready-file" in logs.banner
    assert "jq -r .clerk_secret_key" in logs.banner


def _with_pii(event_type: str, instance_id: str) -> dict[str, Any]:
    """Clerk's real example of `event_type`, for this instance, with an email and a phone in every user payload."""
    event = example(event_type)
    event["instance_id"] = instance_id
    if event_type in ("user.created", "user.updated"):
        phone = {
            "id": "idn_hygienePhone",
            "object": "phone_number",
            "phone_number": "+15550199001",
            "reserved_for_second_factor": False,
            "default_second_factor": False,
            "verification": {"status": "verified", "strategy": "phone_code"},
            "linked_to": [],
            "backup_codes": None,
        }
        email = copy.deepcopy(example("user.created")["data"]["email_addresses"][0])
        email["email_address"] = f"hygiene.{event_type.replace('.', '-')}@example.org"
        event["data"].update(
            {
                "email_addresses": [email],
                "primary_email_address_id": email["id"],
                "phone_numbers": [phone],
                "primary_phone_number_id": phone["id"],
            }
        )
    return event


def _post_signed(logs: Logs, event: dict[str, Any], msg_id: str) -> httpx.Response:
    body = json.dumps(event)
    for value in _pii_in(event):
        logs.pii(value)
    secret = logs.stack.ready.webhook_secret
    assert secret is not None
    return httpx.post(
        logs.stack.ready.webhook_url, content=body, headers=svix_headers(body, secret=secret, msg_id=msg_id)
    )


def test_webhooks_of_all_nine_types_with_emails_and_phones_log_none_of_them(logs: Logs) -> None:
    stack = logs.stack
    # Through the emulator: every type, with the emails and phones in the payloads as Clerk sends them.
    ada = logs.create_user("Ada", "ada.hygiene@example.com", "+15550100001")
    linus = logs.create_user("Linus", "linus.hygiene@example.net", "+447700900123")
    logs.pii("ada.renamed@example.com", "+15550100002")
    stack.clerk.patch(f"/users/{ada}", json={"email": "ada.renamed@example.com", "phone_number": "+15550100002"})
    org = stack.clerk.post("/organizations", json={"name": "Hygiene Org", "created_by": ada}).json()["id"]
    stack.clerk.patch(f"/organizations/{org}", json={"name": "Hygiene Org Renamed"})
    assert stack.clerk.post(f"/organizations/{org}/memberships", json={"user_id": linus}).is_success
    stack.clerk.patch(f"/organizations/{org}/memberships/{linus}", json={"role": "org:admin"})
    stack.clerk.delete(f"/organizations/{org}/memberships/{linus}")
    stack.clerk.delete(f"/users/{linus}")
    stack.clerk.delete(f"/organizations/{org}")
    logs.settle()
    sent = {event["type"] for event in stack.clerk.get("/events").json()}
    assert sent >= set(EVENT_TYPES)
    # Clerk's real example payloads, signed with the stack's secret: applied; once from another instance: refused.
    instance_id = stack.clerk.get("/events").json()[0]["payload"]["instance_id"]
    for i, event_type in enumerate(EVENT_TYPES):
        response = _post_signed(logs, _with_pii(event_type, instance_id), f"msg_hygieneExample{i}")
        assert response.status_code == 202, response.text
    foreign = _post_signed(logs, _with_pii("user.created", "ins_someoneElse"), "msg_hygieneForeign")
    assert foreign.status_code == 403, foreign.text  # refused (decision 0014); its warning names ids only
    logs.assert_clean()


def test_logins_fresh_first_and_with_clerk_down_log_no_token_or_pii(logs: Logs) -> None:
    stack = logs.stack
    demo, org, _ = _ids(stack)
    assert stack.api.get("/api/sync/status", headers=logs.mint(demo, org)).status_code == 200  # fresh: on record
    stack.clerk.put("/knobs", json={"webhooks_paused": True})
    try:
        newcomer = logs.create_user("Newcomer", "newcomer.hygiene@example.com", "+15550100003")
        first = stack.api.get("/api/sync/status", headers=logs.mint(newcomer))  # first login: synced from Clerk
        assert first.status_code == 200, first.text
        offline = logs.create_user("Offline", "offline.hygiene@example.com", "+15550100004")
        logs.pii("offline.claim@example.com")
        headers = logs.mint(offline, email="offline.claim@example.com", first_name="Offline")
        stack.clerk.put("/knobs", json={"outage": True})
        provisional = stack.api.get("/api/sync/status", headers=headers)  # Clerk down: provisional from the token
        assert provisional.status_code == 200, provisional.text
        assert provisional.json()["provisional"] is True
    finally:
        stack.clerk.put("/knobs", json={"outage": False, "webhooks_paused": False})
    logs.assert_clean()


def test_manual_syncs_of_every_route_log_no_token_or_pii(logs: Logs) -> None:
    stack = logs.stack
    demo, org, admin = _ids(stack)
    as_demo, as_admin = logs.mint(demo, org), logs.mint(admin)
    calls: list[tuple[str, str, dict[str, str], dict[str, str] | None]] = [
        ("POST", "/api/sync/user", as_demo, None),
        ("POST", "/api/sync/user/organizations", as_demo, None),
        ("POST", "/api/sync/user/full", as_demo, None),
        ("POST", f"/api/sync/user/{demo}", as_admin, None),
        ("POST", f"/api/sync/organization/{org}", as_demo, None),
        ("POST", f"/api/sync/organization/{org}/members", as_demo, None),
        ("POST", "/api/sync/membership", as_demo, {"clerkOrgId": org, "clerkUserId": demo}),
        ("GET", "/api/sync/status", as_demo, None),
        ("GET", "/api/sync/jobs/job_hygieneMissing", as_demo, None),
    ]
    for method, path, headers, body in calls:
        response = stack.api.request(method, path, headers=headers, json=body)
        assert response.status_code in (200, 202, 404), f"{method} {path}: {response.status_code} {response.text}"
    logs.assert_clean()


def _forged(token_headers: dict[str, str]) -> dict[str, str]:
    """The same token with its signature's first byte changed: still JWT-shaped, no longer valid."""
    header, payload, signature = token_headers["Authorization"].removeprefix("Bearer ").split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 0xFF
    forged = ".".join([header, payload, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()])
    return {"Authorization": f"Bearer {forged}"}


def test_failures_log_no_secret_token_or_pii(logs: Logs) -> None:
    stack = logs.stack
    demo, org, admin = _ids(stack)
    secret = stack.ready.webhook_secret
    assert secret is not None
    # Webhooks that fail verification: tampered body, another secret, no headers, a stale timestamp.
    logs.pii("mallory.hygiene@example.com")
    data = {"id": "user_hygieneMallory", "object": "user", "created_at": 1, "updated_at": 2}
    body = json.dumps({"type": "user.created", "data": {**data, "first_name": "mallory.hygiene@example.com"}})
    other = "whsec_" + base64.b64encode(b"another-secret-of-thirty-two-by!").decode()
    logs.secret("webhook secret", other)
    for headers, sent in (
        (svix_headers(body, secret=secret, msg_id="msg_hygieneTampered"), body.replace("mallory", "mallorx")),
        (svix_headers(body, secret=other, msg_id="msg_hygieneOther"), body),
        ({}, body),
        (svix_headers(body, secret=secret, msg_id="msg_hygieneStale", age=timedelta(minutes=10)), body),
    ):
        assert httpx.post(stack.ready.webhook_url, content=sent, headers=headers).status_code in (400, 401)
    # Session tokens that fail: not a JWT, a forged signature, expired, another issuer.
    past = int(datetime.now(tz=UTC).timestamp()) - 600
    for headers in (
        {"Authorization": "Bearer not-a-jwt"},
        _forged(logs.mint(demo, org)),
        logs.mint(demo, exp=past, iat=past - 60, nbf=past - 65),
        logs.mint(demo, iss="https://evil.example.com"),
    ):
        assert stack.api.get("/api/sync/status", headers=headers).status_code == 401
    # Clerk failing: 5xx on every call, then 429s, while users sync and log in.
    stack.clerk.put("/knobs", json={"error_rate": 1.0})
    try:
        failed = stack.api.post("/api/sync/user", headers=logs.mint(demo, org))
        assert failed.status_code == 503, failed.text
        stranger = logs.create_user("Stranger", "stranger.hygiene@example.com", "+15550100005")
        assert stack.api.get(
            "/api/sync/status", headers=logs.mint(stranger, email="stranger.hygiene@example.com")
        ).is_success
    finally:
        stack.clerk.put("/knobs", json={"error_rate": 0.0})
    stack.clerk.put("/knobs", json={"rate_limit": 1, "rate_limit_window_s": 30})
    try:
        answers = [stack.api.post("/api/sync/user", headers=logs.mint(demo, org)).status_code for _ in range(2)]
        assert 429 in answers, answers
    finally:
        stack.clerk.put("/knobs", json={"rate_limit": None})
    # A deleted user: their login is refused, an admin sync of them answers 404 and keeps the tombstone.
    leaving = logs.create_user("Leaving", "leaving.hygiene@example.com", "+15550100006")
    logs.settle()
    stack.clerk.delete(f"/users/{leaving}")
    logs.settle()
    assert stack.api.get("/api/sync/status", headers=logs.mint(leaving)).status_code == 403
    assert stack.api.post(f"/api/sync/user/{leaving}", headers=logs.mint(admin)).status_code == 404
    logs.assert_clean()


def _wait_for_clerk_answer(stack: Stack, status: str, timeout: float = 30.0) -> None:
    """Until the emulator's Backend API has answered `status` at least once."""
    deadline = time.monotonic() + timeout
    while not any(status in route["by_status"] for route in stack.clerk.get("/stats").json()["routes"].values()):
        if time.monotonic() > deadline:
            pytest.fail(f"Clerk never answered {status} within {timeout:.0f} s")
        time.sleep(0.05)


def test_worker_failures_and_poison_messages_log_no_pii(logs: Logs) -> None:
    """Fails before the fix: the console line of a poison sync message echoed its target and user id verbatim
    (here an email and a phone number; local/clerk_sync_local/stack/console.py, `describe`)."""
    stack = logs.stack
    # Clerk down while the worker runs a queued sync (the memberships of a user whose user.created was lost, on its
    # first user.updated): it logs, retries, heals.
    stack.clerk.put("/knobs", json={"webhook_drop_probability": 1.0})
    try:
        queued = logs.create_user("Queued", "queued.hygiene@example.com", "+15550100007")
    finally:
        stack.clerk.put("/knobs", json={"webhook_drop_probability": 0.0})
    assert stack.clerk.delete("/stats").status_code == 200
    stack.clerk.put("/knobs", json={"outage": True})
    try:
        assert stack.clerk.patch(f"/users/{queued}", json={"last_name": "Updated"}).status_code == 200
        _wait_for_clerk_answer(stack, "503")
    finally:
        stack.clerk.put("/knobs", json={"outage": False})
    # Poison messages with personal data in them: the worker reports them failed, then the DLQ keeps them.
    logs.pii("poison.hygiene@example.com", "+15550100008")
    poison = [
        {
            "kind": "event",
            "svix_id": "msg_hygienePoison1",
            "event": {"type": "user.created", "data": {"id": 7, "email_addresses": "poison.hygiene@example.com"}},
        },
        {"kind": "sync", "target": "poison.hygiene@example.com", "user_id": "+15550100008"},
        "not json poison.hygiene@example.com",
    ]
    for message in poison:
        body = message if isinstance(message, str) else json.dumps(message)
        stack.sqs.send_message(QueueUrl=stack.ready.queue_url, MessageBody=body)
    logs.assert_clean()


def _cli(logs: Logs, *args: str) -> subprocess.CompletedProcess[str]:
    ready_file = logs.stack.log.parent / "ready.json"
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLERK_")}
    command = [sys.executable, "-m", "clerk_sync_local.cli", *args, "--ready-file", str(ready_file)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)  # noqa: S603


def test_cli_status_export_and_sync_print_no_secret_or_token_and_log_no_pii(logs: Logs, tmp_path: Path) -> None:
    """`status` shows the record the operator asked for (its email included); its logs and every other output don't."""
    demo, org, _ = _ids(logs.stack)
    gone = logs.create_user("Gone", "gone.hygiene@example.com", "+15550100009")
    logs.settle()
    logs.stack.clerk.delete(f"/users/{gone}")
    logs.settle()
    known = logs.everything_known()
    export = tmp_path / "export.jsonl"
    runs = {
        "status": (_cli(logs, "status", demo), SECRET_KINDS),
        "status --json": (_cli(logs, "status", demo, "--json"), SECRET_KINDS),
        "export -o": (_cli(logs, "export", "--output", str(export)), None),
        "sync user": (_cli(logs, "sync", "user", demo), None),
        "sync user (deleted in Clerk)": (_cli(logs, "sync", "user", gone), None),
        "sync organization --members": (_cli(logs, "sync", "organization", org, "--members"), None),
    }
    findings: list[Finding] = []
    for name, (run, stdout_kinds) in runs.items():
        assert run.returncode in (0, 1), f"{name}: {run.returncode}\n{run.stderr[-2000:]}"
        findings += scan(run.stdout, f"{name} stdout", known, kinds=stdout_kinds)
        findings += scan(run.stderr, f"{name} stderr", known)
    assert export.read_text().count("\n") > 0
    assert findings == [], report(findings)
    logs.assert_clean()
