"""Shared test set-up: no test may reach real AWS or Clerk."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clerk_sync.vocabulary import METRICS_NAMESPACE

# The terminal summary's "bad inputs tried per surface" line (tests/e2e/test_e2e_bad_input.py).
pytest_plugins = ["tests.support.tally"]

# Fake credentials and a region before anything builds a boto3 client; endpoints from the developer's
# environment must never leak into tests.
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "CLERK_SECRET_KEY", "CLERK_SECRETS_ARN"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_DEV": "false",
    }
)


@pytest.fixture(autouse=True)
def _fresh_wiring() -> Iterator[None]:
    """Each test starts with no cached settings, clients or services."""
    from clerk_sync import wiring

    wiring.reset()
    yield
    wiring.reset()


@pytest.fixture
def log_records() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines clerk-sync's logger writes during the test (its handler holds its own stream)."""
    from clerk_sync.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]
    handler.setStream(previous)
