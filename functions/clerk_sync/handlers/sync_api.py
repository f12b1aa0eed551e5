"""/api/sync/* (API Gateway HTTP API, payload v2, behind the session authorizer): the routes in api/sync_routes.py."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from clerk_sync.api.sync_routes import app
from clerk_sync.observability import log_metrics, logger, metrics
from clerk_sync.wiring import flushing_history


@log_metrics
@logger.inject_lambda_context(clear_state=True, correlation_id_path="requestContext.requestId")
@flushing_history
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric("SyncApiRequests", MetricUnit.Count, 1)
    return app.resolve(event, context)
