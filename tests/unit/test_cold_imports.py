"""Cold path guard: importing a handler module loads none of what docs/decisions/0025 took off the cold path.

boto3 (and its s3transfer) give way to botocore alone, pydantic-settings to plain pydantic models, and httpx loads
with the first Clerk call only. A behaviour check in fresh interpreters, not a timing: `clerk-sync bench coldstart`
measures the time, and its e2e test checks the same modules stay out of each handler's first event as well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import clerk_sync

FUNCTIONS = Path(clerk_sync.__file__).resolve().parents[1]
OFF_THE_COLD_PATH = ("boto3", "s3transfer", "pydantic_settings", "httpx")
HANDLERS = ("webhook", "worker", "authorizer", "sync_api")

PROBE = """
import json, sys
import clerk_sync.handlers.{handler}
from clerk_sync import wiring
loaded = lambda: sorted(name for name in {watched!r} if name in sys.modules)
imported = loaded()
# What a first event builds (no socket is opened to build them): AWS clients, settings, the service, the verifier.
for getter in (wiring.webhook_intake, wiring.sync_service, wiring.session_verifier, wiring.access_settings):
    getter()
print(json.dumps({{"import": imported, "built": loaded()}}))
"""


@pytest.mark.parametrize("handler", HANDLERS)
def test_handler_import_and_what_it_builds_load_no_boto3_s3transfer_pydantic_settings_or_httpx(handler: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CLERK_", "AWS_"))}
    env.update(
        PYTHONPATH=str(FUNCTIONS),
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME="clerk-sync-unit",
        EVENTS_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/clerk-sync-unit-events",
        CLERK_WEBHOOK_SIGNING_SECRET="whsec_" + "A" * 32,
        CLERK_INSTANCE_ID="ins_unit",
        CLERK_SECRET_KEY="sk_test_coldIMPORTS",
        CLERK_ISSUER="https://clerk.example.test",
    )
    result = subprocess.run(  # noqa: S603  # our own interpreter running a fixed probe
        [sys.executable, "-c", PROBE.format(handler=handler, watched=OFF_THE_COLD_PATH)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"import": [], "built": []}
