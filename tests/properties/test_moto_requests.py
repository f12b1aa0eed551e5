"""What `moto_requests` keeps once answers as moto's own code does.

The retention check of a message handed out by ReceiveMessage, for any retention period and message age, and the
backend each host's requests go to, asked again and again.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import Message, SQSBackend, sqs_backends

from clerk_sync_local.stack import moto_requests

_queues = itertools.count()
HOSTS = [
    "dynamodb.us-east-1.amazonaws.com",
    "sqs.us-east-1.amazonaws.com",
    "secretsmanager.us-east-1.amazonaws.com",
    "127.0.0.1:5000",
    "unknown.example.com",
    "moto_api",
    None,
]


@pytest.fixture(scope="module")
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


@settings(max_examples=200, deadline=None)
@given(retention=st.integers(min_value=60, max_value=1_209_600), age=st.floats(min_value=-5, max_value=1_300_000))
def test_retention_check_answers_as_moto_does(sqs: Any, retention: int, age: float) -> None:
    queue = sqs.create_queue(f"retained-{next(_queues)}", MessageRetentionPeriod=str(retention))
    message = Message("m-1", "body")
    message.sent_timestamp = int((time.time() - age) * 1000)
    ours = moto_requests._retained(sqs, queue.name, message)
    assert ours == SQSBackend.is_message_valid_based_on_retention_period(sqs, queue.name, message)


def test_each_host_goes_to_the_backend_moto_picks() -> None:
    plain = DomainDispatcherApplication(create_backend_app)
    kept = DomainDispatcherApplication(create_backend_app)
    find = moto_requests._host_kept(DomainDispatcherApplication.get_backend_for_host)
    expected = [plain.get_backend_for_host(host) for host in HOSTS]
    assert expected[:3] == ["dynamodb", "sqs", "secretsmanager"]
    for _ in range(3):
        assert [find(kept, host) for host in HOSTS] == expected
