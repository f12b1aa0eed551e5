"""Invokes the Lambda handlers for the gateway: imported lazily, one call at a time per function, with a timeout.

A handler is a dotted path from `infra.endpoints.HANDLERS`, imported on the first request routed to it (so the
gateway starts even while a handler is still being written), or a callable injected by tests. Lambda runs
one request per container and the handlers keep per-invocation state in module globals (Powertools
logger keys, the DynamoDB meter), so calls to one function are serialised: one warm container each.
Each call runs in its own daemon thread; the caller stops waiting at the timeout, as API Gateway does,
while the handler runs on to its end, as a Lambda function does until its own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import itertools
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from clerk_sync_local.lambda_events import LocalLambdaContext
from infra.endpoints import FunctionKey

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Invocation:
    """What came back: a result, an exception, or nothing within the timeout."""

    result: Any = None
    error: BaseException | None = None
    timed_out: bool = False


def import_handler(dotted: str) -> Handler:
    """`package.module.function` → the function."""
    module_name, _, attribute = dotted.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module_name), attribute)
    return handler


_containers = itertools.count(1)


def container_handler(dotted: str) -> Handler:
    """`package.module.function` from a private copy of its module: one more warm container of the function.

    The copy has its own module globals (the worker's batch processor among them), so two copies can run at once
    in one process; what the module imports (settings, clients, the logger) is shared, as thread-safe as it is for
    the different functions that already run side by side here.
    """
    module_name, _, attribute = dotted.rpartition(".")
    original = importlib.import_module(module_name)
    spec = importlib.util.spec_from_file_location(f"{module_name}__container{next(_containers)}", original.__file__)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load another copy of {module_name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pydantic look their module up while it executes
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


class FunctionInvoker:
    """Resolves function keys to handlers and calls them like Lambda would."""

    def __init__(
        self,
        handler_paths: Mapping[FunctionKey, str],
        handlers: Mapping[FunctionKey, Handler] | None = None,
        *,
        function_prefix: str = "clerk-sync-local",
    ) -> None:
        self._paths: dict[str, str] = {str(key): path for key, path in handler_paths.items()}
        self._resolved: dict[str, Handler] = {str(key): handler for key, handler in (handlers or {}).items()}
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._prefix = function_prefix

    def _lock(self, key: str) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(key, threading.Lock())

    def resolve(self, key: str) -> Handler:
        with self._registry_lock:
            handler = self._resolved.get(key)
        if handler is None:
            if key not in self._paths:
                raise LookupError(f"no handler for function {key!r}")
            handler = import_handler(self._paths[key])
            with self._registry_lock:
                self._resolved.setdefault(key, handler)
        return handler

    def wrap(self, key: str, wrapper: Callable[[Handler], Handler]) -> None:
        """Replaces the function's handler with `wrapper(handler)` (benchmarks time the calls this way)."""
        handler = wrapper(self.resolve(key))
        with self._registry_lock:
            self._resolved[key] = handler

    def call(self, key: str, event: dict[str, Any], timeout: float) -> Any:
        """Runs the handler in this thread (after the function's lock); exceptions propagate."""
        context = LocalLambdaContext(
            function_name=f"{self._prefix}-{key}",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self._prefix}-{key}",
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + timeout,
        )
        with self._lock(key):
            return self.resolve(key)(event, context)

    async def invoke(self, key: str, event: dict[str, Any], timeout: float) -> Invocation:
        """Calls the handler in a daemon thread and waits at most `timeout` seconds for it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Invocation] = loop.create_future()

        def settle(invocation: Invocation) -> None:
            if not done.done():
                done.set_result(invocation)

        def run() -> None:
            try:
                invocation = Invocation(result=self.call(key, event, timeout))
            except Exception as error:  # noqa: BLE001 - any handler failure is the function's error (500)
                invocation = Invocation(error=error)
            # RuntimeError: the gateway stopped (its loop closed) while this call was still running.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, invocation)

        threading.Thread(target=run, name=f"lambda-{key}", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(done), timeout)
        except TimeoutError:
            return Invocation(timed_out=True)
