"""The local stack: moto, the Clerk emulator, the API gateway and the worker's poller in one process.

    local_stack   LocalStack: starts and stops the parts, sets the handlers' environment, writes the ready file
    ready         the ready-file contract scripts, tests and the CLI read
    moto          moto in server mode with the table and queues of the CDK stack
    poller        the SQS poller that drives the worker as Lambda's event source mapping does
    clerk_target  which Clerk to talk to: the emulator, or a real instance from the environment
    console       the per-request and per-event lines `local up` prints
    banner        what `local up` prints once it is ready

`LocalStack` and `StackError` load on first use, so the CLI reads a ready file without importing the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clerk_sync.lazy import lazy_exports

if TYPE_CHECKING:
    from clerk_sync_local.stack.local_stack import LocalStack, StackError

__all__ = ["LocalStack", "StackError"]

__getattr__ = lazy_exports(
    __name__,
    globals(),
    {"LocalStack": "clerk_sync_local.stack.local_stack", "StackError": "clerk_sync_local.stack.local_stack"},
)
