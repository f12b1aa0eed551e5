"""A CLI target carries the instance its table holds, so `clerk-sync sync` deletes on 404s only through that
instance's key, as the functions do (docs/decisions/0014)."""

from __future__ import annotations

from clerk_sync_local.cli.targets import from_ready
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
