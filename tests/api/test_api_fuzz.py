"""Property-based fuzzing of every operation in the generated OpenAPI document.

Requests are drawn from the document's own schemas (valid shapes) mixed with junk (any text, any JSON, any
bytes) and sent by callers of every kind. Whatever arrives: never a 5xx, and a rejected request (4xx)
writes nothing to the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clerk_sync.api.sync_routes import openapi_document
from tests.api.conftest import Api

DOCUMENT = json.loads(openapi_document())
OPERATIONS = sorted((method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@dataclass
class Cast:
    """Existing callers and ids the fuzzer may pick, so that some requests reach real data."""

    tokens: dict[str, str]
    ids: list[str]


@pytest.fixture
def cast(api: Api) -> Cast:
    clerk = api.clerk
    admin = clerk.create_user(first_name="Root", public_metadata={"role": "admin"})["id"]
    member = clerk.create_user(first_name="Member")["id"]
    outsider = clerk.create_user(first_name="Outsider")["id"]
    org = clerk.create_organization("Acme", created_by=admin)["id"]
    clerk.add_membership(org, member)
    tokens = {"admin": api.token(admin), "member": api.token(member, org), "outsider": api.token(outsider)}
    for token in tokens.values():
        assert api.call("GET", "/api/sync/status", token=token).status == 200  # every caller logged in once
    return Cast(tokens, [admin, member, outsider, org])


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for the JSON Schema subset the document uses ($ref, anyOf, const, objects, arrays, patterned
    strings, booleans, integers)."""
    if "$ref" in schema:
        return from_schema(DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    if "anyOf" in schema:
        return st.one_of([from_schema(option) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31))
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), min_size=schema.get("minItems", 0), max_size=5)
    if kind == "string":
        return st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema else st.text(max_size=20)
    if kind == "object":
        properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={k: v for k, v in properties.items() if k not in required},
        )
    raise NotImplementedError(f"schema {schema!r}")


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    return schema


def _path_values(path: str, operation: dict[str, Any], cast: Cast) -> st.SearchStrategy[str]:
    params = {p["name"]: p["schema"] for p in operation.get("parameters", []) if p["in"] == "path"}
    if not params:
        return st.just(path)
    (name, schema) = next(iter(params.items()))
    segment = st.one_of(
        from_schema(_schema(schema)),
        st.sampled_from(cast.ids),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"), min_size=1),
    )
    return segment.map(lambda value: path.replace("{" + name + "}", value))


def _bodies(operation: dict[str, Any], cast: Cast) -> st.SearchStrategy[bytes]:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    junk = st.one_of(st.binary(max_size=64), json_values.map(lambda v: json.dumps(v).encode()))
    if content is None:
        return st.one_of(st.just(b""), junk)
    valid = from_schema(_schema(content["schema"]))
    known = st.fixed_dictionaries(
        {"clerkOrgId": st.sampled_from(cast.ids), "clerkUserId": st.sampled_from(cast.ids)},
        optional={"role": st.sampled_from(["org:admin", "org:member", "admin", "basic_member"])},
    )
    return st.one_of(valid.map(lambda v: json.dumps(v).encode()), known.map(lambda v: json.dumps(v).encode()), junk)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzzed_requests_never_5xx_and_rejections_write_nothing(api: Api, cast: Cast, method: str, path: str) -> None:
    operation = DOCUMENT["paths"][path][method.lower()]
    callers = st.sampled_from(sorted(cast.tokens)).map(cast.tokens.__getitem__) | st.text(max_size=40)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(target=_path_values(path, operation, cast), body=_bodies(operation, cast), token=callers)
    def check(target: str, body: bytes, token: str) -> None:
        before = api.items()
        reply = api.call(method, target, token=token, raw_body=body)
        assert reply.status < 500, (target, body, reply)
        if reply.status >= 400:
            assert api.items() == before, (target, body, reply)
            assert isinstance(reply.body, dict)

    check()
