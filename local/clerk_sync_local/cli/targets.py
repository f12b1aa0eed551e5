"""Where an operator command works: a local stack (its ready file) or a deployed stage (its CloudFormation stack).

`--ready-file PATH` reads the contract `clerk-sync local up` writes. `--stage NAME` reads the stage from cdk.json,
finds its stack's outputs (table, queues, secret) with the caller's AWS credentials (boto3's usual chain and
`AWS_ENDPOINT_URL`), and the Clerk secret key from the stack's secret. Either way a command gets the same
`Target`, and through it the runtime's own store and sync layer: the CLI writes exactly as the functions do, and
its Clerk requests draw from the same shared rate budget in the target's table (docs/decisions/0020).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from clerk_sync_local.stack.ready import ReadyFileError, ReadyInfo, read_ready_file

if TYPE_CHECKING:
    from clerk_sync.budget.shared import SharedClerkBudget
    from clerk_sync.clerk.client import ClerkClient
    from clerk_sync.items import ItemPolicy
    from clerk_sync.store import SyncStore, Table
    from clerk_sync.sync.service import SyncService

# The stack outputs a command needs (infra/stack.py).
STACK_OUTPUTS: Final = ("TableName", "EventQueueUrl", "DeadLetterQueueUrl", "ClerkSecretArn")


def _history_ttl_days_of_environment() -> int:
    from clerk_sync.store.history import DEFAULT_KEEP_DAYS

    value = os.environ.get("HISTORY_TTL_DAYS", "").strip()
    return int(value) if value.isdigit() else DEFAULT_KEEP_DAYS


class TargetError(Exception):
    """The target cannot be reached or is not a clerk-sync deployment; the message says what to fix."""


@dataclass(frozen=True)
class AwsAccess:
    """How to reach the target's AWS: moto's endpoint and fake keys locally, the default chain for a stage."""

    region: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    def client(self, service: str, config: Any = None) -> Any:
        import boto3

        options: dict[str, Any] = {"region_name": self.region, "config": config}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.access_key_id and self.secret_access_key:
            options.update(aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)
        return boto3.client(service, **options)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Target:
    """A clerk-sync deployment as the CLI sees it."""

    description: str  # "the local stack (.local/ready.json)", "stage prod (stack clerk-sync-prod)"
    aws: AwsAccess
    table_name: str
    queue_url: str
    dlq_url: str
    clerk_api_url: str
    secret_arn: str | None = None
    clerk_secret_key: str | None = None  # known up front for the local emulator; else read from the secret
    emulator_admin_url: str | None = None
    api_url: str | None = None
    scrub_pii_on_delete: bool = True
    store_private_metadata: bool = False
    instance_id: str | None = None  # CLERK_INSTANCE_ID of the stage or stack: 404s delete only through its key
    # The shared Clerk rate budget, as the target's functions keep it: the stage's (or the stack's) values.
    clerk_rate_limit: int = 100
    clerk_bulk_share: float = 0.5
    clerk_budget_enabled: bool = True
    local_aws: bool = False  # moto (a local stack's ready file): SQS there has no StartMessageMoveTask
    # The stage's HISTORY_TTL_DAYS (a local stack's: this environment's), so CLI runs keep history as its functions do.
    history_ttl_days: int = field(default_factory=_history_ttl_days_of_environment)

    @property
    def policy(self) -> ItemPolicy:
        from clerk_sync.items import ItemPolicy

        return ItemPolicy(self.scrub_pii_on_delete, self.store_private_metadata)

    def table(self) -> Table:
        from clerk_sync.store import Table

        return Table(self.aws.client("dynamodb"), self.table_name)

    def store(self) -> SyncStore:
        from clerk_sync.store import SyncStore

        return SyncStore(self.table(), self.policy)

    def secret_key(self) -> str:
        """The Clerk secret key: the ready file's (emulator), else `CLERK_SECRET_KEY` in the stack's secret."""
        if self.clerk_secret_key:
            return self.clerk_secret_key
        if not self.secret_arn:
            raise TargetError(f"{self.description} has no Clerk secret key (real Clerk: set CLERK_SECRET_KEY)")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            raw = self.aws.client("secretsmanager").get_secret_value(SecretId=self.secret_arn)["SecretString"]
        except (BotoCoreError, ClientError) as error:
            raise TargetError(f"cannot read the stack's secret {self.secret_arn}: {error}") from error
        try:
            key = json.loads(raw).get("CLERK_SECRET_KEY", "")
        except (ValueError, AttributeError):
            key = ""
        if not key:
            raise TargetError(f"the secret {self.secret_arn} has no CLERK_SECRET_KEY yet (docs/deploy.md, step 5)")
        return str(key)

    def clerk_budget(self, bulk_share: float | None = None) -> SharedClerkBudget | None:
        """The target's shared Clerk budget (its table's item), with `bulk_share` for this process's bulk work
        (None: the target's own); None when the target keeps no budget."""
        if not self.clerk_budget_enabled:
            return None
        from clerk_sync.aws import BUDGET_CONFIG
        from clerk_sync.budget.bucket import BucketLimits
        from clerk_sync.budget.shared import SharedClerkBudget
        from clerk_sync.store import ClerkBudgetItem, Table

        try:
            limits = BucketLimits(self.clerk_rate_limit, self.clerk_bulk_share if bulk_share is None else bulk_share)
        except ValueError as error:
            raise TargetError(f"the Clerk budget of {self.description}: {error}") from None
        table = Table(self.aws.client("dynamodb", BUDGET_CONFIG), self.table_name)
        return SharedClerkBudget(ClerkBudgetItem(table), limits)

    def clerk_client(self, bulk_share: float | None = None) -> ClerkClient:
        """A Clerk client on the target's shared budget; its requests go as manual ones unless a view says else."""
        from clerk_sync.clerk.client import ClerkClient

        return ClerkClient(self.secret_key(), base_url=self.clerk_api_url, budget=self.clerk_budget(bulk_share))

    def sync_service(self, bulk_share: float | None = None) -> SyncService:
        """The runtime's sync layer on this target: its table, its queue for follow-ups, its Clerk.

        Its Clerk requests share the target's rate budget with the deployed functions, each sync at its source's
        priority; `bulk_share` (backfill's `--share`) caps what this process's backfill and reconcile syncs take of
        the limit (None: the target's `clerk_bulk_share`).
        """
        from clerk_sync.queue import QueuedFollowUps, SqsEventQueue
        from clerk_sync.store.history import History
        from clerk_sync.sync.instance import InstanceGuard
        from clerk_sync.sync.service import SyncService

        clerk = self.clerk_client(bulk_share)
        queue = SqsEventQueue(self.aws.client("sqs"), self.queue_url)
        guard = InstanceGuard(lambda: clerk, expected=self.instance_id)
        history = History(self.table(), keep_days=self.history_ttl_days)  # its sums: flush_history() after a run
        return SyncService(
            self.store(),
            clerk=lambda: clerk,
            follow_ups=QueuedFollowUps(queue),
            instance=guard,
            history=lambda: history,
        )


def from_ready_file(path: Path) -> Target:
    try:
        ready = read_ready_file(path)
    except ReadyFileError as error:
        raise TargetError(str(error)) from None
    return from_ready(ready, f"the local stack ({path})")


def from_ready(ready: ReadyInfo, description: str = "the local stack") -> Target:
    # Real-Clerk mode never writes the key to disk: it comes from the environment, as for `local up`.
    secret_key = ready.clerk_secret_key or os.environ.get("CLERK_SECRET_KEY") or None
    return Target(
        description=description,
        aws=AwsAccess(ready.region, ready.aws_endpoint_url, ready.aws_access_key_id, ready.aws_secret_access_key),
        table_name=ready.table_name,
        queue_url=ready.queue_url,
        dlq_url=ready.dlq_url,
        clerk_api_url=ready.clerk_api_url,
        clerk_secret_key=secret_key,
        emulator_admin_url=ready.emulator_admin_url,
        api_url=ready.api_url,
        instance_id=ready.instance_id,
        **_ready_budget(ready),
        local_aws=True,
    )


def _ready_budget(ready: ReadyInfo) -> dict[str, Any]:
    """The local stack's budget settings from its ready file (older files have none: the defaults)."""
    values: dict[str, Any] = {}
    if ready.clerk_rate_limit is not None:
        values["clerk_rate_limit"] = ready.clerk_rate_limit
    if ready.clerk_bulk_share is not None:
        values["clerk_bulk_share"] = ready.clerk_bulk_share
    if ready.clerk_budget_enabled is not None:
        values["clerk_budget_enabled"] = ready.clerk_budget_enabled
    return values


def from_stage(name: str, cdk_json: Path = Path("cdk.json")) -> Target:
    """The deployed stack of stage `name` in `cdk_json`; `CLERK_API_URL` in the environment overrides its Clerk URL."""
    from botocore.exceptions import BotoCoreError, ClientError

    from infra.stages import STAGES_CONTEXT_KEY, StageConfigError, load_stage

    try:
        context = json.loads(cdk_json.read_text())["context"]
    except FileNotFoundError:
        raise TargetError(f"{cdk_json} not found: run from the project's directory or pass --cdk-json") from None
    except (ValueError, KeyError, TypeError):
        raise TargetError(f"{cdk_json} is not a CDK app's cdk.json (no context)") from None
    try:
        stage = load_stage(context.get(STAGES_CONTEXT_KEY), name)
    except StageConfigError as error:
        raise TargetError(str(error)) from None
    aws = AwsAccess(region=stage.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=stage.stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise TargetError(f"stage {name}: stack {stage.stack_name} not found ({message}); deployed?") from None
    except BotoCoreError as error:
        raise TargetError(f"stage {name}: cannot reach CloudFormation ({error})") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in STACK_OUTPUTS if key not in outputs]
    if missing:
        raise TargetError(f"stage {name}: stack {stage.stack_name} lacks outputs {', '.join(missing)}")
    return Target(
        description=f"stage {name} (stack {stage.stack_name})",
        aws=aws,
        table_name=outputs["TableName"],
        queue_url=outputs["EventQueueUrl"],
        dlq_url=outputs["DeadLetterQueueUrl"],
        clerk_api_url=os.environ.get("CLERK_API_URL") or str(stage.clerk_api_url).rstrip("/"),
        secret_arn=outputs["ClerkSecretArn"],
        api_url=outputs.get("ApiUrl"),
        scrub_pii_on_delete=stage.scrub_pii_on_delete,
        store_private_metadata=stage.store_private_metadata,
        instance_id=stage.clerk_instance_id or None,
        clerk_rate_limit=stage.clerk_rate_limit,
        clerk_bulk_share=stage.clerk_bulk_share,
        history_ttl_days=stage.history_ttl_days,
    )


def resolve(ready_file: Path, stage: str | None, cdk_json: Path = Path("cdk.json")) -> Target:
    """`--stage` when given, else the ready file."""
    return from_stage(stage, cdk_json) if stage else from_ready_file(ready_file)
