"""The clerk-sync stack: composes the constructs, owns tags, outputs and the cdk-nag acknowledgments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from aws_cdk import Acknowledgment, App, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from clerk_sync import resources
from infra import endpoints
from infra.api import ClerkApi
from infra.functions import RUNTIME, ClerkFunctions, retention_days
from infra.observability import AlarmThresholds, Observability
from infra.queue import EventQueues
from infra.schedule import ReconcileSchedule
from infra.stages import StageConfig
from infra.table import ClerkTable

# The keys of the one Secrets Manager secret the functions read (CLERK_SECRETS_ARN).
SECRET_KEYS: Final = ("CLERK_SECRET_KEY", "CLERK_WEBHOOK_SIGNING_SECRET")


def add_security_checks(app: App) -> None:
    """Run cdk-nag's AwsSolutions pack on synth; any unacknowledged finding fails the synth."""
    # Validation plugins can only be registered on an App or Stage, hence not in the stack itself.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


class ClerkSyncStack(Stack):
    """Everything one clerk-sync environment needs; `stage` decides names, sizes and retention."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        code_dir: Path,
        layer_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=stage.stack_name,
            description=f"clerk-sync ({stage.name}): DynamoDB copy of a Clerk instance",
            **kwargs,
        )
        self.stage_config = stage
        removal_policy = RemovalPolicy.RETAIN if stage.is_retained else RemovalPolicy.DESTROY
        log_retention = retention_days(stage.log_retention_days)

        self.table = ClerkTable(self, "Store", removal_policy=removal_policy, deletion_protection=stage.is_retained)
        self.events = EventQueues(self, "Events", definition=resources.EVENT_QUEUE, removal_policy=removal_policy)
        self.secret = self._clerk_secret(removal_policy)
        self.functions = ClerkFunctions(
            self,
            "Functions",
            name_prefix=stage.stack_name,
            code_dir=code_dir,
            layer_dir=layer_dir,
            environment=stage.function_environment(),
            table=self.table.table,
            index_names=self.table.index_names,
            events=self.events,
            secret=self.secret,
            log_retention=log_retention,
            removal_policy=removal_policy,
            worker_max_concurrency=stage.worker_max_concurrency,
        )
        self.api = ClerkApi(
            self,
            "Api",
            api_name=stage.stack_name,
            functions=self.functions.functions,
            cors_allowed_origins=stage.clerk_authorized_parties,
            authorizer_cache_ttl=Duration.seconds(stage.authorizer_cache_ttl_seconds),
            throttle_rate_limit=stage.api_throttle_rate_limit,
            throttle_burst_limit=stage.api_throttle_burst_limit,
            log_retention=log_retention,
            removal_policy=removal_policy,
        )
        self.observability = Observability(
            self,
            "Observability",
            name_prefix=stage.stack_name,
            functions=self.functions.functions,
            events=self.events,
            http_api=self.api.http_api,
            thresholds=AlarmThresholds(
                error_rate_percent=stage.error_rate_percent,
                clerk_rate_limited_per_5_minutes=stage.clerk_rate_limited_threshold,
                webhook_silence_hours=stage.webhook_silence_alarm_hours,
                drift_repaired_per_day=stage.reconcile_drift_alarm_threshold,
            ),
            alarm_topic_arn=stage.alarm_topic_arn,
            alarm_email=stage.alarm_email,
            removal_policy=removal_policy,
        )
        self.reconcile = (
            ReconcileSchedule(
                self,
                "Reconcile",
                name_prefix=stage.stack_name,
                expression=stage.reconcile_schedule,
                queue=self.events.queue,
            )
            if stage.reconcile_schedule
            else None  # "": no scheduled reconcile
        )

        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the HTTP API")
        CfnOutput(self, "WebhookUrl", value=self.api.webhook_url, description="Endpoint to register in Clerk")
        CfnOutput(
            self, "ClerkSecretArn", value=self.secret.secret_arn, description="Fill in: " + ", ".join(SECRET_KEYS)
        )
        CfnOutput(self, "TableName", value=self.table.table.table_name)
        CfnOutput(self, "EventQueueUrl", value=self.events.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.events.dlq.queue_url)
        CfnOutput(self, "DashboardName", value=stage.stack_name)

        Tags.of(self).add("service", "clerk-sync")
        Tags.of(self).add("stage", stage.name)
        self._acknowledge_nag_findings()

    def _clerk_secret(self, removal_policy: RemovalPolicy) -> secretsmanager.Secret:
        # Secrets Manager only creates a JSON secret from a template together with one generated key, so
        # the template carries the empty keys to fill in and the generated value is never read. No
        # secret value is ever in the template; the operator sets them with put-secret-value. Changing the
        # template or key makes CloudFormation generate a new value, replacing the operator's: keep them fixed.
        return secretsmanager.Secret(
            self,
            "ClerkSecrets",
            description="Clerk secret key and webhook signing secret(s) for clerk-sync: fill in after deploy",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(dict.fromkeys(SECRET_KEYS, "")),
                generate_string_key="UNUSED_GENERATED",
            ),
            removal_policy=removal_policy,
        )

    def _acknowledge_nag_findings(self) -> None:
        """Each AwsSolutions finding we accept, with the reason; everything else fails the synth."""
        acknowledgments: list[tuple[Construct, str, str]] = [
            (
                self.secret,
                "AwsSolutions-SMG4",
                "Clerk secret keys and webhook signing secrets are rotated in Clerk's dashboard; Secrets "
                "Manager has no rotation function for them. Rotation is a put-secret-value (see README).",
            ),
        ]
        # Only the routes the route table marks unauthorized, one by one: a new route without the
        # authorizer must fail the synth rather than inherit this reason.
        acknowledgments += [
            (http_route, "AwsSolutions-APIG4", _unauthorized_reason(route))
            for route, http_route in self.api.routes.items()
            if not route.authorized
        ]
        # The runtime the tests run on, not the newest (docs/decisions/0024); one function at a time, so a function
        # added without this reason still fails the synth.
        acknowledgments += [
            (
                function,
                "AwsSolutions-L1",
                f"{RUNTIME.name}: the Python version the whole test suite runs on; no newer interpreter can be "
                "installed on the machines that build and test clerk-sync (docs/decisions/0024).",
            )
            for function in self.functions.functions.values()
        ]
        for construct, rule, reason in acknowledgments:
            Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def _unauthorized_reason(route: endpoints.Route) -> str:
    """Why a route the route table marks unauthorized may go without the authorizer; any other fails the synth."""
    if route.path == endpoints.WEBHOOK_PATH:
        return (
            f"{route.method} {route.path} is called by Clerk (Svix), which cannot send a session token; "
            "the webhook function verifies the Svix signature on the raw body before anything else."
        )
    if endpoints.is_console(route.path):
        return (
            f"{route.method} {route.path} serves the operator console's static page, which holds no data (a browser "
            "navigation cannot send a bearer token); all data comes from /api/admin/*, behind the authorizer and "
            "for platform admins only (docs/decisions/0030)."
        )
    raise ValueError(f"{route.method} {route.path} has no authorizer and no reason to go without one")
