"""The instance guard: a 404 from Clerk deletes something only when the secret key is the expected instance's.

A development key in a production stack answers 404 for every production user, so a queued sync would tombstone
live users one by one. Before any 404-driven tombstone or removal the use cases call `InstanceGuard.check`: it
asks Clerk once per container which instance the key belongs to (`GET /v1/instance`; a success is kept for the
container's life, a failure only for a few seconds) and compares it with the expected instance,
CLERK_INSTANCE_ID, or, when that is unset, the key's own instance (then the webhook receiver refuses events of
any other instance, see `expected_instance`). A mismatch raises `ClerkInstanceMismatchError`: nothing is
deleted, the API answers 503, the worker's message is retried, a login falls back as when Clerk is unreachable.

Checked only on those paths, never at first Clerk use: the happy path, and above all the authorizer's 1.5 s
login, pay nothing until the first deletion of the container (docs/decisions/0014).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from clerk_sync.clerk.errors import ClerkError, ClerkInstanceMismatchError
from clerk_sync.observability import child_logger, metrics
from clerk_sync.sync.deps import ClerkNotConfiguredError

if TYPE_CHECKING:
    from clerk_sync.clerk.instance import ClerkInstance

logger = child_logger()

# A failed lookup is answered from memory this long, so a burst of 404s does not become a burst of lookups.
LOOKUP_FAILURE_MEMORY_SECONDS: Final = 5.0
# The lookup comes after a sync's own calls and writes, often with its deadline spent: it may always take this
# long (once per container), else a slow sync would fail at every delivery without ever learning the instance.
LOOKUP_MIN_SECONDS: Final = 2.0


class InstanceSource(Protocol):
    """The part of `ClerkClient` the guard uses."""

    @property
    def clock(self) -> Callable[[], float]: ...

    def get_instance(self, *, deadline: float | None = None) -> ClerkInstance: ...


class InstanceGuard:
    """Per container (wiring builds one): the key's instance, looked up at most once, against the expected one."""

    def __init__(
        self,
        clerk: Callable[[], InstanceSource] | None,
        *,
        expected: str | None = None,
        failure_memory_seconds: float = LOOKUP_FAILURE_MEMORY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clerk = clerk
        self._configured = expected or None
        self._failure_memory = failure_memory_seconds
        self._monotonic = monotonic
        # The local stack runs handlers in threads: one lookup at a time. Reentrant: a 401 during the lookup makes
        # wiring forget the key, and so this guard's instance, from inside the lookup.
        self._lock = threading.RLock()
        self._instance: ClerkInstance | None = None
        self._failure: ClerkError | None = None
        self._failure_until = 0.0
        self._mismatch_logged = False

    @property
    def configured(self) -> str | None:
        """CLERK_INSTANCE_ID, when set."""
        return self._configured

    @property
    def known(self) -> ClerkInstance | None:
        """The key's instance if already looked up (no Clerk call)."""
        return self._instance

    def forget(self) -> None:
        """After the key changed (a 401 makes wiring re-read it): look the instance up again."""
        with self._lock:
            self._instance, self._failure, self._mismatch_logged = None, None, False

    def key_instance(self, *, deadline: float | None = None) -> ClerkInstance:
        """The instance the secret key belongs to; raises the lookup's `ClerkError` (remembered for a few seconds)."""
        if self._clerk is None:
            raise ClerkNotConfiguredError("this SyncService has no Clerk client")
        with self._lock:
            if self._instance is not None:
                return self._instance
            if self._failure is not None and self._monotonic() < self._failure_until:
                raise self._failure.with_traceback(None)
            clerk = self._clerk()
            if deadline is not None:
                deadline = max(deadline, clerk.clock() + LOOKUP_MIN_SECONDS)
            try:
                instance = clerk.get_instance(deadline=deadline)
            except ClerkError as error:
                # Not remembered when no request went out: the caller's deadline, not Clerk, was the problem.
                if error.attempts:
                    self._failure, self._failure_until = error, self._monotonic() + self._failure_memory
                raise
            self._instance, self._failure = instance, None
            logger.info(
                "clerk key instance known",
                extra={"key_instance_id": instance.id, "environment_type": instance.environment_type},
            )
            return instance

    def expected_instance(self, *, deadline: float | None = None) -> str | None:
        """The instance whose data this table holds: CLERK_INSTANCE_ID, else the key's; None without either."""
        if self._configured is not None:
            return self._configured
        if self._clerk is None:
            return None
        return self.key_instance(deadline=deadline).id

    def check(self, *, deadline: float | None = None) -> None:
        """Returns when Clerk's 404s may be acted on; raises `ClerkInstanceMismatchError`, or the lookup's error."""
        instance = self.key_instance(deadline=deadline)
        expected = self._configured
        if expected is None or instance.id == expected:
            return
        metrics.add_metric("ClerkInstanceMismatch", MetricUnit.Count, 1)  # each refused deletion; alarmed
        if not self._mismatch_logged:
            # Once per container: every deletion attempt would repeat it; the metric counts them.
            self._mismatch_logged = True
            logger.error(
                "clerk secret key belongs to another instance: nothing is deleted on Clerk's 404s",
                extra={
                    "key_instance_id": instance.id,
                    "key_environment_type": instance.environment_type,
                    "expected_instance_id": expected,
                },
            )
        raise ClerkInstanceMismatchError(key_instance=instance.id, expected_instance=expected)
