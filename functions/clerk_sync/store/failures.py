"""Failure notes: the last error of each SQS message the worker failed, keyed by its message id.

SQS keeps a message's id when its redrive policy moves it to the DLQ (moto does too: `tests/integration/
test_failure_notes.py`), so `clerk-sync dlq list|show` joins a dead letter with its note by id. One put per failed
receive and none otherwise: a record that succeeds costs nothing here. A note expires with the DLQ's retention.
A message moved back by StartMessageMoveTask gets a new id; if it fails again, it gets a note of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from clerk_sync import keys
from clerk_sync.deadletters import FailureNote, FailureReason
from clerk_sync.resources import EVENT_QUEUE
from clerk_sync.store import conditions as when
from clerk_sync.store.table import Item, Table, placeholders

FAILURE_ENTITY = "failure"


class FailureNotes:
    """The `FAILURE#<message id>` / `LAST` items."""

    def __init__(self, table: Table, *, retention_seconds: int = EVENT_QUEUE.dlq_retention_seconds) -> None:
        self._table = table
        self._retention_seconds = retention_seconds

    def record(self, note: FailureNote) -> None:
        """Notes the failure, unless a later one of the same message is already noted."""
        item = {
            **keys.failure_key(note.message_id),
            "entity": FAILURE_ENTITY,
            "message_id": note.message_id,
            "error_class": note.reason.error_class,
            "message": note.reason.message,
            "receive_count": note.receive_count,
            "noted_at": note.noted_at,
            keys.TTL_ATTRIBUTE: note.noted_at // 1000 + self._retention_seconds,
        }
        self._table.put(item, when.NOTE_NOT_NEWER, placeholders(noted_at=note.noted_at))

    def get_many(self, message_ids: Iterable[str]) -> dict[str, FailureNote]:
        """The notes of those messages that have one, by message id."""
        found = self._table.get_many([keys.failure_key(message_id) for message_id in message_ids])
        return {str(item["message_id"]): _note(item) for item in found}


def _note(item: Item) -> FailureNote:
    reason = FailureReason(str(item.get("error_class", "")), str(item.get("message", "")))
    return FailureNote(str(item["message_id"]), reason, int(item.get("receive_count", 0)), int(item["noted_at"]))
