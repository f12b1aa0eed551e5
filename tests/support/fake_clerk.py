"""An in-memory stand-in for the part of `ClerkClient` that membership walks use, with a hook between pages.

Memberships list newest first, as Clerk's default `-created_at` order does, and page by `limit`/`offset`, so a
membership removed between two pages moves every later one back by one place, exactly as Clerk's lists do.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clerk_sync.clerk.client import ClientStats, Page
from clerk_sync.clerk.errors import ClerkNotFoundError
from clerk_sync.clerk.instance import ClerkInstance
from clerk_sync.models import Membership
from clerk_sync.vocabulary import ClerkPriority
from tests.support.clerk_payloads import membership_data

PageHook = Callable[[str, int], None]


@dataclass
class FakeClerk:
    """Memberships by (organization, user), in creation order; `after_page(scope_id, offset)` runs after every page."""

    after_page: PageHook | None = None
    memberships: dict[tuple[str, str], Membership] = field(default_factory=dict)
    spent: ClientStats = field(default_factory=ClientStats)
    lookups: int = 0
    _created: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, org_id: str, user_id: str, *, updated_at: int = 5) -> Membership:
        number = next(self._created)
        data = membership_data(
            org_id, user_id, membership_id=f"orgmem_{number}", updated_at=updated_at, created_at=number
        )
        membership = Membership.model_validate(data)
        self.memberships[(org_id, user_id)] = membership
        return membership

    def remove(self, org_id: str, user_id: str) -> None:
        del self.memberships[(org_id, user_id)]

    # ---- what ClerkClient offers ---------------------------------------------------------------

    def metered(self, priority: ClerkPriority | None = None) -> FakeClerk:
        return self

    def clock(self) -> float:
        return time.monotonic()

    def get_instance(self, **_: Any) -> ClerkInstance:
        return ClerkInstance(id="ins_fake", environment_type="development")

    def list_organization_memberships_page(self, org_id: str, *, limit: int, offset: int, **_: Any) -> Page[Membership]:
        return self._page(org_id, [m for (org, _), m in self.memberships.items() if org == org_id], limit, offset)

    def list_user_memberships_page(self, user_id: str, *, limit: int, offset: int, **_: Any) -> Page[Membership]:
        return self._page(user_id, [m for (_, user), m in self.memberships.items() if user == user_id], limit, offset)

    def find_organization_memberships(self, org_id: str, user_ids: list[str], **_: Any) -> list[Membership]:
        self.spent.add(requests=1)
        self.lookups += 1
        return [m for user_id in user_ids if (m := self.memberships.get((org_id, user_id)))]

    def find_organization_membership(self, org_id: str, user_id: str, **_: Any) -> Membership | None:
        self.spent.add(requests=1)
        self.lookups += 1
        if not any(org == org_id for org, _ in self.memberships):
            raise ClerkNotFoundError("no such organization", operation="ListOrganizationMemberships", status=404)
        return self.memberships.get((org_id, user_id))

    def _page(self, scope_id: str, found: list[Membership], limit: int, offset: int) -> Page[Membership]:
        self.spent.add(requests=1)
        ordered = sorted(found, key=lambda m: m.created_at, reverse=True)
        page = Page(ordered[offset : offset + limit], limit=limit, offset=offset, total_count=len(ordered))
        if self.after_page is not None:
            self.after_page(scope_id, offset)
        return page
