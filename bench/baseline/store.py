"""The table as the recipe writes it: read the item, merge, put it back; no condition, one request per item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

# The same key schema as clerk-sync's table (PK/SK, GSI1 lists a user's organizations).
USER = "USER#"
ORG = "ORG#"
MEMBER = "MEMBER#"
PROFILE = "PROFILE"


def _plain(value: Any) -> Any:
    """JSON from Clerk as DynamoDB takes it: floats become Decimals, empty strings stay."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def user_item(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": USER + user["id"],
        "SK": PROFILE,
        "entity": "user",
        "first_name": user.get("first_name"),
        "last_name": user.get("last_name"),
        "username": user.get("username"),
        "email_addresses": _plain(user.get("email_addresses") or []),
        "public_metadata": _plain(user.get("public_metadata") or {}),
        "image_url": user.get("image_url"),
        "updated_at": user.get("updated_at"),
    }


def organization_item(org: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": ORG + org["id"],
        "SK": PROFILE,
        "entity": "organization",
        "name": org.get("name"),
        "slug": org.get("slug"),
        "public_metadata": _plain(org.get("public_metadata") or {}),
        "image_url": org.get("image_url"),
        "updated_at": org.get("updated_at"),
    }


def membership_item(membership: dict[str, Any]) -> dict[str, Any]:
    org_id = membership["organization"]["id"]
    user_id = membership["public_user_data"]["user_id"]
    return {
        "PK": ORG + org_id,
        "SK": MEMBER + user_id,
        "GSI1PK": USER + user_id,
        "GSI1SK": ORG + org_id,
        "entity": "membership",
        "membership_id": membership["id"],
        "role": membership.get("role"),
        "permissions": list(membership.get("permissions") or []),
        "public_user_data": _plain(membership.get("public_user_data") or {}),
        "updated_at": membership.get("updated_at"),
    }


class NaiveTable:
    """A boto3 Table resource used the recipe's way."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def upsert(self, item: dict[str, Any]) -> None:
        """Read-modify-write: whatever is stored, merged with the new fields, put back unconditionally."""
        stored = self.table.get_item(Key={"PK": item["PK"], "SK": item["SK"]}).get("Item") or {}
        self.table.put_item(Item={**stored, **item, "deleted": False})

    def mark_deleted(self, pk: str) -> None:
        stored = self.table.get_item(Key={"PK": pk, "SK": PROFILE}).get("Item") or {"PK": pk, "SK": PROFILE}
        self.table.put_item(Item={**stored, "deleted": True})

    def delete(self, pk: str, sk: str) -> None:
        self.table.delete_item(Key={"PK": pk, "SK": sk})

    def user_membership_keys(self, user_id: str) -> list[tuple[str, str]]:
        found = self.table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": USER + user_id},
        )["Items"]
        return [(item["PK"], item["SK"]) for item in found if str(item["SK"]).startswith(MEMBER)]

    def organization_membership_keys(self, org_id: str) -> list[tuple[str, str]]:
        found = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :member)",
            ExpressionAttributeValues={":pk": ORG + org_id, ":member": MEMBER},
        )["Items"]
        return [(item["PK"], item["SK"]) for item in found]
