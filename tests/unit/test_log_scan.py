"""The log scanner of the log-hygiene tests: it must find every kind it names and leave ordinary lines alone."""

from __future__ import annotations

import json

import httpx

from tests.support.load import is_back_pressure, percentile
from tests.support.log_scan import Known, scan

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl"


def test_scan_finds_each_kind_and_masks_it_in_the_line() -> None:
    lines = [
        json.dumps({"level": "INFO", "message": "caller denied", "headers": {"authorization": f"Bearer {TOKEN}"}}),
        "secret key sk_test_emulator, webhooks signed with whsec_Y2xlcmstc3luYy1lbXVsYXRvcg==",
        '{"primary_email": "ada@example.co.uk", "phone": "+15550100001"}',
        "-----BEGIN RSA PRIVATE KEY-----",
    ]
    findings = scan("\n".join(lines), "log")
    assert sorted((f.line_number, f.kind) for f in findings) == [
        (1, "session token (JWT)"),
        (2, "clerk secret key"),
        (2, "webhook secret"),
        (3, "email address"),
        (3, "phone number"),
        (4, "private key"),
    ]
    assert all(f.value not in str(f) for f in findings)
    assert "<email address>" in str(findings[3])


def test_scan_leaves_ids_timestamps_and_request_lines_alone() -> None:
    lines = [
        "06:45:45 POST /api/webhooks/clerk → 202 (12 ms)",
        "06:45:47 sync user_organizations user_2g7np7Hrk0SN6kj5EDMLDaKNL0S → 2 unchanged (9 ms)",
        json.dumps(
            {
                "timestamp": "2026-12-03 06:48:07,370+0000",
                "correlation_id": "msg_xMuovnfSEdPEa3RIYnFjsWvdrVo",
                "function_request_id": "c4483312-6f6b-4112-8275-6a6512c47bc0",
                "user_id": "user_29w83sxmDNGwOuEthce5gg56FcC",
                "duration_ms": 12.5,
            }
        ),
    ]
    assert scan("\n".join(lines), "log") == []


def test_scan_finds_known_values_of_any_shape_and_only_the_kinds_asked_for() -> None:
    text = "GET /v1/users?email_address=ada%40example.com\nstatus for ada@example.com"
    known = [Known("email address", "ada%40example.com")]
    assert [(f.line_number, f.kind) for f in scan(text, "log", known)] == [(1, "email address"), (2, "email address")]
    assert scan(text, "log", known, kinds=frozenset({"session token (JWT)"})) == []


def test_back_pressure_needs_429_or_503_with_retry_after_in_seconds() -> None:
    def answer(status: int, **headers: str) -> httpx.Response:
        return httpx.Response(status, headers=headers)

    assert is_back_pressure(answer(429, **{"retry-after": "3"}))
    assert is_back_pressure(answer(503, **{"retry-after": "5"}))
    assert not is_back_pressure(answer(503))  # the gateway's own cut: no Retry-After
    assert not is_back_pressure(answer(500, **{"retry-after": "5"}))
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert percentile(range(1, 101), 0.95) == 95
