"""HTTP API: the shared route table, the Lambda authorizer, throttling, access logs, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra import endpoints

if TYPE_CHECKING:
    from conftest import Synth

ROOT = Path(__file__).resolve().parents[2]


def _integration_targets(synth: Synth, stage: str) -> dict[str, str]:
    """Integration logical id -> function key it invokes."""
    functions = synth.stacks[stage].functions.functions
    by_function_id = {synth.logical_id(stage, fn): key for key, fn in functions.items()}
    targets = {}
    for logical_id, integration in synth.resources(stage, "AWS::ApiGatewayV2::Integration").items():
        function_id = integration["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        targets[logical_id] = by_function_id[function_id]
    return targets


def _authorizer(synth: Synth, stage: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, authorizer),) = synth.resources(stage, "AWS::ApiGatewayV2::Authorizer").items()
    return logical_id, authorizer["Properties"]


def test_route_table_module_is_pure_data() -> None:
    code = "import sys, infra.endpoints; sys.exit('aws_cdk' in sys.modules or 'constructs' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False)  # noqa: S603
    assert result.returncode == 0, "infra/endpoints.py must not import aws_cdk: the local gateway imports it"


def test_route_table_has_unique_routes_and_only_the_webhook_and_console_shell_unauthorized() -> None:
    keys = [(route.method, route.path) for route in endpoints.ROUTES]
    assert len(keys) == len(set(keys))
    assert [r for r in endpoints.ROUTES if not r.authorized] == [
        endpoints.Route("POST", "/api/webhooks/clerk", "webhook", authorized=False),
        endpoints.Route("GET", "/console", "sync_api", authorized=False),
        endpoints.Route("GET", "/console/{asset}", "sync_api", authorized=False),
    ]
    assert all(r.function == "sync_api" for r in endpoints.ROUTES if r.authorized)


def test_api_routes_are_exactly_the_route_table(synth: Synth, stage: str) -> None:
    authorizer_id, _ = _authorizer(synth, stage)
    targets = _integration_targets(synth, stage)
    synthesized = set()
    for route in synth.resources(stage, "AWS::ApiGatewayV2::Route").values():
        props = route["Properties"]
        integration_id = props["Target"]["Fn::Join"][1][1]["Ref"]
        authorized = props["AuthorizationType"] == "CUSTOM"
        if authorized:
            assert props["AuthorizerId"] == {"Ref": authorizer_id}
        else:
            assert props["AuthorizationType"] == "NONE"
        method, path = props["RouteKey"].split(" ", 1)
        synthesized.add(endpoints.Route(method, path, targets[integration_id], authorized))  # type: ignore[arg-type]
    assert synthesized == set(endpoints.ROUTES)


def test_integrations_use_payload_v2(synth: Synth, stage: str) -> None:
    integrations = synth.resources(stage, "AWS::ApiGatewayV2::Integration").values()
    assert {i["Properties"]["PayloadFormatVersion"] for i in integrations} == {endpoints.PAYLOAD_FORMAT_VERSION}
    assert {i["Properties"]["IntegrationType"] for i in integrations} == {"AWS_PROXY"}


def _standalone_api(cache_ttl_seconds: int) -> dict[str, Any]:
    """The template of a ClerkApi alone in a stack (no cdk-nag, inline stub functions): fast to synth."""
    from aws_cdk import App, Duration, RemovalPolicy, Stack
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs
    from aws_cdk.assertions import Template

    from infra.api import ClerkApi

    stack = Stack(App(), "ApiOnly")
    functions = {
        key: lambda_.Function(
            stack,
            key,
            runtime=lambda_.Runtime.PYTHON_3_11,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
        )
        for key in ("webhook", "sync_api", "authorizer")
    }
    ClerkApi(
        stack,
        "Api",
        api_name="api-only",
        functions=functions,  # type: ignore[arg-type]
        cors_allowed_origins=["https://app.example.com"],
        authorizer_cache_ttl=Duration.seconds(cache_ttl_seconds),
        throttle_rate_limit=10,
        throttle_burst_limit=20,
        log_retention=logs.RetentionDays.ONE_DAY,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return dict(Template.from_stack(stack).to_json())


def _only_authorizer(template: dict[str, Any]) -> dict[str, Any]:
    (props,) = (r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Authorizer")
    result: dict[str, Any] = props
    return result


def test_authorizer_is_simple_lambda_on_authorization_header_with_stage_ttl(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    _, props = _authorizer(synth, stage)
    assert stack.stage_config.authorizer_cache_ttl_seconds > 0, "cdk.json stages cache; TTL 0 is tested below"
    assert props["AuthorizerType"] == "REQUEST"
    assert props["AuthorizerPayloadFormatVersion"] == "2.0"
    assert props["EnableSimpleResponses"] is True
    assert props["IdentitySource"] == [endpoints.AUTHORIZER_IDENTITY_SOURCE] == ["$request.header.Authorization"]
    assert props["AuthorizerResultTtlInSeconds"] == stack.stage_config.authorizer_cache_ttl_seconds
    uri_parts = props["AuthorizerUri"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [synth.logical_id(stage, stack.functions.authorizer), "Arn"]} in uri_parts


def test_authorizer_with_cache_ttl_zero_has_no_identity_source() -> None:
    from cfnlint.api import ManualArgs, lint

    template = _standalone_api(0)
    props = _only_authorizer(template)
    # No identity source: API Gateway calls the authorizer even without an Authorization header (cookie).
    assert "IdentitySource" not in props
    assert props["AuthorizerResultTtlInSeconds"] == 0
    assert props["EnableSimpleResponses"] is True
    assert props["AuthorizerPayloadFormatVersion"] == "2.0"
    matches = lint(json.dumps(template), config=ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]))
    assert [str(m) for m in matches] == []


def test_authorizer_with_cache_ttl_requires_the_authorization_header() -> None:
    props = _only_authorizer(_standalone_api(300))
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["AuthorizerResultTtlInSeconds"] == 300


def test_authorizer_identity_sources_follow_caching() -> None:
    assert endpoints.authorizer_identity_sources(caching=True) == ("$request.header.Authorization",)
    assert endpoints.authorizer_identity_sources(caching=False) == ()


def test_stage_throttles_and_writes_json_access_logs(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    (api_stage,) = synth.resources(stage, "AWS::ApiGatewayV2::Stage").values()
    props = api_stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": stack.stage_config.api_throttle_burst_limit,
        "ThrottlingRateLimit": stack.stage_config.api_throttle_rate_limit,
    }
    access_logs_id = synth.logical_id(stage, stack.api.access_logs)
    assert props["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": [access_logs_id, "Arn"]}
    log_format = json.loads(props["AccessLogSettings"]["Format"])
    assert log_format["requestId"] == "$context.requestId"
    assert "authorizerError" in log_format
    retention = synth.resources(stage, "AWS::Logs::LogGroup")[access_logs_id]["Properties"]["RetentionInDays"]
    assert retention == stack.stage_config.log_retention_days


def test_api_gateway_may_invoke_only_the_routed_functions(synth: Synth, stage: str) -> None:
    stack = synth.stacks[stage]
    allowed = {synth.logical_id(stage, stack.functions.functions[k]) for k in ("webhook", "sync_api", "authorizer")}
    permissions = synth.resources(stage, "AWS::Lambda::Permission").values()
    invoked = {p["Properties"]["FunctionName"]["Fn::GetAtt"][0] for p in permissions}
    assert invoked == allowed
    assert {p["Properties"]["Principal"] for p in permissions} == {"apigateway.amazonaws.com"}


def test_outputs_give_api_and_webhook_urls(synth: Synth, stage: str) -> None:
    outputs = synth.template_json(stage)["Outputs"]
    api_id = synth.logical_id(stage, synth.stacks[stage].api.http_api)
    assert {"Ref": api_id} in outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert outputs["WebhookUrl"]["Value"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [api_id, "ApiEndpoint"]}, endpoints.WEBHOOK_PATH]]
    }
    assert {"ClerkSecretArn", "TableName", "EventQueueUrl", "DeadLetterQueueUrl", "DashboardName"} <= set(outputs)


def test_cors_allows_the_authorized_frontends_only(synth: Synth, stage: str) -> None:
    (api,) = synth.resources(stage, "AWS::ApiGatewayV2::Api").values()
    cors = api["Properties"]["CorsConfiguration"]
    assert cors["AllowOrigins"] == list(synth.stacks[stage].stage_config.clerk_authorized_parties)
    assert sorted(cors["AllowMethods"]) == ["GET", "POST"]
    assert sorted(cors["AllowHeaders"]) == ["authorization", "content-type"]
    assert "*" not in json.dumps(cors)
