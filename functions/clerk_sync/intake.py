"""The webhook receiver's logic: limit, verify, check the envelope, guard the instance, enqueue.

The order matters: the signature is checked on the raw bytes before anything is parsed (invariant 7),
and a 2xx is returned only once the event is on the queue (invariant 6). Data-level validation happens
in the worker, so a genuine Clerk event that our models cannot read lands in the DLQ, replayable,
instead of being refused and lost (docs/decisions/0002). An event type clerk-sync does not apply is
answered 200 and counted by type before its data is looked at, so no new Clerk event is ever an error.
A body JSON cannot safely hold (nested deeper than MAX_JSON_DEPTH, NaN, a lone surrogate) is a 400
(docs/decisions/0015).

An event of another Clerk instance than the table's (CLERK_INSTANCE_ID, else the secret key's) is refused
with 403, not dropped with a 2xx: the cause may be our own misconfiguration, and Svix retries a refused
event for about 27 h, so fixing it in time loses nothing (docs/decisions/0014).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from clerk_sync import jsondata
from clerk_sync.clerk.errors import ClerkError
from clerk_sync.messages import QueuedEvent
from clerk_sync.models import HANDLED_EVENT_TYPES, Envelope
from clerk_sync.queue import MessageQueue, QueueUnavailableError, encode
from clerk_sync.resources import SQS_MAX_MESSAGE_BYTES
from clerk_sync.signatures import SignatureError, SignatureVerifier
from clerk_sync.vocabulary import error_body


@dataclass(frozen=True)
class IntakeResult:
    """The HTTP answer plus what the handler logs and counts."""

    status: int
    body: dict[str, Any]
    reason: str  # metric dimension: queued, ignored_type, other_instance, invalid_signature, ...
    svix_id: str | None = None
    event_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


def _error(status: int, code: str, message: str, svix_id: str | None = None) -> IntakeResult:
    return IntakeResult(status, error_body(code, message), code, svix_id)


# Clerk's event types look like `user.created`, `organizationDomain.verified`: anything else is one label, so
# the EventType dimension of WebhookIgnored stays as small as Clerk's own list of events.
_EVENT_TYPE_FORM = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,40}(\.[A-Za-z][A-Za-z0-9_]{0,40}){1,2}")
UNRECOGNISED_EVENT_TYPE = "unrecognised"


def event_type_label(event_type: str | None) -> str | None:
    """An event type as a metric dimension and log field: Clerk's form, at most 64 characters, else one label."""
    if event_type is None:
        return None
    return event_type if len(event_type) <= 64 and _EVENT_TYPE_FORM.fullmatch(event_type) else UNRECOGNISED_EVENT_TYPE


class WebhookIntake:
    def __init__(
        self,
        verifier: SignatureVerifier,
        queue: MessageQueue,
        *,
        expected_instance: Callable[[], str | None],
        max_body_bytes: int,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._verifier = verifier
        self._queue = queue
        # The accepted instance's id, or None (any); may ask Clerk once and raise ClerkError.
        self._expected_instance = expected_instance
        self._max_body_bytes = max_body_bytes
        self._clock_ms = clock_ms
        # When this intake (and so its secrets) was built, on the monotonic clock: secrets expire by age.
        self.created_at = time.monotonic()

    def receive(self, body: bytes, headers: Mapping[str, str]) -> IntakeResult:
        if len(body) > self._max_body_bytes:
            return _error(413, "payload_too_large", f"body exceeds {self._max_body_bytes} bytes")
        try:
            svix_id = self._verifier.verify(body, headers)
        except SignatureError:
            return _error(401, "invalid_signature", "missing or invalid Svix signature")

        try:
            payload = jsondata.loads(body, what="body")
        except jsondata.InvalidJsonError as error:
            return _error(400, error.code, error.message, svix_id)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return _error(400, "malformed_envelope", "body is not a Clerk event envelope", svix_id)
        event_type: str = payload["type"]
        if event_type not in HANDLED_EVENT_TYPES:
            # Before the envelope is validated: a new Clerk event may carry any data, and is never an error.
            return IntakeResult(200, {"status": "ignored"}, "ignored_type", svix_id, event_type_label(event_type))
        try:
            envelope = Envelope.model_validate(payload)
        except ValidationError as error:
            # Locations are the envelope's own field names (type, data, timestamp, ...), never its values.
            fields = ", ".join(sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]}))
            return _error(400, "malformed_envelope", f"invalid envelope fields: {fields}", svix_id)

        try:
            expected = self._expected_instance()
        except ClerkError as error:
            # The key's instance cannot be looked up now; Svix retries (nothing is lost).
            return replace(
                _error(503, "instance_unknown", "the Clerk instance cannot be checked now, retry later", svix_id),
                event_type=event_type_label(event_type),
                extra={"error": type(error).__name__},
            )
        if expected is not None and envelope.instance_id != expected:
            # A development instance must never write into production's table. Ids go to the log, not the body.
            return IntakeResult(
                403,
                error_body("other_instance", "instance_id: the event is from another instance than this endpoint's"),
                "other_instance",
                svix_id,
                event_type_label(event_type),
                {"instance_id": envelope.instance_id, "expected_instance_id": expected},
            )

        message = QueuedEvent(svix_id=svix_id, received_at=self._clock_ms(), event=payload)
        if len(encode(message).encode()) > SQS_MAX_MESSAGE_BYTES:
            return _error(413, "payload_too_large", "event does not fit in one queue message", svix_id)
        try:
            self._queue.send(message)
        except QueueUnavailableError:
            # 5xx so that Svix retries; the event was not enqueued.
            return _error(503, "queue_unavailable", "event could not be enqueued, retry later", svix_id)
        return IntakeResult(202, {"status": "queued", "svix_id": svix_id}, "queued", svix_id, envelope.type)
