"""`python -m clerk_sync_local.cli`: the same as the `clerk-sync` command."""

from clerk_sync_local.cli import app

app()
