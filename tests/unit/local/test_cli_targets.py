"""A CLI target carries the instance its table holds, so `clerk-sync sync` deletes on 404s only through that
instance's key, as the functions do (docs/decisions/0014), and draws from the stack's shared Clerk budget
(docs/decisions/0020)."""

from __future__ import annotations

import pytest

from clerk_sync.budget.shared import SharedClerkBudget
from clerk_sync.vocabulary import ClerkPriority
from clerk_sync_local.cli.targets import TargetError, from_ready
from tests.unit.local.conftest import ready_info


def test_target_from_ready_file_guards_its_sync_service_with_the_stacks_instance() -> None:
    """Fails before the change: the CLI's SyncService trusted any key, so a wrong one tombstoned on 404s."""
    target = from_ready(ready_info(instance_id="ins_emulator"))
    assert target.instance_id == "ins_emulator"
    service = target.sync_service()  # builds clients; opens no socket
    assert service.instance is not None
    assert service.instance.configured == "ins_emulator"


def test_target_without_an_instance_trusts_the_keys_own() -> None:
    service = from_ready(ready_info(instance_id=None)).sync_service()
    assert service.instance is not None
    assert service.instance.configured is None


def test_target_sync_service_draws_from_the_stacks_shared_budget_at_the_sources_priority() -> None:
    target = from_ready(ready_info(clerk_rate_limit=1000, clerk_bulk_share=0.5, clerk_budget_enabled=True))
    service = target.sync_service()
    budget = service.clerk.budget
    assert isinstance(budget, SharedClerkBudget)
    assert (budget.limits.rate_limit, budget.limits.bulk_share) == (1000, 0.5)
    assert service.clerk.priority is ClerkPriority.MANUAL


def test_backfill_share_caps_only_this_process_bulk_work() -> None:
    """`clerk-sync backfill --share 0.2` builds its service so; the stack's own share stays in the ready file."""
    target = from_ready(ready_info(clerk_rate_limit=1000))
    budget = target.sync_service(bulk_share=0.2).clerk.budget
    assert isinstance(budget, SharedClerkBudget)
    assert (budget.limits.rate_limit, budget.limits.bulk_share) == (1000, 0.2)
    assert target.clerk_bulk_share == 0.5


def test_backfill_share_the_bucket_cannot_hold_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="less than one request"):
        from_ready(ready_info(clerk_rate_limit=100)).sync_service(bulk_share=0.01)


def test_target_without_budget_settings_uses_the_development_limit_or_none_when_turned_off() -> None:
    older = from_ready(ready_info())  # a ready file written before the budget existed
    assert (older.clerk_rate_limit, older.clerk_bulk_share, older.clerk_budget_enabled) == (100, 0.5, True)
    assert from_ready(ready_info(clerk_budget_enabled=False)).sync_service().clerk.budget is None
