"""Dead letters as an operator reads them: what a message on the DLQ holds, and why the worker last failed it.

Pure (no AWS). `read_dead_letter` turns a body into what `clerk-sync dlq list|show` prints; `describe_failure` turns
the exception a record failed with into the short reason the worker notes beside its message id (store/failures.py)
and the CLI shows as the last error.

A body is read leniently: a sync target or event type this code does not know (a newer producer's, or the scheduled
reconcile before the worker handles it) is still shown by name, and `decodes` says whether the worker would accept
it as it stands (the same checks: `messages.decode_message`, the envelope, the event's data). A replay helps a body
that decodes once the cause is fixed (Clerk back, a fault gone); one that does not decode needs a code change first.

A failure reason never holds a payload: a validation error gives only the failing field names (as the worker logs
them), any other error its class and the first line of its message, emails and phone numbers masked, 200 characters
at most. Clerk errors carry Clerk's code and message only (clerk/errors.py); store errors the request that failed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from clerk_sync.messages import QueuedEvent, decode_message
from clerk_sync.models import Envelope, change_from_envelope

MAX_REASON_CHARS: Final = 200
_EMAIL: Final = re.compile(r"[^\s@'\"<>(),;:]+@[^\s@'\"<>(),;:]+\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(r"\+\d[\d ().-]{6,18}\d")


class MessageKind(StrEnum):
    """What a queued message is: a verified Clerk event, a sync request, or a body the worker cannot read at all."""

    EVENT = "event"
    SYNC = "sync"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class DeadLetterBody:
    """What a dead message is about, read from its body alone."""

    kind: MessageKind
    what: str  # the event type (`user.updated`), `sync <target>`, or `unreadable`
    entity_id: str | None = None  # the user, organization or `org/user` membership; a sync's user, org or job
    svix_id: str | None = None  # events only: Svix's delivery id, the worker's correlation id
    decodes: bool = False  # the worker accepts it as it stands (a replay can apply it once the cause is fixed)
    problem: str | None = None  # why it does not decode: field names or a parse error, never values


@dataclass(frozen=True)
class FailureReason:
    """Why a record failed, fit to store and print: the exception's class and a short message without payload."""

    error_class: str
    message: str


@dataclass(frozen=True)
class FailureNote:
    """The last failure of one SQS message, as the worker notes it (`FAILURE#<message id>` / `LAST`)."""

    message_id: str
    reason: FailureReason
    receive_count: int  # SQS's ApproximateReceiveCount on the failed receive
    noted_at: int  # Unix ms


def describe_failure(error: BaseException) -> FailureReason:
    """The short reason a record failed with `error`: field names for a validation error, else the first line."""
    if isinstance(error, ValidationError):
        return FailureReason(type(error).__name__, _fields_problem(error))
    lines = str(error).strip().splitlines()
    return FailureReason(type(error).__name__, _masked(lines[0]) if lines else "")


def read_dead_letter(body: str) -> DeadLetterBody:
    """What `body` (an event queue message) is about, and whether the worker would accept it."""
    try:
        data = json.loads(body)
    except ValueError:
        return DeadLetterBody(MessageKind.UNREADABLE, "unreadable", problem="not JSON")
    if not isinstance(data, dict):
        return DeadLetterBody(MessageKind.UNREADABLE, "unreadable", problem="not a JSON object")
    problem = _decode_problem(body)
    if data.get("kind", "event") == "sync":
        target = data.get("target")
        entity = data.get("job_id") or data.get("user_id") or data.get("org_id")
        return DeadLetterBody(
            MessageKind.SYNC,
            f"sync {target}" if isinstance(target, str) else "sync",
            entity if isinstance(entity, str) else None,
            decodes=problem is None,
            problem=problem,
        )
    event = data.get("event")
    event = event if isinstance(event, dict) else {}
    event_type = event.get("type")
    svix_id = data.get("svix_id")
    return DeadLetterBody(
        MessageKind.EVENT,
        event_type if isinstance(event_type, str) else "event",
        _event_entity(event),
        svix_id if isinstance(svix_id, str) else None,
        decodes=problem is None,
        problem=problem,
    )


def _decode_problem(body: str) -> str | None:
    """None when the worker accepts the body (message, envelope and the event's data), else why not."""
    try:
        message = decode_message(body)
        if isinstance(message, QueuedEvent):
            change_from_envelope(Envelope.model_validate(message.event))
    except ValidationError as error:
        return _fields_problem(error)
    except ValueError as error:
        return _masked(str(error).splitlines()[0] if str(error) else type(error).__name__)
    return None


def _event_entity(event: dict[str, Any]) -> str | None:
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    if str(event.get("type", "")).startswith("organizationMembership."):
        org = data.get("organization")
        user = data.get("public_user_data")
        org_id = org.get("id") if isinstance(org, dict) else None
        user_id = user.get("user_id") if isinstance(user, dict) else None
        if isinstance(org_id, str) and isinstance(user_id, str):
            return f"{org_id}/{user_id}"
    entity_id = data.get("id")
    return entity_id if isinstance(entity_id, str) else None


def _fields_problem(error: ValidationError) -> str:
    fields = sorted({".".join(map(str, problem["loc"])) or "(message)" for problem in error.errors()})
    return _masked("invalid fields: " + ", ".join(fields))


def _masked(text: str) -> str:
    text = _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"
