"""The gateway's own answers (404, 413, 401, 403, 500, 503), the authorizer pipeline, CORS, lazy imports."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from clerk_sync_local.gateway import Gateway
from clerk_sync_local.gateway.http_api import INTEGRATION_TIMEOUT_SECONDS
from clerk_sync_local.gateway.invoke import FunctionInvoker
from clerk_sync_local.stack.local_stack import LocalStack
from infra.endpoints import HANDLERS
from tests.unit.local.conftest import AsgiClient, FakeClock, FakeFunctions, sleep_then

Client = Callable[..., AsgiClient]
AUTH = {"Authorization": "Bearer token-1"}


def test_gateway_unknown_path_is_404_not_found(make_client: Client) -> None:
    response = make_client().post("/api/nowhere")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_gateway_wrong_method_on_known_path_is_404(make_client: Client, functions: FakeFunctions) -> None:
    response = make_client().get("/api/webhooks/clerk")
    assert response.status_code == 404
    assert functions.events["webhook"] == []


def test_gateway_webhook_route_reaches_handler_without_authorizer(
    make_client: Client, functions: FakeFunctions
) -> None:
    json_type = {"content-type": "application/json"}
    response = make_client().post("/api/webhooks/clerk", content=b'{"type":"user.created"}', headers=json_type)
    assert response.status_code == 202
    assert response.json() == {"ok": True}
    assert response.headers["apigw-requestid"]
    (event,) = functions.events["webhook"]
    assert event["body"] == '{"type":"user.created"}'
    assert event["routeKey"] == "POST /api/webhooks/clerk"
    assert functions.events["authorizer"] == []


def test_gateway_body_over_limit_is_413_without_invoking(make_client: Client, functions: FakeFunctions) -> None:
    response = make_client(max_body_bytes=1024).post("/api/webhooks/clerk", content=b"x" * 1025)
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert functions.events["webhook"] == []


def test_gateway_body_at_limit_is_accepted(make_client: Client, functions: FakeFunctions) -> None:
    assert make_client(max_body_bytes=1024).post("/api/webhooks/clerk", content=b"x" * 1024).status_code == 202


def test_gateway_default_body_limit_is_ten_megabytes(make_client: Client) -> None:
    response = make_client().post("/api/webhooks/clerk", content=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_gateway_handler_exception_is_500_internal_server_error(make_client: Client, functions: FakeFunctions) -> None:
    def boom(event: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    functions.answers["webhook"] = boom
    response = make_client().post("/api/webhooks/clerk")
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_gateway_malformed_handler_answer_is_500(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["webhook"] = lambda event: {"statusCode": "teapot"}
    assert make_client().post("/api/webhooks/clerk").status_code == 500


def test_gateway_answer_without_status_code_is_200_json(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["webhook"] = lambda event: {"queued": 1}
    response = make_client().post("/api/webhooks/clerk")
    assert (response.status_code, response.json()) == (200, {"queued": 1})
    assert response.headers["content-type"] == "application/json"


def test_gateway_handler_cookies_become_set_cookie_headers(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["webhook"] = lambda event: {"statusCode": 200, "cookies": ["a=1", "b=2"], "body": ""}
    response = make_client().post("/api/webhooks/clerk")
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]


def test_gateway_slow_integration_is_503_after_timeout(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["webhook"] = sleep_then(1.0, {"statusCode": 200})
    started = time.perf_counter()
    response = make_client(integration_timeout=0.2).post("/api/webhooks/clerk")
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert time.perf_counter() - started < 0.9


def test_gateway_without_cache_calls_authorizer_for_headerless_request(
    make_client: Client, functions: FakeFunctions
) -> None:
    # No caching, no identity source (as the CDK stack configures it): a cookie alone reaches the authorizer.
    response = make_client(authorizer_cache_ttl=0).post("/api/sync/user", headers={"Cookie": "__session=tok"})
    assert response.status_code == 200
    (auth_event,) = functions.events["authorizer"]
    assert auth_event["identitySource"] is None
    assert auth_event["cookies"] == ["__session=tok"]


@pytest.mark.parametrize("header", [None, "", "   "])
def test_gateway_with_cache_missing_authorization_is_401_without_authorizer(
    make_client: Client, functions: FakeFunctions, header: str | None
) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = make_client(authorizer_cache_ttl=60).post("/api/sync/user", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert functions.events["authorizer"] == []
    assert functions.events["sync_api"] == []


def test_gateway_authorizer_context_reaches_route_under_lambda(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["authorizer"] = lambda event: {"isAuthorized": True, "context": {"userId": "user_9", "n": 2}}
    response = make_client(authorizer_cache_ttl=60).post("/api/sync/user/user_1", headers=AUTH)
    assert response.status_code == 200
    (auth_event,) = functions.events["authorizer"]
    assert auth_event["identitySource"] == ["Bearer token-1"]
    assert auth_event["routeKey"] == "POST /api/sync/user/{clerkUserId}"
    (event,) = functions.events["sync_api"]
    assert event["requestContext"]["authorizer"] == {"lambda": {"userId": "user_9", "n": 2}}
    assert event["pathParameters"] == {"clerkUserId": "user_1"}


def test_gateway_authorizer_denial_is_403_forbidden(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["authorizer"] = lambda event: {"isAuthorized": False}
    response = make_client().post("/api/sync/user", headers=AUTH)
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert functions.events["sync_api"] == []


@pytest.mark.parametrize("answer", [{"context": {}}, {"isAuthorized": "yes"}, {"policyDocument": {}}])
def test_gateway_malformed_authorizer_answer_is_500(make_client: Client, functions: FakeFunctions, answer: Any) -> None:
    functions.answers["authorizer"] = lambda event: answer
    assert make_client().post("/api/sync/user", headers=AUTH).status_code == 500
    assert functions.events["sync_api"] == []


def test_gateway_authorizer_exception_is_500(make_client: Client, functions: FakeFunctions) -> None:
    def boom(event: dict[str, Any]) -> Any:
        raise ValueError("bad")

    functions.answers["authorizer"] = boom
    assert make_client().post("/api/sync/user", headers=AUTH).status_code == 500


def test_gateway_authorizer_verdict_is_cached_per_header_for_ttl(
    make_client: Client, functions: FakeFunctions, clock: FakeClock
) -> None:
    client = make_client(authorizer_cache_ttl=60)
    client.post("/api/sync/user", headers=AUTH)
    client.get("/api/sync/status", headers=AUTH)  # the cached verdict applies to every authorized route
    assert len(functions.events["authorizer"]) == 1
    client.post("/api/sync/user", headers={"Authorization": "Bearer token-2"})
    assert len(functions.events["authorizer"]) == 2
    clock.now += 61
    client.post("/api/sync/user", headers=AUTH)
    assert len(functions.events["authorizer"]) == 3
    assert len(functions.events["sync_api"]) == 4


def test_gateway_cached_denial_is_still_403(make_client: Client, functions: FakeFunctions) -> None:
    functions.answers["authorizer"] = lambda event: {"isAuthorized": False}
    client = make_client(authorizer_cache_ttl=60)
    assert [client.post("/api/sync/user", headers=AUTH).status_code for _ in range(2)] == [403, 403]
    assert len(functions.events["authorizer"]) == 1


def test_gateway_without_cache_calls_authorizer_every_time(make_client: Client, functions: FakeFunctions) -> None:
    client = make_client(authorizer_cache_ttl=0)
    for _ in range(3):
        client.post("/api/sync/user", headers=AUTH)
    assert len(functions.events["authorizer"]) == 3


def test_gateway_cors_preflight_for_allowed_origin(make_client: Client, functions: FakeFunctions) -> None:
    client = make_client(cors_allowed_origins=["http://localhost:3000"])
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    response = client.options("/api/sync/user", headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "authorization" in response.headers["access-control-allow-headers"]
    assert functions.events["authorizer"] == []
    answered = client.post("/api/sync/user", headers={**AUTH, "Origin": "http://localhost:3000"})
    assert answered.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_gateway_cors_preflight_for_other_origin_has_no_allow_headers(make_client: Client) -> None:
    client = make_client(cors_allowed_origins=["http://localhost:3000"])
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/api/sync/user", headers=headers)
    assert response.status_code == 204
    assert "access-control-allow-origin" not in response.headers


def test_gateway_imports_handlers_lazily_on_first_routed_request(functions: FakeFunctions) -> None:
    paths = {**HANDLERS, "sync_api": "clerk_sync_nonexistent.module.handler", "authorizer": "nowhere.handler"}
    client = AsgiClient(Gateway(handler_paths=paths, handlers={"webhook": functions.handler("webhook")}))
    assert client.post("/api/webhooks/clerk").status_code == 202
    assert client.post("/api/sync/user", headers=AUTH).status_code == 500


def test_function_invoker_serialises_calls_per_function() -> None:
    running = 0
    peak = 0
    guard = threading.Lock()

    def slow(event: dict[str, Any], context: Any) -> Any:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with guard:
            running -= 1
        return {"statusCode": 200}

    invoker = FunctionInvoker(HANDLERS, {"sync_api": slow, "webhook": slow})

    async def burst() -> list[Any]:
        calls = [invoker.invoke("sync_api", {}, 5) for _ in range(3)]
        return await asyncio.gather(*calls, invoker.invoke("webhook", {}, 5))

    results = asyncio.run(burst())
    assert all(result.result == {"statusCode": 200} for result in results)
    assert peak == 2  # one sync_api call at a time, the webhook function beside it


def test_function_invoker_context_has_function_name_and_remaining_time() -> None:
    seen: list[Any] = []
    invoker = FunctionInvoker(HANDLERS, {"webhook": lambda event, context: seen.append(context)})
    asyncio.run(invoker.invoke("webhook", {}, 2.0))
    (context,) = seen
    assert context.function_name == "clerk-sync-local-webhook"
    assert 0 < context.get_remaining_time_in_millis() <= 2000


def test_gateway_own_answers_carry_a_request_id(make_client: Client) -> None:
    assert make_client().post("/api/nowhere").headers["apigw-requestid"]


def test_gateway_unsupported_identity_source_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="unsupported identity source"):
        Gateway(identity_sources=["$request.querystring.token"])


def test_gateway_slow_authorizer_is_503_after_timeout_without_calling_the_route(
    make_client: Client, functions: FakeFunctions
) -> None:
    functions.answers["authorizer"] = sleep_then(1.0, {"isAuthorized": True, "context": {}})
    started = time.perf_counter()
    response = make_client(integration_timeout=0.2).post("/api/sync/user", headers=AUTH)
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})
    assert "Retry-After" not in response.headers  # a bare 503, as API Gateway cuts: what the runtime must avoid
    assert time.perf_counter() - started < 0.9
    assert functions.events["sync_api"] == []


def test_gateway_and_local_stack_cut_at_api_gateways_30_seconds_by_default() -> None:
    """The local stack must cut where API Gateway does, or a route slower than 30 s would pass locally."""
    assert INTEGRATION_TIMEOUT_SECONDS == 30.0
    gateway_default = inspect.signature(Gateway).parameters["integration_timeout"].default
    stack_default = inspect.signature(LocalStack).parameters["integration_timeout"].default
    assert gateway_default == stack_default == INTEGRATION_TIMEOUT_SECONDS
