"""The soak: scenarios of random Clerk histories delivered badly, with faults injected, each ending compared with Clerk.

A scenario is a fresh deployment (moto wiped, a new emulator seeded from the scenario's seed) and a sequence of
steps drawn at random: a Clerk change (its webhooks scheduled 1-3 times, each copy delayed 0-N steps), a delivery
of a due copy (picked at random among the due ones: shuffled), a worker batch, a login, a manual sync. Before a
step, with probability `fault_rate`, one fault that can hit that step is armed for it, and disarmed after:

    delivery    sqs_unavailable (SendMessage fails all five SDK attempts: 503, Svix retries later),
                sqs_lost_response (stored, answer lost: the SDK sends it again), or a Clerk fault
    batch       worker_crash_before_delete, worker_crash_mid_batch, worker_second_receive, a Clerk fault, or
                dynamodb_throttle (1-2, the SDK absorbs them), dynamodb_error (one call fails all five SDK
                attempts), dynamodb_lost_response, dynamodb_unprocessed (batch items handed back)
    login/sync  a Clerk fault, dynamodb_throttle, dynamodb_error
    Clerk       clerk_429 (1 request per 1-2 s), clerk_5xx (half or all requests fail), clerk_timeout (slower than
                the read timeout), clerk_outage (503s or dropped connections); a Clerk fault is an episode that
                lasts 1-4 faultable steps (an outage 2-25), so a record can use up its receives and be dead-lettered

A fault counts as injected when it fired (a batch had messages, Clerk or DynamoDB saw a request under it). When
the changes are made and every copy delivered (or given up after Svix's attempts), the scenario recovers with
faults off: the rest delivered, the queue drained, dead letters replayed and drained, the table compared with the
emulator (`convergence.differences`) and the ledger checked for lost events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from clerk_sync import wiring
from clerk_sync_local.emulator import ClerkEmulator, Knobs
from clerk_sync_local.soak.aws_faults import (
    DYNAMODB_BATCHES,
    DYNAMODB_WRITES,
    LOST_RESPONSE,
    SERVER_ERROR,
    THROTTLE,
    UNPROCESSED,
    Fault,
)
from clerk_sync_local.soak.changes import RandomChanges
from clerk_sync_local.soak.world import CLERK_READ_TIMEOUT_SECONDS, Reply, SoakWorld, describe, environment_applied
from clerk_sync_local.stack.moto import LocalMoto

SDK_ATTEMPTS: Final = 5  # botocore standard mode with `max_attempts: 4` retries
SVIX_ATTEMPTS: Final = 8
SEND: Final = frozenset({"SendMessage"})

CLERK_FAULTS: Final = ("clerk_429", "clerk_5xx", "clerk_timeout", "clerk_outage")
# A Clerk episode may begin at a delivery too: it lasts into the batches and logins that follow.
DELIVERY_FAULTS: Final = ("sqs_unavailable", "sqs_lost_response", *CLERK_FAULTS)
DYNAMODB_FAULTS: Final = ("dynamodb_throttle", "dynamodb_error", "dynamodb_lost_response", "dynamodb_unprocessed")
WORKER_CRASHES: Final = {
    "worker_crash_before_delete": "before_delete",
    "worker_crash_mid_batch": "mid_batch",
    "worker_second_receive": "second_worker",
}
# Events that may come with a tie (same version, other content), and the field the tie changes.
TIE_FIELDS: Final = {"user.updated": "first_name", "organization.updated": "name"}
TIE_PROBABILITY: Final = 0.1
BATCH_FAULTS: Final = (*WORKER_CRASHES, *CLERK_FAULTS, *DYNAMODB_FAULTS)
API_FAULTS: Final = (*CLERK_FAULTS, "dynamodb_throttle", "dynamodb_error")


@dataclass(frozen=True)
class SoakOptions:
    scenarios: int = 20
    seed: int = 1
    max_seconds: float = 480.0
    fault_rate: float = 0.2
    changes: int = 40
    max_copies: int = 3
    max_delay_steps: int = 12


@dataclass
class ScenarioResult:
    seed: int
    seconds: float
    differences: list[str]
    lost: list[str]
    broken_answers: list[str]
    still_dead_lettered: list[str]
    undelivered: list[str]

    @property
    def ok(self) -> bool:
        return not (self.differences or self.lost or self.broken_answers)


@dataclass
class SoakReport:
    options: SoakOptions
    seconds: float = 0.0
    results: list[ScenarioResult] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    worker: Counter[str] = field(default_factory=Counter)
    syncs: Counter[str] = field(default_factory=Counter)
    api: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)

    @property
    def mismatches(self) -> int:
        return sum(len(result.differences) for result in self.results)

    @property
    def lost(self) -> int:
        return sum(len(result.lost) for result in self.results)

    @property
    def broken_answers(self) -> int:
        return sum(len(result.broken_answers) for result in self.results)

    @property
    def exit_code(self) -> int:
        """Non-zero when an event was lost, the table ended unlike Clerk, or the API broke a promise (a 5xx that
        is not a 503 with Retry-After)."""
        return 1 if self.lost or self.mismatches or self.broken_answers else 0

    def lines(self) -> list[str]:
        e, o, w, options = self.events, self.outcomes, self.worker, self.options
        faults = ", ".join(f"{kind} {n}" for kind, n in sorted(self.faults.items())) or "none"
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses.items())) or "none"
        lines = [
            f"soak: {len(self.results)} scenarios in {self.seconds:.0f} s (seed {options.seed}, fault rate "
            f"{options.fault_rate:.2f}, {options.changes} Clerk changes each)",
            f"  events sent: {e['events']} events, {e['copies']} deliveries ({e['copies'] - e['events']} duplicates), "
            f"{e['attempts']} attempts: {e['accepted']} accepted, {e['refused']} refused (Svix retried them)",
            f"  worker: applied {o['applied']}, stale {o['stale']}, duplicate {o['duplicate']}, "
            f"tombstoned {o['tombstoned']}, needs_refetch {o['needs_refetch']}; {w['batches']} batches, "
            f"{w['failed_records']} failed records (retried by SQS), {w['crashes']} crashes",
            f"  dead-lettered {e['dead_lettered'] + w['dead_lettered_syncs']} "
            f"({e['dead_lettered']} events, {w['dead_lettered_syncs']} queued syncs), "
            f"replayed {e['replayed'] + w['replayed_syncs']}, still dead-lettered "
            f"{sum(len(r.still_dead_lettered) for r in self.results)}",
            f"  queued syncs: {self.syncs['run']} run, {self.syncs['failed']} failed (and retried)",
            f"  API: {self.api['login']} logins, {self.api['sync']} manual syncs; {statuses}; "
            f"broken answers {self.broken_answers}",
            f"  faults injected: {sum(self.faults.values())}: {faults}",
            f"  undelivered after {SVIX_ATTEMPTS} attempts: {sum(len(r.undelivered) for r in self.results)}",
            f"  mismatches with Clerk at the end: {self.mismatches}",
            f"  lost events: {self.lost}",
        ]
        for result in self.results:
            if result.ok:
                continue
            lines.append(
                f"  scenario seed {result.seed} FAILED (reproduce: clerk-sync soak --seed {result.seed} --scenarios 1)"
            )
            lines += [f"    mismatch: {line}" for line in result.differences[:10]]
            lines += [f"    lost: {msg_id}" for msg_id in result.lost[:10]]
            lines += [f"    broken answer: {line}" for line in result.broken_answers[:10]]
        return lines


@dataclass
class _Episode:
    """A Clerk fault in progress: its knobs stay set for `steps` more faultable steps."""

    kind: str
    steps: int
    disarm: Callable[[], bool]


@dataclass
class _Copy:
    """One copy of an event on its way to the webhook, as Svix holds it."""

    event: dict[str, Any]
    due: int
    attempts: int = 0


def _broken(route: str, reply: Reply) -> str | None:
    """What is wrong with an answer, if anything: a 5xx other than the product's 503 with Retry-After, or a 429
    without it (invariant 10 and "never a 500")."""
    if reply.status in (429, 503) and reply.error_code is not None:
        return None if reply.headers.get("retry-after") else f"{route}: {reply.status} without Retry-After"
    if reply.status >= 500:
        return f"{route}: {reply.status} {reply.body}"
    return None


class Scenario:
    def __init__(self, world: SoakWorld, options: SoakOptions, seed: int, deadline: float) -> None:
        self.world = world
        self.options = options
        self.seed = seed
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.changes = RandomChanges(world.clerk, random.Random(self.rng.getrandbits(64)))
        self.outbox: list[_Copy] = []
        self.step = 0
        self.faults: Counter[str] = Counter()
        self.api: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.broken: list[str] = []
        self.undelivered: list[str] = []
        self._episode: _Episode | None = None
        self._ties = 0

    # ---- faults -----------------------------------------------------------------------------------

    def _arm(self, kind: str) -> Callable[[], bool]:
        """Arms one fault for the coming step; the returned function disarms it and says whether it fired."""
        world = self.world
        if kind in CLERK_FAULTS:
            knobs = self._clerk_knobs(kind)
            defaults = Knobs()
            before = world.clerk.request_count()
            world.clerk.set_knobs(**knobs)

            def disarm_clerk() -> bool:
                world.clerk.set_knobs(**{name: getattr(defaults, name) for name in knobs})
                return world.clerk.request_count() > before

            return disarm_clerk
        fault = self._aws_fault(kind)
        before_fired = world.faults.fired[kind]
        world.faults.plan(fault)

        def disarm_aws() -> bool:
            fault.times = 0
            return world.faults.fired[kind] > before_fired

        return disarm_aws

    def _clerk_knobs(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "clerk_429":
            return {"rate_limit": 1, "rate_limit_window_s": rng.choice([1.0, 2.0])}
        if kind == "clerk_5xx":
            return {"error_rate": rng.choice([0.5, 1.0]), "error_statuses": [500, 502, 503]}
        if kind == "clerk_timeout":
            return {"latency_ms": int(CLERK_READ_TIMEOUT_SECONDS * 1000) + 200}
        return {"outage": True, "outage_mode": rng.choice(["unavailable", "drop"])}

    def _aws_fault(self, kind: str) -> Fault:
        rng = self.rng
        match kind:
            case "dynamodb_throttle":
                return Fault(THROTTLE, "dynamodb", None, times=rng.choice([1, 1, 2]), label=kind)
            case "dynamodb_error":
                return Fault(SERVER_ERROR, "dynamodb", None, times=SDK_ATTEMPTS, skip=rng.randrange(4), label=kind)
            case "dynamodb_lost_response":
                return Fault(LOST_RESPONSE, "dynamodb", DYNAMODB_WRITES, skip=rng.randrange(3), label=kind)
            case "dynamodb_unprocessed":
                return Fault(UNPROCESSED, "dynamodb", DYNAMODB_BATCHES, times=rng.choice([1, 2]), label=kind)
            case "sqs_unavailable":
                return Fault(SERVER_ERROR, "sqs", SEND, times=SDK_ATTEMPTS, label=kind)
            case "sqs_lost_response":
                return Fault(LOST_RESPONSE, "sqs", SEND, label=kind)
        raise ValueError(f"unknown fault {kind!r}")

    @contextmanager
    def _maybe_fault(self, kinds: tuple[str, ...]) -> Iterator[str | None]:
        """The step runs under the Clerk episode in progress, or, with probability `fault_rate`, under a fault drawn
        from `kinds` (a Clerk one starts an episode of several steps: outages and storms outlast a request)."""
        episode = self._episode
        if episode is None:
            kind = self.rng.choice(kinds) if self.rng.random() < self.options.fault_rate else None
            if kind is None or kind in WORKER_CRASHES:
                yield kind
                return
            disarm = self._arm(kind)
            if kind not in CLERK_FAULTS:
                try:
                    yield kind
                finally:
                    if disarm():
                        self.faults[kind] += 1
                return
            episode = self._episode = _Episode(kind, self._episode_steps(kind), disarm)
        try:
            yield episode.kind
        finally:
            episode.steps -= 1
            if episode.steps <= 0:
                self._end_episode()

    def _episode_steps(self, kind: str) -> int:
        """How many faultable steps a Clerk fault lasts: an outage long enough, now and then, for a record to use
        up its five receives and land in the DLQ."""
        if kind == "clerk_outage":
            return self.rng.choice([2, 5, 10, 25])
        return self.rng.choice([1, 1, 2, 4])

    def _end_episode(self) -> None:
        episode, self._episode = self._episode, None
        if episode is not None and episode.disarm():
            self.faults[episode.kind] += 1

    # ---- steps ------------------------------------------------------------------------------------

    def _schedule_new_events(self) -> None:
        for event in self.world.new_events():
            self._schedule(event)
            if event["type"] in TIE_FIELDS and self.rng.random() < TIE_PROBABILITY:
                self._schedule(self._tie(event))

    def _schedule(self, event: dict[str, Any]) -> None:
        """Svix's copies of one event (1 to `max_copies`), each due after its own delay."""
        copies = self.rng.choices(range(1, self.options.max_copies + 1), weights=[6, 3, 1][: self.options.max_copies])
        for _ in range(copies[0]):
            self.world.ledger.scheduled(event["msg_id"], event["type"])
            self.outbox.append(_Copy(event, self.step + self.rng.randint(0, self.options.max_delay_steps)))

    def _tie(self, event: dict[str, Any]) -> dict[str, Any]:
        """Another event at the same `updated_at` with other content (two changes in one millisecond): only a
        refetch from Clerk can settle it, and Clerk's answer is what the table must end with."""
        self._ties += 1
        payload = json.loads(json.dumps(event["payload"]))
        payload["data"][TIE_FIELDS[event["type"]]] = f"tie {self._ties}"
        return {"msg_id": f"msg_tie_{self.seed}_{self._ties}", "type": event["type"], "payload": payload}

    def _deliver(self, copy: _Copy) -> None:
        with self._maybe_fault(DELIVERY_FAULTS):
            reply = self.world.post_event(copy.event)
        copy.attempts += 1
        if 200 <= reply.status < 300:
            self.outbox.remove(copy)
        elif copy.attempts >= SVIX_ATTEMPTS:
            self.outbox.remove(copy)
            self.undelivered.append(copy.event["msg_id"])
        else:
            copy.due = self.step + self.rng.randint(1, 4)  # Svix's backoff, in steps

    def _batch(self) -> None:
        with self._maybe_fault(BATCH_FAULTS) as kind:
            crash = WORKER_CRASHES.get(kind or "")
            held = self.world.run_batch(crash, writes_before_crash=self.rng.randrange(4))
        if crash is not None and held:
            self.faults[kind or ""] += 1

    def _caller(self) -> tuple[str, list[str]] | None:
        changes = self.changes
        if changes.deleted_users and self.rng.random() < 0.15:
            return self.rng.choice(changes.deleted_users), []
        if not changes.users:
            return None
        user_id = self.rng.choice(changes.users)
        return user_id, changes.memberships_of(user_id)

    def _login(self) -> None:
        caller = self._caller()
        if caller is None:
            return
        user_id, orgs = caller
        org = self.rng.choice(orgs) if orgs and self.rng.random() < 0.6 else None
        with self._maybe_fault(API_FAULTS):
            reply = self.world.call("GET", "/api/sync/status", token=self.world.token(user_id, org))
        self._tally("login", "GET /api/sync/status", reply)

    def _manual_sync(self) -> None:
        caller = self._caller()
        if caller is None:
            return
        user_id, orgs = caller
        routes: list[tuple[str, str | None, Any]] = [
            ("/api/sync/user", None, None),
            ("/api/sync/user/organizations", None, None),
        ]
        for org_id in orgs:
            routes += [
                (f"/api/sync/organization/{org_id}", org_id, None),
                (f"/api/sync/organization/{org_id}/members", org_id, None),
                ("/api/sync/membership", org_id, {"clerkOrgId": org_id, "clerkUserId": user_id}),
            ]
        path, active_org, payload = self.rng.choice(routes)
        with self._maybe_fault(API_FAULTS):
            reply = self.world.call_json("POST", path, self.world.token(user_id, active_org), payload)
        self._tally("sync", f"POST {path}", reply)

    def _tally(self, kind: str, route: str, reply: Reply) -> None:
        self.api[kind] += 1
        self.statuses[reply.status] += 1
        problem = _broken(route, reply)
        if problem:
            self.broken.append(problem)

    # ---- the scenario ----------------------------------------------------------------------------------

    def run(self) -> ScenarioResult:
        started = time.monotonic()
        options = self.options
        while True:
            out_of_time = time.monotonic() > self.deadline
            changing = self.changes.applied < options.changes and not out_of_time
            due = [copy for copy in self.outbox if copy.due <= self.step]
            if not changing and (not self.outbox or out_of_time):
                break
            steps: list[tuple[str, float]] = [("batch", 3.0), ("login", 0.7), ("sync", 0.7)]
            if changing:
                steps.append(("change", 3.0))
            if due:
                steps.append(("deliver", 4.0))
            action = self.rng.choices([name for name, _ in steps], weights=[weight for _, weight in steps])[0]
            match action:
                case "change":
                    self.changes.step()
                    self._schedule_new_events()
                case "deliver":
                    self._deliver(self.rng.choice(due))
                case "batch":
                    self._batch()
                case "login":
                    self._login()
                case "sync":
                    self._manual_sync()
            self.step += 1
        return self._recover(time.monotonic() - started)

    def _recover(self, elapsed: float) -> ScenarioResult:
        """Faults off; the rest delivered, the queue drained, dead letters replayed; then the end state."""
        world = self.world
        self._end_episode()
        world.faults.clear()
        for copy in list(self.outbox):
            while copy.attempts < SVIX_ATTEMPTS:
                copy.attempts += 1
                if 200 <= world.post_event(copy.event).status < 300:
                    break
            else:
                self.undelivered.append(copy.event["msg_id"])
        self.outbox.clear()
        world.new_events()  # a login or sync may have found nothing new; Clerk's own events are all scheduled
        world.drain()
        dead = world.dead_letters()
        if dead:
            world.replay(dead)
            world.drain()
        still = world.dead_letters()
        ledger = world.ledger
        return ScenarioResult(
            seed=self.seed,
            seconds=elapsed,
            differences=world.differences(),
            lost=ledger.lost(),
            broken_answers=self.broken,
            still_dead_lettered=[describe(message) for message in still],
            undelivered=sorted(set(self.undelivered)),
        )


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """The product logs every event it handles: thousands of lines in a soak. Only criticals get through its
    handler, which the helper modules' child loggers propagate to as well."""
    from clerk_sync.observability import logger

    handler = logger.registered_handler
    previous = handler.level
    handler.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        handler.setLevel(previous)


def run_soak(
    options: SoakOptions,
    *,
    progress: Callable[[ScenarioResult, int], None] | None = None,
    quiet: bool = True,
) -> SoakReport:
    """Runs up to `options.scenarios` scenarios, starting none once `max_seconds` have passed."""
    started = time.monotonic()
    deadline = started + options.max_seconds
    report = SoakReport(options)
    # moto's backends are process-wide: names of its own, so state another server left behind cannot clash.
    moto = LocalMoto(prefix=f"clerk-sync-soak-{uuid.uuid4().hex[:8]}")
    moto.start()
    try:
        with _quiet_logs() if quiet else contextlib.nullcontext():
            for index in range(options.scenarios):
                if index and time.monotonic() > deadline:
                    break
                seed = options.seed + index
                with ClerkEmulator(seed=seed) as clerk:
                    world = SoakWorld(moto, clerk, prefix="clerk-sync-soak")
                    world.reset()
                    with environment_applied(world.environment()):
                        world.wire()
                        try:
                            scenario = Scenario(world, options, seed, deadline)
                            result = scenario.run()
                        finally:
                            wiring.reset()
                _collect(report, world, scenario, result)
                if progress is not None:
                    progress(result, index)
    finally:
        moto.stop()
    report.seconds = time.monotonic() - started
    return report


def _collect(report: SoakReport, world: SoakWorld, scenario: Scenario, result: ScenarioResult) -> None:
    report.results.append(result)
    report.events.update(world.ledger.totals())
    report.outcomes.update(world.ledger.outcomes())
    stats = world.worker
    report.worker.update(
        batches=stats.batches,
        failed_records=stats.failed_records,
        crashes=stats.crashes,
        dead_lettered_syncs=world.ledger.dead_lettered_syncs,
        replayed_syncs=world.ledger.replayed_syncs,
    )
    report.syncs.update(
        run=sum(tally.run for tally in world.ledger.syncs.values()),
        failed=sum(tally.failed for tally in world.ledger.syncs.values()),
    )
    report.api.update(scenario.api)
    report.statuses.update(scenario.statuses)
    report.faults.update(scenario.faults)
