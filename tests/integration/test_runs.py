"""Run checkpoints on moto: saved only over the step they began from, the current run per kind, the ids a
reconcile page listed; a run round-trips through its item unchanged."""

from __future__ import annotations

from clerk_sync.runs import Counts, Cursor, Run, RunKind, new_run_id
from clerk_sync.store.runs import RunStore
from tests.integration.conftest import Aws


def _run(kind: RunKind = RunKind.BACKFILL) -> Run:
    return Run(run_id=new_run_id(), kind=kind, started_at=1_000, updated_at=1_000)


def test_a_run_round_trips_through_its_item(aws: Aws) -> None:
    runs = RunStore(aws.store().table)
    run = _run()
    run.cursors["users"] = Cursor(offset=3, after=1_700_000_000_000, last_created_at=5, last_ids=["u1"], total=9)
    run.counts["user"] = Counts(created=2, unchanged=1)
    run.waited_seconds = 1.25
    run.scan_key = {"PK": "USER#u1", "SK": "PROFILE"}
    runs.create(run)
    assert runs.get(run.run_id) == run
    assert runs.current(RunKind.BACKFILL) == run
    assert runs.current(RunKind.RECONCILE) is None


def test_a_save_lands_only_over_the_step_it_began_from(aws: Aws) -> None:
    runs = RunStore(aws.store().table)
    run = _run()
    runs.create(run)
    first = run.model_copy(update={"step": 1})
    assert runs.save(first, expected_step=0)
    # A second runner (or a redelivered step) that began from step 0 too loses.
    late = run.model_copy(update={"step": 1, "phase": 2})
    assert not runs.save(late, expected_step=0)
    stored = runs.get(run.run_id)
    assert stored is not None
    assert stored.phase == 0


def test_the_latest_run_of_a_kind_is_the_current_one(aws: Aws) -> None:
    runs = RunStore(aws.store().table)
    older, newer = _run(), _run()
    runs.create(older)
    runs.create(newer)
    current = runs.current(RunKind.BACKFILL)
    assert current is not None
    assert current.run_id == newer.run_id


def test_the_ids_of_every_listed_page_come_back_together(aws: Aws) -> None:
    runs = RunStore(aws.store().table)
    run = _run(RunKind.RECONCILE)
    runs.create(run)
    runs.keep_seen(run.run_id, 1, ["user_a", "user_b"])
    runs.keep_seen(run.run_id, 2, ["org_c/user_a"])
    runs.keep_seen(run.run_id, 2, ["org_c/user_b"])  # the same page written again replaces it
    runs.keep_seen(run.run_id, 3, [])
    assert runs.seen(run.run_id) == {"user_a", "user_b", "org_c/user_b"}
