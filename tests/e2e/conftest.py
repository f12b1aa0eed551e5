"""End-to-end tier: `clerk-sync local up` in a subprocess, then only HTTP (and moto's API via the ready file).

One stack per test session (per xdist worker), started exactly as a developer starts it: `--port 0
--ready-file`. Tests change data through the emulator's admin API and watch the table converge, compared
with the emulator's state by `clerk_sync_local.convergence.differences`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from clerk_sync.store import SyncStore
from clerk_sync_local.cli.views import store_for
from clerk_sync_local.convergence import differences
from clerk_sync_local.emulator.knobs import Knobs
from clerk_sync_local.stack.ready import ReadyInfo, read_ready_file

START_TIMEOUT_SECONDS = 90.0
CONVERGE_TIMEOUT_SECONDS = 30.0
CLI: tuple[str, ...] = (sys.executable, "-m", "clerk_sync_local.cli")


def local_up(
    ready_file: Path,
    log: Path,
    *extra: str,
    cli: Sequence[str] = CLI,
    environment: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`clerk-sync local up --port 0 --ready-file ...` as a subprocess of this interpreter; `environment` adds
    variables the stack's functions read."""
    command = [*cli, "local", "up", "--port", "0"]
    env = {name: value for name, value in os.environ.items() if not name.startswith("CLERK_")}
    env.update(environment or {})
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--ready-file", str(ready_file), *extra], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def wait_for_ready_file(process: subprocess.Popen[bytes], ready_file: Path, log: Path) -> ReadyInfo:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not ready_file.exists():
        if process.poll() is not None:
            pytest.fail(f"local up exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no ready file after {START_TIMEOUT_SECONDS:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return read_ready_file(ready_file)


BANNER_FIRST = "clerk-sync local stack is up"
BANNER_LAST = "Ctrl-C stops everything."


def wait_for_banner(log: Path, timeout: float = 30.0) -> str:
    """The stack's whole output once its start-up banner is complete (it follows the ready file)."""
    deadline = time.monotonic() + timeout
    while BANNER_LAST not in (text := log.read_text(errors="replace")):
        if time.monotonic() > deadline:
            pytest.fail(f"the banner did not finish within {timeout:.0f} s")
        time.sleep(0.05)
    return text


def interrupt(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def port_refuses(url: str) -> bool:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    with socket.socket() as probe:
        return probe.connect_ex((host, port or 80)) != 0


@dataclass
class Stack:
    """A running local stack, seen from outside: its ready file and clients for what it exposes."""

    ready: ReadyInfo
    log: Path
    api: httpx.Client
    clerk: httpx.Client  # the emulator's admin API
    store: SyncStore
    sqs: Any

    def converge(self, timeout: float = CONVERGE_TIMEOUT_SECONDS) -> None:
        """Waits until every webhook is delivered, the queue is empty and the table equals the emulator."""
        assert self.clerk.post("/flush", json={"timeout": timeout}).status_code == 200
        deadline = time.monotonic() + timeout
        found: list[str] = []
        while time.monotonic() < deadline:
            if self.queue_depth() == 0:
                found = differences(self.store, self.clerk.get("/state").json())
                if not found and self.queue_depth() == 0:
                    return
            time.sleep(0.1)
        pytest.fail(f"no convergence in {timeout:.0f} s; queue depth {self.queue_depth()}; differences: {found[:10]}")

    def queue_depth(self, queue_url: str | None = None) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url or self.ready.queue_url, AttributeNames=names)
        return sum(int(attributes["Attributes"][name]) for name in names)

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.store.get_user(user_id)


@contextmanager
def running_stack(
    workdir: Path, *extra: str, cli: Sequence[str] = CLI, environment: Mapping[str, str] | None = None
) -> Iterator[Stack]:
    """A `local up` subprocess in `workdir` (ready file, whole log), seen as a `Stack`; stopped with SIGINT after."""
    ready_file, log = workdir / "ready.json", workdir / "local-up.log"
    process = local_up(ready_file, log, *extra, cli=cli, environment=environment)
    try:
        ready = wait_for_ready_file(process, ready_file, log)
        assert ready.emulator_admin_url is not None
        sqs = boto3.client(
            "sqs",
            endpoint_url=ready.aws_endpoint_url,
            region_name=ready.region,
            aws_access_key_id=ready.aws_access_key_id,
            aws_secret_access_key=ready.aws_secret_access_key,
        )
        with (
            httpx.Client(base_url=ready.api_url, timeout=40) as api,
            httpx.Client(base_url=ready.emulator_admin_url, timeout=40) as clerk,
        ):
            yield Stack(ready, log, api, clerk, store_for(ready), sqs)
    finally:
        if process.poll() is None:
            interrupt(process)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The tests share this stack's few users and sync them again and again; the per-caller limit at its
    # defaults is tested on a stack of its own (test_e2e_caller_limit.py).
    with running_stack(tmp_path_factory.mktemp("local-stack"), environment={"SYNC_CALLER_LIMIT": "1000"}) as running:
        yield running


@pytest.fixture
def knobs(stack: Stack) -> Iterator[httpx.Client]:
    """The emulator's admin API, with every knob back at its default after the test."""
    yield stack.clerk
    assert stack.clerk.put("/knobs", json=Knobs().model_dump()).status_code == 200
