"""What the Clerk client measures goes to the handler's metric set, and nowhere while metrics are disabled.

Outside a handler (the operator CLI, a benchmark) no `log_metrics` flushes or clears the set: with metrics disabled
Powertools kept every value and printed the set to stdout once a metric held 100 of them, EMF lines in the middle
of a command's output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from clerk_sync.clerk import ClerkClient
from clerk_sync.observability import metrics

if TYPE_CHECKING:
    from conftest import FakeClerk

MakeClient = Callable[..., ClerkClient]


@pytest.fixture
def handler_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


@pytest.mark.usefixtures("handler_metrics")
def test_disabled_metrics_are_neither_kept_nor_printed_after_many_calls(
    clerk: FakeClerk, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    clerk.add_user("user_1")
    client = make_client(metrics=None)  # the default sink, as the CLI and the handlers build it
    for _ in range(150):
        client.get_user("user_1")
    assert "CloudWatchMetrics" not in capsys.readouterr().out
    assert metrics.metric_set == {}


@pytest.mark.usefixtures("handler_metrics")
def test_enabled_metrics_land_in_the_handlers_set(
    clerk: FakeClerk, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    clerk.add_user("user_1")
    make_client(metrics=None).get_user("user_1")
    assert len(metrics.metric_set["ClerkCallLatency"]["Value"]) == 1
