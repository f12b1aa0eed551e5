"""The dependency layer: pinned to uv.lock minus what the runtime ships, rebuilt only when that changes."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layer_build", ROOT / "layers" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def build_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """layers/build.py with its paths pointed at a scratch copy of requirements.txt."""
    module = _load_build_script()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text((ROOT / "layers" / "requirements.txt").read_text())
    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "REQUIREMENTS", requirements)
    monkeypatch.setattr(module, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(module, "TARGET", tmp_path / "build" / "python")
    monkeypatch.setattr(module, "STAMP", tmp_path / "build" / ".stamp")
    return module


def _requirements() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "layers" / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split(";", 1)[0].strip().split("==")
            pins[name.lower()] = version
    return pins


def test_layer_requirements_match_uv_lock() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    for name, version in _requirements().items():
        assert locked.get(name) == version, f"{name}: run `python3 layers/build.py --export`"


def test_layer_requirements_cover_the_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {re.split(r"[\[<>=!~ ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    pinned = set(_requirements())
    assert direct - {"boto3"} <= pinned


def test_layer_requirements_leave_out_what_the_runtime_provides() -> None:
    build = _load_build_script()
    assert set(_requirements()).isdisjoint(build.RUNTIME_PROVIDED)
    assert {"boto3", "botocore"} <= build.RUNTIME_PROVIDED


def test_layer_pip_options_target_lambda_arm64_python_311_wheels_only() -> None:
    options = _load_build_script().PIP_OPTIONS
    for option in (
        "--platform=manylinux2014_aarch64",
        "--only-binary=:all:",
        "--python-version=3.11",
        "--implementation=cp",
        "--no-compile",
        "--no-deps",
    ):
        assert option in options


def test_layer_build_is_skipped_when_stamp_matches(build_script: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    build_script.TARGET.mkdir(parents=True)
    build_script.STAMP.write_text(build_script.build_hash() + "\n")

    def no_pip(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("pip must not run for an up-to-date layer")

    monkeypatch.setattr(build_script.subprocess, "run", no_pip)
    build_script.build(force=False)
    assert build_script.is_up_to_date()


def test_layer_build_runs_when_requirements_change(build_script: ModuleType) -> None:
    build_script.TARGET.mkdir(parents=True)
    build_script.STAMP.write_text(build_script.build_hash() + "\n")
    build_script.REQUIREMENTS.write_text(build_script.REQUIREMENTS.read_text() + "extra-package==1.0\n")
    assert not build_script.is_up_to_date()
