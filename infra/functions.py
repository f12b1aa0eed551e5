"""The Lambda functions: one code asset, one dependency layer, one role and log group per function."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from clerk_sync.vocabulary import METRICS_NAMESPACE, SERVICE_NAME
from infra.endpoints import HANDLERS, FunctionKey
from infra.queue import EventQueues

# The version every test runs on (docs/decisions/0024): no newer interpreter installs from the registries the
# machines reach. cdk-nag's AwsSolutions-L1 (not the latest runtime) is acknowledged per function in infra/stack.py.
RUNTIME: Final = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
# layers/build.py's stamp and scratch directory sit next to python/ but are not part of the layer.
LAYER_BUILD_FILES: Final = (".stamp", ".tmp-*")

# The item operations clerk_sync.store issues (TransactWriteItems is authorized per item as Put, Update,
# Delete and ConditionCheck); no table management, backups or streams. tests/infra checks the store's calls.
# What clerk_sync.dlq does to the DLQ (ChangeMessageVisibility covers its batch form); replaying sends to the
# event queue (the spec's `send`).
DEAD_LETTER_ACTIONS: Final = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
TABLE_DATA_ACTIONS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)


@dataclass(frozen=True)
class FunctionSpec:
    """Size and access of one function; the stack derives role statements and environment from it."""

    key: FunctionKey
    description: str
    memory_mb: int
    timeout_seconds: int
    table: bool = False  # read/write items in the table and GSI1
    send: bool = False  # sqs:SendMessage on the event queue
    consume: bool = False  # the queue's event source
    dead_letters: bool = False  # look at and replay the DLQ (the admin API): receive, hide again, delete, count


def function_specs(worker_timeout_seconds: int) -> tuple[FunctionSpec, ...]:
    # 512 MB+ buys the CPU that pydantic/Powertools imports need for a short cold start.
    return (
        # Svix wants a 2xx within 15 s; verify + enqueue takes milliseconds.
        FunctionSpec("webhook", "Verifies Clerk webhooks and enqueues them", 512, 10, send=True),
        # Sends too: it re-enqueues queued sync requests and the next page of bulk member-sync jobs.
        FunctionSpec(
            "worker",
            "Applies queued events and sync jobs to the table",
            512,
            worker_timeout_seconds,
            table=True,
            send=True,
            consume=True,
        ),
        # HTTP API cuts integrations off at 30 s; a full user sync pages memberships from Clerk.
        FunctionSpec("sync_api", "Manual sync and admin endpoints", 1024, 29, table=True, send=True, dead_letters=True),
        # On the request path of every authenticated call: short timeout, result cached by the API.
        FunctionSpec("authorizer", "Session-token authorizer with sync on login", 512, 10, table=True, send=True),
    )


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days (validated against the same list in stages.py)."""
    names = {
        1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH",
        60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS", 180: "SIX_MONTHS",
        365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS", 731: "TWO_YEARS",
        1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS", 2557: "SEVEN_YEARS",
        2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
    }  # fmt: skip
    return logs.RetentionDays[names[days]]


class ClerkFunctions(Construct):
    """Builds every function from `function_specs` with exactly the grants its spec names."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        code_dir: Path,
        layer_dir: Path,
        environment: Mapping[str, str],
        table: dynamodb.ITableV2,
        index_names: tuple[str, ...],
        events: EventQueues,
        secret: secretsmanager.ISecret,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        worker_max_concurrency: int,
    ) -> None:
        super().__init__(scope, construct_id)
        if not (layer_dir / "python").is_dir():
            raise FileNotFoundError(
                f"no Lambda layer at {layer_dir}/python: run `make layer`, or point the `layer_dir` "
                "context value (or CLERK_SYNC_LAYER_DIR) at a built layer"
            )
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(layer_dir), exclude=list(LAYER_BUILD_FILES)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="clerk-sync runtime dependencies (layers/requirements.txt)",
        )
        code = lambda_.Code.from_asset(str(code_dir), exclude=["**/__pycache__", "**/*.pyc"])
        self.functions: dict[FunctionKey, lambda_.Function] = {}
        self.log_groups: dict[FunctionKey, logs.LogGroup] = {}
        definition = events.definition

        for spec in function_specs(definition.worker_timeout_seconds):
            construct_name = "".join(part.title() for part in spec.key.split("_"))
            # Own log group (retention, removal) and own role: the AWS managed basic-execution policy
            # would allow writing to every log group in the account.
            log_group = logs.LogGroup(
                self, f"{construct_name}Logs", retention=log_retention, removal_policy=removal_policy
            )
            role = iam.Role(
                self,
                f"{construct_name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"clerk-sync {spec.key} function",
            )
            log_group.grant_write(role)
            secret.grant_read(role)

            function_env = {
                **environment,
                "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "CLERK_SECRETS_ARN": secret.secret_arn,
            }
            if spec.table:
                function_env["TABLE_NAME"] = table.table_name
                role.add_to_principal_policy(
                    iam.PolicyStatement(
                        actions=list(TABLE_DATA_ACTIONS),
                        resources=[
                            table.table_arn,
                            *(f"{table.table_arn}/index/{name}" for name in index_names),
                        ],
                    )
                )
            if spec.send:
                function_env["EVENTS_QUEUE_URL"] = events.queue.queue_url
                role.add_to_principal_policy(
                    iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[events.queue.queue_arn])
                )
            if spec.dead_letters:
                function_env["DLQ_URL"] = events.dlq.queue_url
                role.add_to_principal_policy(
                    iam.PolicyStatement(actions=list(DEAD_LETTER_ACTIONS), resources=[events.dlq.queue_arn])
                )

            function = lambda_.Function(
                self,
                construct_name,
                function_name=f"{name_prefix}-{spec.key.replace('_', '-')}",
                description=spec.description,
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                code=code,
                handler=HANDLERS[spec.key],
                layers=[self.layer],
                memory_size=spec.memory_mb,
                timeout=Duration.seconds(spec.timeout_seconds),
                environment=function_env,
                role=role,
                log_group=log_group,
            )
            if spec.consume:
                function.add_event_source(
                    event_sources.SqsEventSource(
                        events.queue,
                        batch_size=definition.batch_size,
                        max_batching_window=Duration.seconds(definition.batching_window_seconds),
                        # The worker returns batchItemFailures: only failed records are retried.
                        report_batch_item_failures=True,
                        max_concurrency=worker_max_concurrency,
                    )
                )
            self.functions[spec.key] = function
            self.log_groups[spec.key] = log_group

    @property
    def webhook(self) -> lambda_.Function:
        return self.functions["webhook"]

    @property
    def worker(self) -> lambda_.Function:
        return self.functions["worker"]

    @property
    def sync_api(self) -> lambda_.Function:
        return self.functions["sync_api"]

    @property
    def authorizer(self) -> lambda_.Function:
        return self.functions["authorizer"]
