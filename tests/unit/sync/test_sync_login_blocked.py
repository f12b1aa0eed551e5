"""LoginUser.blocked: which of Clerk's sign-in restrictions the user's record carries, if any."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync.sync.login import LoginUser


@pytest.mark.parametrize(
    ("item", "blocked"),
    [
        ({"banned": True}, "banned"),
        ({"locked": True}, "locked"),
        ({"deprovisioned": True}, "deprovisioned"),
        ({"banned": True, "deprovisioned": True}, "banned"),
        ({"banned": False, "locked": False, "deprovisioned": False}, None),
        ({}, None),  # a record written before the fields were kept, or a provisional one
        (None, None),
    ],
)
def test_blocked_names_the_restriction_on_record(item: dict[str, Any] | None, blocked: str | None) -> None:
    assert LoginUser(item, "store").blocked == blocked
