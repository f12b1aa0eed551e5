"""`clerk-sync bench startup`: `clerk-sync local up` timed from process start to its ready file, in new processes.

Bytecode decides most of the difference between a first and a later start, so it is controlled: every run
uses a private PYTHONPYCACHEPREFIX with bytecode writing on. `--cold` gives each run an empty one, as on a
fresh clone where `uv sync` compiled nothing; otherwise the runs share one, primed by an unmeasured start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

_TIMEOUT_SECONDS: Final = 120.0


def local_up_command(ready_file: Path, *extra: str) -> list[str]:
    up = ["local", "up", "--port", "0", "--ready-file", str(ready_file)]
    return [sys.executable, "-m", "clerk_sync_local.cli", *up, *extra]


def time_one_start(*, pycache: Path, workdir: Path) -> float:
    """Seconds from spawning `local up` to its ready file; the stack is stopped with SIGINT afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    ready = workdir / "ready.json"
    skipped = {"CLERK_SECRET_KEY", "PYTHONDONTWRITEBYTECODE"}
    env = {key: value for key, value in os.environ.items() if key not in skipped}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        local_up_command(ready, "--quiet"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        while not ready.exists():
            if process.poll() is not None:
                stderr = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"local up exited with {process.returncode}: {stderr[-500:]}")
            if time.perf_counter() - started > _TIMEOUT_SECONDS:
                raise TimeoutError(f"no ready file after {_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure_startup(runs: int = 3, *, cold: bool = False) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="clerk-sync-startup-") as scratch:
        root = Path(scratch)
        if cold:
            return [time_one_start(pycache=root / f"pycache-{run}", workdir=root / str(run)) for run in range(runs)]
        time_one_start(pycache=root / "pycache", workdir=root / "prime")
        return [time_one_start(pycache=root / "pycache", workdir=root / str(run)) for run in range(runs)]
