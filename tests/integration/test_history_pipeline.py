"""History through the real worker: the batch's hourly sums are flushed at its end, and a table that refuses history
writes neither fails nor retries the event (docs/decisions/0028)."""

from __future__ import annotations

from typing import Any

import pytest

from clerk_sync import keys, wiring
from clerk_sync.store.errors import StoreUnavailableError
from clerk_sync.store.history import hour_of
from clerk_sync.store.table import Table
from tests.support.clerk_payloads import example
from tests.support.pipeline import drain, post_webhook

USER = "user_29w83sxmDNGwOuEthce5gg56FcC"


def test_a_worker_batch_leaves_entries_and_flushes_its_hourly_sums(aws: Any) -> None:
    assert post_webhook(example("user.created"), msg_id="msg_a")["statusCode"] == 202
    assert post_webhook(example("user.created"), msg_id="msg_a")["statusCode"] == 202  # Svix redelivers
    drain(aws)
    history = wiring.history()
    [entry] = history.entries("user", USER)
    assert (entry.event_id, entry.change, entry.source) == ("msg_a", "user.created", "webhook")
    assert history.counts("user", USER).duplicate == 1
    [outcomes] = [item for item in aws.all_items() if item["entity"] == "outcomes"]
    assert (outcomes["applied"], outcomes["duplicate"]) == (1, 1)
    assert outcomes["hour"] == hour_of(int(entry.at))


def test_a_table_refusing_history_writes_applies_the_event_once(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    original_put, original_add = Table.put, Table.add

    def put(self: Table, item: Any, *args: Any, **kwargs: Any) -> Any:
        if str(item[keys.PK]).startswith(keys.HISTORY_PREFIX):
            raise StoreUnavailableError("throttled")
        return original_put(self, item, *args, **kwargs)

    def add(self: Table, key: Any, *args: Any, **kwargs: Any) -> Any:
        if str(key[keys.PK]).startswith(keys.OUTCOMES_PREFIX):
            raise StoreUnavailableError("throttled")
        return original_add(self, key, *args, **kwargs)

    monkeypatch.setattr(Table, "put", put)
    monkeypatch.setattr(Table, "add", add)
    assert post_webhook(example("user.created"))["statusCode"] == 202
    assert drain(aws) >= 1
    assert [item["entity"] for item in aws.items()] == ["user"]
    assert aws.queue_depth() == 0  # done: not left to be redelivered
    assert aws.queue_depth(aws.resources.dlq_url) == 0
