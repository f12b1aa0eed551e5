"""Clerk's real webhook payloads (tests/clerk/webhook-examples, copied from Clerk's docs) and builders on them."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

CLERK_DIR = Path(__file__).resolve().parents[1] / "clerk"
EXAMPLES_DIR = CLERK_DIR / "webhook-examples"
SPEC_PATH = CLERK_DIR / "backend-api.yml"


@cache
def _example(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES_DIR / f"{event_type}.json").read_text())
    return loaded


def example(event_type: str) -> dict[str, Any]:
    """A fresh copy of the real payload for one of the nine event types."""
    return copy.deepcopy(_example(event_type))


def envelope(
    event_type: str, data: dict[str, Any], *, timestamp_ms: int, instance_id: str = "ins_test"
) -> dict[str, Any]:
    """An event shaped like Clerk's, around `data` (built from the real example of that type)."""
    event = example(event_type)
    event.update({"type": event_type, "data": data, "timestamp": timestamp_ms, "instance_id": instance_id})
    return event


def user_data(user_id: str, *, updated_at: int, created_at: int = 1, **fields: Any) -> dict[str, Any]:
    data = example("user.updated")["data"]
    email_id = f"idn_{user_id[5:]}"
    data.update(
        {
            "id": user_id,
            "created_at": created_at,
            "updated_at": updated_at,
            "primary_email_address_id": email_id,
            "email_addresses": [
                {
                    "id": email_id,
                    "object": "email_address",
                    "email_address": f"{user_id}@example.com",
                    "verification": {"status": "verified", "strategy": "email_code"},
                    "linked_to": [],
                }
            ],
        }
    )
    data.update(fields)
    return data


def org_data(org_id: str, *, updated_at: int, created_at: int = 1, **fields: Any) -> dict[str, Any]:
    data = example("organization.updated")["data"]
    data.update({"id": org_id, "slug": org_id.replace("_", "-"), "created_at": created_at, "updated_at": updated_at})
    data.update(fields)
    return data


def membership_data(
    org_id: str, user_id: str, *, membership_id: str, updated_at: int, created_at: int = 1, **fields: Any
) -> dict[str, Any]:
    data = example("organizationMembership.updated")["data"]
    data.update({"id": membership_id, "created_at": created_at, "updated_at": updated_at})
    data["organization"].update({"id": org_id, "slug": org_id.replace("_", "-")})
    data["public_user_data"].update({"user_id": user_id, "identifier": f"{user_id}@example.com"})
    data.update(fields)
    return data


def deleted_data(object_id: str, kind: str) -> dict[str, Any]:
    return {"id": object_id, "object": kind, "deleted": True}
