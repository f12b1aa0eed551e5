"""COVERAGE.md, the generated endpoint checklist, stays in step with the routes and the spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from clerk_sync_local.emulator import coverage

SPEC = Path(__file__).resolve().parents[1] / "clerk" / "backend-api.yml"


@pytest.fixture(scope="module")
def spec() -> dict[str, object]:
    return coverage.load_spec(SPEC)


def test_coverage_file_matches_generated_checklist(spec: dict[str, object]) -> None:
    assert coverage.COVERAGE_FILE.read_text() == coverage.render(spec), (
        "COVERAGE.md is stale: run python -m clerk_sync_local.emulator.coverage"
    )


def test_coverage_every_implemented_route_is_in_spec(spec: dict[str, object]) -> None:
    assert coverage.missing_from_spec(spec) == []


def test_coverage_render_marks_only_implemented_operations(spec: dict[str, object]) -> None:
    text = coverage.render(spec, implemented=[("GET", "/users/{user_id}")])
    assert "- [X] `GET /users/{user_id}` GetUser" in text
    assert "- [ ] `GET /users` GetUserList" in text
    assert text.count("- [X]") == 1


def test_coverage_check_flag_reports_stale_file(tmp_path: Path) -> None:
    output = tmp_path / "COVERAGE.md"
    assert coverage.main(["--spec", str(SPEC), "--output", str(output), "--check"]) == 1
    assert coverage.main(["--spec", str(SPEC), "--output", str(output)]) == 0
    assert coverage.main(["--spec", str(SPEC), "--output", str(output), "--check"]) == 0
