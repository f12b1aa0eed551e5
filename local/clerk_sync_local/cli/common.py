"""What every command shares: the consoles, the one way to fail, and the one way to find the target."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from clerk_sync_local.stack.ready import DEFAULT_READY_FILE

if TYPE_CHECKING:
    from clerk_sync_local.cli.targets import Target

console = Console()
errors = Console(stderr=True)

ReadyFileOption = Annotated[
    Path, typer.Option("--ready-file", help="A local stack's ready file (the target unless --stage is given).")
]
StageOption = Annotated[
    str | None,
    typer.Option("--stage", help="A deployed stage from cdk.json: its stack's outputs and secret are the target."),
]
CdkJsonOption = Annotated[Path, typer.Option("--cdk-json", help="The cdk.json that defines --stage.")]

__all__ = ["DEFAULT_READY_FILE", "CdkJsonOption", "ReadyFileOption", "StageOption", "console", "errors", "fail"]


def fail(message: str) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def find_target(ready_file: Path, stage: str | None, cdk_json: Path) -> Target:
    """The deployment a command works on (`--stage`, else `--ready-file`); a clear error and exit 1 otherwise."""
    from clerk_sync_local.cli.targets import TargetError, resolve

    try:
        return resolve(ready_file, stage, cdk_json)
    except TargetError as error:
        fail(str(error))
