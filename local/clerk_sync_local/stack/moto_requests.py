"""What every request to the local stack's moto paid for beyond its own work, kept once (docs/decisions/0031).

Sampled with py-spy during a webhook burst, moto's server process was the busiest part of the stack, and a third
of its time went to two lookups that give the same answer every time:

- `DomainDispatcherApplication.get_backend_for_host` tried every AWS service's URL patterns, one regex after
  another, on every request, to learn that the host is DynamoDB's or SQS's. The answer depends on the host alone
  and the patterns never change: it is kept per host.
- `SQSBackend.is_message_valid_based_on_retention_period`, called for each message a ReceiveMessage hands out,
  read the queue's retention period through `get_queue_attributes`, which computes every attribute of the queue,
  message counts over all its messages among them: each receive cost the square of the queue's length. The
  retention period is read from the queue directly, the value that call returns.

`install()` runs in the moto server's process only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.utils import unix_time

_installed = False


def _host_kept(original: Callable[[Any, str | None], Any]) -> Callable[[Any, str | None], Any]:
    found: dict[str | None, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in found:
            found[host] = original(self, host)
        return found[host]

    return get_backend_for_host


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    retention_period = self.get_queue(queue_name).message_retention_period
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


def install() -> None:
    """Patches moto's request routing and SQS receive in this process; idempotent."""
    global _installed  # noqa: PLW0603 - once per process
    if _installed:
        return
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.sqs.models import SQSBackend

    dispatcher: Any = DomainDispatcherApplication
    dispatcher.get_backend_for_host = _host_kept(DomainDispatcherApplication.get_backend_for_host)
    sqs: Any = SQSBackend
    sqs.is_message_valid_based_on_retention_period = _retained
    _installed = True
