"""Who may do what (platform admins), how often a caller may sync, and how long a sync route may spend on Clerk.

The authorizer's budget for a login is `LOGIN_SYNC_BUDGET_SECONDS`, in `clerk_sync.settings.SyncSettings`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from clerk_sync.items import stored_metadata
from clerk_sync.settings import _Settings, _split_list


class AccessSettings(_Settings):
    """ADMIN_USER_IDS and ADMIN_METADATA_FLAG decide platform admins; SYNC_CALLER_LIMIT syncs per
    SYNC_CALLER_WINDOW_SECONDS bound what one caller spends of the instance's Clerk rate limit;
    API_SYNC_BUDGET_SECONDS bounds a route's Clerk calls."""

    admin_user_ids: list[str] = Field(default_factory=list)
    # `key=value` on the stored user's public_metadata that makes them a platform admin; empty disables it.
    admin_metadata_flag: str = "role=admin"
    # Clerk time per sync route (retries and Retry-After waits included; a wait that would end later gives up at
    # once with 429). The whole request must answer before API Gateway's 30 s cut: authorizer (login budget 1.5 s)
    # + this + one attempt's connect overshoot (2 s) + the writes, so 10 s leaves ~15 s for writes and cold starts.
    api_sync_budget_seconds: float = Field(default=10.0, gt=0, le=20)
    # Clerk's limit (100 / 10 s development, 1,000 / 10 s production) is shared with the customer's backend.
    sync_caller_limit: int = Field(default=1, ge=1, le=1000)
    sync_caller_window_seconds: int = Field(default=10, ge=1, le=3600)

    _split = field_validator("admin_user_ids", mode="before")(_split_list)

    @field_validator("admin_user_ids", mode="after")
    @classmethod
    def _are_user_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if not user_id.startswith("user_"):
                raise ValueError(f"ADMIN_USER_IDS entries must be Clerk user ids (user_...), got {user_id!r}")
        return value

    @field_validator("admin_metadata_flag", mode="after")
    @classmethod
    def _is_key_value(cls, value: str) -> str:
        if value and ("=" not in value or not value.split("=", 1)[0]):
            raise ValueError("ADMIN_METADATA_FLAG must look like key=value (e.g. role=admin), or be empty")
        return value

    def is_platform_admin(self, user_id: str, user_item: dict[str, Any] | None) -> bool:
        if user_id in self.admin_user_ids:
            return True
        if not self.admin_metadata_flag or not user_item:
            return False
        key, value = self.admin_metadata_flag.split("=", 1)
        # The table may hold metadata as JSON text (docs/decisions/0015): read it through items.
        return str(stored_metadata(user_item, "public_metadata").get(key)) == value
