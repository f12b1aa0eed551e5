"""`clerk-sync token`, `export` and `status` against the running stack, found through its ready file."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from typer.testing import CliRunner

from clerk_sync_local.cli import app
from tests.e2e.conftest import Stack

runner = CliRunner()


def _ready_file(stack: Stack, tmp_path: Path) -> str:
    path = tmp_path / "ready.json"
    path.write_text(stack.ready.model_dump_json())
    return str(path)


def test_cli_token_mints_a_session_token_with_the_org_claim(stack: Stack, tmp_path: Path) -> None:
    ready = stack.ready
    assert ready.demo_user_id is not None
    assert ready.demo_org_id is not None
    args = ["token", ready.demo_user_id, "--org", ready.demo_org_id, "--expires-in", "120"]
    result = runner.invoke(app, [*args, "--ready-file", _ready_file(stack, tmp_path)])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
    assert claims["sub"] == ready.demo_user_id
    assert claims["o"]["id"] == ready.demo_org_id
    assert claims["iss"] == ready.clerk_issuer
    assert claims["exp"] - claims["iat"] == 120


def test_cli_token_for_unknown_user_exits_1_with_the_emulators_reason(stack: Stack, tmp_path: Path) -> None:
    result = runner.invoke(app, ["token", "user_nobody", "--ready-file", _ready_file(stack, tmp_path)])
    assert result.exit_code == 1
    assert "not found" in result.output.lower()


def test_cli_export_lists_the_copy_as_sorted_json_lines_with_tombstones(stack: Stack, tmp_path: Path) -> None:
    gone = stack.clerk.post("/users", json={"first_name": "Gone"}).json()["id"]
    stack.clerk.delete(f"/users/{gone}")
    stack.converge()
    output = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["export", "--ready-file", _ready_file(stack, tmp_path), "--output", str(output)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in output.read_text().splitlines()]
    keys = [(r["PK"], r["SK"]) for r in records]
    assert keys == sorted(keys)
    assert {r["entity"] for r in records} <= {"user", "organization", "membership"}
    by_key = {(r["PK"], r["SK"]): r for r in records}
    assert by_key[(f"USER#{gone}", "PROFILE")]["deleted"] is True
    assert by_key[(f"USER#{stack.ready.demo_user_id}", "PROFILE")]["deleted"] is False
    assert isinstance(by_key[(f"USER#{gone}", "PROFILE")]["version"], int)


def test_cli_status_shows_the_user_and_live_memberships(stack: Stack, tmp_path: Path) -> None:
    ready = stack.ready
    assert ready.demo_user_id is not None
    ready_file = _ready_file(stack, tmp_path)
    result = runner.invoke(app, ["status", ready.demo_user_id, "--json", "--ready-file", ready_file])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["user"]["user_id"] == ready.demo_user_id
    assert ready.demo_org_id in [m["org_id"] for m in status["memberships"]]
    assert status["organizations"][ready.demo_org_id]["deleted"] is False
    table = runner.invoke(app, ["status", ready.demo_user_id, "--ready-file", ready_file])
    assert table.exit_code == 0
    assert "live memberships" in table.output


def test_cli_status_of_unknown_user_exits_1(stack: Stack, tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "user_nobody", "--ready-file", _ready_file(stack, tmp_path)])
    assert result.exit_code == 1
    assert "not in the table" in result.output
