"""The HTTP API: the route table from infra/endpoints.py, the Lambda authorizer, throttling, access logs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import endpoints

# JSON access log line: enough to trace a request to its function logs and see authorizer outcomes,
# without headers or bodies (they carry tokens and PII).
_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "authorizerLatency": "$context.authorizer.latency",
    "authorizerStatus": "$context.authorizer.status",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """IAccessLogSettings is a jsii interface, not a struct: a dict does not cross into JavaScript."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class ClerkApi(Construct):
    """HTTP API with one route per `endpoints.ROUTES` entry on its `$default` stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api_name: str,
        functions: Mapping[endpoints.FunctionKey, lambda_.IFunction],
        cors_allowed_origins: Sequence[str],
        authorizer_cache_ttl: Duration,
        throttle_rate_limit: float,
        throttle_burst_limit: int,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # No default stage: the one below carries throttling and access logs.
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=api_name,
            create_default_stage=False,
            # Browsers call /api/sync/* from the frontends; API Gateway answers the preflight itself, so
            # OPTIONS never reaches the authorizer. Clerk's server-to-server webhook ignores CORS.
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=list(cors_allowed_origins),
                allow_methods=[apigwv2.CorsHttpMethod.GET, apigwv2.CorsHttpMethod.POST],
                allow_headers=["authorization", "content-type"],
                max_age=Duration.hours(1),
            ),
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention, removal_policy=removal_policy)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=throttle_rate_limit, burst_limit=throttle_burst_limit),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )
        caching = authorizer_cache_ttl.to_seconds() > 0
        self.authorizer = authorizers.HttpLambdaAuthorizer(
            "SessionAuthorizer",
            functions[endpoints.AUTHORIZER_FUNCTION],
            authorizer_name="clerk-session",
            response_types=[authorizers.HttpLambdaResponseType.SIMPLE],
            # The cache is keyed by the identity source, so caching needs one; without caching there is
            # none, so a request carrying only the `__session` cookie still reaches the authorizer.
            identity_source=list(endpoints.authorizer_identity_sources(caching)),
            results_cache_ttl=authorizer_cache_ttl,
        )
        lambda_integrations: dict[endpoints.FunctionKey, integrations.HttpLambdaIntegration] = {}
        self.routes: dict[endpoints.Route, apigwv2.HttpRoute] = {}
        for route in endpoints.ROUTES:
            if route.function not in lambda_integrations:
                lambda_integrations[route.function] = integrations.HttpLambdaIntegration(
                    f"{route.function}-integration",
                    functions[route.function],
                    payload_format_version=apigwv2.PayloadFormatVersion.custom(endpoints.PAYLOAD_FORMAT_VERSION),
                )
            (self.routes[route],) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod(route.method)],
                integration=lambda_integrations[route.function],
                authorizer=self.authorizer if route.authorized else apigwv2.HttpNoneAuthorizer(),
            )
        if not caching:
            # CDK renders an empty identity source as `[]`; leave the property out, as AWS documents it.
            for child in self.node.find_all():
                if isinstance(child, apigwv2.CfnAuthorizer):
                    child.add_property_deletion_override("IdentitySource")

    @property
    def url(self) -> str:
        """Base URL of the `$default` stage, with a trailing slash."""
        return self.stage.url

    @property
    def webhook_url(self) -> str:
        return f"{self.http_api.api_endpoint}{endpoints.WEBHOOK_PATH}"
