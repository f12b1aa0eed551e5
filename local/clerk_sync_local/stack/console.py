"""The local stack's readable output: one line per HTTP request and one per processed queue message.

The handlers keep writing Powertools JSON logs; locally only their warnings are shown, and the worker's
per-record INFO records ("event processed", "sync processed", "... failed") are captured in the worker's
own thread and turned into one line each, paired with the SQS records of the batch in order (the worker
handles a batch's records one after another and ends each with exactly one such record).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TextIO

from clerk_sync.messages import SyncTarget
from clerk_sync.observability import logger as powertools_logger
from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.vocabulary import EVENT_TYPES
from clerk_sync_local.gateway.invoke import Handler

LOCAL_LOGGER: Final = "clerk_sync_local"
events_log = logging.getLogger(f"{LOCAL_LOGGER}.events")


@dataclass(frozen=True)
class MessageReport:
    """What the worker did with one queue message."""

    message_id: str
    kind: str  # event | sync | unknown
    subject: str  # "user.created user_123", "sync user_organizations user_123"
    svix_id: str | None
    ok: bool
    outcome: str  # applied, stale, duplicate, ... or the failure's reason
    receive_count: int
    finished_ms: int
    duration_ms: float | None = None

    def line(self) -> str:
        took = f" ({self.duration_ms:.0f} ms)" if self.duration_ms is not None else ""
        if self.ok:
            return f"{self.subject} → {self.outcome}{took}"
        limit = EVENT_QUEUE.max_receive_count
        retry = "next receive moves it to the DLQ" if self.receive_count >= limit else "retried"
        return f"{self.subject} → failed: {self.outcome} (receive {self.receive_count}/{limit}, {retry})"


# What a line may echo from a message body: an id, a sync target or an event type, never any other text (a
# poison message may carry anything, emails included).
_ID = re.compile(r"[a-z]{1,16}_[A-Za-z0-9]{1,64}")
_SYNC_TARGETS = frozenset(target.value for target in SyncTarget)


def _shown(value: Any, allowed: Callable[[str], bool]) -> str:
    return value if isinstance(value, str) and allowed(value) else "?"


def _is_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def describe(body: str) -> tuple[str, str, str | None]:
    """(kind, subject, svix_id) of a queue message body, as far as it can be read; only ids and names are echoed."""
    try:
        data = json.loads(body)
    except ValueError:
        return "unknown", "unreadable message", None
    if not isinstance(data, dict):
        return "unknown", "unreadable message", None
    if data.get("kind") == "sync":
        subject = data.get("user_id") or data.get("org_id") or data.get("job_id")
        target = _shown(data.get("target"), _SYNC_TARGETS.__contains__)
        return "sync", f"sync {target} {_shown(subject, _is_id) if subject else ''}".rstrip(), None
    event = data.get("event")
    if not isinstance(event, dict):
        return "unknown", "unreadable message", None
    payload = event.get("data") if isinstance(event.get("data"), dict) else {}
    entity = payload.get("id") if isinstance(payload, dict) else None
    svix_id = data.get("svix_id") if isinstance(data.get("svix_id"), str) else None
    event_type = _shown(event.get("type"), EVENT_TYPES.__contains__)
    return "event", f"{event_type} {_shown(entity, _is_id) if entity else ''}".rstrip(), svix_id


class _ThreadCapture(logging.Handler):
    """Collects records emitted in the thread that started a capture; other threads are ignored."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._local = threading.local()

    def begin(self) -> None:
        self._local.records = []

    def end(self) -> list[logging.LogRecord]:
        records: list[logging.LogRecord] = getattr(self._local, "records", None) or []
        self._local.records = None
        return records

    def emit(self, record: logging.LogRecord) -> None:
        records = getattr(self._local, "records", None)
        if records is not None:
            records.append(record)


def _outcome(record: logging.LogRecord | None, ok: bool) -> tuple[str, str | None, float | None]:
    """(outcome, entity_id, duration_ms) read from the worker's terminal record for a message."""
    if record is None:
        return ("done" if ok else "error"), None, None
    fields = record.__dict__
    duration = fields.get("duration_ms")
    duration_ms = float(duration) if isinstance(duration, int | float) else None
    if not ok:
        reason = record.getMessage().split("failed", 1)[-1].strip(" :") or "error"
        return reason, None, duration_ms
    summary = fields.get("summary")
    if isinstance(summary, dict):
        summary = ", ".join(f"{count} {what}" for what, count in summary.items())
    outcome = fields.get("outcome") or summary or "done"
    cascaded = fields.get("cascaded")
    if isinstance(cascaded, int) and cascaded:
        outcome = f"{outcome}, {cascaded} memberships cascaded"
    entity = fields.get("entity_id")
    return str(outcome), entity if isinstance(entity, str) else None, duration_ms


class StackConsole:
    """Installs the one-line output for a running stack and removes it again on `uninstall()`."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self._stream = stream or sys.stdout
        self._quiet = quiet
        self._capture = _ThreadCapture()
        self._listeners: list[Callable[[MessageReport], None]] = []
        self._handler: logging.Handler | None = None
        self._saved: tuple[int, int] | None = None

    def install(self) -> None:
        handler = logging.StreamHandler(self._stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
        local = logging.getLogger(LOCAL_LOGGER)
        local.addHandler(handler)
        local.setLevel(logging.WARNING if self._quiet else logging.INFO)
        local.propagate = False
        self._handler = handler
        # Powertools: the logger lets INFO through to the capture; its JSON handler shows warnings only.
        json_handler = powertools_logger.registered_handler
        std = logging.getLogger(powertools_logger.name)
        self._saved = (std.level, json_handler.level)
        std.setLevel(logging.INFO)
        json_handler.setLevel(logging.WARNING)
        std.addHandler(self._capture)

    def uninstall(self) -> None:
        if self._handler is not None:
            local = logging.getLogger(LOCAL_LOGGER)
            local.removeHandler(self._handler)
            local.setLevel(logging.NOTSET)
            local.propagate = True
            self._handler = None
        if self._saved is not None:
            std = logging.getLogger(powertools_logger.name)
            std.removeHandler(self._capture)
            std.setLevel(self._saved[0])
            powertools_logger.registered_handler.setLevel(self._saved[1])
            self._saved = None

    def subscribe(self, listener: Callable[[MessageReport], None]) -> None:
        """Also hand every message report to `listener` (benchmarks, tests)."""
        self._listeners.append(listener)

    def observe_worker(self, handler: Handler) -> Handler:
        """The worker handler, reporting one line per record of each batch it handles."""

        def observed(event: dict[str, Any], context: Any) -> Any:
            self._capture.begin()
            try:
                answer = handler(event, context)
            finally:
                records = self._capture.end()
            self._report(event.get("Records", []), answer, records)
            return answer

        return observed

    def _report(self, batch: list[dict[str, Any]], answer: Any, records: list[logging.LogRecord]) -> None:
        failures = answer.get("batchItemFailures", []) if isinstance(answer, dict) else []
        failed = {item.get("itemIdentifier") for item in failures}
        done = iter([r for r in records if r.getMessage().endswith(" processed")])
        broken = iter([r for r in records if " failed" in r.getMessage()])
        finished_ms = time.time_ns() // 1_000_000
        for sqs_record in batch:
            message_id = sqs_record.get("messageId", "")
            ok = message_id not in failed
            kind, subject, svix_id = describe(sqs_record.get("body", ""))
            outcome, entity, duration_ms = _outcome(next(done if ok else broken, None), ok)
            if entity and kind == "event":
                subject = f"{subject.split(' ', 1)[0]} {entity}"
            receives = int((sqs_record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
            report = MessageReport(message_id, kind, subject, svix_id, ok, outcome, receives, finished_ms, duration_ms)
            events_log.log(logging.INFO if ok else logging.WARNING, "%s", report.line())
            for listener in self._listeners:
                listener(report)
