"""Alarms notify one encrypted SNS topic; the dashboard graphs every metric the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.functions import METRICS_NAMESPACE, SERVICE_NAME
from infra.observability import (
    ALARMED_SYNC_TRIGGERS,
    EVENT_OUTCOMES,
    LOGIN_FALLBACK_TIERS,
    SYNC_TRIGGERS,
    search_expression,
)

if TYPE_CHECKING:
    from conftest import Synth

ROOT = Path(__file__).resolve().parents[2]

# The metric contract with functions/ (namespace ClerkSync, dimension service=clerk-sync), with the extra
# dimensions of the single metrics. Sync*, Authorizer* and LoginFallback are agreed but may not be emitted yet.
EMITTED_METRICS = {
    "WebhookReceived": (),
    "WebhookEnqueued": (),
    "WebhookRejected": ("Reason",),
    "WebhookIgnored": ("Reason", "EventType"),
    "EventProcessed": ("EventType", "Outcome"),
    "EventFailed": (),
    "EventLag": (),
    "ProcessingTime": (),
    "DynamoDBLatency": (),
    "ClerkCallLatency": (),
    "ClerkRateLimited": (),
    "ClerkRetries": (),
    "ClerkInstanceMismatch": (),
    "ClerkBudgetWait": (),
    "ClerkBudgetUnavailable": (),
    "SyncCompleted": ("Trigger",),
    "SyncFailed": ("Trigger",),
    "SyncLimited": (),
    "HistoryWriteFailed": (),
    "AuthorizerLatency": (),
    "AuthorizerDenied": ("Reason",),
    "LoginFallback": ("Tier",),
    "SyncApiRequests": (),
    "QueueMessages": (),
    "WebhookProcessed": (),
    # Emitted by the reconcile (another module): drift found per kind of record, and records it repaired.
    "Drift": ("Kind",),
    "DriftRepaired": (),
}
# Metric names as the runtime writes them: metrics.add_metric("X", ...), count("X", ...), single_metric("X", ...).
_EMIT_CALL = re.compile(r"\b(?:add_metric|count|single_metric)\(\s*(?:name=)?[\"']([A-Z]\w+)[\"']")
ALWAYS_ALARMS = {
    "dlq-not-empty",
    "oldest-event-age",
    "webhook-error-rate",
    "worker-error-rate",
    "sync-api-error-rate",
    "authorizer-error-rate",
    "api-5xx-rate",
    "sync-failure-rate",
    "event-failures",
    "clerk-rate-limited",
    "clerk-instance-mismatch",
    "reconcile-drift",
}


def _alarms(synth: Synth, stage: str) -> dict[str, dict[str, Any]]:
    """Alarm properties by the key after the stage prefix in the alarm name."""
    prefix = synth.stacks[stage].stage_config.stack_name + "-"
    return {
        alarm["Properties"]["AlarmName"].removeprefix(prefix): alarm["Properties"]
        for alarm in synth.resources(stage, "AWS::CloudWatch::Alarm").values()
    }


def _single_metric(alarm: dict[str, Any]) -> dict[str, Any]:
    """Namespace, MetricName, Dimensions, Stat, Period of a one-metric alarm, whichever form CDK chose."""
    if "MetricName" in alarm:
        return {k: alarm.get(k) for k in ("Namespace", "MetricName", "Dimensions", "Period")} | {
            "Stat": alarm["Statistic"]
        }
    (query,) = alarm["Metrics"]
    stat = query["MetricStat"]
    return {**stat["Metric"], "Stat": stat["Stat"], "Period": stat["Period"]}


def _dashboard_body(synth: Synth, stage: str) -> dict[str, Any]:
    (dashboard,) = synth.resources(stage, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    # Tokens (region, queue names) become placeholders; only the JSON shape and names matter here.
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    body: dict[str, Any] = json.loads(text)
    return body


def test_alarm_set_per_stage(synth: Synth) -> None:
    assert set(_alarms(synth, "dev")) == ALWAYS_ALARMS
    assert set(_alarms(synth, "prod")) == ALWAYS_ALARMS | {"no-webhooks"}


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(synth: Synth, stage: str) -> None:
    topic_ref = {"Ref": synth.logical_id(stage, synth.stacks[stage].observability.topic)}
    for name, alarm in _alarms(synth, stage).items():
        assert alarm["AlarmActions"] == [topic_ref], name
        assert alarm["OKActions"] == [topic_ref], name
        assert alarm["AlarmDescription"], name


def test_dlq_not_empty_alarm_fires_on_one_message(synth: Synth, stage: str) -> None:
    alarm = _alarms(synth, stage)["dlq-not-empty"]
    dlq_id = synth.logical_id(stage, synth.stacks[stage].events.dlq)
    metric = _single_metric(alarm)
    assert metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1


def test_oldest_message_alarm_fires_after_five_minutes(synth: Synth, stage: str) -> None:
    alarm = _alarms(synth, stage)["oldest-event-age"]
    queue_id = synth.logical_id(stage, synth.stacks[stage].events.queue)
    metric = _single_metric(alarm)
    assert metric["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert metric["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    assert metric["Stat"] == "Maximum"
    assert alarm["Threshold"] == 300
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_error_rate_alarms_use_stage_threshold(synth: Synth, stage: str) -> None:
    threshold = synth.stacks[stage].stage_config.error_rate_percent
    alarms = _alarms(synth, stage)
    for name in ("webhook-error-rate", "worker-error-rate", "sync-api-error-rate", "authorizer-error-rate"):
        alarm = alarms[name]
        assert alarm["Threshold"] == threshold
        expression = next(m for m in alarm["Metrics"] if "Expression" in m)
        assert expression["Expression"] == "IF(invocations > 0, 100 * errors / invocations, 0)"
        metric_names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
        assert metric_names == {"Errors", "Invocations"}
    sync_metrics = {
        (
            m["MetricStat"]["Metric"]["MetricName"],
            frozenset((d["Name"], d["Value"]) for d in m["MetricStat"]["Metric"]["Dimensions"]),
        )
        for m in alarms["sync-failure-rate"]["Metrics"]
        if "MetricStat" in m
    }
    assert sync_metrics == {
        (name, frozenset({("Trigger", trigger), ("service", "clerk-sync")}))
        for name in ("SyncCompleted", "SyncFailed")
        for trigger in ALARMED_SYNC_TRIGGERS
    }
    # Every trigger a Lambda function runs; `cli` syncs run outside Lambda, where no EMF reaches CloudWatch.
    assert set(ALARMED_SYNC_TRIGGERS) == set(SYNC_TRIGGERS) - {"cli"}
    assert alarms["sync-failure-rate"]["Threshold"] == threshold


def test_every_alarm_reads_at_most_ten_metrics(synth: Synth, stage: str) -> None:
    # A CloudWatch hard limit that neither CDK nor cfn-lint checks: the deploy would fail.
    for name, alarm in _alarms(synth, stage).items():
        assert len([m for m in alarm.get("Metrics", []) if "MetricStat" in m]) <= 10, name


def test_clerk_rate_limit_alarm_counts_429s_with_exact_dimensions(synth: Synth, stage: str) -> None:
    alarm = _alarms(synth, stage)["clerk-rate-limited"]
    assert _single_metric(alarm) == {
        "Namespace": "ClerkSync",
        "MetricName": "ClerkRateLimited",
        "Dimensions": [{"Name": "service", "Value": "clerk-sync"}],
        "Stat": "Sum",
        "Period": 300,
    }
    assert alarm["Threshold"] == synth.stacks[stage].stage_config.clerk_rate_limited_threshold


def test_instance_mismatch_alarm_fires_on_the_first_refused_deletion_or_webhook(synth: Synth, stage: str) -> None:
    alarm = _alarms(synth, stage)["clerk-instance-mismatch"]
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "FILL(mismatch, 0) + FILL(other_instance, 0)"
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert stats["mismatch"]["Metric"]["MetricName"] == "ClerkInstanceMismatch"
    assert stats["mismatch"]["Metric"]["Dimensions"] == [{"Name": "service", "Value": "clerk-sync"}]
    refused = stats["other_instance"]["Metric"]
    assert refused["MetricName"] == "WebhookRejected"
    assert sorted(refused["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "Reason", "Value": "other_instance"},
        {"Name": "service", "Value": "clerk-sync"},
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_no_webhooks_alarm_treats_silence_as_breaching(synth: Synth) -> None:
    hours = synth.stacks["prod"].stage_config.webhook_silence_alarm_hours
    alarm = _alarms(synth, "prod")["no-webhooks"]
    # The worker's count of processed webhooks: a webhook refused at the door or failing in the worker is silence.
    assert _single_metric(alarm) == {
        "Namespace": "ClerkSync",
        "MetricName": "WebhookProcessed",
        "Dimensions": [{"Name": "service", "Value": "clerk-sync"}],
        "Stat": "Sum",
        "Period": 3600,
    }
    assert alarm["EvaluationPeriods"] == hours
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"


def test_drift_alarm_fires_above_the_stage_threshold_of_repairs_in_a_day(synth: Synth, stage: str) -> None:
    alarm = _alarms(synth, stage)["reconcile-drift"]
    assert _single_metric(alarm) == {
        "Namespace": "ClerkSync",
        "MetricName": "DriftRepaired",
        "Dimensions": [{"Name": "service", "Value": "clerk-sync"}],
        "Stat": "Sum",
        "Period": 86400,
    }
    assert alarm["Threshold"] == synth.stacks[stage].stage_config.reconcile_drift_alarm_threshold == 100
    assert (alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == ("GreaterThanThreshold", 1)
    assert alarm["TreatMissingData"] == "notBreaching"  # no reconcile ran: nothing repaired


def test_alarm_topic_is_kms_encrypted_tls_only_and_cloudwatch_can_publish(synth: Synth, stage: str) -> None:
    (topic,) = synth.resources(stage, "AWS::SNS::Topic").values()
    (key_id,) = synth.resources(stage, "AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = synth.resources(stage, "AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in key["KeyPolicy"]["Statement"])
    (policy,) = synth.resources(stage, "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    assert any(s["Effect"] == "Deny" and s.get("Condition") == tls_only for s in statements)
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_prod_alarm_email_is_subscribed(synth: Synth) -> None:
    email = synth.stacks["prod"].stage_config.alarm_email
    (subscription,) = synth.resources("prod", "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == email
    assert not synth.resources("dev", "AWS::SNS::Subscription")


def _dashboard_series(body: dict[str, Any]) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """ClerkSync metric name -> its dimension sets on the dashboard, as (name, value) pairs; SEARCH values are '*'."""
    found: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for widget in body["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], dict):
                expression = row[0]["expression"]
                for schema, name in re.findall(r"\{ClerkSync,([\w,]+)\} MetricName=\"(\w+)\"", expression):
                    pairs = tuple((dim, "*") for dim in schema.split(","))
                    found.setdefault(name, set()).add(pairs)
            elif row[0] == METRICS_NAMESPACE:
                plain = [part for part in row[2:] if not isinstance(part, dict)]
                found.setdefault(row[1], set()).add(tuple(zip(plain[0::2], plain[1::2], strict=True)))
    return found


def _runtime_metric_names() -> dict[str, set[str]]:
    """Metric names the code under functions/ emits, with the files emitting them."""
    names: dict[str, set[str]] = {}
    for path in sorted((ROOT / "functions").rglob("*.py")):
        for name in _EMIT_CALL.findall(path.read_text()):
            names.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return names


def test_dashboard_graphs_each_contract_metric_with_its_exact_dimension_set(synth: Synth, stage: str) -> None:
    series = _dashboard_series(_dashboard_body(synth, stage))
    assert set(series) == set(EMITTED_METRICS)
    for name, extra in EMITTED_METRICS.items():
        # EMF stores a metric per exact dimension set: a graph with one dimension more or less shows nothing.
        dimension_sets = {tuple(sorted(dim for dim, _ in pairs)) for pairs in series[name]}
        assert dimension_sets == {tuple(sorted((*extra, "service")))}, name
        assert all(("service", "clerk-sync") in pairs or ("service", "*") in pairs for pairs in series[name]), name


def test_dashboard_shows_syncs_per_trigger_and_fallbacks_per_tier(synth: Synth, stage: str) -> None:
    series = _dashboard_series(_dashboard_body(synth, stage))
    assert set(SYNC_TRIGGERS) == {"api", "login", "webhook", "job"}
    for name in ("SyncCompleted", "SyncFailed"):
        assert {dict(pairs)["Trigger"] for pairs in series[name]} == set(SYNC_TRIGGERS)
    assert {dict(pairs)["Tier"] for pairs in series["LoginFallback"]} == set(LOGIN_FALLBACK_TIERS)
    assert set(LOGIN_FALLBACK_TIERS) == {"stale", "provisional"}


def test_dashboard_graphs_each_event_outcome_and_the_aws_metrics(synth: Synth, stage: str) -> None:
    text = json.dumps(_dashboard_body(synth, stage))
    for outcome in EVENT_OUTCOMES:
        assert f'Outcome=\\"{outcome}\\"' in text
    for queue_metric in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        assert queue_metric in text
    for lambda_metric in ("Errors", "Throttles", "Duration"):
        assert lambda_metric in text


def test_event_outcomes_are_the_store_outcomes() -> None:
    from clerk_sync.outcomes import Outcome

    assert set(EVENT_OUTCOMES) == {outcome.value for outcome in Outcome}


def test_sync_triggers_are_the_runtime_triggers() -> None:
    from clerk_sync.vocabulary import SYNC_TRIGGERS as RUNTIME_TRIGGERS
    from clerk_sync.vocabulary import SyncSource

    assert set(SYNC_TRIGGERS) == {trigger.value for trigger in RUNTIME_TRIGGERS}
    assert set(SYNC_TRIGGERS) <= {source.value for source in SyncSource}


def test_metric_namespace_and_service_are_the_runtime_ones() -> None:
    from clerk_sync import observability

    assert (observability.metrics.namespace, observability.metrics.service) == (METRICS_NAMESPACE, SERVICE_NAME)


def test_every_metric_the_runtime_emits_is_in_the_contract() -> None:
    emitted = _runtime_metric_names()
    assert {"WebhookReceived", "EventProcessed", "ClerkRateLimited"} <= set(emitted), "scan found too little"
    unknown = {name: sorted(files) for name, files in emitted.items() if name not in EMITTED_METRICS}
    assert not unknown, f"graph these on the dashboard (infra/observability.py), then add them here: {unknown}"


def test_dashboard_searches_use_exact_emf_dimension_sets(synth: Synth, stage: str) -> None:
    text = json.dumps(_dashboard_body(synth, stage))
    searches = set(re.findall(r"\{ClerkSync,[A-Za-z,]+\}", text))
    assert searches == {
        "{ClerkSync,Kind,service}",
        "{ClerkSync,Reason,service}",
        "{ClerkSync,EventType,Reason,service}",
        "{ClerkSync,EventType,Outcome,service}",
    }
    assert search_expression("WebhookRejected", ["Reason"]) == (
        "SEARCH('{ClerkSync,Reason,service} MetricName=\"WebhookRejected\" service=\"clerk-sync\"', 'Sum', 300)"
    )
