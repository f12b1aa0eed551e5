"""The CLI's contract without a running stack: commands exist, and errors are a message plus exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clerk_sync_local.cli import app
from tests.unit.local.conftest import ready_info

runner = CliRunner()


def test_cli_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("local", "demo", "token", "export", "status", "bench"):
        assert command in result.output


def test_cli_local_up_real_clerk_without_secrets_exits_1_naming_them(tmp_path: Path) -> None:
    env = {"CLERK_SECRET_KEY": "sk_test_x", "CLERK_ISSUER": "", "CLERK_WEBHOOK_SIGNING_SECRET": ""}
    result = runner.invoke(app, ["local", "up", "--port", "0", "--ready-file", str(tmp_path / "r.json")], env=env)
    assert result.exit_code == 1
    assert "CLERK_WEBHOOK_SIGNING_SECRET" in result.output
    assert "CLERK_ISSUER" in result.output
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("command", [["export"], ["status", "user_1"]])
def test_cli_table_commands_without_ready_file_exit_1(tmp_path: Path, command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--ready-file", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "clerk-sync local up" in result.output


def test_cli_token_without_stack_exits_1(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    result = runner.invoke(app, ["token", "user_1", "--ready-file", missing], env={"CLERK_API_URL": ""})
    assert result.exit_code == 1
    assert "clerk-sync local up" in result.output


def test_cli_token_in_real_clerk_mode_refuses(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    real = ready_info(clerk_mode="clerk", emulator_admin_url=None, clerk_secret_key=None)
    ready.write_text(json.dumps(real.model_dump()))
    result = runner.invoke(app, ["token", "user_1", "--ready-file", str(ready)])
    assert result.exit_code == 1
    assert "real Clerk" in result.output
