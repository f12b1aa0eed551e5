"""The soak harness itself (`clerk-sync soak`, make soak): a tiny run end to end, and proof that its checks see a
table unlike Clerk and an event lost on the way, so a green soak means something."""

from __future__ import annotations

from typer.testing import CliRunner

from clerk_sync_local.cli import app
from clerk_sync_local.soak.runner import ScenarioResult, SoakOptions, SoakReport
from clerk_sync_local.soak.world import SoakWorld

runner = CliRunner()


def test_tiny_soak_through_the_cli_injects_faults_and_ends_equal_to_clerk_with_nothing_lost() -> None:
    result = runner.invoke(app, ["soak", "--scenarios", "2", "--seed", "5", "--changes", "10", "--fault-rate", "0.5"])
    output = result.output
    assert result.exit_code == 0, output
    assert "scenario 2/2 (seed 6)" in output
    assert "mismatches with Clerk at the end: 0" in output
    assert "lost events: 0" in output
    [faults] = [line for line in output.splitlines() if "faults injected:" in line]
    assert int(faults.split("faults injected:")[1].split(":")[0]) > 0


def test_soak_report_exit_code_is_1_for_a_mismatch_a_lost_event_or_a_broken_answer() -> None:
    def report(**problems: list[str]) -> SoakReport:
        fields: dict[str, list[str]] = {"differences": [], "lost": [], "broken_answers": [], **problems}
        result = ScenarioResult(seed=1, seconds=1.0, still_dead_lettered=[], undelivered=[], **fields)
        return SoakReport(SoakOptions(), results=[result])

    assert report().exit_code == 0
    assert report(differences=["missing USER#user_1 PROFILE"]).exit_code == 1
    assert report(lost=["msg_1"]).exit_code == 1
    assert report(broken_answers=["POST /api/sync/user: 500"]).exit_code == 1
    failed = report(lost=["msg_1"]).lines()
    assert "  lost events: 1" in failed
    assert any("reproduce: clerk-sync soak --seed 1 --scenarios 1" in line for line in failed)


def test_the_checks_see_a_record_missing_from_the_table(world: SoakWorld) -> None:
    user_id = world.clerk.create_user(first_name="Ada")["id"]
    world.deliver()
    world.drain()
    assert world.differences() == []
    world.check_store().table.delete_keys([{"PK": f"USER#{user_id}", "SK": "PROFILE"}])
    assert world.differences() == [f"missing USER#{user_id} PROFILE"]


def test_the_ledger_sees_an_accepted_event_that_never_reached_the_worker(world: SoakWorld) -> None:
    world.clerk.create_user(first_name="Ada")
    [[status]] = world.deliver()
    assert status == 202
    world.sqs.purge_queue(QueueUrl=world.resources.queue_url)  # the queue loses it after the 2xx
    world.drain()
    [event] = world.clerk.events
    assert world.ledger.lost() == [event["msg_id"]]
