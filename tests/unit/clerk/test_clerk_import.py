"""Cold-start cost: importing clerk_sync.clerk pulls in neither boto3 nor, until the client is used, httpx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import clerk_sync.clerk

# Wherever the package under test was imported from.
FUNCTIONS = Path(clerk_sync.clerk.__file__).resolve().parents[2]

PROBE = """
import json, sys
loaded = lambda: {name: name in sys.modules for name in ("boto3", "httpx", "pydantic_settings")}
import clerk_sync.clerk
after_package = loaded()
from clerk_sync.wiring import clerk_client
clerk_client()
print(json.dumps({"package": after_package, "client": loaded()}))
"""


def test_clerk_package_fresh_import_loads_no_boto3_and_defers_httpx() -> None:
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONS), "CLERK_SECRET_KEY": "sk_test_importPROBE"}
    env.pop("CLERK_SECRETS_ARN", None)

    result = subprocess.run(  # noqa: S603  # our own interpreter running a fixed probe
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True, timeout=60
    )

    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["package"] == {"boto3": False, "httpx": False, "pydantic_settings": False}
    assert loaded["client"] == {"boto3": False, "httpx": True, "pydantic_settings": False}


def test_clerk_package_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = clerk_sync.clerk.NoSuchThing
