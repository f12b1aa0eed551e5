"""Every real Clerk example, signed with svix, through the webhook handler, SQS and the worker, into the table."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import keys
from clerk_sync.handlers import worker
from clerk_sync.vocabulary import EVENT_TYPES
from clerk_sync_local.lambda_events import response_json
from clerk_sync_local.stack.poller import SqsPoller
from tests.support.clerk_payloads import example
from tests.support.pipeline import drain, post_webhook

MEMBER_ORG = "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
MEMBER_USER = "user_2h8op3Isl1QR7tKu5FGNfaLKEoU"


def _only_item(aws: Any) -> dict[str, Any]:
    found = aws.items()
    assert len(found) == 1, found
    return found[0]


def _deliver(aws: Any, event_type: str, msg_id: str) -> dict[str, Any]:
    response = post_webhook(example(event_type), msg_id=msg_id)
    assert response["statusCode"] == 202, response
    assert response_json(response) == {"status": "queued", "svix_id": msg_id}
    poller = SqsPoller(aws.sqs, aws.resources.queue_url, worker.handler)
    assert poller.drain() == 1
    assert (poller.stats.succeeded, poller.stats.failed) == (1, 0)
    return _only_item(aws)


def test_pipeline_user_created_stores_user_with_emails(aws: Any) -> None:
    item = _deliver(aws, "user.created", "msg_uc")
    assert item[keys.PK] == "USER#user_29w83sxmDNGwOuEthce5gg56FcC"
    assert item[keys.SK] == "PROFILE"
    assert item["first_name"] == "Example"
    assert item["primary_email"] == "example@example.org"
    assert item["email_addresses"] == [
        {"id": "idn_29w83yL7CwVlJXylYLxcslromF1", "email_address": "example@example.org", "verified": True}
    ]
    assert item["external_id"] == "567772"
    assert item["version"] == 1654012591835
    assert item["last_sign_in_at"] == 1654012591514
    assert (item["deleted"], item["provisional"], item["sync_source"]) == (False, False, "webhook")
    assert item["last_event_id"] == "msg_uc"
    assert "private_metadata" not in item


def test_pipeline_user_updated_stores_profile_fields(aws: Any) -> None:
    item = _deliver(aws, "user.updated", "msg_uu")
    assert item[keys.PK] == "USER#user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert (item["username"], item["first_name"], item["last_name"]) == ("johndoe", "John", "Doe Updated")
    assert item["public_metadata"] == {"department": "engineering"}
    assert (item["banned"], item["locked"], item["two_factor_enabled"]) == (False, False, True)
    assert item["version"] == 1716883500000
    assert item["image_url"] == "https://img.clerk.com/yyyyy"


def test_pipeline_user_deleted_leaves_scrubbed_tombstone(aws: Any) -> None:
    item = _deliver(aws, "user.deleted", "msg_ud")
    assert item[keys.PK] == "USER#user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert item["deleted"] is True
    assert item["user_id"] == "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert item["deleted_at"] > 0
    assert not {"first_name", "email_addresses", "primary_email", "external_id"} & item.keys()


def test_pipeline_organization_created_stores_organization(aws: Any) -> None:
    item = _deliver(aws, "organization.created", "msg_oc")
    assert item[keys.PK] == f"ORG#{MEMBER_ORG}"
    assert (item["name"], item["slug"], item["members_count"]) == ("Acme Corp", "acme-corp", 1)
    assert item["created_by"] == "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert item["max_allowed_memberships"] == 5


def test_pipeline_organization_updated_keeps_private_metadata_out(aws: Any) -> None:
    item = _deliver(aws, "organization.updated", "msg_ou")
    assert (item["name"], item["slug"]) == ("Acme Corp Updated", "acme-corp-updated")
    assert item["public_metadata"] == {"department": "engineering"}
    assert "private_metadata" not in item
    assert item["version"] == 1716883500000


def test_pipeline_organization_deleted_leaves_tombstone(aws: Any) -> None:
    item = _deliver(aws, "organization.deleted", "msg_od")
    assert (item[keys.PK], item["deleted"]) == (f"ORG#{MEMBER_ORG}", True)
    assert "name" not in item


def test_pipeline_membership_created_is_listed_under_user(aws: Any) -> None:
    item = _deliver(aws, "organizationMembership.created", "msg_mc")
    assert (item[keys.PK], item[keys.SK]) == (f"ORG#{MEMBER_ORG}", f"MEMBER#{MEMBER_USER}")
    assert (item[keys.GSI1_PK], item[keys.GSI1_SK]) == (f"USER#{MEMBER_USER}", f"ORG#{MEMBER_ORG}")
    assert (item["role"], item["role_name"]) == ("org:member", "Member")
    assert item["permissions"] == ["org:posts:read", "org:posts:write"]
    assert item["membership_id"] == "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S"
    assert item["public_user_data"]["identifier"] == "jane.doe@acme.com"
    assert aws.store().user_memberships(MEMBER_USER)[0]["org_id"] == MEMBER_ORG


def test_pipeline_membership_updated_stores_new_role(aws: Any) -> None:
    item = _deliver(aws, "organizationMembership.updated", "msg_mu")
    assert (item["role"], item["role_name"]) == ("org:admin", "Admin")
    assert len(item["permissions"]) == 4
    assert item["version"] == 1716883500000


def test_pipeline_membership_deleted_leaves_unlisted_tombstone(aws: Any) -> None:
    item = _deliver(aws, "organizationMembership.deleted", "msg_md")
    assert item["deleted"] is True
    assert keys.GSI1_PK not in item
    assert "public_user_data" not in item
    assert aws.store().user_memberships(MEMBER_USER) == []


def test_pipeline_all_nine_examples_in_order_converge(aws: Any) -> None:
    for number, event_type in enumerate(EVENT_TYPES):
        assert post_webhook(example(event_type), msg_id=f"msg_all_{number}")["statusCode"] == 202
    poller = SqsPoller(aws.sqs, aws.resources.queue_url, worker.handler)
    poller.drain()
    assert (poller.stats.succeeded, poller.stats.failed) == (len(EVENT_TYPES), 0)
    by_key = {(item[keys.PK], item[keys.SK]): item for item in aws.items()}
    assert by_key[("USER#user_29w83sxmDNGwOuEthce5gg56FcC", "PROFILE")]["deleted"] is False
    assert by_key[("USER#user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "PROFILE")]["deleted"] is True
    assert by_key[(f"ORG#{MEMBER_ORG}", "PROFILE")]["deleted"] is True
    # The organization's deletion cascades: no membership item remains under it.
    assert set(by_key) == {
        ("USER#user_29w83sxmDNGwOuEthce5gg56FcC", "PROFILE"),
        ("USER#user_2g7np7Hrk0SN6kj5EDMLDaKNL0S", "PROFILE"),
        (f"ORG#{MEMBER_ORG}", "PROFILE"),
    }


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_pipeline_same_event_delivered_twice_is_duplicate(aws: Any, event_type: str) -> None:
    for _ in range(2):
        assert post_webhook(example(event_type), msg_id="msg_twice")["statusCode"] == 202
    drain(aws)
    before = aws.items()
    assert post_webhook(example(event_type), msg_id="msg_twice")["statusCode"] == 202
    drain(aws)
    assert aws.items() == before
