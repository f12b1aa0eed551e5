"""Webhooks: real payload shapes, Svix signatures, and the delivery knobs (delay, duplicates, shuffle, retries)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from svix.webhooks import Webhook, WebhookVerificationError

from clerk_sync.models import Envelope, change_from_envelope
from clerk_sync.vocabulary import EVENT_TYPES  # the emulator sends every type clerk-sync handles
from clerk_sync_local.emulator import ClerkEmulator

if TYPE_CHECKING:
    from tests.emulator.conftest import Received, WebhookReceiver

WEBHOOK_EXAMPLES = Path(__file__).resolve().parents[1] / "clerk" / "webhook-examples"


def _every_event_type(clerk: ClerkEmulator) -> None:
    """Trigger each of the nine event types once, in this order."""
    user = clerk.create_user(first_name="Jane", email="jane@example.com", external_id="ext-1")  # user.created
    clerk.update_user(user["id"], last_name="Doe")  # user.updated
    org = clerk.create_organization("Acme")  # organization.created
    clerk.update_organization(org["id"], public_metadata={"tier": "pro"})  # organization.updated
    clerk.add_membership(org["id"], user["id"])  # organizationMembership.created
    clerk.update_membership(org["id"], user["id"], role="org:admin")  # organizationMembership.updated
    clerk.remove_membership(org["id"], user["id"])  # organizationMembership.deleted
    clerk.delete_organization(org["id"])  # organization.deleted
    clerk.delete_user(user["id"])  # user.deleted


def _payloads(received: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received]


def test_webhooks_nine_event_types_match_real_payload_keys_and_verify(
    hooked: ClerkEmulator, receiver: WebhookReceiver
) -> None:
    _every_event_type(hooked)
    hooked.wait_for_deliveries(5)
    received = receiver.wait_for(9)
    by_type = {p["type"]: (p, r) for p, r in zip(_payloads(received), received, strict=True)}
    assert sorted(by_type) == sorted(EVENT_TYPES)
    for event_type, (payload, request) in by_type.items():
        example = json.loads((WEBHOOK_EXAMPLES / f"{event_type}.json").read_text())
        assert set(payload) == set(example), event_type
        assert set(payload["data"]) == set(example["data"]), event_type
        Webhook(hooked.webhook_secret).verify(request.body, request.headers)
        change_from_envelope(Envelope.model_validate(payload))  # the product parses what we send
        assert payload["instance_id"] == "ins_emulator"
        assert payload["timestamp"] > 10**12  # milliseconds by default


def test_webhooks_wrong_secret_fails_verification(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.create_user()
    (request,) = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(request.body, request.headers)


def test_webhooks_svix_id_unique_per_event_and_matches_events_log(
    hooked: ClerkEmulator, receiver: WebhookReceiver
) -> None:
    for _ in range(5):
        hooked.create_user()
    received = receiver.wait_for(5)
    ids = [r.headers["svix-id"] for r in received]
    assert len(set(ids)) == 5
    assert all(i.startswith("msg_") for i in ids)
    assert ids == [e["msg_id"] for e in hooked.events]


def test_webhooks_extra_secret_adds_second_signature(clerk: ClerkEmulator, receiver: WebhookReceiver) -> None:
    old, new = clerk.webhook_secret, "whsec_" + "B" * 32
    clerk.set_webhook(receiver.url, secret=new, extra_secrets=[old])
    clerk.create_user()
    (request,) = receiver.wait_for(1)
    assert len(request.headers["svix-signature"].split()) == 2
    Webhook(old).verify(request.body, request.headers)
    Webhook(new).verify(request.body, request.headers)


def test_webhooks_no_url_records_events_without_sending(clerk: ClerkEmulator) -> None:
    clerk.create_user()
    clerk.wait_for_deliveries(1)
    assert [e["type"] for e in clerk.events] == ["user.created"]
    assert clerk.deliveries == []


def test_webhooks_timestamp_unit_seconds_sends_seconds(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhook_timestamp_unit="s")
    user = hooked.create_user()
    (payload,) = _payloads(receiver.wait_for(1))
    assert payload["timestamp"] == user["updated_at"] // 1000


def test_webhooks_delay_holds_each_delivery(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhook_delay_ms=300)
    published = time.monotonic()
    hooked.create_user()
    (request,) = receiver.wait_for(1, timeout=3)
    assert request.at - published >= 0.3


def test_webhooks_duplicates_share_svix_id_and_body(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhook_duplicate_probability=1.0, webhook_duplicate_count=2)
    hooked.create_user()
    hooked.wait_for_deliveries(5)
    received = receiver.wait_for(3)
    assert len(received) == 3
    assert len({r.headers["svix-id"] for r in received}) == 1
    assert len({r.body for r in received}) == 1
    assert [d["copy"] for d in hooked.deliveries] == [0, 1, 2]


def test_webhooks_shuffle_window_sends_batch_out_of_order(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhook_shuffle_window_ms=200)
    for i in range(20):
        hooked.create_user(first_name=str(i))
    hooked.wait_for_deliveries(5)
    received = receiver.wait_for(20)
    names = [p["data"]["first_name"] for p in _payloads(received)]
    assert sorted(names, key=int) == [str(i) for i in range(20)]
    assert names != [str(i) for i in range(20)]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_webhooks_concurrency_sends_that_many_deliveries_at_once(
    hooked: ClerkEmulator, receiver: WebhookReceiver, concurrency: int
) -> None:
    receiver.hold_seconds = 0.2
    hooked.set_knobs(webhooks_paused=True, webhook_concurrency=concurrency)
    for i in range(8):
        hooked.create_user(first_name=str(i))
    hooked.set_knobs(webhooks_paused=False)
    received = receiver.wait_for(8, timeout=10)
    assert sorted(p["data"]["first_name"] for p in _payloads(received)) == sorted(str(i) for i in range(8))
    assert receiver.most_in_flight == concurrency
    hooked.wait_for_deliveries(5)
    assert all(d["status"] == "delivered" for d in hooked.deliveries)


def test_webhooks_non_2xx_retried_with_same_svix_id(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    receiver.respond_with(500, 503)
    hooked.set_knobs(webhook_max_attempts=3, webhook_retry_backoff_ms=10)
    hooked.create_user()
    hooked.wait_for_deliveries(5)
    received = receiver.wait_for(3)
    assert len({r.headers["svix-id"] for r in received}) == 1
    (delivery,) = hooked.deliveries
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]


def test_webhooks_attempts_exhausted_marks_failed(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    receiver.respond_with(500, 500, 500)
    hooked.set_knobs(webhook_max_attempts=2, webhook_retry_backoff_ms=10)
    hooked.create_user()
    hooked.wait_for_deliveries(5)
    (delivery,) = hooked.deliveries
    assert delivery["status"] == "failed"
    assert len(delivery["attempts"]) == 2


def test_webhooks_unreachable_endpoint_records_transport_error(clerk: ClerkEmulator) -> None:
    clerk.set_webhook("http://127.0.0.1:9/unreachable")
    clerk.set_knobs(webhook_max_attempts=1)
    clerk.create_user()
    clerk.wait_for_deliveries(5)
    (delivery,) = clerk.deliveries
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["status_code"] is None
    assert delivery["attempts"][0]["error"]


def test_webhooks_drop_probability_one_sends_nothing(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhook_drop_probability=1.0)
    hooked.create_user()
    hooked.wait_for_deliveries(1)
    time.sleep(0.05)
    assert receiver.requests == []
    assert [d["status"] for d in hooked.deliveries] == ["dropped"]
    assert len(hooked.events) == 1


def test_webhooks_paused_wait_times_out_then_resume_delivers(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    hooked.set_knobs(webhooks_paused=True)
    hooked.create_user()
    with pytest.raises(TimeoutError):
        hooked.wait_for_deliveries(0.2)
    assert receiver.requests == []
    hooked.set_knobs(webhooks_paused=False)
    hooked.wait_for_deliveries(5)
    assert len(receiver.wait_for(1)) == 1


def test_webhooks_order_without_knobs_follows_versions(hooked: ClerkEmulator, receiver: WebhookReceiver) -> None:
    user = hooked.create_user()
    for i in range(5):
        hooked.update_user(user["id"], first_name=str(i))
    versions = [p["data"]["updated_at"] for p in _payloads(receiver.wait_for(6))]
    assert versions == sorted(versions)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (lambda c: c.delete_user(c.create_user(external_id="x")["id"]), {"object", "id", "deleted", "external_id"}),
        (lambda c: c.delete_organization(c.create_organization("Gone")["id"]), {"object", "id", "slug", "deleted"}),
    ],
)
def test_webhooks_deleted_user_or_org_carries_only_ids(
    clerk: ClerkEmulator, action: Callable[[ClerkEmulator], object], expected: set[str]
) -> None:
    action(clerk)
    data = clerk.events[-1]["payload"]["data"]
    assert set(data) == expected
    assert data["deleted"] is True
