"""Lambda invocation inputs as AWS sends them: API Gateway HTTP API v2 events, SQS batches, a context.

The local stack and the tests call the real handlers with these.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class LocalLambdaContext:
    function_name: str = "clerk-sync-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:clerk-sync-local"
    aws_request_id: str = "req-local"
    # time.monotonic() at which the invocation times out; None: a fixed 30 s remain (tests that do not care).
    deadline: float | None = None

    def get_remaining_time_in_millis(self) -> int:
        if self.deadline is None:
            return 30_000
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def http_event(
    body: bytes, headers: dict[str, str], *, path: str = "/api/webhooks/clerk", base64_body: bool = False
) -> dict[str, Any]:
    """A payload v2 event; API Gateway lowercases header names."""
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "requestId": "req-local",
            "routeKey": f"POST {path}",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it, from received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {"ApproximateReceiveCount": "1"}),
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                "awsRegion": "us-east-1",
            }
            for message in messages
        ]
    }


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
