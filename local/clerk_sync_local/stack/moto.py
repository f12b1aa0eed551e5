"""The table and queues of a deployment, created on moto from the same definitions as the CDK stack."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Final

from clerk_sync import resources

_START_TIMEOUT_SECONDS: Final = 60.0
_STOP_TIMEOUT_SECONDS: Final = 10.0


@dataclass(frozen=True)
class LocalResources:
    table_name: str
    queue_url: str
    dlq_url: str


def create_resources(dynamodb: Any, sqs: Any, prefix: str = "clerk-sync-test") -> LocalResources:
    table_name = f"{prefix}-table"
    dynamodb.create_table(**resources.table_create_kwargs(table_name))
    dlq_url = sqs.create_queue(
        QueueName=f"{prefix}-dlq",
        Attributes={"MessageRetentionPeriod": str(resources.EVENT_QUEUE.dlq_retention_seconds)},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-events",
        Attributes={
            "VisibilityTimeout": str(resources.EVENT_QUEUE.visibility_timeout_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": resources.EVENT_QUEUE.max_receive_count}
            ),
        },
    )["QueueUrl"]
    return LocalResources(table_name, queue_url, dlq_url)


class LocalMoto:
    """moto in server mode on 127.0.0.1 (a free port by default), in a process of its own (`moto_server`), with
    the clerk-sync resources."""

    def __init__(self, port: int = 0, prefix: str = "clerk-sync-local", *, indexed: bool = True) -> None:
        self._port = port
        self._prefix = prefix
        self._indexed = indexed
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint_url = ""
        self.region = "us-east-1"

    def start(self) -> LocalResources:
        """Starts the server process and creates the resources; an address in use raises OSError."""
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "clerk_sync_local.stack.moto_server",
                "--port",
                str(self._port),
                *(() if self._indexed else ("--plain",)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        status = self._first_line(self._process)
        if status.startswith("error "):
            self.stop()
            _, number, message = [*status.split(" ", 2), ""][:3]
            raise OSError(int(number) if number.isdigit() else 0, message)
        if not status.startswith("listening "):
            self.stop()
            raise OSError(0, f"moto's server did not start ({status or 'it exited'})")
        self.endpoint_url = f"http://127.0.0.1:{int(status.split()[1])}"
        return create_resources(self.client("dynamodb"), self.client("sqs"), self._prefix)

    @staticmethod
    def _first_line(process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT_SECONDS)
        if not ready:
            return f"no answer within {_START_TIMEOUT_SECONDS:.0f} s"
        return process.stdout.readline().decode(errors="replace").strip()

    def client(self, service: str) -> Any:
        """A boto3 client for this moto; the fake credentials keep a developer's real ones out of it."""
        import boto3

        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=self.region)  # noqa: S106
        return session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]

    def environment(self) -> dict[str, str]:
        """What the handlers need to use this moto: boto3 reads AWS_ENDPOINT_URL itself."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",  # moto accepts any
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def stop(self) -> None:
        """Closes the server's standard input (it exits on that) and waits; kills it if it does not."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(_STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
