"""Load helpers for the local stack: timed calls, latency percentiles, and what counts as back-pressure."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# The answers clients are told to retry (README "The sync API", DESIGN invariant 10), and only with Retry-After.
BACK_PRESSURE_STATUSES = frozenset({429, 503})


def is_back_pressure(response: httpx.Response) -> bool:
    """A documented "try again later": 429 or 503 that says when, in whole seconds."""
    retry_after = response.headers.get("retry-after", "")
    return response.status_code in BACK_PRESSURE_STATUSES and retry_after.strip().isdigit()


def percentile(values: Iterable[float], share: float) -> float:
    """Nearest-rank percentile (`share` in 0..1) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Sample:
    """Latencies (ms) and statuses of one kind of call."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int, elapsed_ms: float) -> None:
        with self._lock:  # sender threads share a sample; Counter's += is a read and a write
            self.statuses[status] += 1
            self.latencies_ms.append(elapsed_ms)

    def line(self) -> str:
        if not self.latencies_ms:
            return f"{self.name}: no calls"
        values = self.latencies_ms
        statuses = ", ".join(f"{count}x{status}" for status, count in sorted(self.statuses.items()))
        return (
            f"{self.name}: {len(values)} calls ({statuses}); latency p50 {percentile(values, 0.5):.0f} ms, "
            f"p95 {percentile(values, 0.95):.0f} ms, max {max(values):.0f} ms"
        )


@dataclass
class Report:
    """What a load test prints for the record: one line per sample, then free-form lines."""

    title: str
    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def sample(self, name: str) -> Sample:
        for existing in self.samples:
            if existing.name == name:
                return existing
        created = Sample(name)
        self.samples.append(created)
        return created

    def text(self) -> str:
        lines = [self.title, *(f"  {s.line()}" for s in self.samples), *(f"  {note}" for note in self.notes)]
        return "\n".join(lines)


class BacklogGate:
    """Holds senders while a queue's backlog is above `limit`, polling `depth()` from one thread.

    For the local stack only: moto's ReceiveMessage walks every message on the queue (~0.7 ms each), so a
    backlog of hundreds makes every batch the worker takes slower, a cost SQS does not have.
    """

    def __init__(self, depth: Callable[[], int], limit: int, interval: float = 0.2) -> None:
        self._depth = depth
        self._limit = limit
        self._interval = interval
        self._open = threading.Event()
        self._open.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="backlog-gate", daemon=True)
        self.closed_seconds = 0.0  # wall time the gate was shut
        self.peak = 0  # the largest backlog seen

    def _watch(self) -> None:
        closed_at: float | None = None
        while not self._stop.wait(self._interval):
            depth = self._depth()
            self.peak = max(self.peak, depth)
            if depth > self._limit and closed_at is None:
                closed_at = time.perf_counter()
                self._open.clear()
            elif depth <= self._limit and closed_at is not None:
                self.closed_seconds += time.perf_counter() - closed_at
                closed_at = None
                self._open.set()
        if closed_at is not None:
            self.closed_seconds += time.perf_counter() - closed_at

    def wait(self) -> None:
        self._open.wait()

    def __enter__(self) -> BacklogGate:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._open.set()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used so far (Linux /proc), or None where that cannot be read.

    Wall-clock numbers on a shared 2-core machine mostly measure the neighbours; CPU time is the stack's own cost.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of proc(5) (utime, stime), counted after the ")" that ends the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
