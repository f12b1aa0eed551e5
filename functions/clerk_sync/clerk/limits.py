"""Clerk's paging limits, apart from the client so that code that only pages (the sync walks) does not import httpx."""

from __future__ import annotations

from typing import Final

MAX_PAGE_SIZE: Final = 500
# User ids one `GET /organizations/{id}/memberships?user_id=...` accepts.
MAX_USER_IDS: Final = 100
