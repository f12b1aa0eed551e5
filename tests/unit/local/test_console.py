"""One readable line per processed queue message, paired with the worker's own log records."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from clerk_sync.observability import logger
from clerk_sync_local.stack.console import MessageReport, StackConsole, describe


def _record(message_id: str, body: Any, receives: int = 1) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"messageId": message_id, "body": text, "attributes": {"ApproximateReceiveCount": str(receives)}}


EVENT = {"svix_id": "msg_1", "received_at": 1, "event": {"type": "user.created", "data": {"id": "user_1"}}}
SYNC = {"kind": "sync", "target": "user_organizations", "trigger": "webhook", "requested_at": 1, "user_id": "user_1"}


def _fake_worker(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.info("event processed", extra={"outcome": "applied", "entity_id": "user_1", "duration_ms": 4.0})
    logger.warning("message failed: invalid payload", extra={"message_id": "m2"})
    logger.info("sync processed", extra={"summary": {"unchanged": 2}, "duration_ms": 9.0})
    return {"batchItemFailures": [{"itemIdentifier": "m2"}]}


def test_console_reports_one_line_per_message_with_outcome() -> None:
    stream = io.StringIO()
    console = StackConsole(stream)
    reports: list[MessageReport] = []
    console.subscribe(reports.append)
    level = logging.getLogger(logger.name).level
    console.install()
    try:
        batch = [_record("m1", EVENT), _record("m2", "{not json", receives=5), _record("m3", SYNC)]
        answer = console.observe_worker(_fake_worker)({"Records": batch}, None)
    finally:
        console.uninstall()
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "user.created user_1 → applied (4 ms)",
        "unreadable message → failed: invalid payload (receive 5/5, next receive moves it to the DLQ)",
        "sync user_organizations user_1 → 2 unchanged (9 ms)",
    ]
    assert [(r.kind, r.ok, r.svix_id) for r in reports] == [
        ("event", True, "msg_1"),
        ("unknown", False, None),
        ("sync", True, None),
    ]
    assert logging.getLogger(logger.name).level == level


def test_console_quiet_shows_failures_only() -> None:
    stream = io.StringIO()
    console = StackConsole(stream, quiet=True)
    console.install()
    try:
        batch = [_record("m1", EVENT), _record("m2", "{not json", receives=2), _record("m3", SYNC)]
        console.observe_worker(_fake_worker)({"Records": batch}, None)
    finally:
        console.uninstall()
    (line,) = stream.getvalue().splitlines()
    assert "failed: invalid payload (receive 2/5, retried)" in line


def test_describe_membership_event_names_type_and_id() -> None:
    event = {"type": "organizationMembership.deleted", "data": {"id": "orgmem_1"}}
    body = json.dumps({"svix_id": "msg_9", "event": event})
    assert describe(body) == ("event", "organizationMembership.deleted orgmem_1", "msg_9")


def test_describe_echoes_only_ids_and_names_from_a_poison_message() -> None:
    """Fails before the fix: the line echoed a queue message's target and ids verbatim, emails included."""
    sync = {"kind": "sync", "target": "ada@example.com", "user_id": "+15550100008"}
    event = {"svix_id": "msg_1", "event": {"type": "ada@example.com", "data": {"id": "ada@example.com"}}}
    assert describe(json.dumps(sync)) == ("sync", "sync ? ?", None)
    assert describe(json.dumps(event)) == ("event", "? ?", "msg_1")
    assert describe(json.dumps(SYNC)) == ("sync", "sync user_organizations user_1", None)
