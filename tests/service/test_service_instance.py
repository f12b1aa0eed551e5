"""A wrong Clerk key never wipes the table: 404-driven deletions wait for the instance guard (docs/decisions/0014).

The emulator is instance `ins_emulator` and its key is that instance's. "A key of another instance" is a stack
expecting `ins_production` (CLERK_INSTANCE_ID) while holding the emulator's key: exactly a development key in a
production stack. Both modes of CLERK_INSTANCE_ID are exercised: set (matching or not) and unset.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from clerk_sync import wiring
from clerk_sync.clerk.errors import ClerkInstanceMismatchError
from clerk_sync.handlers import webhook, worker
from clerk_sync.messages import QueuedSync, SyncTarget
from clerk_sync.vocabulary import Fallback, SyncSource
from clerk_sync_local.lambda_events import LocalLambdaContext, http_event
from clerk_sync_local.stack.poller import SqsPoller
from tests.service.conftest import Harness
from tests.support.clerk_payloads import example
from tests.support.signing import signed

INSTANCE_ROUTE = "GET /v1/instance"
MISMATCH_LOG = "clerk secret key belongs to another instance: nothing is deleted on Clerk's 404s"


def _expect_instance(monkeypatch: pytest.MonkeyPatch, instance_id: str | None) -> None:
    """Configures CLERK_INSTANCE_ID (None: unset) for the next cold start."""
    if instance_id is None:
        monkeypatch.delenv("CLERK_INSTANCE_ID", raising=False)
    else:
        monkeypatch.setenv("CLERK_INSTANCE_ID", instance_id)
    wiring.reset()


def _stored_then_gone_in_clerk(harness: Harness) -> dict[str, str]:
    """A user with two organizations, all on record; then Clerk deletes the user, one org, one membership."""
    clerk = harness.clerk
    user = clerk.create_user(first_name="Ada", email="ada@example.com")["id"]
    other = clerk.create_user(first_name="Bob")["id"]
    kept = clerk.create_organization("Kept", created_by=other)["id"]
    gone = clerk.create_organization("Gone", created_by=other)["id"]
    for org_id in (kept, gone):
        clerk.add_membership(org_id, user)
    for user_id in (user, other):
        harness.service.full_user_sync(user_id)
    clerk.remove_membership(kept, other)
    clerk.delete_organization(gone)
    clerk.delete_user(user)
    clerk.reset_stats()
    return {"user": user, "other": other, "kept": kept, "gone": gone}


def _live(harness: Harness, ids: dict[str, str]) -> dict[str, bool]:
    store = harness.store
    user, other = store.get_user(ids["user"]), store.get_organization(ids["gone"])
    member = store.get_membership(ids["kept"], ids["other"])
    return {
        "user": bool(user and not user.get("deleted")),
        "org": bool(other and not other.get("deleted")),
        "membership": bool(member and not member.get("deleted")),
    }


def test_key_of_another_instance_deletes_nothing_on_404s_and_logs_one_error(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, log_records: Any
) -> None:
    """Fails before the guard: a development key in a production stack tombstoned the user and the organization
    and removed the membership Clerk (the wrong instance) did not list."""
    ids = _stored_then_gone_in_clerk(harness)
    _expect_instance(monkeypatch, "ins_production")
    service = harness.service
    attempts = [
        lambda: service.sync_user(ids["user"]),
        lambda: service.full_user_sync(ids["user"]),
        lambda: service.sync_organization(ids["gone"]),
        lambda: service.sync_membership(ids["kept"], ids["other"]),  # not listed any more
        lambda: service.sync_user_organizations(ids["other"]),  # lists none of the kept membership
    ]
    for attempt in attempts:
        with pytest.raises(ClerkInstanceMismatchError):
            attempt()
    assert _live(harness, ids) == {"user": True, "org": True, "membership": True}
    errors = [record for record in log_records() if record["message"] == MISMATCH_LOG]
    assert len(errors) == 1
    assert errors[0]["level"] == "ERROR"
    assert (errors[0]["key_instance_id"], errors[0]["expected_instance_id"]) == ("ins_emulator", "ins_production")
    assert harness.calls(INSTANCE_ROUTE) == 1  # once per container


def test_matching_instance_404s_tombstone_and_remove_as_before(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _stored_then_gone_in_clerk(harness)
    _expect_instance(monkeypatch, harness.clerk.instance_id)
    service = harness.service
    assert service.sync_user(ids["user"]).found is False
    assert service.sync_organization(ids["gone"]).found is False
    service.sync_membership(ids["kept"], ids["other"])
    assert _live(harness, ids) == {"user": False, "org": False, "membership": False}
    assert harness.calls(INSTANCE_ROUTE) == 1


def test_unset_instance_trusts_the_keys_own_and_tombstones_after_one_lookup(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _stored_then_gone_in_clerk(harness)
    _expect_instance(monkeypatch, None)
    harness.service.sync_user(ids["user"])
    harness.service.sync_organization(ids["gone"])
    harness.service.sync_user_organizations(ids["other"])
    assert _live(harness, ids) == {"user": False, "org": False, "membership": False}
    assert harness.calls(INSTANCE_ROUTE) == 1


def test_syncs_that_delete_nothing_never_look_the_instance_up(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _expect_instance(monkeypatch, "ins_production")
    user = harness.clerk.create_user(first_name="Ada")["id"]
    harness.service.full_user_sync(user)
    harness.service.sync_user("user_unknown0000000000000000")  # 404, but nothing of ours to delete
    assert harness.calls(INSTANCE_ROUTE) == 0


def test_worker_leaves_the_message_of_another_instances_key_on_the_queue(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _stored_then_gone_in_clerk(harness)
    _expect_instance(monkeypatch, "ins_production")
    queue = wiring.event_queue()
    assert queue is not None
    now_ms = time.time_ns() // 1_000_000
    queue.send(QueuedSync(target=SyncTarget.USER, trigger=SyncSource.WEBHOOK, requested_at=now_ms, user_id=ids["user"]))
    poller = SqsPoller(harness.sqs, harness.resources.queue_url, worker.handler)
    capsys.readouterr()
    assert poller.poll_once() == 1
    assert (poller.stats.failed, poller.stats.succeeded) == (1, 0)
    attributes = harness.sqs.get_queue_attributes(
        QueueUrl=harness.resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "1"  # retried, then the DLQ: never acked
    assert '"ClerkInstanceMismatch"' in capsys.readouterr().out
    assert _live(harness, ids)["user"] is True


def test_login_with_key_of_another_instance_falls_back_instead_of_deleting(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails before the guard: the login's 404 tombstoned a live user and the authorizer denied them (403)."""
    ids = _stored_then_gone_in_clerk(harness)
    monkeypatch.setenv("USER_FRESHNESS_SECONDS", "0")  # every stored record is stale: the login asks Clerk
    _expect_instance(monkeypatch, "ins_production")
    time.sleep(0.002)  # the record's synced_at lies in the past
    login = harness.service.ensure_login_user(ids["user"], deadline=harness.service.deadline_in(1.5))
    assert login.source is Fallback.STALE
    assert not login.deleted
    assert _live(harness, ids)["user"] is True


def test_login_with_matching_instance_still_denies_a_user_clerk_deleted(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _stored_then_gone_in_clerk(harness)
    monkeypatch.setenv("USER_FRESHNESS_SECONDS", "0")
    _expect_instance(monkeypatch, harness.clerk.instance_id)
    time.sleep(0.002)
    login = harness.service.ensure_login_user(ids["user"], deadline=harness.service.deadline_in(1.5))
    assert login.deleted
    assert _live(harness, ids)["user"] is False


# ---- webhooks: the receiver refuses another instance's events ------------------------------------------------


def _post(payload: dict[str, Any]) -> dict[str, Any]:
    body, headers = signed(payload)
    response: dict[str, Any] = webhook.handler(http_event(body, headers), LocalLambdaContext())
    return response


def test_webhook_of_another_instance_than_the_keys_is_refused_when_unset(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _expect_instance(monkeypatch, None)
    foreign = example("user.created")  # instance_id ins_123
    assert foreign["instance_id"] != harness.clerk.instance_id
    refused = _post(foreign)
    assert refused["statusCode"] == 403
    own = {**foreign, "instance_id": harness.clerk.instance_id}
    assert _post(own)["statusCode"] == 202
    assert harness.calls(INSTANCE_ROUTE) == 1  # the receiver looked the key's instance up once


def test_webhook_of_another_instance_than_configured_is_refused_without_asking_clerk(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _expect_instance(monkeypatch, harness.clerk.instance_id)
    assert _post(example("user.created"))["statusCode"] == 403
    assert _post({**example("user.created"), "instance_id": harness.clerk.instance_id})["statusCode"] == 202
    assert harness.calls() == 0


def test_webhook_while_the_keys_instance_cannot_be_looked_up_is_503_for_svix_to_retry(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _expect_instance(monkeypatch, None)
    harness.clerk.set_knobs(outage=True)
    response = _post({**example("user.created"), "instance_id": harness.clerk.instance_id})
    assert response["statusCode"] == 503
    harness.clerk.set_knobs(outage=False)
    # Remembered for a few seconds only; a new container (or the next window) asks again and accepts.
    wiring.reset()
    assert _post({**example("user.created"), "instance_id": harness.clerk.instance_id})["statusCode"] == 202
