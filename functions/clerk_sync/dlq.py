"""A deployment's dead-letter queue: look without consuming, replay (the CLI's `clerk-sync dlq` and the admin API).

Looking (`peek`, `find`) receives every dead letter with a short visibility timeout (`PEEK_VISIBILITY_SECONDS`),
then makes each visible again (ChangeMessageVisibility 0): nothing is consumed, and a look that dies midway leaves
its messages hidden for that long at most. SQS counts each look as a receive of the DLQ copy; the DLQ has no redrive
policy, so that changes nothing but its ApproximateReceiveCount, which is why the worker's own count (from its
failure note) is the one shown.

Replaying sends a message's body and attributes back to the event queue, then deletes it from the DLQ: a message is
never lost, and one sent twice (a crash between the two calls) is safe, because applying an event or a sync twice
is applying it once (invariant 5) and every write is version-gated.

Only what the sync API may do lives here (its role has ReceiveMessage, ChangeMessageVisibility, DeleteMessage and
GetQueueAttributes on the DLQ, SendMessage on the event queue); the operator's purge and SQS move tasks extend it in
`clerk_sync_local.dlq`. A `deadline` (time.monotonic) bounds how long a look keeps receiving, so a request answers in
time however deep the DLQ is; what it did not reach is reported as not found, or as left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from clerk_sync.deadletters import DeadLetterBody, FailureNote, read_dead_letter
from clerk_sync.store import FailureNotes, StoreError

# How long a look hides the messages it received before it makes them visible again.
PEEK_VISIBILITY_SECONDS: Final = 60
# SQS receives, deletes and changes visibility at most ten messages a call.
BATCH: Final = 10

Progress = Callable[[int, int], None]  # (done, total)


class DeadLetterError(Exception):
    """SQS refused or could not be reached; the message says what was asked."""


@dataclass(frozen=True)
class DeadLetter:
    """One message on the DLQ: its id, body and what it is about, and the worker's note of its last failure."""

    message_id: str
    body: str
    read: DeadLetterBody
    sqs_receive_count: int  # SQS's count, this look's receive excluded (earlier looks included)
    sent_at: int | None  # Unix ms, when it was first sent to the event queue (SQS keeps it in the DLQ)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    failure: FailureNote | None = None

    @property
    def receive_count(self) -> int:
        """The worker's receives when it last failed, from its note; else SQS's count."""
        return self.failure.receive_count if self.failure else self.sqs_receive_count

    def summary(self) -> dict[str, Any]:
        """The JSON form of a list row (`dlq list --json`); the body is left out."""
        failure = self.failure
        return {
            "message_id": self.message_id,
            "kind": self.read.kind.value,
            "type": self.read.what,
            "entity_id": self.read.entity_id,
            "svix_id": self.read.svix_id,
            "receive_count": self.receive_count,
            "sent_at": self.sent_at,
            "decodes": self.read.decodes,
            "problem": self.read.problem,
            "last_error": None
            if failure is None
            else {
                "error_class": failure.reason.error_class,
                "message": failure.reason.message,
                "at": failure.noted_at,
                "receive_count": failure.receive_count,
            },
        }


@dataclass
class ReplayResult:
    """What a replay did: the ids moved (empty for a move task, which reports counts), the ids it could not find or
    send, how many SQS says it moved, and how many dead letters are left."""

    method: str  # "message by message" or "move task"
    requested: int
    moved: int = 0
    moved_ids: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    left: int = 0
    seconds: float = 0.0
    problem: str | None = None  # a move task's FailureReason, or why it stopped

    @property
    def complete(self) -> bool:
        return not self.missing and not self.failed and self.problem is None and self.moved >= self.requested

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "requested": self.requested,
            "moved": self.moved,
            "moved_ids": self.moved_ids,
            "missing": self.missing,
            "failed": self.failed,
            "left": self.left,
            "complete": self.complete,
            "seconds": round(self.seconds, 2),
            "problem": self.problem,
        }


def string_attributes(message: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """A received message's string attributes, as SendMessage takes them (the queue only ever sets strings)."""
    return {
        name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }


def move_message(sqs: Any, message: Mapping[str, Any], *, to_url: str, from_url: str) -> None:
    """Sends a received message (body and attributes) to `to_url`, then deletes it from `from_url`: never lost."""
    request: dict[str, Any] = {"QueueUrl": to_url, "MessageBody": message["Body"]}
    attributes = string_attributes(message)
    if attributes:
        request["MessageAttributes"] = attributes
    sqs.send_message(**request)
    sqs.delete_message(QueueUrl=from_url, ReceiptHandle=message["ReceiptHandle"])


class DeadLetterQueue:
    """The DLQ of one deployment, its event queue, and the worker's failure notes (None: shown without)."""

    def __init__(
        self,
        sqs: Any,
        *,
        dlq_url: str,
        queue_url: str,
        notes: FailureNotes | None,
        deadline: float | None = None,
    ) -> None:
        self._sqs = sqs
        self.dlq_url = dlq_url
        self.queue_url = queue_url
        self._notes = notes
        self.deadline = deadline  # time.monotonic() past which a look stops receiving (None: never)
        self.notes_problem: str | None = None  # why the failure notes could not be read, if they could not

    # ---- looking --------------------------------------------------------------------------------

    def count(self) -> int:
        """Dead letters waiting or hidden by a look (SQS's approximate counts)."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        answer = self._call(
            "read the DLQ's counts", self._sqs.get_queue_attributes, QueueUrl=self.dlq_url, AttributeNames=names
        )
        attributes = answer["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def peek(self, limit: int = 1000) -> list[DeadLetter]:
        """Up to `limit` dead letters, oldest sent first, with their last errors; none is consumed."""
        with self._held(limit) as held:
            return self._letters(held.values())

    def find(self, message_ids: Sequence[str]) -> tuple[list[DeadLetter], list[str]]:
        """The dead letters with these ids (in the order asked) and the ids not on the DLQ."""
        with self._held(None) as held:
            found = self._letters(held[m] for m in dict.fromkeys(message_ids) if m in held)
        return found, [m for m in dict.fromkeys(message_ids) if m not in held]

    # ---- replaying ------------------------------------------------------------------------------

    def replay_ids(self, message_ids: Sequence[str], progress: Progress | None = None) -> ReplayResult:
        """Moves the dead letters with these ids back to the event queue, one by one."""
        started = time.monotonic()
        wanted = list(dict.fromkeys(message_ids))
        result = ReplayResult("message by message", len(wanted))
        with self._held(None) as held:
            result.missing = [m for m in wanted if m not in held]
            self._move(
                [held.pop(m) for m in wanted if m in held], result, progress, total=len(wanted) - len(result.missing)
            )
        result.left = self.count()
        result.seconds = time.monotonic() - started
        return result

    def replay_each(self, limit: int | None = None, progress: Progress | None = None) -> ReplayResult:
        """Moves the dead letters there now (at most `limit`) back to the event queue, one by one."""
        started = time.monotonic()
        result = self._replay_each(progress, limit)
        result.seconds = time.monotonic() - started
        return result

    # ---- internals ------------------------------------------------------------------------------

    def _replay_each(self, progress: Progress | None, limit: int | None = None) -> ReplayResult:
        # Only what is there now: a replayed message that fails again comes back with a new id, and is left.
        total = self.count() if limit is None else min(limit, self.count())
        with self._held(total) as held:
            result = ReplayResult("message by message", total)
            self._move(list(held.values()), result, progress, total=total)
            held.clear()
        result.left = self.count()
        return result

    def _move(
        self, messages: list[dict[str, Any]], result: ReplayResult, progress: Progress | None, *, total: int
    ) -> None:
        if progress:
            progress(0, total)
        for message in messages:
            try:
                move_message(self._sqs, message, to_url=self.queue_url, from_url=self.dlq_url)
            except (BotoCoreError, ClientError) as error:
                result.failed[message["MessageId"]] = _reason(error)
                self._release([message])
            else:
                result.moved += 1
                result.moved_ids.append(message["MessageId"])
            if progress:
                progress(result.moved + len(result.failed), total)

    @contextmanager
    def _held(self, limit: int | None) -> Iterator[dict[str, dict[str, Any]]]:
        """Receives up to `limit` (None: every) dead letter, hidden for PEEK_VISIBILITY_SECONDS, by message id; those
        the caller leaves in the dict are made visible again afterwards."""
        held: dict[str, dict[str, Any]] = {}
        try:
            expected = self.count()
            while (limit is None or len(held) < limit) and not self._past_deadline():
                wanted = BATCH if limit is None else min(BATCH, limit - len(held))
                batch = self._call(
                    "receive from the DLQ",
                    self._sqs.receive_message,
                    QueueUrl=self.dlq_url,
                    MaxNumberOfMessages=wanted,
                    VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
                    # A long poll asks every SQS server until all are found; then one short poll confirms the end.
                    WaitTimeSeconds=1 if len(held) < expected else 0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    held[message["MessageId"]] = message  # the latest receipt handle is the one that deletes
            yield held
        finally:
            self._release(list(held.values()))

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _release(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(messages[start : start + BATCH])
            ]
            # Best effort: a message not released comes back by itself when its look's timeout ends.
            try:
                self._sqs.change_message_visibility_batch(QueueUrl=self.dlq_url, Entries=entries)
            except (BotoCoreError, ClientError):
                continue

    def _letters(self, messages: Iterable[dict[str, Any]]) -> list[DeadLetter]:
        received = list(messages)
        notes = self._failure_notes([m["MessageId"] for m in received])
        letters = [_letter(m, notes.get(m["MessageId"])) for m in received]
        return sorted(letters, key=lambda letter: (letter.sent_at or 0, letter.message_id))

    def _failure_notes(self, message_ids: list[str]) -> dict[str, FailureNote]:
        if self._notes is None or not message_ids:
            return {}
        try:
            return self._notes.get_many(message_ids)
        except StoreError as error:
            self.notes_problem = f"the worker's failure notes could not be read: {error}"
            return {}

    def _call(self, what: str, operation: Callable[..., Any], **request: Any) -> Any:
        try:
            return operation(**request)
        except (BotoCoreError, ClientError) as error:
            raise DeadLetterError(f"could not {what}: {_reason(error)}") from error


def _letter(message: Mapping[str, Any], failure: FailureNote | None) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        body=message["Body"],
        read=read_dead_letter(message["Body"]),
        sqs_receive_count=max(0, int(attributes.get("ApproximateReceiveCount", 1)) - 1),
        sent_at=int(sent) if sent is not None else None,
        attributes=string_attributes(message),
        failure=failure,
    )


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
    return f"{type(error).__name__}: {error}"
