"""Reading dead letters: what a body is about and whether the worker accepts it; failure reasons without payload."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from clerk_sync.clerk.errors import ClerkUnavailableError
from clerk_sync.deadletters import MAX_REASON_CHARS, MessageKind, describe_failure, read_dead_letter
from clerk_sync.messages import QueuedEvent, QueuedSync, SyncTarget
from clerk_sync.models import User
from clerk_sync.queue import encode
from clerk_sync.vocabulary import SyncSource
from tests.support.clerk_payloads import deleted_data, envelope, membership_data, user_data


def _event_body(event_type: str, data: dict[str, object], svix_id: str = "msg_1") -> str:
    return encode(QueuedEvent(svix_id=svix_id, received_at=1, event=envelope(event_type, data, timestamp_ms=1)))


def test_read_dead_letter_user_event_names_type_user_and_svix_id() -> None:
    read = read_dead_letter(_event_body("user.updated", user_data("user_a", updated_at=5), svix_id="msg_9"))
    assert (read.kind, read.what, read.entity_id, read.svix_id) == (
        MessageKind.EVENT,
        "user.updated",
        "user_a",
        "msg_9",
    )
    assert read.decodes
    assert read.problem is None


def test_read_dead_letter_membership_event_names_org_and_user() -> None:
    data = membership_data("org_b", "user_c", membership_id="orgmem_1", updated_at=3)
    read = read_dead_letter(_event_body("organizationMembership.deleted", data))
    assert (read.what, read.entity_id, read.decodes) == ("organizationMembership.deleted", "org_b/user_c", True)


def test_read_dead_letter_deleted_organization_names_its_id() -> None:
    read = read_dead_letter(_event_body("organization.deleted", deleted_data("org_gone", "organization")))
    assert (read.what, read.entity_id, read.decodes) == ("organization.deleted", "org_gone", True)


def test_read_dead_letter_event_whose_data_does_not_fit_names_fields_not_values() -> None:
    data = user_data("user_bad", updated_at=5)
    del data["created_at"]
    read = read_dead_letter(_event_body("user.updated", data))
    assert (read.kind, read.entity_id, read.decodes) == (MessageKind.EVENT, "user_bad", False)
    assert read.problem == "invalid fields: created_at"
    assert "example.com" not in str(read)


def test_read_dead_letter_queued_sync_names_target_and_entity() -> None:
    request = QueuedSync(target=SyncTarget.USER, user_id="user_d", trigger=SyncSource.LOGIN, requested_at=1)
    read = read_dead_letter(encode(request))
    assert (read.kind, read.what, read.entity_id, read.svix_id, read.decodes) == (
        MessageKind.SYNC,
        "sync user",
        "user_d",
        None,
        True,
    )


def test_read_dead_letter_job_step_names_the_job() -> None:
    request = QueuedSync(
        target=SyncTarget.ORGANIZATION_MEMBERS, org_id="org_e", job_id="job_1", trigger=SyncSource.JOB, requested_at=1
    )
    assert read_dead_letter(encode(request)).entity_id == "job_1"


def test_read_dead_letter_unknown_sync_target_is_shown_by_name_and_does_not_decode() -> None:
    body = '{"kind":"sync","target":"somewhere_new","trigger":"reconcile","requested_at":0}'
    read = read_dead_letter(body)
    assert (read.kind, read.what, read.entity_id, read.decodes) == (MessageKind.SYNC, "sync somewhere_new", None, False)
    assert read.problem == "invalid fields: target"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('{"svix_id": "msg_poison", "event": not json', "not JSON"),
        ("this is not a queued event", "not JSON"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_read_dead_letter_unparseable_body_is_unreadable(body: str, problem: str) -> None:
    read = read_dead_letter(body)
    assert (read.kind, read.what, read.decodes, read.problem) == (MessageKind.UNREADABLE, "unreadable", False, problem)


def test_read_dead_letter_event_without_envelope_fields_does_not_decode() -> None:
    read = read_dead_letter(json.dumps({"svix_id": "msg_2", "received_at": 1, "event": {"type": "user.created"}}))
    assert (read.kind, read.what, read.svix_id, read.entity_id, read.decodes) == (
        MessageKind.EVENT,
        "user.created",
        "msg_2",
        None,
        False,
    )
    assert read.problem == "invalid fields: data"


def test_describe_failure_of_validation_error_gives_field_names_only() -> None:
    data = user_data("user_f", updated_at=5)
    del data["created_at"]
    data["updated_at"] = "secret@example.com"
    with pytest.raises(ValidationError) as raised:
        User.model_validate(data)
    reason = describe_failure(raised.value)
    assert reason.error_class == "ValidationError"
    assert reason.message == "invalid fields: created_at, updated_at"


def test_describe_failure_masks_emails_and_phones_and_keeps_the_first_line() -> None:
    error = RuntimeError("write of a.b+c@example.co.uk failed for +1 (555) 010-9999\nTraceback line")
    reason = describe_failure(error)
    assert (reason.error_class, reason.message) == ("RuntimeError", "write of <email> failed for <phone>")


def test_describe_failure_of_clerk_error_keeps_its_class_and_message() -> None:
    reason = describe_failure(ClerkUnavailableError("Clerk answered 503 (attempt 4 of 4)", status=503))
    assert reason.error_class == "ClerkUnavailableError"
    assert reason.message == "HTTP 503: Clerk answered 503 (attempt 4 of 4)"


def test_describe_failure_bounds_the_message() -> None:
    reason = describe_failure(ValueError("x" * 1000))
    assert len(reason.message) == MAX_REASON_CHARS
    assert describe_failure(KeyError()).message == ""
