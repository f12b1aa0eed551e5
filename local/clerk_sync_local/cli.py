"""The `clerk-sync` command line: local tooling around the product (never shipped to Lambda)."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(help="clerk-sync: keep a DynamoDB copy of a Clerk instance correct and fresh.", no_args_is_help=True)
console = Console()


@app.callback()
def main() -> None:
    """Local tooling for clerk-sync."""


@app.command()
def demo(
    duplicates: float = typer.Option(0.3, min=0.0, max=1.0, help="Share of webhooks delivered twice."),
    shuffle_ms: int = typer.Option(150, min=0, help="Window within which webhook deliveries are shuffled."),
) -> None:
    """Run the webhook pipeline on a local moto stack fed by the Clerk emulator, and check convergence."""
    from clerk_sync_local.demo import run_demo

    if not run_demo(console, duplicate_probability=duplicates, shuffle_ms=shuffle_ms):
        raise typer.Exit(code=1)
