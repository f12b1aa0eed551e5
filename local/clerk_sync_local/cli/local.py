"""`clerk-sync local up` and `clerk-sync demo`: the product on this machine."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from clerk_sync_local.cli.common import DEFAULT_READY_FILE, console, fail

app = typer.Typer(help="The local stack: moto, the Clerk emulator, the API gateway and the worker.")


@app.command("up")
def local_up(  # noqa: PLR0917 - typer maps each option to a parameter
    port: int = typer.Option(8787, min=0, max=65535, help="The API gateway's port; 0 picks a free one."),
    clerk_port: int = typer.Option(0, min=0, max=65535, help="The Clerk emulator's port; 0 picks a free one."),
    aws_port: int = typer.Option(0, min=0, max=65535, help="moto's port; 0 picks a free one."),
    seed: bool = typer.Option(True, "--seed/--no-seed", help="Create demo users and organizations."),
    users: int = typer.Option(5, min=0, max=10_000, help="Demo users to seed."),
    orgs: int = typer.Option(2, min=0, max=1_000, help="Demo organizations to seed."),
    ready_file: Annotated[Path, typer.Option(help="Where to write the ready file (JSON).")] = DEFAULT_READY_FILE,
    quiet: bool = typer.Option(False, "--quiet", help="No per-request and per-event lines; warnings only."),
    authorizer_cache_ttl: float | None = typer.Option(
        None, min=0, max=3600, help="Authorizer result cache in seconds (default: the dev stage's 60; 0 = off)."
    ),
    batching_window: float | None = typer.Option(
        None, min=0, max=300, help="The worker's batching window in seconds (default: the deployed 1 s)."
    ),
    retry_delay: int = typer.Option(1, min=0, max=43_200, help="Seconds before a failed message is retried."),
    worker_concurrency: int = typer.Option(
        1, min=1, max=32, help="Worker batches at once, as Lambda's SQS event source runs up to the concurrency."
    ),
) -> None:
    """Run clerk-sync locally: API, authorizer, webhooks, queue, worker and table, fed by the Clerk emulator."""
    from clerk_sync.resources import EVENT_QUEUE
    from clerk_sync_local.stack.banner import print_banner
    from clerk_sync_local.stack.clerk_target import ClerkTargetError, real_clerk_from_environment
    from clerk_sync_local.stack.local_stack import DEFAULT_AUTHORIZER_CACHE_TTL, LocalStack, StackError

    try:
        real_clerk = real_clerk_from_environment(os.environ)
    except ClerkTargetError as error:
        fail(str(error))
    stack = LocalStack(
        port=port,
        clerk_port=clerk_port,
        aws_port=aws_port,
        seed=seed,
        users=users,
        orgs=orgs,
        ready_file=ready_file,
        real_clerk=real_clerk,
        quiet=quiet,
        authorizer_cache_ttl=DEFAULT_AUTHORIZER_CACHE_TTL if authorizer_cache_ttl is None else authorizer_cache_ttl,
        batching_window_seconds=EVENT_QUEUE.batching_window_seconds if batching_window is None else batching_window,
        retry_delay_seconds=retry_delay,
        worker_concurrency=worker_concurrency,
    )
    console.print("Starting the local stack…", highlight=False)
    try:
        stack.start()
    except StackError as error:
        fail(str(error))
    except KeyboardInterrupt:
        raise typer.Exit(code=130) from None
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print_banner(console, stack, ready_file)
        while not stop.wait(0.5):
            pass
        console.print("Stopping…", highlight=False)
    finally:
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print("Stopped.", highlight=False)


def demo(
    duplicates: float = typer.Option(0.3, min=0.0, max=1.0, help="Share of webhooks delivered twice."),
    shuffle_ms: int = typer.Option(150, min=0, help="Window within which webhook deliveries are shuffled."),
    members: int = typer.Option(520, min=501, max=5000, help="Members of the bulk-synced organization."),
) -> None:
    """A scripted tour on a fresh local stack: webhooks, first login, outage, bulk sync; checked against Clerk."""
    from clerk_sync_local.demo import run_demo

    if not run_demo(console, duplicate_probability=duplicates, shuffle_ms=shuffle_ms, members=members):
        raise typer.Exit(code=1)
