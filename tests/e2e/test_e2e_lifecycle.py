"""Starting and stopping: the CLI in a real process (SIGINT → exit 0) and LocalStack in this one."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx

from clerk_sync_local.stack import LocalStack
from tests.e2e.conftest import interrupt, local_up, port_refuses, wait_for_ready_file


def test_local_up_subprocess_serves_then_sigint_exits_0_and_frees_ports(tmp_path: Path) -> None:
    ready_file, log = tmp_path / "ready.json", tmp_path / "local-up.log"
    process = local_up(ready_file, log, "--no-seed")
    try:
        ready = wait_for_ready_file(process, ready_file, log)
        assert ready.pid == process.pid
        assert ready.demo_user_id is None
        assert httpx.post(f"{ready.api_url}/api/nowhere").json() == {"message": "Not Found"}
    finally:
        code = interrupt(process)
    assert code == 0, log.read_text()[-3000:]
    assert not ready_file.exists()
    assert "Stopped." in log.read_text()
    for url in (ready.api_url, ready.clerk_api_url, ready.aws_endpoint_url):
        assert port_refuses(url), url


def test_local_stack_in_process_stops_threads_frees_ports_and_restores_environment(tmp_path: Path) -> None:
    environment = dict(os.environ)
    threads = set(threading.enumerate())
    ready_file = tmp_path / "ready.json"
    with LocalStack(port=0, users=2, orgs=1, ready_file=ready_file, quiet=True) as stack:
        assert stack.ready is not None
        ready = stack.ready
        assert ready_file.exists()
        assert os.environ["TABLE_NAME"] == ready.table_name
        assert set(stack.threads())  # gateway, poller and emulator threads run
        user = httpx.post(f"{ready.emulator_admin_url}/users", json={"first_name": "Short"}).json()["id"]
        assert httpx.post(f"{ready.emulator_admin_url}/flush", json={}).status_code == 200
    assert not ready_file.exists()
    assert dict(os.environ) == environment
    leftover = [t for t in set(threading.enumerate()) - threads if t.is_alive()]
    assert [t.name for t in leftover if not t.daemon] == []
    # Other emulators (session fixtures of other tiers) may run in this process; none of this stack's may.
    assert set(stack.threads()) <= {t.name for t in threads}
    for url in (ready.api_url, ready.clerk_api_url, ready.aws_endpoint_url):
        assert port_refuses(url), url
    assert user.startswith("user_")
