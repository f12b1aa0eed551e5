"""The message the webhook receiver puts on the event queue and the worker takes off it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class QueuedEvent(BaseModel):
    """A verified Clerk event: the payload as received plus the `svix-id` that correlates and dedups it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    svix_id: str
    received_at: int  # Unix ms, when the webhook receiver accepted it
    event: dict[str, Any]
