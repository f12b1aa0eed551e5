"""`clerk-sync bench coldstart` measures what it says: every handler answers its realistic first event in a fresh
interpreter against moto and the emulator, next to a floor of its own. Figures are printed, never judged here; what
the cold starts loaded is."""

from __future__ import annotations

from clerk_sync_local.bench.coldstart import FLOOR_CLIENTS, measure_cold_starts


def test_coldstart_bench_answers_each_handlers_first_event_and_reports_its_floor() -> None:
    figures = measure_cold_starts(runs=1)

    assert set(figures["handlers"]) == set(FLOOR_CLIENTS)
    for name, row in figures["handlers"].items():
        assert row["median_ms"] > 0
        assert row["floor_ms"] > 0
        assert abs(row["ratio"] - row["median_ms"] / row["floor_ms"]) < 0.02
        assert row["botocore_ms"] > 0
        assert abs(row["botocore_share"] - row["botocore_ms"] / row["floor_ms"]) < 0.02
        assert row["goal"] == "< 1.0"
        assert row["module"] == f"clerk_sync.handlers.{name}"
        # docs/decisions/0025: none of these on any handler's cold path, first event included.
        assert not {"boto3", "s3transfer", "pydantic_settings", "httpx"} & set(row["loaded"]), name
