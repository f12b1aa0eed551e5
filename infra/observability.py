"""Dashboard and alarms over the metrics the code emits (EMF, namespace ClerkSync) and AWS's own.

EMF metrics are stored per exact dimension set. Metrics with only `service`, or with a dimension of known
values (Trigger, Tier), are used one series at a time (and can be alarmed on); open-ended dimensions
(Reason, EventType/Outcome) go through SEARCH expressions, which CloudWatch can graph but not alarm on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from clerk_sync.outcomes import Outcome
from clerk_sync.vocabulary import METRICS_NAMESPACE, SERVICE_NAME, Fallback
from clerk_sync.vocabulary import SYNC_TRIGGERS as RUNTIME_SYNC_TRIGGERS
from infra.endpoints import FunctionKey
from infra.queue import EventQueues

FIVE_MINUTES: Final = Duration.minutes(5)
OLDEST_MESSAGE_ALARM_SECONDS: Final = 300
# The `Trigger` values of SyncCompleted/SyncFailed: the sources that ask for syncs in Lambda.
SYNC_TRIGGERS: Final = tuple(source.value for source in RUNTIME_SYNC_TRIGGERS)
# The failure-rate alarm's: an alarm reads at most 10 metrics (2 per trigger).
ALARMED_SYNC_TRIGGERS: Final = SYNC_TRIGGERS
# The `Tier` values of LoginFallback: the stored (stale) record, or a provisional one from token claims.
LOGIN_FALLBACK_TIERS: Final = tuple(fallback.value for fallback in Fallback)
EVENT_OUTCOMES: Final = tuple(outcome.value for outcome in Outcome)


@dataclass(frozen=True)
class AlarmThresholds:
    error_rate_percent: float
    clerk_rate_limited_per_5_minutes: int
    webhook_silence_hours: int  # 0: no "no webhooks" alarm
    drift_repaired_per_day: int


def service_metric(name: str, statistic: str = "Sum", label: str | None = None, **dimensions: str) -> cloudwatch.Metric:
    """A ClerkSync metric with exactly `service` plus `dimensions` (the EMF dimension set)."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE_NAME, **dimensions},
        statistic=statistic,
        period=FIVE_MINUTES,
        label=label or name,
    )


def search_expression(name: str, dimensions: Sequence[str], statistic: str = "Sum", where: str = "") -> str:
    """SEARCH over every value of `dimensions` for a ClerkSync metric (graphs only: no alarms on SEARCH)."""
    schema = ",".join([METRICS_NAMESPACE, *sorted([*dimensions, "service"])])
    filters = f'MetricName="{name}" service="{SERVICE_NAME}" {where}'.strip()
    return f"SEARCH('{{{schema}}} {filters}', '{statistic}', {int(FIVE_MINUTES.to_seconds())})"


def _search(name: str, *dimensions: str, statistic: str = "Sum") -> cloudwatch.MathExpression:
    return cloudwatch.MathExpression(
        expression=search_expression(name, dimensions, statistic),
        label="",  # each series keeps CloudWatch's label: the dimension value
        period=FIVE_MINUTES,
    )


def _percentiles(name: str) -> list[cloudwatch.IMetric]:
    return [service_metric(name, "p50", f"{name} p50"), service_metric(name, "p99", f"{name} p99")]


class Observability(Construct):
    """CloudWatch dashboard plus alarms that notify one SNS topic (created or imported)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        functions: Mapping[FunctionKey, lambda_.IFunction],
        events: EventQueues,
        http_api: apigwv2.IHttpApi,
        thresholds: AlarmThresholds,
        alarm_topic_arn: str | None,
        alarm_email: str | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._prefix = name_prefix
        self.topic = self._topic(alarm_topic_arn, alarm_email, removal_policy)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._add_alarms(functions, events, http_api, thresholds)
        self.dashboard = self._dashboard(functions, events, http_api)

    # --- alarm target -------------------------------------------------------------------------------

    def _topic(self, topic_arn: str | None, email: str | None, removal_policy: RemovalPolicy) -> sns.ITopic:
        if topic_arn:
            return sns.Topic.from_topic_arn(self, "AlarmTopic", topic_arn)
        # A customer-managed key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the clerk-sync alarm topic",
            enable_key_rotation=True,
            removal_policy=removal_policy,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )
        topic = sns.Topic(self, "AlarmTopic", display_name=f"{self._prefix} alarms", master_key=key, enforce_ssl=True)
        # The topic policy replaces SNS's default one, so CloudWatch needs an explicit grant.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
            )
        )
        if email:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _alarm(
        self,
        key: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        construct_name = "".join(part.title() for part in key.split("-"))
        alarm = cloudwatch.Alarm(
            self,
            f"{construct_name}Alarm",
            alarm_name=f"{self._prefix}-{key}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            treat_missing_data=missing,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms[key] = alarm
        return alarm

    def _add_alarms(
        self,
        functions: Mapping[FunctionKey, lambda_.IFunction],
        events: EventQueues,
        http_api: apigwv2.IHttpApi,
        thresholds: AlarmThresholds,
    ) -> None:
        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        self._alarm(
            "dlq-not-empty",
            events.dlq.metric_approximate_number_of_messages_visible(statistic="Maximum", period=Duration.minutes(1)),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description="Events failed every retry and sit in the DLQ: read the reason in the worker logs, "
            "fix, then replay the DLQ.",
        )
        self._alarm(
            "oldest-event-age",
            events.queue.metric_approximate_age_of_oldest_message(statistic="Maximum", period=Duration.minutes(1)),
            threshold=OLDEST_MESSAGE_ALARM_SECONDS,
            comparison=above,
            description="An event has waited more than 5 minutes: the worker is failing, throttled or "
            "capped by its maximum concurrency.",
        )
        for key, function in functions.items():
            errors = function.metric_errors(statistic="Sum", period=FIVE_MINUTES)
            invocations = function.metric_invocations(statistic="Sum", period=FIVE_MINUTES)
            self._alarm(
                f"{key.replace('_', '-')}-error-rate",
                cloudwatch.MathExpression(
                    expression="IF(invocations > 0, 100 * errors / invocations, 0)",
                    using_metrics={"errors": errors, "invocations": invocations},
                    label=f"{key} error %",
                    period=FIVE_MINUTES,
                ),
                threshold=thresholds.error_rate_percent,
                comparison=above,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                description=f"More than {thresholds.error_rate_percent}% of {key} invocations failed.",
            )
        self._alarm(
            "api-5xx-rate",
            cloudwatch.MathExpression(
                expression="IF(requests > 0, 100 * server_errors / requests, 0)",
                using_metrics={
                    "server_errors": http_api.metric_server_error(statistic="Sum", period=FIVE_MINUTES),
                    "requests": http_api.metric_count(statistic="Sum", period=FIVE_MINUTES),
                },
                label="API 5xx %",
                period=FIVE_MINUTES,
            ),
            threshold=thresholds.error_rate_percent,
            comparison=above,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"More than {thresholds.error_rate_percent}% of API requests returned 5xx.",
        )
        sync_metrics: dict[str, cloudwatch.IMetric] = {}
        for trigger in ALARMED_SYNC_TRIGGERS:
            sync_metrics[f"ok_{trigger}"] = service_metric("SyncCompleted", Trigger=trigger)
            sync_metrics[f"failed_{trigger}"] = service_metric("SyncFailed", Trigger=trigger)
        failed = " + ".join(f"FILL(failed_{t}, 0)" for t in ALARMED_SYNC_TRIGGERS)
        total = " + ".join(f"FILL(ok_{t}, 0) + FILL(failed_{t}, 0)" for t in ALARMED_SYNC_TRIGGERS)
        self._alarm(
            "sync-failure-rate",
            cloudwatch.MathExpression(
                expression=f"IF(({total}) > 0, 100 * ({failed}) / ({total}), 0)",
                using_metrics=sync_metrics,
                label="sync failure %",
                period=FIVE_MINUTES,
            ),
            threshold=thresholds.error_rate_percent,
            comparison=above,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=f"More than {thresholds.error_rate_percent}% of syncs "
            f"({', '.join(ALARMED_SYNC_TRIGGERS)}) failed: see SyncFailed by trigger on the dashboard.",
        )
        self._alarm(
            "event-failures",
            service_metric("EventFailed"),
            threshold=0,
            comparison=above,
            evaluation_periods=3,
            description="The worker has failed events for 15 minutes (they are retried, then land in the DLQ).",
        )
        self._alarm(
            "clerk-rate-limited",
            service_metric("ClerkRateLimited"),
            threshold=thresholds.clerk_rate_limited_per_5_minutes,
            comparison=above,
            description="Clerk answered 429 more often than expected: lower the worker's maximum concurrency "
            "or the sync rate, or raise the instance's rate limit.",
        )
        self._alarm(
            "clerk-instance-mismatch",
            cloudwatch.MathExpression(
                expression="FILL(mismatch, 0) + FILL(other_instance, 0)",
                using_metrics={
                    "mismatch": service_metric("ClerkInstanceMismatch"),
                    "other_instance": service_metric("WebhookRejected", Reason="other_instance"),
                },
                label="instance mismatches + webhooks of another instance",
                period=FIVE_MINUTES,
            ),
            threshold=0,
            comparison=above,
            description="The Clerk secret key or the webhooks belong to another Clerk instance than the table's "
            "(CLERK_INSTANCE_ID, else the key's): nothing is deleted on Clerk's 404s and such webhooks are refused "
            "(Svix retries them for ~27 h). Fix the key in the secret, clerk_instance_id in cdk.json, or the "
            "webhook endpoint in Clerk's dashboard.",
        )
        if thresholds.webhook_silence_hours:
            hours = thresholds.webhook_silence_hours
            self._alarm(
                "no-webhooks",
                # The worker's count (any outcome), not the receiver's: a webhook refused or never applied is silence.
                service_metric("WebhookProcessed").with_(period=Duration.hours(1)),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=hours,
                # No datapoint means no webhook arrived: that is exactly the condition.
                missing=cloudwatch.TreatMissingData.BREACHING,
                description=f"The worker processed no Clerk webhook for {hours} h: check the endpoint in Clerk's "
                "dashboard (disabled, failing, wrong URL), the webhook signing secret (WebhookRejected), and the "
                "worker (EventFailed, the DLQ). GET /api/sync/status says when the last one was processed.",
            )
        limit = thresholds.drift_repaired_per_day
        self._alarm(
            "reconcile-drift",
            # A UTC day's repairs: what a daily reconcile finds, whichever hour it runs and however long it takes.
            service_metric("DriftRepaired").with_(period=Duration.days(1)),
            threshold=limit,
            comparison=above,
            description=f"Reconcile repaired more than {limit} records in a day: webhooks are being missed or "
            "misapplied. See Drift by kind on the dashboard, the webhook endpoint in Clerk's dashboard, and the DLQ.",
        )

    # --- dashboard ----------------------------------------------------------------------------------

    def _dashboard(
        self,
        functions: Mapping[FunctionKey, lambda_.IFunction],
        events: EventQueues,
        http_api: apigwv2.IHttpApi,
    ) -> cloudwatch.Dashboard:
        def graph(
            title: str, left: Sequence[cloudwatch.IMetric], right: Sequence[cloudwatch.IMetric] = ()
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(left), right=list(right), width=8, height=6)

        # One line per outcome, summed over event types.
        outcomes: list[cloudwatch.IMetric] = [
            cloudwatch.MathExpression(
                expression="SUM("
                + search_expression("EventProcessed", ["EventType", "Outcome"], where=f'Outcome="{outcome}"')
                + ")",
                label=outcome,
                period=FIVE_MINUTES,
            )
            for outcome in EVENT_OUTCOMES
        ]
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=self._prefix,
            default_interval=Duration.hours(6),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3)
        )
        dashboard.add_widgets(
            graph(
                "Webhooks received / enqueued",
                [service_metric("WebhookReceived"), service_metric("WebhookEnqueued")],
            ),
            graph("Webhooks rejected by reason", [_search("WebhookRejected", "Reason")]),
            graph("Webhooks ignored by reason and event type", [_search("WebhookIgnored", "Reason", "EventType")]),
        )
        dashboard.add_widgets(
            graph(
                "Events processed by outcome",
                outcomes,
                [service_metric("EventFailed"), service_metric("QueueMessages", label="messages received")],
            ),
            graph("Event lag (ms)", _percentiles("EventLag")),
            graph("Processing time (ms)", _percentiles("ProcessingTime")),
        )
        dashboard.add_widgets(
            graph(
                "Syncs completed / failed by trigger",
                [service_metric("SyncCompleted", label=f"completed {t}", Trigger=t) for t in SYNC_TRIGGERS],
                [
                    *(service_metric("SyncFailed", label=f"failed {t}", Trigger=t) for t in SYNC_TRIGGERS),
                    # Manual syncs refused by the per-caller limit (429 sync_rate_limited) before any Clerk call.
                    service_metric("SyncLimited", label="limited per caller"),
                ],
            ),
            graph(
                "Clerk API latency (ms) / 429s and retries",
                _percentiles("ClerkCallLatency"),
                [service_metric("ClerkRateLimited"), service_metric("ClerkRetries")],
            ),
            graph(
                "DynamoDB latency (ms) / history writes failed",
                _percentiles("DynamoDBLatency"),
                # A record's history is best effort: the change it notes landed anyway (docs/decisions/0028).
                [service_metric("HistoryWriteFailed")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Event queue: depth / age of oldest (s)",
                [events.queue.metric_approximate_number_of_messages_visible(statistic="Maximum")],
                [events.queue.metric_approximate_age_of_oldest_message(statistic="Maximum")],
            ),
            graph("DLQ depth", [events.dlq.metric_approximate_number_of_messages_visible(statistic="Maximum")]),
            graph(
                "Authorizer latency (ms) / denials by reason",
                _percentiles("AuthorizerLatency"),
                [_search("AuthorizerDenied", "Reason")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Webhook freshness: webhooks processed per hour / event lag p99 (ms)",
                [service_metric("WebhookProcessed", label="webhooks processed").with_(period=Duration.hours(1))],
                [service_metric("EventLag", "p99", "EventLag p99")],
            ),
            graph(
                "Reconcile: drift found by kind / repaired",
                [_search("Drift", "Kind")],
                [service_metric("DriftRepaired", label="repaired")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Login fallbacks by tier (Clerk unreachable at login)",
                [service_metric("LoginFallback", label=tier, Tier=tier) for tier in LOGIN_FALLBACK_TIERS],
            ),
            graph(
                "Deletions refused: key of another instance / webhooks of another instance",
                [service_metric("ClerkInstanceMismatch")],
                [service_metric("WebhookRejected", label="webhooks of another instance", Reason="other_instance")],
            ),
            graph(
                # The shared rate budget (docs/decisions/0020): time requests waited for it, and how often its
                # table item could not be reached (the requests then went ahead unbudgeted).
                "Clerk budget: seconds waited / unavailable",
                [service_metric("ClerkBudgetWait", label="seconds waited")],
                [service_metric("ClerkBudgetUnavailable", label="budget unavailable")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Lambda errors / throttles",
                [f.metric_errors(statistic="Sum", label=f"{k} errors") for k, f in functions.items()],
                [f.metric_throttles(statistic="Sum", label=f"{k} throttles") for k, f in functions.items()],
            ),
            graph(
                "Lambda duration p99 (ms)",
                [f.metric_duration(statistic="p99", label=k) for k, f in functions.items()],
            ),
            graph(
                "HTTP API requests / 4xx / 5xx",
                [http_api.metric_count(statistic="Sum", label="API requests"), service_metric("SyncApiRequests")],
                [
                    http_api.metric_client_error(statistic="Sum"),
                    http_api.metric_server_error(statistic="Sum"),
                ],
            ),
        )
        return dashboard
