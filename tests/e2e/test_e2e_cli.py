"""`clerk-sync token`, `export` and `status` against the running stack, found through its ready file; and the
commands the start-up banner prints, run by a shell as a developer pastes them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from clerk_sync_local.cli import app
from tests.e2e.conftest import Stack, wait_for_banner

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


def _shell(script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by sh as in a developer's terminal: this venv's `clerk-sync` on PATH, no CLERK_* set."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLERK_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False)  # noqa: S603, S607


def test_banner_token_commands_pasted_in_a_shell_export_working_tokens(stack: Stack) -> None:
    """The banner's `export DEMO_TOKEN=$(clerk-sync token ...)` lines, pasted as printed: `clerk-sync token` prints
    exactly one token on stdout, for the demo user with their organization active and for the admin.
    Fails before the fix: the banner printed the tokens themselves, not the command."""
    ready = stack.ready
    lines = wait_for_banner(stack.log).splitlines()
    exports = [line for line in lines if line.startswith(("export DEMO_TOKEN=", "export ADMIN_TOKEN="))]
    assert len(exports) == 2, exports
    assert all("=$(clerk-sync token " in line for line in exports), exports
    run = _shell("\n".join([*exports, 'printf "%s\\n" "$DEMO_TOKEN" "$ADMIN_TOKEN"']))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stderr == ""
    demo_token, admin_token = run.stdout.splitlines()
    demo = jwt.decode(demo_token, options={"verify_signature": False})
    assert (demo["sub"], demo["o"]["id"], demo["iss"]) == (ready.demo_user_id, ready.demo_org_id, ready.clerk_issuer)
    assert jwt.decode(admin_token, options={"verify_signature": False})["sub"] == ready.admin_user_id
    for token in (demo_token, admin_token):
        answer = stack.api.get("/api/sync/status", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_banner_key_commands_pasted_in_a_shell_print_the_emulators_keys(stack: Stack) -> None:
    """The banner's `jq` lines read the emulator's secret key and webhook secret from the ready file."""
    lines = [line.strip() for line in wait_for_banner(stack.log).splitlines()]
    for label, expected in (("Secret key", stack.ready.clerk_secret_key), ("Svix secret", stack.ready.webhook_secret)):
        (line,) = [line for line in lines if line.startswith(label + " ")]
        command = line.removeprefix(label).split("(", 1)[0].strip()
        assert command.startswith("jq "), line
        run = _shell(command)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == expected
