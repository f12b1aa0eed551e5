"""Clerk's Backend API as the recipe calls it: one request per object, no paging beyond the first, no retry."""

from __future__ import annotations

from typing import Any

import httpx


class NaiveClerk:
    """`GET` helpers; every call is counted, none is retried, an error status raises."""

    def __init__(self, api_url: str, secret_key: str) -> None:
        self._http = httpx.Client(
            base_url=api_url.rstrip("/") + "/v1", headers={"Authorization": f"Bearer {secret_key}"}, timeout=10
        )
        self.calls = 0

    def _get(self, path: str, **params: Any) -> Any:
        self.calls += 1
        response = self._http.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def user(self, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/users/{user_id}")
        return result

    def user_memberships(self, user_id: str) -> list[dict[str, Any]]:
        """The user's memberships, every page (Clerk's limit is 500 a page)."""
        found: list[dict[str, Any]] = []
        while True:
            page = self._get(f"/users/{user_id}/organization_memberships", limit=500, offset=len(found))
            found += page["data"]
            if len(found) >= page["total_count"] or not page["data"]:
                return found

    def organization(self, org_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._get(f"/organizations/{org_id}")
        return result

    def close(self) -> None:
        self._http.close()
