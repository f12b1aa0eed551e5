"""Svix signature verification on the raw webhook body, before anything is parsed (invariant 7).

Uses `standardwebhooks` (~20 ms cold import) rather than `svix` (~550 ms): same scheme, byte-identical
signatures; see docs/decisions/0002. Clerk sends the `svix-*` header names; standardwebhooks reads
`webhook-*`, so they are mapped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_HEADER_MAP = {"svix-id": "webhook-id", "svix-timestamp": "webhook-timestamp", "svix-signature": "webhook-signature"}
# A signature header holds one `v1,<sig>` entry per active secret; more than this is not Svix.
_MAX_SIGNATURES = 10


class SignatureError(Exception):
    """The body is not signed by any configured secret, or its timestamp is outside the 5-minute window."""


class SignatureVerifier:
    """Accepts a body signed by any of the configured secrets (two during rotation)."""

    def __init__(self, secrets: Sequence[str]) -> None:
        if not secrets:
            raise ValueError("at least one webhook secret is required")
        self._webhooks = [Webhook(secret) for secret in secrets]

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        """Returns the `svix-id` of a correctly signed body; raises `SignatureError` otherwise."""
        lowered = {name.lower(): value for name, value in headers.items()}
        mapped = {target: lowered.get(source, "") for source, target in _HEADER_MAP.items()}
        if not all(mapped.values()):
            raise SignatureError("missing svix-id, svix-timestamp or svix-signature header")
        if len(mapped["webhook-signature"].split()) > _MAX_SIGNATURES:
            raise SignatureError("too many signatures")
        for webhook in self._webhooks:
            try:
                webhook.verify(body, mapped, json_parse=False)
            # Malformed headers and non-UTF-8 bodies raise ValueError subclasses, not the library's error.
            except (WebhookVerificationError, ValueError) as error:
                last_error: Exception = error
                continue
            return mapped["webhook-id"]
        raise SignatureError(str(last_error)) from None
