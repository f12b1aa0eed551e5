"""The report writer on a tiny real measurement: a poller draining a fake queue, timed here, reported in full."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from clerk_sync_local.bench.figures import Figure, Goal, Section
from clerk_sync_local.bench.harness import BenchOptions, run_sections
from clerk_sync_local.bench.report import JSON_NAME, REPORT_NAME, print_table, write_report
from clerk_sync_local.stack.poller import SqsPoller


class _Queue:
    """A queue of message ids enqueued at known times (no sockets)."""

    def __init__(self, count: int) -> None:
        self.sent = {f"m{n}": time.perf_counter() for n in range(count)}
        self.visible = list(self.sent)

    def receive_message(self, **request: Any) -> dict[str, Any]:
        taken, self.visible = (
            self.visible[: request["MaxNumberOfMessages"]],
            self.visible[request["MaxNumberOfMessages"] :],
        )
        return {"Messages": [{"MessageId": i, "ReceiptHandle": i, "Body": "{}"} for i in taken]} if taken else {}

    def delete_message(self, **request: Any) -> None:
        pass


def _tiny_measurement(options: BenchOptions) -> list[Section]:
    """Two 'sides' drain the same 30 messages, one with a slower handler: real timings, nothing hard-coded."""
    latencies: dict[str, list[float]] = {}
    over_time: dict[str, list[list[float]]] = {}
    rates: dict[str, float] = {}
    for side, pause in (("clerk-sync", 0.0), ("baseline", 0.002)):
        queue = _Queue(30)
        done: list[float] = []
        began = time.perf_counter()

        def handler(
            event: dict[str, Any], context: Any, pause: float = pause, done: list[float] = done, queue: _Queue = queue
        ) -> None:
            for record in event["Records"]:
                time.sleep(pause)
                done.append(time.perf_counter() - queue.sent[record["messageId"]])

        SqsPoller(queue, "q", handler).drain()
        took = time.perf_counter() - began
        latencies[side] = [d * 1000 for d in done]
        over_time[side] = [[d, float(n + 1)] for n, d in enumerate(sorted(done))]
        rates[side] = len(done) / took
    section = Section("tiny", "A poller draining a fake queue")
    section.figures = [
        Figure("messages/s", rates["clerk-sync"], "messages/s", Goal.vs_baseline(1.0), rates["baseline"]),
        Figure("messages lost", 30 - len(latencies["clerk-sync"]), "messages", Goal.bound(0)),
    ]
    section.series = {
        "latency_ms": latencies,
        "applied_over_time": over_time,
        "bulk_sync_calls": {"memberships": [1, 10], "clerk-sync": [2, 2], "baseline": [3, 12]},
        "backfill_progress": {"entities": 30, "points": over_time["clerk-sync"]},
    }
    return [section]


def _broken(options: BenchOptions) -> list[Section]:
    raise RuntimeError("no stack here")


def test_report_writer_on_a_tiny_measurement_writes_json_report_and_plots(tmp_path: Path) -> None:
    sections = run_sections({"tiny": _tiny_measurement, "broken": _broken}, BenchOptions(events=30))

    print_table(Console(file=open(tmp_path / "table.txt", "w"), width=200), sections)  # noqa: SIM115
    report = write_report(sections, tmp_path, BenchOptions(events=30).as_json(), time.time())

    results = json.loads((tmp_path / JSON_NAME).read_text())
    figures = [f for s in results["sections"] for f in s["figures"]]
    assert figures, "the tiny measurement produced figures"
    assert all("goal" in f and "ratio" in f and "met" in f for f in figures)
    assert all(f["goal"]["text"] and f["ratio"] is not None for f in figures if f["name"] == "messages/s")
    assert results["prices"]["read_on"]
    broken = next(s for s in results["sections"] if s["name"] == "broken")
    assert broken["error"] == "RuntimeError: no stack here"
    for png in ("latency.png", "throughput.png", "bulk-sync.png", "backfill.png"):
        assert (tmp_path / png).stat().st_size > 1000
        assert f"]({png})" in report.read_text()
    assert report.name == REPORT_NAME
    assert "messages/s" in (tmp_path / "table.txt").read_text()
