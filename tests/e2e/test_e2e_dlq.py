"""The DLQ on the local stack: a poison message ends there after maxReceiveCount; `clerk-sync dlq` lists dead letters
with the worker's last error without consuming them, replays them once their cause is fixed (the table then equals
Clerk and the DLQ is empty), purges only with --yes, and says clearly when an id is wrong."""

from __future__ import annotations

import copy
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from clerk_sync.resources import EVENT_QUEUE
from clerk_sync_local.cli import app
from tests.e2e.conftest import Stack
from tests.support.signing import svix_headers

runner = CliRunner()
# Every receive fails at once, and SQS makes the record visible again a second later (the local poller).
REDRIVE_TIMEOUT_SECONDS = 10.0 * EVENT_QUEUE.max_receive_count
# A 429 storm whose Retry-After ends past every budget: each Clerk call gives up at once (ClerkRateLimitedError).
CLERK_STORM = {"rate_limit_storm_retry_after_s": 60}


def _ready_file(stack: Stack, tmp_path: Path) -> str:
    path = tmp_path / "ready.json"
    path.write_text(stack.ready.model_dump_json())
    return str(path)


def _dlq(stack: Stack, tmp_path: Path, *args: str) -> Result:
    return runner.invoke(app, ["dlq", *args, "--ready-file", _ready_file(stack, tmp_path)])


def _json(result: Result) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def _wait_for_dead_letters(stack: Stack, count: int) -> None:
    """Until the DLQ holds `count` and the event queue is empty (an earlier test's delayed message may pass by)."""
    deadline = time.monotonic() + REDRIVE_TIMEOUT_SECONDS
    while stack.queue_depth(stack.ready.dlq_url) < count or stack.queue_depth() > 0:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} dead letter(s) expected within {REDRIVE_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.2)


def _send_tie(stack: Stack, user_id: str) -> str:
    """A signed user.updated at the stored version with other content: applying it needs Clerk (invariant 2)."""
    events = [e for e in stack.clerk.get("/events").json() if e["payload"]["data"].get("id") == user_id]
    tie = copy.deepcopy(events[-1]["payload"])
    tie["type"] = "user.updated"
    tie["data"]["first_name"] = "Tied"
    body = json.dumps(tie)
    svix_id = f"msg_tie_{uuid.uuid4().hex[:12]}"
    assert stack.ready.webhook_secret is not None
    headers = svix_headers(body, secret=stack.ready.webhook_secret, msg_id=svix_id)
    assert stack.api.post("/api/webhooks/clerk", content=body, headers=headers).status_code == 202
    return svix_id


@pytest.fixture
def empty_dlq(stack: Stack) -> None:
    """This test's dead letters only: whatever an earlier test left is deleted first (not purged: SQS allows one
    PurgeQueue a minute, and the purge test makes that one)."""
    while messages := stack.sqs.receive_message(QueueUrl=stack.ready.dlq_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            stack.sqs.delete_message(QueueUrl=stack.ready.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    assert stack.queue_depth(stack.ready.dlq_url) == 0


def test_poison_message_ends_in_the_dlq_after_max_receives(stack: Stack) -> None:
    body = '{"svix_id": "msg_poison", "event": not json'
    stack.sqs.send_message(QueueUrl=stack.ready.queue_url, MessageBody=body)
    deadline = time.monotonic() + REDRIVE_TIMEOUT_SECONDS
    moved: list[dict[str, object]] = []
    while not moved and time.monotonic() < deadline:
        response = stack.sqs.receive_message(
            QueueUrl=stack.ready.dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        moved = [m for m in response.get("Messages", []) if m["Body"] == body]
    assert moved, f"not in the DLQ after {EVENT_QUEUE.max_receive_count} receives"
    (message,) = moved
    # Gone from the event queue too (once whatever an earlier test left there has drained).
    drained = time.monotonic() + REDRIVE_TIMEOUT_SECONDS
    while stack.queue_depth() and time.monotonic() < drained:
        time.sleep(0.2)
    assert stack.queue_depth() == 0
    stack.sqs.delete_message(QueueUrl=stack.ready.dlq_url, ReceiptHandle=message["ReceiptHandle"])
    # Every receive failed; the stack's log shows each attempt and the last one's warning.
    log = stack.log.read_text()
    assert f"receive {EVENT_QUEUE.max_receive_count}/{EVENT_QUEUE.max_receive_count}" in log


def test_dlq_lists_a_failed_event_with_its_last_error_and_replay_applies_it_once_clerk_answers(
    stack: Stack, knobs: httpx.Client, tmp_path: Path, empty_dlq: None
) -> None:
    user_id = stack.clerk.post("/users", json={"first_name": "Before"}).json()["id"]
    stack.converge()
    assert knobs.put("/knobs", json=CLERK_STORM).status_code == 200
    svix_id = _send_tie(stack, user_id)
    _wait_for_dead_letters(stack, 1)

    started = time.perf_counter()
    listed = _dlq(stack, tmp_path, "list", "--json")
    list_seconds = time.perf_counter() - started
    assert listed.exit_code == 0, listed.output
    (letter,) = [letter for letter in _json(listed)["dead_letters"] if letter["svix_id"] == svix_id]
    assert (letter["type"], letter["entity_id"], letter["svix_id"]) == ("user.updated", user_id, svix_id)
    assert letter["receive_count"] == EVENT_QUEUE.max_receive_count
    assert letter["last_error"]["error_class"] == "ClerkRateLimitedError"
    assert letter["decodes"] is True
    # Looking consumed nothing: the dead letter is still there, visible, for the next look.
    assert _dlq(stack, tmp_path, "list").exit_code == 0
    shown = _dlq(stack, tmp_path, "show", letter["message_id"], "--json")
    assert shown.exit_code == 0, shown.output
    assert _json(shown)["dead_letter"]["body"]["svix_id"] == svix_id
    again = _json(_dlq(stack, tmp_path, "list", "--json"))["dead_letters"]
    assert letter["message_id"] in {other["message_id"] for other in again}

    # The cause goes away; the replay applies the event: Clerk settles the tie, the table equals Clerk.
    assert knobs.put("/knobs", json={"rate_limit_storm_retry_after_s": None}).status_code == 200
    started = time.perf_counter()
    replayed = _dlq(stack, tmp_path, "replay", letter["message_id"], "--json")
    replay_seconds = time.perf_counter() - started
    assert replayed.exit_code == 0, replayed.output
    summary = _json(replayed)
    assert (summary["moved"], summary["complete"], summary["moved_ids"]) == (1, True, [letter["message_id"]])
    stack.converge()
    stored = stack.user(user_id)
    assert stored is not None
    assert stored["first_name"] == "Before"
    left = _json(_dlq(stack, tmp_path, "list", "--json"))["dead_letters"]
    assert letter["message_id"] not in {other["message_id"] for other in left}
    assert stack.queue_depth(stack.ready.dlq_url) == 0
    print(f"dlq list {list_seconds * 1000:.0f} ms, dlq replay ID {replay_seconds * 1000:.0f} ms")  # pytest -rP


def test_dlq_replay_all_moves_every_dead_letter_and_the_table_then_equals_clerk(
    stack: Stack, knobs: httpx.Client, tmp_path: Path, empty_dlq: None
) -> None:
    users = [stack.clerk.post("/users", json={"first_name": f"All{n}"}).json()["id"] for n in range(3)]
    stack.converge()
    assert knobs.put("/knobs", json=CLERK_STORM).status_code == 200
    for user_id in users:
        _send_tie(stack, user_id)
    _wait_for_dead_letters(stack, len(users))
    listed = _json(_dlq(stack, tmp_path, "list", "--json"))
    assert set(users) <= {letter["entity_id"] for letter in listed["dead_letters"]}

    assert knobs.put("/knobs", json={"rate_limit_storm_retry_after_s": None}).status_code == 200
    started = time.perf_counter()
    replayed = _dlq(stack, tmp_path, "replay", "--all", "--json")
    replay_seconds = time.perf_counter() - started
    assert replayed.exit_code == 0, replayed.output
    summary = _json(replayed)
    assert (summary["method"], summary["complete"]) == ("message by message", True)
    assert summary["moved"] == summary["requested"] == listed["count"]
    stack.converge()
    assert stack.queue_depth(stack.ready.dlq_url) == 0
    assert _json(_dlq(stack, tmp_path, "list", "--json"))["count"] == 0
    print(f"dlq replay --all of {len(users)}: {replay_seconds * 1000:.0f} ms")  # pytest -rP


def test_dlq_purge_needs_yes_then_empties_the_dlq(stack: Stack, tmp_path: Path, empty_dlq: None) -> None:
    for number in range(2):
        stack.sqs.send_message(QueueUrl=stack.ready.queue_url, MessageBody=f"poison {number}")
    _wait_for_dead_letters(stack, 2)
    refused = _dlq(stack, tmp_path, "purge")
    assert refused.exit_code == 1
    assert "pass --yes" in refused.stderr
    assert stack.queue_depth(stack.ready.dlq_url) == 2
    listed = _json(_dlq(stack, tmp_path, "list", "--json"))
    assert {(letter["kind"], letter["last_error"]["error_class"]) for letter in listed["dead_letters"]} == {
        ("unreadable", "JSONDecodeError")
    }
    purged = _dlq(stack, tmp_path, "purge", "--yes", "--json")
    assert purged.exit_code == 0, purged.output
    assert _json(purged)["purged"] == 2
    assert stack.queue_depth(stack.ready.dlq_url) == 0


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["show", "not-an-id"], "not an SQS message id: not-an-id"),
        (["replay", "12345"], "not an SQS message id: 12345"),
        (["show", "00000000-0000-4000-8000-000000000000"], "no dead letter 00000000-0000-4000-8000-000000000000"),
        (["replay", "00000000-0000-4000-8000-000000000000"], "not on the DLQ: 00000000-0000-4000-8000-000000000000"),
        (["replay"], "name the message ids to replay, or pass --all"),
    ],
)
def test_dlq_bad_ids_exit_1_with_a_clear_error(stack: Stack, tmp_path: Path, args: list[str], says: str) -> None:
    result = _dlq(stack, tmp_path, *args)
    assert result.exit_code == 1
    assert says in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
