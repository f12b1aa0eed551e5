"""The table and queues of a deployment, created on moto from the same definitions as the CDK stack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from clerk_sync import resources


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


class _OneTableWriterAtATime:
    """WSGI wrapper that runs moto's DynamoDB requests one at a time.

    moto's TransactWriteItems restores a copy of the whole table taken when it began if a condition fails, wiping
    what other threads wrote meanwhile; DynamoDB keeps them. Serialising DynamoDB requests (moto holds the GIL for
    most of each anyway) removes that local-only loss without changing the product's request pattern. SQS requests
    (long polls among them) pass freely.
    """

    def __init__(self, app: Any) -> None:
        import threading

        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB"):
            return self._app(environ, start_response)
        with self._lock:
            return list(self._app(environ, start_response))


class _LockedMotoServer:
    """moto's ThreadedMotoServer, with DynamoDB requests serialised."""

    def __init__(self, ip_address: str, port: int) -> None:
        import threading

        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = _OneTableWriterAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(ip_address, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


class LocalMoto:
    """moto in server mode on 127.0.0.1 (a free port by default), quiet, with the clerk-sync resources."""

    def __init__(self, port: int = 0, prefix: str = "clerk-sync-local") -> None:
        self._port = port
        self._prefix = prefix
        self._server: Any = None
        self.endpoint_url = ""
        self.region = "us-east-1"

    def start(self) -> LocalResources:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = _LockedMotoServer("127.0.0.1", self._port)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return create_resources(self.client("dynamodb"), self.client("sqs"), self._prefix)

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
        if self._server is not None:
            self._server.stop()
            # stop() ends the serve loop but leaves the socket bound and listening: release the port too.
            listener = getattr(self._server, "_server", None)
            if listener is not None:
                listener.server_close()
            self._server = None
