"""Signs webhook bodies the way Clerk does, with the `svix` package's own signer."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from svix.webhooks import Webhook

TEST_SECRET = "whsec_" + base64.b64encode(b"clerk-sync-test-secret-32-bytes!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"clerk-sync-other-secret-32bytes!").decode()


def svix_headers(
    body: str, *, secret: str = TEST_SECRET, msg_id: str = "msg_test", age: timedelta = timedelta(0)
) -> dict[str, str]:
    timestamp = datetime.now(tz=UTC) - age
    return {
        "svix-id": msg_id,
        "svix-timestamp": str(int(timestamp.timestamp())),
        "svix-signature": Webhook(secret).sign(msg_id, timestamp, body),
    }


def signed(payload: dict[str, Any], **kwargs: Any) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload)
    return body.encode(), svix_headers(body, **kwargs)
