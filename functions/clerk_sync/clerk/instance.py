"""What `GET /v1/instance` says about the instance a secret key belongs to (pydantic only: no httpx here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Clerk's instance ids: `ins_` and a base62 tail. CLERK_INSTANCE_ID is checked against the same shape.
INSTANCE_ID_PATTERN = r"^ins_[A-Za-z0-9]+$"


class ClerkInstance(BaseModel):
    """The key's instance: its id and whether it is a development or a production instance."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    object: Literal["instance"] = "instance"
    id: str = Field(pattern=INSTANCE_ID_PATTERN)
    environment_type: str
