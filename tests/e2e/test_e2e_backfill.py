"""`clerk-sync backfill` and `reconcile` as an operator runs them, against a local stack of their own with
700 users: killed with SIGKILL half way and run again, as a job in the worker while users log in, and a
reconcile that finds drift, first as a dry run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clerk_sync import keys
from clerk_sync.runs import RunKind
from clerk_sync.store.runs import RunStore
from clerk_sync_local.convergence import differences
from tests.e2e.conftest import Stack, running_stack

USERS, ORGS, PER_ORG = 700, 40, 10
CLI = [sys.executable, "-m", "clerk_sync_local.cli"]


@pytest.fixture(scope="module")
def bulk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("bulk-stack"), "--no-seed") as stack:
        seeded = stack.clerk.post(
            "/seed",
            json={"users": USERS, "organizations": ORGS, "memberships_per_org": PER_ORG, "seed": 5, "webhooks": False},
        )
        assert seeded.status_code == 200, seeded.text
        yield stack


def _ready_file(stack: Stack, tmp_path: Path) -> Path:
    path = tmp_path / "ready.json"
    path.write_text(stack.ready.model_dump_json())
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600, check=False)  # noqa: S603


def _summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    last = result.stdout.strip().splitlines()[-1]
    summary: dict[str, Any] = json.loads(last)
    return summary


def _equal_to_clerk(stack: Stack) -> list[str]:
    return differences(stack.store, stack.clerk.get("/state").json())


def test_a_backfill_killed_half_way_resumes_and_ends_equal_with_little_read_twice(
    bulk_stack: Stack, tmp_path: Path
) -> None:
    ready = str(_ready_file(bulk_stack, tmp_path))
    runs = RunStore(bulk_stack.store.table)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*CLI, "backfill", "--json", "--ready-file", ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = runs.current(RunKind.BACKFILL)
            if current is not None and current.cursors["users"].read >= USERS // 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the backfill never got half way")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    killed_at = runs.current(RunKind.BACKFILL)
    assert killed_at is not None
    assert killed_at.status.value == "running"

    resumed = _cli("backfill", "--json", "--ready-file", ready)
    assert resumed.returncode == 0, resumed.stderr
    summary = _summary(resumed)
    assert summary["complete"] is True
    assert summary["run_id"] == killed_at.run_id
    assert summary["resumed"] == 1
    assert _equal_to_clerk(bulk_stack) == []

    clean = _cli("backfill", "--restart", "--json", "--ready-file", ready)
    assert clean.returncode == 0, clean.stderr
    baseline = _summary(clean)
    # The kill cost at most the page in flight: read again, written again (unchanged).
    assert summary["clerk_calls"] - baseline["clerk_calls"] <= 1
    assert baseline["totals"]["unchanged"] >= USERS  # the second import changed nothing
    assert baseline["totals"]["created"] == 0


def test_a_backfill_as_a_job_runs_in_the_worker_while_logins_are_answered(bulk_stack: Stack, tmp_path: Path) -> None:
    ready = str(_ready_file(bulk_stack, tmp_path))
    users = [u["id"] for u in bulk_stack.clerk.get("/state").json()["users"][:12]]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*CLI, "backfill", "--restart", "--as-job", "--json", "--ready-file", ready],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    latencies: list[float] = []
    try:
        time.sleep(1.0)
        for user_id in users:
            # A fresh login: the authorizer syncs the user from Clerk while the backfill takes its pages.
            bulk_stack.store.table.delete_keys([keys.user_key(user_id)])
            jwt = bulk_stack.clerk.post("/tokens", json={"user_id": user_id, "expires_in": 300}).json()["jwt"]
            started = time.monotonic()
            reply = bulk_stack.api.get("/api/sync/status", headers={"Authorization": f"Bearer {jwt}"})
            latencies.append(time.monotonic() - started)
            assert reply.status_code == 200, reply.text
        out, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["complete"] is True
    assert summary["as_job"] is True
    assert max(latencies) < 10.0  # inside the route budget, every one
    bulk_stack.converge()


def test_reconcile_dry_run_reports_drift_and_changes_nothing_then_reconcile_repairs(
    bulk_stack: Stack, tmp_path: Path
) -> None:
    ready = str(_ready_file(bulk_stack, tmp_path))
    # xdist may run this test on a stack of its own, seeded without webhooks: the backfill makes it equal first.
    imported = _cli("backfill", "--json", "--ready-file", ready)
    assert imported.returncode == 0, imported.stderr
    bulk_stack.converge()
    state = bulk_stack.clerk.get("/state").json()
    lost = state["users"][3]["id"]
    bulk_stack.store.table.delete_keys([keys.user_key(lost)])
    member = next(m for m in state["memberships"] if m["role"] == "org:member")
    org_id, user_id = member["organization"]["id"], member["public_user_data"]["user_id"]
    bulk_stack.store.table.update(keys.membership_key(org_id, user_id), {"role": "org:admin"})
    before = sorted((i["PK"], i["SK"], i.get("version"), i.get("role")) for i in bulk_stack.store.scan())

    dry = _cli("reconcile", "--dry-run", "--json", "--ready-file", ready)
    assert dry.returncode == 0, dry.stderr
    plan = _summary(dry)
    assert plan["drift"] == {"missing": 1, "role": 1}
    assert {(p["kind"], p["id"]) for p in plan["plan"]} == {("missing", lost), ("role", f"{org_id}/{user_id}")}
    assert "missing" in dry.stdout  # the printed plan
    after = sorted((i["PK"], i["SK"], i.get("version"), i.get("role")) for i in bulk_stack.store.scan())
    assert after == before

    repaired = _cli("reconcile", "--json", "--ready-file", ready)
    assert repaired.returncode == 0, repaired.stderr
    summary = _summary(repaired)
    assert summary["drift"] == {"missing": 1, "role": 1}
    assert summary["repaired"] == 2
    assert _equal_to_clerk(bulk_stack) == []


def test_a_run_cut_short_by_a_clerk_outage_exits_non_zero_says_what_is_left_and_resumes(
    bulk_stack: Stack, tmp_path: Path
) -> None:
    ready = str(_ready_file(bulk_stack, tmp_path))
    runs = RunStore(bulk_stack.store.table)
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*CLI, "backfill", "--restart", "--json", "--ready-file", ready],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            current = runs.current(RunKind.BACKFILL)
            if current is not None and current.status.value == "running" and current.step >= 2:
                break
            time.sleep(0.05)
        assert bulk_stack.clerk.put("/knobs", json={"outage": True}).status_code == 200
        out, err = process.communicate(timeout=120)
    finally:
        bulk_stack.clerk.put("/knobs", json={"outage": False})
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["complete"] is False
    assert summary["status"] == "failed"
    assert "ClerkUnavailableError" in summary["error"] or "ClerkDeadlineExceededError" in summary["error"]
    assert "memberships not started" in summary["missing"]
    assert "again to resume" in err

    resumed = _cli("backfill", "--json", "--ready-file", ready)
    assert resumed.returncode == 0, resumed.stderr
    assert _summary(resumed)["run_id"] == summary["run_id"]
