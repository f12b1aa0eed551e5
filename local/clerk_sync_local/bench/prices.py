"""AWS list prices the cost model uses: us-east-1, on-demand, first pricing tier, no free tier.

Read on 2026-12-04 from the AWS pricing pages named beside each price (and the pages quoting them); change a price
here, with its source and the date it was read, and every report follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REGION: Final = "us-east-1"
READ_ON: Final = "2026-12-04"


@dataclass(frozen=True)
class Price:
    usd: float
    per: str
    source: str
    note: str = ""


API_GATEWAY_HTTP_REQUEST: Final = Price(
    1.00 / 1_000_000,
    "HTTP API request (each 512 KB of payload metered as one)",
    "https://aws.amazon.com/api-gateway/pricing/",
    "first 300 million a month",
)
LAMBDA_REQUEST: Final = Price(0.20 / 1_000_000, "Lambda request", "https://aws.amazon.com/lambda/pricing/")
LAMBDA_ARM_GB_SECOND: Final = Price(
    0.0000133334,
    "GB-second of Lambda duration on arm64",
    "https://aws.amazon.com/lambda/pricing/",
    "first 7.5 billion GB-s a month; since 2025-08-01 the INIT phase is billed too "
    "(https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase)",
)
SQS_REQUEST: Final = Price(
    0.40 / 1_000_000,
    "SQS standard request (each 64 KB chunk of payload is one request)",
    "https://aws.amazon.com/sqs/pricing/",
    "after the first million a month",
)
DYNAMODB_WRITE_REQUEST_UNIT: Final = Price(
    0.625 / 1_000_000,
    "DynamoDB on-demand write request unit (1 KB; transactional: 2 per KB)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "Standard table class, after the November 2024 on-demand price cut",
)
DYNAMODB_READ_REQUEST_UNIT: Final = Price(
    0.125 / 1_000_000,
    "DynamoDB on-demand read request unit (4 KB strongly consistent; eventually consistent: half)",
    "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    "Standard table class",
)

ALL: Final = {
    "api_gateway_http_request": API_GATEWAY_HTTP_REQUEST,
    "lambda_request": LAMBDA_REQUEST,
    "lambda_arm_gb_second": LAMBDA_ARM_GB_SECOND,
    "sqs_request": SQS_REQUEST,
    "dynamodb_write_request_unit": DYNAMODB_WRITE_REQUEST_UNIT,
    "dynamodb_read_request_unit": DYNAMODB_READ_REQUEST_UNIT,
}
