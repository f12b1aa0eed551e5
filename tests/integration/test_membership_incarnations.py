"""Clerk's real membership examples through webhook handler, SQS and worker: a deleted membership stays deleted.

The bundled `organizationMembership.deleted` carries `updated_at` 1716883200000, older than the
`organizationMembership.updated` of the same membership id (1716883500000): the delete must still win, in any
delivery order (docs/decisions/0003). A re-add is a new membership id with newer versions, and comes back.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from clerk_sync import keys
from tests.support.clerk_payloads import example
from tests.support.pipeline import drain, post_webhook

MEMBERSHIP_EVENTS = (
    "organizationMembership.created",
    "organizationMembership.updated",
    "organizationMembership.deleted",
)
ORDERS = list(itertools.permutations(MEMBERSHIP_EVENTS))


def _membership_item(aws: Any) -> dict[str, Any]:
    data = example("organizationMembership.created")["data"]
    item: dict[str, Any] | None = aws.store().get_membership(
        data["organization"]["id"], data["public_user_data"]["user_id"]
    )
    assert item is not None
    return item


def _deliver_in_order(aws: Any, payloads: list[dict[str, Any]], prefix: str) -> None:
    """One webhook at a time through the whole pipeline, so the worker sees exactly this order."""
    for number, payload in enumerate(payloads):
        assert post_webhook(payload, msg_id=f"msg_{prefix}_{number}")["statusCode"] == 202
        assert drain(aws) == 1


def test_membership_examples_delete_is_older_than_update() -> None:
    # The premise of this file: if Clerk's examples change, the orders below may stop testing the hard case.
    updated = example("organizationMembership.updated")["data"]
    deleted = example("organizationMembership.deleted")["data"]
    assert deleted["id"] == updated["id"]
    assert deleted["updated_at"] < updated["updated_at"]


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(t.split(".")[1] for t in order) for order in ORDERS])
def test_membership_events_in_any_order_end_deleted(aws: Any, order: tuple[str, ...]) -> None:
    _deliver_in_order(aws, [example(event_type) for event_type in order], "order")
    item = _membership_item(aws)
    assert item["deleted"] is True
    assert item["membership_id"] == example("organizationMembership.deleted")["data"]["id"]
    assert keys.GSI1_PK not in item
    assert aws.store().user_memberships(item["user_id"]) == []


def test_membership_events_delivered_twice_in_reverse_end_deleted(aws: Any) -> None:
    payloads = [example(event_type) for event_type in reversed(MEMBERSHIP_EVENTS)]
    _deliver_in_order(aws, payloads + payloads, "twice")
    assert _membership_item(aws)["deleted"] is True


def test_membership_readded_with_new_id_after_examples_is_live(aws: Any) -> None:
    readd = example("organizationMembership.created")
    readd["data"].update({"id": "orgmem_readded", "created_at": 1716883900000, "updated_at": 1716883900000})
    # The re-add is processed first; the old incarnation's events arrive late and lose on version.
    _deliver_in_order(aws, [readd] + [example(event_type) for event_type in MEMBERSHIP_EVENTS], "readd")
    item = _membership_item(aws)
    assert (item["deleted"], item["membership_id"], item["version"]) == (False, "orgmem_readded", 1716883900000)
    assert [m["org_id"] for m in aws.store().user_memberships(item["user_id"])] == [item["org_id"]]
