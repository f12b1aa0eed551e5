"""What the local API Gateway answers itself on the running stack."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack


def test_gateway_unknown_route_is_404(stack: Stack) -> None:
    response = stack.api.post("/api/nowhere")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_gateway_wrong_method_is_404(stack: Stack) -> None:
    assert stack.api.get("/api/webhooks/clerk").status_code == 404
    assert stack.api.post("/api/sync/status").status_code == 404


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/sync/user"), ("GET", "/api/sync/status")])
def test_gateway_sync_route_without_authorization_is_401_before_the_authorizer(
    stack: Stack, method: str, path: str
) -> None:
    # The stack caches authorizer results (dev stage: 60 s), so the Authorization header is a required
    # identity source and API Gateway itself refuses a request without it.
    assert stack.ready.authorizer_cache_ttl_seconds > 0
    response = stack.api.request(method, path)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert response.headers["content-type"] == "application/json"


def test_gateway_answers_with_request_id_header(stack: Stack) -> None:
    response = stack.api.post(
        "/api/webhooks/clerk", content=b"{}", headers={"content-type": "application/json"}
    )  # no signature: the webhook function's 401
    assert response.status_code == 401
    assert response.headers["apigw-requestid"]
