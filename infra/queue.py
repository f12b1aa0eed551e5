"""The event queue between the webhook receiver (and sync API) and the worker, with its DLQ."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from clerk_sync.resources import QueueDefinition


class EventQueues(Construct):
    """The event queue and its DLQ, configured from the shared `QueueDefinition`, encrypted, TLS-only."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: QueueDefinition,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        # SQS-managed SSE: encrypted at rest without a KMS key policy every producer would need grants on.
        self.dlq = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.seconds(definition.dlq_retention_seconds),
            removal_policy=removal_policy,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(definition.visibility_timeout_seconds),
            # Longer than the DLQ-bound retries take; Svix redelivers for ~27 h anyway.
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=definition.max_receive_count),
            removal_policy=removal_policy,
        )
