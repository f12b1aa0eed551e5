"""Where every webhook event went: delivered, accepted or refused at the webhook, handled by the worker with an
outcome, failed, dead-lettered, replayed. What "nothing lost" (invariant 6) is checked against.

An event is *accounted for* when the worker handled it at least once (applied, or judged stale, duplicate, ...)
or it waits in the DLQ. It is *lost* when the webhook accepted it (a 2xx) and neither holds.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class EventTrail:
    msg_id: str
    event_type: str
    copies: int = 0  # deliveries scheduled (Svix's duplicates included)
    attempts: int = 0  # POSTs to the webhook, retries included
    accepted: int = 0  # 2xx answers
    refused: int = 0  # other answers
    outcomes: list[str] = field(default_factory=list)  # one per handling the worker finished
    failures: int = 0  # handlings the worker reported failed
    dead_lettered: int = 0
    replayed: int = 0
    in_dlq: bool = False

    @property
    def handled(self) -> bool:
        return bool(self.outcomes)


@dataclass
class SyncTally:
    run: int = 0
    failed: int = 0


class EventLedger:
    """Thread-safe: the webhook runs in the gateway's threads, the worker in the caller's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: dict[str, EventTrail] = {}
        self.syncs: dict[str, SyncTally] = {}
        self.dead_lettered_syncs = 0
        self.replayed_syncs = 0

    def _trail(self, msg_id: str, event_type: str = "") -> EventTrail:
        trail = self.events.get(msg_id)
        if trail is None:
            trail = self.events[msg_id] = EventTrail(msg_id, event_type)
        elif event_type and not trail.event_type:
            trail.event_type = event_type
        return trail

    def scheduled(self, msg_id: str, event_type: str) -> None:
        with self._lock:
            self._trail(msg_id, event_type).copies += 1

    def answered(self, msg_id: str, status: int) -> None:
        with self._lock:
            trail = self._trail(msg_id)
            trail.attempts += 1
            if 200 <= status < 300:
                trail.accepted += 1
            else:
                trail.refused += 1

    def outcome(self, msg_id: str, outcome: str) -> None:
        with self._lock:
            self._trail(msg_id).outcomes.append(outcome)

    def failed(self, msg_id: str) -> None:
        with self._lock:
            self._trail(msg_id).failures += 1

    def sync(self, target: str, *, ok: bool) -> None:
        with self._lock:
            tally = self.syncs.setdefault(target, SyncTally())
            tally.run += 1
            tally.failed += 0 if ok else 1

    def dead_letter(self, msg_id: str | None) -> None:
        with self._lock:
            if msg_id is None:
                self.dead_lettered_syncs += 1
                return
            trail = self._trail(msg_id)
            trail.dead_lettered += 1
            trail.in_dlq = True

    def replay(self, msg_id: str | None) -> None:
        with self._lock:
            if msg_id is None:
                self.replayed_syncs += 1
                return
            trail = self._trail(msg_id)
            trail.replayed += 1
            trail.in_dlq = False

    # ---- what the report shows ------------------------------------------------------------------

    def outcomes(self) -> Counter[str]:
        with self._lock:
            return Counter(outcome for trail in self.events.values() for outcome in trail.outcomes)

    def lost(self) -> list[str]:
        """Accepted by the webhook, never handled by the worker, not in the DLQ."""
        with self._lock:
            return sorted(t.msg_id for t in self.events.values() if t.accepted and not t.handled and not t.in_dlq)

    def undelivered(self) -> list[str]:
        """Scheduled but never accepted: Svix would go on retrying these (its 27 hours are not the soak's)."""
        with self._lock:
            return sorted(t.msg_id for t in self.events.values() if t.copies and not t.accepted)

    def still_dead_lettered(self) -> list[str]:
        with self._lock:
            return sorted(t.msg_id for t in self.events.values() if t.in_dlq)

    def totals(self) -> Counter[str]:
        with self._lock:
            trails = list(self.events.values())
            return Counter(
                events=len(trails),
                copies=sum(t.copies for t in trails),
                attempts=sum(t.attempts for t in trails),
                accepted=sum(t.accepted for t in trails),
                refused=sum(t.refused for t in trails),
                failures=sum(t.failures for t in trails),
                dead_lettered=sum(t.dead_lettered for t in trails),
                replayed=sum(t.replayed for t in trails),
            )
