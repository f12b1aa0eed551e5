"""The `clerk-sync` command line: the operator's tool for the local stack and for deployed stages.

    common   the consoles, `fail`, and the target options every command shares (`--ready-file`, `--stage`)
    targets  where a command works: a local stack's ready file or a deployed stage's CloudFormation stack
    records  `token`, `status`, `export`, `sync user|organization`: a deployment's records
    runs     `backfill`, `reconcile`: bulk runs, inline or as a job in the worker
    views    the export and status views of a table
    dlq      `dlq list|show|replay|purge`: the dead-letter queue, with the worker's last error per message
    local    `local up` and `demo`: the product on this machine
    bench    `bench sync|startup|webhooks`: measurements on a fresh local stack
    soak     `soak`: random histories under injected faults, compared with Clerk at the end

Commands are thin: they parse options, call one function, and turn its errors into a clear message and exit
code 1. Heavy imports happen inside the commands, so `--help` stays fast. Never shipped to Lambda.
"""

from __future__ import annotations

import typer

from clerk_sync_local.cli import bench, dlq, local, records, runs, soak

app = typer.Typer(help="clerk-sync: keep a DynamoDB copy of a Clerk instance correct and fresh.", no_args_is_help=True)
app.add_typer(local.app, name="local", no_args_is_help=True)
app.add_typer(records.sync_app, name="sync", no_args_is_help=True)
app.add_typer(bench.app, name="bench", no_args_is_help=True)
app.add_typer(dlq.app, name="dlq", no_args_is_help=True)
app.command()(local.demo)
app.command()(records.token)
app.command()(records.export)
app.command()(records.status)
app.command()(soak.soak)
app.command()(runs.backfill)
app.command()(runs.reconcile)


@app.callback()
def main() -> None:
    """Operator and local tooling for clerk-sync."""
