"""A webhook secret rotated in Secrets Manager takes effect in a warm container, without a redeploy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.clerk_payloads import example
from tests.support.pipeline import post_webhook
from tests.support.signing import OTHER_SECRET, TEST_SECRET


@pytest.fixture
def secret(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import boto3

    client = boto3.client("secretsmanager")
    arn = client.create_secret(
        Name="clerk-sync", SecretString=json.dumps({"CLERK_WEBHOOK_SIGNING_SECRET": TEST_SECRET})
    )["ARN"]
    monkeypatch.setenv("CLERK_SECRETS_ARN", arn)
    monkeypatch.delenv("CLERK_WEBHOOK_SIGNING_SECRET")
    return client, arn


def _rotate(secret: Any, value: str) -> None:
    client, arn = secret
    client.put_secret_value(SecretId=arn, SecretString=json.dumps({"CLERK_WEBHOOK_SIGNING_SECRET": value}))


def test_rotated_secret_is_read_again_once_the_cached_one_is_old(secret: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "0")
    assert post_webhook(example("user.created"), secret=TEST_SECRET)["statusCode"] == 202
    _rotate(secret, OTHER_SECRET)
    assert post_webhook(example("user.updated"), secret=OTHER_SECRET)["statusCode"] == 202


def test_bad_signatures_do_not_reread_a_secret_younger_than_its_max_age(
    secret: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETS_MAX_AGE_SECONDS", "300")
    assert post_webhook(example("user.created"), secret=TEST_SECRET)["statusCode"] == 202
    _rotate(secret, OTHER_SECRET)
    assert post_webhook(example("user.updated"), secret=OTHER_SECRET)["statusCode"] == 401
