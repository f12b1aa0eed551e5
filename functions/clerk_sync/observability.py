"""Logger and metrics for every entry point: one service name, one metrics namespace.

No Tracer: it imports the X-Ray SDK (~400 ms cold) even when tracing is off; see docs/decisions/0002.
Helper modules use `logging.getLogger(__name__)`-style child loggers via `child_logger`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from clerk_sync.vocabulary import METRICS_NAMESPACE, SERVICE_NAME

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


def child_logger() -> Logger:
    """A logger for helper modules that shares the handler's keys (correlation id, svix_id)."""
    return Logger(service=SERVICE_NAME, child=True)


def log_metrics(handler: Handler) -> Handler:
    """Powertools' `log_metrics`; with POWERTOOLS_METRICS_DISABLED the handler runs bare and its metrics are dropped.

    Powertools neither prints nor clears a disabled metric set, and prints anyway once 100 values pile up, so a
    warm process (the local stack, tests) would print stale metrics now and then.
    """
    wrapped = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        if not is_metrics_disabled():
            return wrapped(event, context)
        try:
            return handler(event, context)
        finally:
            metrics.clear_metrics()

    return cast(Handler, run)


class _SharedMetrics:
    """The handler's metric set as code outside the handler adds to it (the Clerk client), honouring
    POWERTOOLS_METRICS_DISABLED: in the operator CLI or a benchmark no `log_metrics` clears a disabled set, and
    Powertools prints it to stdout anyway once a metric holds 100 values (EMF lines among a command's output)."""

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        if not is_metrics_disabled():
            metrics.add_metric(name=name, unit=unit, value=value)


shared_metrics = _SharedMetrics()


def count(name: str, /, amount: float = 1, **dimensions: str) -> None:
    """A count (one by default) with its own dimensions (e.g. Outcome), kept apart from the handler's shared metric
    set."""
    # single_metric prints even when POWERTOOLS_METRICS_DISABLED is set; honour the switch here.
    if is_metrics_disabled():
        return
    with single_metric(name, MetricUnit.Count, amount, namespace=METRICS_NAMESPACE) as metric:
        for dimension, value in dimensions.items():
            metric.add_dimension(dimension, value)
