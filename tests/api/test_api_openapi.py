"""The OpenAPI document is generated from the routes' code, checked in, and agrees with the route table."""

from __future__ import annotations

import json
import re
from pathlib import Path

from clerk_sync.api.sync_routes import openapi_document
from infra.endpoints import ROUTES

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_openapi_document_in_docs_is_the_generated_one() -> None:
    assert json.loads(CHECKED_IN.read_text()) == json.loads(openapi_document()), "run `make openapi`"


def test_openapi_operations_are_exactly_the_sync_api_routes_of_the_stack() -> None:
    document = json.loads(openapi_document())
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    # The console's static shell (unauthorized, no data) is no API operation.
    deployed = {(route.method, route.path) for route in ROUTES if route.function == "sync_api" and route.authorized}
    assert documented == deployed


def test_every_operation_needs_a_session_and_documents_its_errors() -> None:
    document = json.loads(openapi_document())
    assert document["components"]["securitySchemes"]["clerkSession"]["scheme"] == "bearer"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert {"401", "503"} <= set(operation["responses"]), f"{method} {path}"
            error_schema = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error_schema["$ref"].endswith("/ErrorBody")


def test_path_parameters_carry_clerks_id_patterns() -> None:
    document = json.loads(openapi_document())
    for path, item in document["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    continue  # the admin routes' query parameters (q, before, limit) are bounded, not patterned
                pattern = parameter["schema"]["pattern"]
                example = {
                    "clerkUserId": "user_abc123",
                    "clerkOrgId": "org_abc123",
                    "jobId": "job_abc123",
                    "entity": "membership",
                    "entityId": "org_abc123:user_abc123",
                }[parameter["name"]]
                assert re.match(pattern, example), path
                assert not re.match(pattern, "abc123"), path
