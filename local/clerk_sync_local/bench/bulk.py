"""Bulk syncs on a local moto stack and the Clerk emulator (`clerk-sync bench bulk`): what a full user sync of a
user with many memberships and an organization's member sync cost, the first time and again with nothing changed.

Each sync runs inline through the `SyncService` (as the CLI and the bench of `full_user_sync` do: every page in the
call) and is measured three ways:

- DynamoDB requests by operation, counted by a botocore event hook on the service's own client;
- capacity units, computed from what those requests carried (the product does not ask DynamoDB for
  `ReturnConsumedCapacity`, and moto's answers to it are not sized): a write costs 1 WCU per started KB of the
  larger of the item written and the item it replaced (when the request hands the old item back), a consistent
  read 1 RCU per started 4 KB of each item returned, a key BatchGetItem did not find 1 RCU, a Query the items it
  returned summed per started 4 KB. Estimates by DynamoDB's sizing rules, not DynamoDB's own bill;
- wall time.

The shared Clerk budget is switched off (`CLERK_BUDGET_ENABLED=false`), so its bucket item's requests do not mix
with the sync's own. Numbers are measured here, on this machine, each time; nothing is hard-coded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from clerk_sync import wiring
from clerk_sync.items import item_size
from clerk_sync.reports import SyncReport
from clerk_sync_local.bench.sync import bench_stack
from clerk_sync_local.emulator import ClerkEmulator

_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
_deserializer = TypeDeserializer()


def _size(raw: Mapping[str, Any] | None) -> int:
    if not raw:
        return 0
    return item_size({name: _deserializer.deserialize(value) for name, value in raw.items()})


def _kb(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


class CapacityMeter:
    """DynamoDB requests by operation and their estimated capacity units, from a botocore client's event hooks."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.read_units = 0.0
        self.write_units = 0.0
        self._lock = threading.Lock()
        self._requests: dict[int, dict[str, Any]] = {}

    def attach(self, client: Any) -> Callable[[], None]:
        """Starts counting the client's requests; returns what stops it."""
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)

        def detach() -> None:
            events.unregister("before-parameter-build.dynamodb", self._before)
            events.unregister("after-call.dynamodb", self._after)

        return detach

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.read_units = self.write_units = 0.0

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    @property
    def write_requests(self) -> int:
        return sum(count for name, count in self.calls.items() if name in _WRITES)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self.calls.values()),
                "write_requests": sum(n for name, n in self.calls.items() if name in _WRITES),
                "operations": dict(sorted(self.calls.items())),
                "read_units": round(self.read_units, 1),
                "write_units": round(self.write_units, 1),
            }

    def _before(self, model: Any, params: Any, context: Any, **_: Any) -> None:
        with self._lock:
            self._requests[id(context)] = dict(params)

    def _after(self, model: Any, parsed: Any, context: Any, **_: Any) -> None:
        with self._lock:
            request = self._requests.pop(id(context), {})
        name = model.name
        read, write = self._units(name, request, parsed or {})
        with self._lock:
            self.calls[name] += 1
            self.read_units += read
            self.write_units += write

    @staticmethod
    def _units(name: str, request: Mapping[str, Any], parsed: Mapping[str, Any]) -> tuple[float, float]:
        if name == "PutItem":
            new = _size(request.get("Item"))
            old = _size(parsed.get("Attributes") or parsed.get("Item"))
            return 0.0, _kb(max(new, old), 1024)
        if name in ("UpdateItem", "DeleteItem"):
            return 0.0, _kb(_size(parsed.get("Attributes")), 1024)
        if name == "BatchWriteItem":
            units = 0
            for writes in (request.get("RequestItems") or {}).values():
                for one in writes:
                    put = one.get("PutRequest")
                    units += _kb(_size(put["Item"]) if put else 0, 1024)
            return 0.0, units
        if name == "TransactWriteItems":
            units = 0
            for part in request.get("TransactItems") or []:
                put = part.get("Put")
                units += 2 * _kb(_size(put["Item"]) if put else 0, 1024)  # transactions cost twice
            return 0.0, units
        if name == "GetItem":
            consistent = bool(request.get("ConsistentRead"))
            return _kb(_size(parsed.get("Item")), 4096) * (1.0 if consistent else 0.5), 0.0
        if name == "BatchGetItem":
            asked = sum(len(table.get("Keys", [])) for table in (request.get("RequestItems") or {}).values())
            found = [item for items in (parsed.get("Responses") or {}).values() for item in items]
            units = sum(_kb(_size(item), 4096) for item in found) + max(0, asked - len(found))
            return float(units), 0.0
        if name in ("Query", "Scan"):
            total = sum(_size(item) for item in parsed.get("Items") or [])
            factor = 1.0 if request.get("ConsistentRead") else 0.5
            return _kb(total, 4096) * factor, 0.0
        return 0.0, 0.0


@contextmanager
def metered() -> Iterator[CapacityMeter]:
    """A meter on the service's DynamoDB client (the one every store of this process uses)."""
    meter = CapacityMeter()
    detach = meter.attach(wiring.dynamodb_client())
    try:
        yield meter
    finally:
        detach()


def _user_with_memberships(clerk: ClerkEmulator, memberships: int) -> str:
    user_id: str = clerk.create_user(first_name="Bulk")["id"]
    for number in range(memberships):
        clerk.add_membership(clerk.create_organization(f"Bulk org {number}")["id"], user_id)
    return user_id


def _organization_with_members(clerk: ClerkEmulator, members: int) -> str:
    org_id: str = clerk.create_organization(f"Bulk {members}")["id"]
    for number in range(members):
        clerk.add_membership(org_id, clerk.create_user(first_name=f"Member {number}")["id"])
    return org_id


def _measured(meter: CapacityMeter, clerk: ClerkEmulator, sync: Callable[[], SyncReport]) -> dict[str, Any]:
    """One sync, measured; a sync that fails (moto timing out under a big table, say) is a row with its error."""
    meter.reset()
    clerk.reset_stats()
    started = time.perf_counter()
    error = None
    summary: dict[str, int] = {}
    try:
        summary = dict(sync().summary)
    except Exception as failure:  # noqa: BLE001 - a failure is a result here, shown in the row
        error = f"{type(failure).__name__}: {str(failure)[:120]}"
    seconds = time.perf_counter() - started
    return {
        **meter.snapshot(),
        "seconds": round(seconds, 2),
        "clerk_calls": clerk.request_count(),
        "summary": summary,
        "error": error,
    }


def measure_bulk_syncs(user_memberships: int = 1200, org_members: tuple[int, ...] = (600, 5000)) -> dict[str, Any]:
    """A full user sync of a user with `user_memberships` memberships and a member sync of an organization of each
    size in `org_members`, each the first time and again with nothing changed in Clerk; keyed by a short label."""
    rows: dict[str, Any] = {}
    with bench_stack(CLERK_BUDGET_ENABLED="false") as bench:
        clerk = bench.clerk
        service = wiring.sync_service()
        user_id = _user_with_memberships(clerk, user_memberships)
        orgs = {size: _organization_with_members(clerk, size) for size in org_members}
        with metered() as meter:
            for label in ("first", "unchanged"):
                rows[f"user {user_memberships} {label}"] = _measured(
                    meter, clerk, partial(service.full_user_sync, user_id)
                )
            for size, org_id in orgs.items():
                for label in ("first", "unchanged"):
                    rows[f"members {size} {label}"] = _measured(
                        meter, clerk, partial(service.sync_organization_members, org_id)
                    )
    return rows


def sections(options: Any) -> list[Any]:
    """Item 3 for `clerk-sync bench all`: the bulk syncs, each a figure of its write requests against the goal
    (an unchanged re-sync writes only its subject's own profile) and, for a first sync, of its seconds against the
    sync route's budget. `--set bulk_memberships=N` and `--set bulk_members=600,5000` scale it."""
    from clerk_sync.api.settings import AccessSettings
    from clerk_sync_local.bench.figures import Figure, Goal, Section

    memberships = int(options.params.get("bulk_memberships", 1200))
    members = tuple(int(size) for size in str(options.params.get("bulk_members", "600,5000")).split(",") if size)
    budget = float(AccessSettings.model_fields["api_sync_budget_seconds"].default)
    rows = measure_bulk_syncs(memberships, members)
    section = Section("bulk", "Bulk syncs: first and again unchanged (inline, every page)")
    for label, row in rows.items():
        detail = (
            f"{row['requests']} requests ({', '.join(f'{k} {v}' for k, v in row['operations'].items())}), "
            f"{row['read_units']:g} RCU, {row['write_units']:g} WCU, {row['seconds']:.1f} s"
        )
        if row["error"]:
            detail = f"did not finish: {row['error']}"
        unchanged = label.endswith("unchanged")
        section.figures.append(
            Figure(
                f"{label}: write requests",
                row["write_requests"],
                "writes",
                Goal.bound(1) if unchanged else None,
                note=detail,
            )
        )
        if not unchanged:
            section.figures.append(Figure(f"{label}: time", row["seconds"], "s", Goal.bound(budget)))
    section.series["bulk"] = rows
    return [section]
