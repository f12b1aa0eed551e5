"""The baseline does what the recipe does: a Clerk fetch per organization and one read-modify-write per item."""

from __future__ import annotations

from typing import Any

from bench.baseline.store import NaiveTable
from bench.baseline.sync import apply_event


class _Clerk:
    def __init__(self, orgs: int) -> None:
        self.calls = 0
        self._orgs = orgs

    def user(self, user_id: str) -> dict[str, Any]:
        self.calls += 1
        return {"id": user_id, "first_name": "Ada"}

    def user_memberships(self, user_id: str) -> list[dict[str, Any]]:
        self.calls += 1
        return [
            {
                "id": f"mem_{n}",
                "role": "org:member",
                "organization": {"id": f"org_{n}"},
                "public_user_data": {"user_id": user_id},
            }
            for n in range(self._orgs)
        ]

    def organization(self, org_id: str) -> dict[str, Any]:
        self.calls += 1
        return {"id": org_id, "name": org_id}


class _Table:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[str] = []

    def get_item(self, Key: dict[str, str]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.requests.append("GetItem")
        found = self.items.get((Key["PK"], Key["SK"]))
        return {"Item": found} if found else {}

    def put_item(self, Item: dict[str, Any]) -> None:  # noqa: N803
        self.requests.append("PutItem")
        self.items[(Item["PK"], Item["SK"])] = Item


def test_user_event_fetches_user_memberships_and_each_org_and_writes_every_item_read_modify_write() -> None:
    clerk, table = _Clerk(orgs=3), _Table()
    apply_event(clerk, NaiveTable(table), {"type": "user.updated", "data": {"id": "user_1"}})  # type: ignore[arg-type]
    assert clerk.calls == 2 + 3
    assert table.requests == ["GetItem", "PutItem"] * (1 + 3 + 3)
    assert table.items[("ORG#org_0", "MEMBER#user_1")]["GSI1PK"] == "USER#user_1"
