"""Backfill and reconcile runs in the table: the run's checkpoint, the current run of each kind, and the ids each
page of a reconcile listed."""

from __future__ import annotations

import time
from collections.abc import Iterable

from clerk_sync import keys
from clerk_sync.runs import RUN_TTL_SECONDS, Run, RunKind, run_from_item, run_item
from clerk_sync.store.errors import StoreConflictError
from clerk_sync.store.seen import ids_under, keep_ids
from clerk_sync.store.table import Table, placeholders

# A run's progress is saved only over the step it started from: a redelivered or raced step loses.
RUN_AT_STEP = "step = :expected"


def _expiry() -> int:
    return int(time.time()) + RUN_TTL_SECONDS


class RunStore:
    """The `RUN#<id>` items and the `RUNS#<kind>` pointer to the run a new start resumes."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, run: Run) -> None:
        """Stores a new run and makes it the current one of its kind."""
        item = run_item(run)
        written = self._table.put(item, "attribute_not_exists(PK)", {})
        if not written.applied and written.old != item:
            raise StoreConflictError(f"run {run.run_id} already exists")
        pointer = {"run_id": run.run_id, "entity": "run_pointer", keys.TTL_ATTRIBUTE: _expiry()}
        self._table.update(keys.current_run_key(run.kind.value), pointer)

    def get(self, run_id: str) -> Run | None:
        item = self._table.get(keys.run_key(run_id))
        return run_from_item(item) if item else None

    def current(self, kind: RunKind) -> Run | None:
        """The last run of this kind started, finished or not."""
        pointer = self._table.get(keys.current_run_key(kind.value))
        return self.get(str(pointer["run_id"])) if pointer else None

    def save(self, run: Run, *, expected_step: int) -> bool:
        """Stores the run's progress if its checkpoint is still `expected_step`; False if another runner got there."""
        return self._table.put(run_item(run), RUN_AT_STEP, placeholders(expected=expected_step)).applied

    def keep_seen(self, run_id: str, page: int, ids: Iterable[str]) -> None:
        """The ids one listed page held (a rewrite of the same page replaces it); they expire with the run."""
        keep_ids(self._table, keys.run_seen_key(run_id, page), ids, entity="run_seen", expires_at=_expiry())

    def seen(self, run_id: str) -> set[str]:
        """Every id the run's listed pages held."""
        return ids_under(self._table, keys.RUN_PREFIX + run_id)
