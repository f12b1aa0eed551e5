"""The ready-file contract: atomic write, private mode, every documented key, clear errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from clerk_sync_local.stack.ready import ReadyFileError, read_ready_file, remove_ready_file, write_ready_file
from tests.unit.local.conftest import ready_info

CONTRACT_KEYS = {
    "api_url",
    "webhook_url",
    "clerk_mode",
    "clerk_api_url",
    "clerk_secret_key",
    "clerk_issuer",
    "instance_id",
    "emulator_admin_url",
    "aws_endpoint_url",
    "region",
    "aws_access_key_id",
    "aws_secret_access_key",
    "table_name",
    "queue_url",
    "dlq_url",
    "secret_arn",
    "webhook_secret",
    "admin_user_id",
    "demo_user_id",
    "demo_org_id",
    "authorizer_cache_ttl_seconds",
    "clerk_rate_limit",
    "clerk_bulk_share",
    "clerk_budget_enabled",
    "started_in_seconds",
    "pid",
}


def test_write_ready_file_writes_every_contract_key_privately(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "ready.json"
    write_ready_file(path, ready_info())
    assert set(json.loads(path.read_text())) == CONTRACT_KEYS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it


def test_read_ready_file_round_trips_and_keeps_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    path.write_text(json.dumps({**ready_info().model_dump(), "future_key": 1}))
    assert read_ready_file(path).demo_org_id == "org_d"


def test_read_ready_file_missing_file_error_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(ReadyFileError, match="clerk-sync local up"):
        read_ready_file(tmp_path / "ready.json")


def test_read_ready_file_foreign_json_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    path.write_text('{"hello": 1}')
    with pytest.raises(ReadyFileError, match="not a clerk-sync ready file"):
        read_ready_file(path)


def test_remove_ready_file_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    write_ready_file(path, ready_info())
    remove_ready_file(path)
    remove_ready_file(path)
    assert not path.exists()
