"""Logger and metrics for every entry point: one service name, one metrics namespace.

No Tracer: it imports the X-Ray SDK (~400 ms cold) even when tracing is off; see docs/decisions/0002.
Helper modules use `logging.getLogger(__name__)`-style child loggers via `child_logger`.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE = "clerk-sync"
NAMESPACE = "ClerkSync"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def child_logger(module: str) -> Logger:
    """A logger for helper modules that shares the handler's keys (correlation id, svix_id)."""
    return Logger(service=SERVICE, child=True, logger_name=f"{SERVICE}.{module.rsplit('.', 1)[-1]}")
