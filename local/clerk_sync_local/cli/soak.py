"""`clerk-sync soak`: random Clerk histories delivered badly, under injected faults, each compared with Clerk at the
end (see clerk_sync_local.soak and docs/decisions/0016). Exits 1 on a lost event, a mismatch or a broken answer."""

from __future__ import annotations

import typer

from clerk_sync_local.cli.common import console, fail


def soak(  # noqa: PLR0917 - typer maps each option to a parameter
    scenarios: int = typer.Option(20, min=1, max=100_000, help="Scenarios to run (each a fresh deployment)."),
    seed: int = typer.Option(1, help="The first scenario's seed; scenario n uses seed + n."),
    max_seconds: float = typer.Option(
        480, min=1, help="Start no scenario after this many seconds (a running one finishes its recovery)."
    ),
    fault_rate: float = typer.Option(0.2, min=0.0, max=1.0, help="Probability that a step runs under a fault."),
    changes: int = typer.Option(40, min=1, max=10_000, help="Clerk changes per scenario."),
    verbose: bool = typer.Option(False, "--verbose", help="Let the product's own logs through."),
) -> None:
    """Scenarios of random Clerk histories, shuffled, duplicated and delayed deliveries, Clerk, DynamoDB, SQS and
    worker faults; then faults off, dead letters replayed, and the table compared with Clerk."""
    from clerk_sync_local.soak.runner import ScenarioResult, SoakOptions, run_soak

    options = SoakOptions(
        scenarios=scenarios, seed=seed, max_seconds=max_seconds, fault_rate=fault_rate, changes=changes
    )

    def progress(result: ScenarioResult, index: int) -> None:
        verdict = "ok" if result.ok else "[bold red]FAILED[/]"
        console.print(f"scenario {index + 1}/{scenarios} (seed {result.seed}): {result.seconds:.1f} s, {verdict}")

    try:
        report = run_soak(options, progress=progress, quiet=not verbose)
    except (OSError, TimeoutError) as error:
        fail(f"the soak could not run: {error}")
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True)
    if report.exit_code:
        fail(f"{report.lost} lost events, {report.mismatches} mismatches, {report.broken_answers} broken answers")
