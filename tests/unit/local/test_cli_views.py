"""The export's shape: only copy entities, sorted by key, plain JSON numbers, tombstones marked."""

from __future__ import annotations

import json
from decimal import Decimal

from clerk_sync_local.cli.views import export_lines, export_records, plain


def test_export_records_keeps_users_orgs_memberships_sorted_and_marks_tombstones() -> None:
    items = [
        {"PK": "USER#u2", "SK": "PROFILE", "entity": "user", "version": Decimal(5), "deleted": True},
        {"PK": "JOB#j1", "SK": "STATE", "entity": "job"},
        {"PK": "USER#u1", "SK": "MEMBERSHIPS", "entity": "sync_state"},
        {"PK": "ORG#o1", "SK": "MEMBER#u1", "entity": "membership", "version": Decimal(3)},
        {"PK": "ORG#o1", "SK": "PROFILE", "entity": "organization", "version": Decimal(2)},
        {"PK": "USER#u1", "SK": "PROFILE", "entity": "user", "version": Decimal(1)},
    ]
    records = export_records(items)
    assert [(r["PK"], r["SK"]) for r in records] == [
        ("ORG#o1", "MEMBER#u1"),
        ("ORG#o1", "PROFILE"),
        ("USER#u1", "PROFILE"),
        ("USER#u2", "PROFILE"),
    ]
    assert [r["deleted"] for r in records] == [False, False, False, True]
    assert records[0]["version"] == 3
    assert isinstance(records[0]["version"], int)


def test_export_lines_are_compact_json_with_sorted_keys() -> None:
    item = {"SK": "PROFILE", "PK": "USER#u1", "entity": "user", "score": Decimal("1.5"), "deleted": False}
    (line,) = export_lines([item])
    assert line == '{"PK":"USER#u1","SK":"PROFILE","deleted":false,"entity":"user","score":1.5}'
    assert json.loads(line)["score"] == 1.5


def test_plain_converts_nested_decimals_sets_and_bytes() -> None:
    value = {"a": [Decimal(1), {"b": {"y", "x"}}], "c": b"\x00"}
    assert plain(value) == {"a": [1, {"b": ["x", "y"]}], "c": "AA=="}
