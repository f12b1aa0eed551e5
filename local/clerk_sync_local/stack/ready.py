"""The ready-file contract: what `clerk-sync local up` writes once every server answers, for scripts and tests.

Written atomically (a temporary file renamed into place, mode 0600) and removed when the stack stops, so
its presence means "up". Keys are documented in docs/local-stack.md; new keys may be added, none removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Final, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

DEFAULT_READY_FILE: Final = Path(".local/ready.json")


class ReadyFileError(Exception):
    """No usable ready file: the stack is not running, or the file is not one `local up` wrote."""


class ReadyInfo(BaseModel):
    """Where everything runs and the credentials to reach it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    api_url: str
    webhook_url: str
    clerk_mode: Literal["emulator", "clerk"]
    clerk_api_url: str
    clerk_secret_key: str | None  # None in real-Clerk mode: a live key is never written to disk
    clerk_issuer: str
    # The Clerk instance the handlers accept (CLERK_INSTANCE_ID): the emulator's; with real Clerk, as configured
    # (None: the secret key's own instance, looked up by the handlers).
    instance_id: str | None = None
    emulator_admin_url: str | None
    aws_endpoint_url: str
    region: str
    aws_access_key_id: str
    aws_secret_access_key: str
    table_name: str
    queue_url: str
    dlq_url: str
    secret_arn: str
    webhook_secret: str | None  # None in real-Clerk mode
    admin_user_id: str | None
    demo_user_id: str | None
    demo_org_id: str | None
    authorizer_cache_ttl_seconds: float
    # The shared Clerk rate budget the handlers keep (CLERK_RATE_LIMIT, CLERK_BULK_SHARE, CLERK_BUDGET_ENABLED), so
    # the CLI draws from it as they do; None in files written before it existed.
    clerk_rate_limit: int | None = None
    clerk_bulk_share: float | None = None
    clerk_budget_enabled: bool | None = None
    started_in_seconds: float
    pid: int


def write_ready_file(path: Path, info: ReadyInfo) -> None:
    """Atomically: readers see no file or the whole file, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(info.model_dump_json(indent=2) + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def read_ready_file(path: Path) -> ReadyInfo:
    try:
        text = path.read_text()
    except FileNotFoundError:
        message = f"{path} not found: is the local stack running? Start it with `clerk-sync local up`"
        raise ReadyFileError(message) from None
    try:
        return ReadyInfo.model_validate_json(text)
    except ValidationError as error:
        raise ReadyFileError(f"{path} is not a clerk-sync ready file: {error.errors()[0]['msg']}") from None


def remove_ready_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def wait_until_answers(url: str, timeout: float = 10.0, expect: tuple[int, ...] = (200,)) -> None:
    """Polls `url` until it answers with one of `expect`; raises TimeoutError naming the URL."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        try:
            status = httpx.get(url, timeout=1.0).status_code
        except httpx.HTTPError as error:
            last = type(error).__name__
        else:
            if status in expect:
                return
            last = f"HTTP {status}"
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s ({last})")
        time.sleep(0.05)
