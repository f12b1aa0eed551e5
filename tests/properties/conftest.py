"""Fixtures the property tests share."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from clerk_sync_local.stack.moto import LocalMoto


@pytest.fixture(scope="module")
def motos() -> Iterator[list[tuple[Any, str]]]:
    """The local stack's moto (its patches installed) and a plain one, each in its own process: (client, table)."""
    servers = [LocalMoto(prefix="indexed", indexed=True), LocalMoto(prefix="plain", indexed=False)]
    try:
        started = [(server, server.start()) for server in servers]
        yield [(server.client("dynamodb"), resources.table_name) for server, resources in started]
    finally:
        for server in servers:
            server.stop()
