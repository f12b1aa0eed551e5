"""The scheduled reconcile: EventBridge Scheduler puts one reconcile request on the event queue, and the worker runs it.

The message is the queued sync the worker reads (`clerk_sync.messages.QueuedSync`): `{"kind":"sync",
"target":"reconcile","trigger":"reconcile","requested_at":0}`. The schedule cannot stamp the time into a fixed
body, so `requested_at` is 0. The schedule's role may only send to that queue (SQS-managed encryption: no KMS key).
"""

from __future__ import annotations

import json
from typing import Final

from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from clerk_sync.vocabulary import SyncSource

# The sync target the worker's reconcile handles (`SyncTarget.RECONCILE`).
RECONCILE_TARGET: Final = "reconcile"
RECONCILE_MESSAGE_BODY: Final = json.dumps(
    {"kind": "sync", "target": RECONCILE_TARGET, "trigger": SyncSource.RECONCILE.value, "requested_at": 0},
    separators=(",", ":"),
)


class ReconcileSchedule(Construct):
    """A schedule (`expression`, UTC) that sends the reconcile request to `queue`."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str, expression: str, queue: sqs.IQueue):
        super().__init__(scope, construct_id)
        self.target = targets.SqsSendMessage(
            queue, input=scheduler.ScheduleTargetInput.from_text(RECONCILE_MESSAGE_BODY)
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            schedule_name=f"{name_prefix}-reconcile",
            description="Queues clerk-sync's reconcile: find and repair drift from Clerk, missed deletes included",
            schedule=scheduler.ScheduleExpression.expression(expression),
            target=self.target,
        )
