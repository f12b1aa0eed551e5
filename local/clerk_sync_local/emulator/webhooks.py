"""Svix-signed webhook sender: Clerk's event envelopes, delivered by a background thread with fault knobs.

Each change becomes one event (`msg_…` id, body fixed at publish time) and one or more deliveries of it
(duplicates share the id and body). Deliveries are due after the delay knob, optionally held in a
shuffle window and released in random order, retried on non-2xx or transport errors with exponential
backoff, and signed at each attempt with the attempt's time, as Svix does.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from .knobs import Knobs
from .state import IdGenerator, PendingEvent

# Key sets of the real payloads (clerk/webhook-examples). user.created is an older serialisation than the
# Backend API's user: legacy `birthday`/`gender`, and no has_image/banned/locked/last_active_at/etc.
USER_CREATED_KEYS = (
    "birthday",
    "created_at",
    "email_addresses",
    "external_accounts",
    "external_id",
    "first_name",
    "gender",
    "id",
    "image_url",
    "last_name",
    "last_sign_in_at",
    "object",
    "password_enabled",
    "phone_numbers",
    "primary_email_address_id",
    "primary_phone_number_id",
    "primary_web3_wallet_id",
    "private_metadata",
    "profile_image_url",
    "public_metadata",
    "two_factor_enabled",
    "unsafe_metadata",
    "updated_at",
    "username",
    "web3_wallets",
)
# user.updated carries the API user minus these newer fields.
USER_UPDATED_OMITS = frozenset({"locale", "password_last_updated_at", "bypass_client_trust"})
_LEGACY_USER_DEFAULTS = {"birthday": "", "gender": ""}

EVENT_ATTRIBUTES = {"http_request": {"client_ip": "127.0.0.1", "user_agent": "clerk-emulator"}}
USER_AGENT = "Svix-Webhooks/1.0 (clerk-emulator)"

DeliveryStatus = Literal["pending", "delivered", "failed", "dropped"]


def webhook_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` as the event carries it: the API shape, reshaped where real payloads differ."""
    if event_type == "user.created":
        return {key: data.get(key, _LEGACY_USER_DEFAULTS.get(key)) for key in USER_CREATED_KEYS}
    if event_type == "user.updated":
        # `deprovisioned` (Directory Sync) is newer than the recorded payload: sent only once it is set.
        return {
            key: value
            for key, value in data.items()
            if key not in USER_UPDATED_OMITS and (key != "deprovisioned" or value)
        }
    return data


def envelope(
    event_type: str, data: dict[str, Any], *, instance_id: str, at_ms: int, timestamp_unit: Literal["ms", "s"] = "ms"
) -> dict[str, Any]:
    """Clerk's event envelope; like the real user.created example, that event has no `event_attributes`."""
    body: dict[str, Any] = {
        "data": webhook_data(event_type, data),
        "object": "event",
        "type": event_type,
        "instance_id": instance_id,
        "timestamp": at_ms if timestamp_unit == "ms" else at_ms // 1000,
    }
    if event_type != "user.created":
        body["event_attributes"] = EVENT_ATTRIBUTES
    return body


def sign_headers(msg_id: str, body: str, secrets: Sequence[str], at: datetime) -> dict[str, str]:
    """Svix headers; one `v1,…` signature per secret (several while a secret rotates)."""
    # Imported here: svix.webhooks pulls in the whole Svix API client (~0.5 s), which only senders need.
    from svix.webhooks import Webhook

    signatures = " ".join(str(Webhook(secret).sign(msg_id, at, body)) for secret in secrets)
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(at.timestamp())),
        "svix-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class EventRecord:
    msg_id: str
    type: str
    timestamp_ms: int
    body: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "type": self.type,
            "timestamp_ms": self.timestamp_ms,
            "payload": json.loads(self.body),
        }


@dataclass
class Attempt:
    number: int
    sent_at_ms: int
    duration_ms: int
    status_code: int | None
    error: str | None


@dataclass
class Delivery:
    """One copy of an event on its way to the endpoint (duplicates are separate deliveries)."""

    msg_id: str
    event_type: str
    copy: int
    body: str
    due: float = 0.0  # time.monotonic() of the next attempt
    status: DeliveryStatus = "pending"
    attempts: list[Attempt] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "event_type": self.event_type,
            "copy": self.copy,
            "status": self.status,
            "attempts": [vars(a) for a in self.attempts],
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


class WebhookDispatcher:
    """Records every event and, when a URL is set, delivers it from a background thread."""

    def __init__(
        self,
        *,
        instance_id: str,
        secret: str,
        url: str | None,
        knobs: Callable[[], Knobs],
        ids: IdGenerator,
        rng: random.Random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.instance_id = instance_id
        self._secrets = [secret]
        self._url = url
        self._knobs = knobs
        self._ids = ids
        self._rng = rng
        self._transport = transport
        self._cv = threading.Condition()
        self._events: list[EventRecord] = []
        self._deliveries: list[Delivery] = []
        self._heap: list[tuple[float, int, Delivery]] = []
        self._held: list[Delivery] = []
        self._held_until: float | None = None
        self._inflight = 0
        self._seq = itertools.count()
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._started = False
        self._generation = 0  # bumped by clear(), so an in-flight delivery is not re-queued afterwards

    # --- configuration ---

    @property
    def url(self) -> str | None:
        return self._url

    @property
    def secret(self) -> str:
        return self._secrets[0]

    @property
    def extra_secrets(self) -> list[str]:
        return self._secrets[1:]

    def configure(self, url: str | None, secret: str | None = None, extra_secrets: Sequence[str] = ()) -> None:
        """Point at a new endpoint; events published from now on go there (earlier ones are not replayed)."""
        with self._cv:
            self._url = url
            self._secrets = [secret or self._secrets[0], *extra_secrets]

    def wake(self) -> None:
        """Re-read knobs now (e.g. after unpausing, or a higher `webhook_concurrency`)."""
        with self._cv:
            self._ensure_senders_locked()
            self._cv.notify_all()

    # --- publishing ---

    def publish(self, change: PendingEvent) -> EventRecord:
        """Record the event for `change` and schedule its deliveries per the knobs."""
        knobs = self._knobs()
        payload = envelope(
            change.type,
            change.data,
            instance_id=self.instance_id,
            at_ms=change.at_ms,
            timestamp_unit=knobs.webhook_timestamp_unit,
        )
        record = EventRecord(self._ids.new("msg"), change.type, change.at_ms, json.dumps(payload))
        with self._cv:
            self._events.append(record)
            if self._url is None:
                return record
            copies = 1
            if knobs.webhook_duplicate_probability and self._rng.random() < knobs.webhook_duplicate_probability:
                copies += knobs.webhook_duplicate_count
            for copy in range(copies):
                delivery = Delivery(record.msg_id, record.type, copy, record.body)
                self._deliveries.append(delivery)
                if knobs.webhook_drop_probability and self._rng.random() < knobs.webhook_drop_probability:
                    delivery.status = "dropped"
                    continue
                self._schedule_locked(delivery, knobs)
            self._cv.notify_all()
        return record

    def _schedule_locked(self, delivery: Delivery, knobs: Knobs) -> None:
        now = time.monotonic()
        delivery.due = now + knobs.webhook_delay_ms / 1000
        if knobs.webhook_shuffle_window_ms:
            if self._held_until is None:
                self._held_until = now + knobs.webhook_shuffle_window_ms / 1000
            self._held.append(delivery)
        else:
            heapq.heappush(self._heap, (delivery.due, next(self._seq), delivery))

    def _release_held_locked(self, now: float) -> None:
        if self._held_until is None or now < self._held_until:
            return
        batch, self._held, self._held_until = self._held, [], None
        self._rng.shuffle(batch)
        # Same due time for the whole batch; the sequence numbers carry the shuffled order.
        for delivery in batch:
            delivery.due = max(now, delivery.due)
            heapq.heappush(self._heap, (delivery.due, next(self._seq), delivery))

    # --- the sender thread ---

    def start(self) -> None:
        with self._cv:
            if self._started:
                return
            self._started, self._stopping = True, False
            self._ensure_senders_locked()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the senders; deliveries not yet sent stay `pending`."""
        with self._cv:
            threads, self._threads = self._threads, []
            self._started, self._stopping = False, True
            self._cv.notify_all()
        for thread in threads:
            thread.join(timeout)

    def _ensure_senders_locked(self) -> None:
        # Svix sends an endpoint's messages concurrently; `webhook_concurrency` senders at most (1: one at a time, in
        # due order). Threads are only added: a lower knob idles the extra ones (see `_next_due_locked`).
        if not self._started:
            return
        while len(self._threads) < self._knobs().webhook_concurrency:
            thread = threading.Thread(
                target=self._run, name=f"clerk-emulator-webhooks-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _next_due_locked(self) -> Delivery | None:
        now = time.monotonic()
        self._release_held_locked(now)
        knobs = self._knobs()
        if knobs.webhooks_paused or self._inflight >= knobs.webhook_concurrency:
            return None
        if not self._heap or self._heap[0][0] > now:
            return None
        return heapq.heappop(self._heap)[2]

    def _wait_time_locked(self) -> float:
        now = time.monotonic()
        deadlines = [now + 1.0]
        if self._heap and not self._knobs().webhooks_paused:
            deadlines.append(self._heap[0][0])
        if self._held_until is not None:
            deadlines.append(self._held_until)
        return max(0.001, min(deadlines) - now)

    def _run(self) -> None:
        with httpx.Client(transport=self._transport) as client:
            while True:
                with self._cv:
                    delivery = self._next_due_locked()
                    while delivery is None:
                        if self._stopping:
                            return
                        self._cv.wait(self._wait_time_locked())
                        delivery = self._next_due_locked()
                    if self._stopping:
                        heapq.heappush(self._heap, (delivery.due, next(self._seq), delivery))
                        return
                    self._inflight += 1
                    url, secrets, generation = self._url, list(self._secrets), self._generation
                knobs = self._knobs()
                attempt = self._attempt(client, delivery, url, secrets, knobs)
                with self._cv:
                    self._inflight -= 1
                    delivery.attempts.append(attempt)
                    if generation != self._generation:
                        self._cv.notify_all()
                        continue
                    ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
                    if ok:
                        delivery.status = "delivered"
                    elif len(delivery.attempts) >= knobs.webhook_max_attempts:
                        delivery.status = "failed"
                    else:
                        backoff = knobs.webhook_retry_backoff_ms / 1000 * 2 ** (len(delivery.attempts) - 1)
                        delivery.due = time.monotonic() + backoff
                        heapq.heappush(self._heap, (delivery.due, next(self._seq), delivery))
                    self._cv.notify_all()

    def _attempt(
        self, client: httpx.Client, delivery: Delivery, url: str | None, secrets: list[str], knobs: Knobs
    ) -> Attempt:
        number = len(delivery.attempts) + 1
        started, sent_at = time.monotonic(), _now_ms()
        if url is None:
            return Attempt(number, sent_at, 0, None, "no webhook url")
        headers = sign_headers(delivery.msg_id, delivery.body, secrets, datetime.now(UTC))
        try:
            response = client.post(
                url, content=delivery.body.encode(), headers=headers, timeout=knobs.webhook_timeout_s
            )
        except httpx.HTTPError as exc:
            return Attempt(
                number, sent_at, int((time.monotonic() - started) * 1000), None, f"{type(exc).__name__}: {exc}"
            )
        return Attempt(number, sent_at, int((time.monotonic() - started) * 1000), response.status_code, None)

    # --- inspection ---

    def idle(self) -> bool:
        with self._cv:
            return self._idle_locked()

    def _idle_locked(self) -> bool:
        return not self._heap and not self._held and self._inflight == 0

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is pending or in flight; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not self._idle_locked():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cv.wait(min(remaining, 0.05))
            return True

    def events(self) -> list[dict[str, Any]]:
        with self._cv:
            return [e.as_dict() for e in self._events]

    def deliveries(self) -> list[dict[str, Any]]:
        with self._cv:
            return [d.as_dict() for d in self._deliveries]

    def clear(self) -> None:
        """Forget every event and delivery (pending ones are never sent)."""
        with self._cv:
            self._events.clear()
            self._deliveries.clear()
            self._heap.clear()
            self._held.clear()
            self._held_until = None
            self._generation += 1
            self._cv.notify_all()
