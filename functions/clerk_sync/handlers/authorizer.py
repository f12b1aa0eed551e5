"""HTTP API Lambda authorizer (payload v2, simple responses): session token → caller context, sync on login."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from clerk_sync.api.authorization import authorize
from clerk_sync.observability import count, log_metrics, logger, metrics
from clerk_sync.wiring import access_settings, flushing_history, session_verifier, sync_service, sync_settings


def simple_response(allowed: bool, context: dict[str, Any]) -> dict[str, Any]:
    """HTTP API's simple authorizer response, as Powertools' `APIGatewayAuthorizerResponseV2.asdict()` shapes it
    (without importing its data classes, ~30 ms of a cold start): `context` only when it holds something."""
    response: dict[str, Any] = {"isAuthorized": allowed}
    if context:
        response["context"] = context
    return response


@log_metrics
@logger.inject_lambda_context(clear_state=True)
@flushing_history
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    decision = authorize(
        event.get("headers"),
        event.get("cookies"),
        identity_source=event.get("identitySource"),
        verifier=session_verifier,
        service=sync_service,
        access=access_settings(),
        login_budget_seconds=sync_settings().login_sync_budget_seconds,
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric("AuthorizerLatency", MetricUnit.Milliseconds, elapsed_ms)
    caller, login = decision.caller, decision.login
    fields = {"reason": decision.reason, "user_id": caller.userId or None, "duration_ms": round(elapsed_ms, 1)}
    if decision.reason != "ok":
        count("AuthorizerDenied", Reason=decision.reason)
        logger.info("caller denied", extra=fields)
    else:
        logger.info("caller authorized", extra={**fields, "login_source": caller.loginSource})
    if login is not None and login.fallback is not None:
        count("LoginFallback", Tier=login.fallback.value)
    return simple_response(decision.allowed, decision.caller.context())
