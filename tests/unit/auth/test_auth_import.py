"""Cold-start cost: the package loads only its errors; the verifier needs PyJWT, never httpx, boto3, pydantic-settings
or Powertools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import clerk_sync.auth
from clerk_sync_local.emulator.tokens import TokenSigner

from .conftest import ISSUER, PARTY, claims

FUNCTIONS = Path(clerk_sync.auth.__file__).resolve().parents[2]
WATCHED = ("jwt", "pydantic_settings", "httpx", "boto3", "aws_lambda_powertools")

PROBE = """
import json, os, sys
watched = {watched!r}
loaded = lambda: sorted(name for name in watched if name in sys.modules)
import clerk_sync.auth
after_package = loaded()
from clerk_sync.auth.tokens import SessionVerifier
from clerk_sync.wiring import session_verifier
after_tokens = loaded()
verifier = session_verifier()
user_id = verifier.verify(os.environ["PROBE_TOKEN"]).user_id if os.environ.get("PROBE_TOKEN") else None
print(json.dumps({{"package": after_package, "tokens": after_tokens, "ready": loaded(), "user_id": user_id}}))
"""


def _probe(**environment: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(FUNCTIONS), **environment}
    for name in ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_SECRETS_ARN"):
        if name not in environment:
            env.pop(name, None)
    result = subprocess.run(  # noqa: S603  # our own interpreter running a fixed probe
        [sys.executable, "-c", PROBE.format(watched=WATCHED)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_auth_pem_path_fresh_import_and_verify_load_no_httpx_boto3_or_powertools(signer: TokenSigner) -> None:
    now = int(time.time())
    token = signer.sign(claims(iat=now, nbf=now - 5, exp=now + 60))

    loaded = _probe(
        CLERK_ISSUER=ISSUER, CLERK_AUTHORIZED_PARTIES=PARTY, CLERK_JWT_KEY=signer.public_key_pem, PROBE_TOKEN=token
    )

    assert loaded["package"] == []  # errors only: catching AuthError costs nothing
    assert loaded["tokens"] == ["jwt"]
    assert loaded["ready"] == ["jwt"]
    assert loaded["user_id"] == claims()["sub"]


def test_auth_jwks_path_fresh_verifier_loads_no_httpx_before_or_for_its_fetcher() -> None:
    loaded = _probe(CLERK_ISSUER=ISSUER)

    assert loaded["ready"] == ["jwt"]


def test_auth_package_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = clerk_sync.auth.NoSuchThing
