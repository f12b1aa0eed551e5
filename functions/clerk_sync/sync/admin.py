"""What the operator console reads (the /api/admin/* routes): the overview, find, a record's page with its
history, the dead letters and the jobs. Reads only, each bounded (pages, limits, a deadline), through the store; the
one write is a DLQ replay (send-then-delete, as the CLI's). Platform-admin checks are the route's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from clerk_sync import keys
from clerk_sync.items import client_view
from clerk_sync.runs import Run, RunKind

if TYPE_CHECKING:
    from clerk_sync.budget.bucket import BucketLimits
    from clerk_sync.clerk.client import ClerkClient
    from clerk_sync.dlq import DeadLetterQueue
    from clerk_sync.jobs import Job
    from clerk_sync.store import ClerkBudgetItem, JobStore, SyncStore, WebhookFreshness
    from clerk_sync.store.counts import RecordCounter
    from clerk_sync.store.history import History
    from clerk_sync.store.runs import RunStore

MEMBERSHIPS_SHOWN: Final = 200
OUTCOME_HOURS: Final = 24
RECENT_JOBS: Final = 50
DLQ_SHOWN: Final = 100
HISTORY_ENTITIES: Final = ("user", "organization", "membership")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def hours_before(now_ms: int, count: int = OUTCOME_HOURS) -> list[str]:
    """The `count` UTC hours up to and including now's, oldest first (`YYYY-MM-DDTHH`)."""
    now = datetime.fromtimestamp(now_ms / 1000, UTC).replace(minute=0, second=0, microsecond=0)
    return [(now - timedelta(hours=back)).strftime("%Y-%m-%dT%H") for back in range(count - 1, -1, -1)]


class DeadLettersNotConfiguredError(Exception):
    """DLQ_URL is not set: there are no dead letters to show or replay."""


@dataclass(frozen=True)
class Found:
    kind: str  # "user" | "organization"
    id: str
    label: str
    deleted: bool
    on_record: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _user_label(item: dict[str, Any]) -> str:
    name = " ".join(str(item[n]) for n in ("first_name", "last_name") if item.get(n))
    email = item.get("primary_email")
    parts = [p for p in (name, str(email) if email else "", str(item.get("username") or "")) if p]
    return parts[0] if parts else str(item.get("user_id", ""))


def _provenance(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "sync_source": item.get("sync_source"),
        "synced_at": _int(item.get("synced_at")),
        "version": _int(item.get("version")),
        "provisional": bool(item.get("provisional")),
        "deleted": bool(item.get("deleted")),
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def run_summary(run: Run, *, drift: bool) -> dict[str, Any]:
    """A run as the overview and the jobs list show it: status, times, progress; drift (reconcile) or totals."""
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "kind": run.kind.value,
        "status": run.status.value,
        "started_at": run.started_at,
        "updated_at": run.updated_at,
        "finished_at": run.finished_at,
        "step": run.step,
        "dry_run": run.dry_run,
        "error": run.error,
        "cursors": {name: cursor.model_dump(mode="json") for name, cursor in run.cursors.items()},
        "totals": run.totals().model_dump(mode="json"),
    }
    if drift:
        summary["drift"] = dict(run.drift)
        summary["checked"] = run.checked
        summary["repaired"] = run.repaired
    return summary


class Admin:
    """The console's reads over the store, the Clerk client (email find) and the DLQ (None: not configured)."""

    def __init__(
        self,
        store: SyncStore,
        *,
        history: History,
        runs: RunStore,
        jobs: JobStore,
        freshness: WebhookFreshness,
        counter: RecordCounter,
        clerk: Callable[[], ClerkClient],
        budget: ClerkBudgetItem | None = None,
        budget_limits: BucketLimits | None = None,
        dead_letters: Callable[[float], DeadLetterQueue] | None = None,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self._store = store
        self._history = history
        self._runs = runs
        self._jobs = jobs
        self._freshness = freshness
        self._counter = counter
        self._clerk = clerk
        self._budget = budget
        self._budget_limits = budget_limits
        self._dead_letters = dead_letters
        self._now_ms = now_ms

    # ---- overview ----------------------------------------------------------------------------------

    def overview(self, *, deadline: float) -> dict[str, Any]:
        now = self._now_ms()
        last = self._freshness.last()
        reconcile = self._runs.current(RunKind.RECONCILE)
        backfill = self._runs.current(RunKind.BACKFILL)
        return {
            "generated_at": now,
            "records": self._counter.counts(deadline=deadline).as_dict(),
            "last_webhook_at": last.at if last else None,
            "seconds_since_last_webhook": max(0, (now - last.at) // 1000) if last else None,
            "dlq": {"depth": self._dead_letters(deadline).count() if self._dead_letters else None},
            "last_reconcile": run_summary(reconcile, drift=True) if reconcile else None,
            "last_backfill": run_summary(backfill, drift=False) if backfill else None,
            "clerk_budget": self._clerk_budget(now),
            "outcomes": self.outcomes(now),
        }

    def outcomes(self, now_ms: int) -> list[dict[str, Any]]:
        """The last 24 UTC hours, oldest first, each present (zeros when nothing was written)."""
        from clerk_sync.outcomes import Outcome

        hours = hours_before(now_ms)
        summed = self._history.outcomes(hours)
        zeros = {outcome.value: 0 for outcome in Outcome}
        return [{"hour": hour, **zeros, **summed.get(hour, {})} for hour in hours]

    def _clerk_budget(self, now_ms: int) -> dict[str, Any] | None:
        if self._budget is None or self._budget_limits is None:
            return None
        from clerk_sync.budget.bucket import refill

        limits = self._budget_limits
        state = self._budget.load()
        answer: dict[str, Any] = {
            "limit_per_10s": limits.rate_limit,
            "bulk_share": limits.bulk_share,
            "capacity": limits.capacity,
            "used": 0,
            "tokens": limits.capacity,
            "penalty_until": None,
            "updated_at": None,
        }
        if state is None:
            return answer
        now = refill(state, limits, now_ms / 1000)
        answer.update(
            used=round(max(0.0, limits.capacity - now.tokens), 2),
            tokens=round(now.tokens, 2),
            penalty_until=round(now.penalty_until * 1000) if now.penalty_until else None,
            updated_at=round(state.updated_at * 1000),
        )
        return answer

    # ---- find --------------------------------------------------------------------------------------

    def find(self, query: str, *, deadline: float) -> list[Found]:
        """A user id, an organization id (on record), or an email address (Clerk's exact match, then the table)."""
        if query.startswith("user_"):
            return [self._user_found(query)]
        if query.startswith("org_"):
            item = self._store.get_organization(query)
            label = str(item.get("name") or item.get("slug") or query) if item else query
            return [Found("organization", query, label, bool(item and item.get("deleted")), item is not None)]
        clerk = self._clerk()
        users = clerk.find_users_by_email(query, deadline=deadline)
        return [self._user_found(user.id) for user in users]

    def _user_found(self, user_id: str) -> Found:
        item = self._store.get_user(user_id)
        label = _user_label(item) if item else user_id
        return Found("user", user_id, label, bool(item and item.get("deleted")), item is not None)

    # ---- record pages ------------------------------------------------------------------------------

    def user_page(self, user_id: str) -> dict[str, Any] | None:
        """The user as stored, its provenance, its live memberships (organization names) and history; None when
        neither the table nor the history knows it."""
        item = self._store.get_user(user_id)
        history = self.history("user", user_id)
        if item is None and not history["entries"]:
            return None
        found = self._store.user_memberships_page(user_id, limit=MEMBERSHIPS_SHOWN + 1)
        shown = found[:MEMBERSHIPS_SHOWN]
        orgs = {
            str(org["org_id"]): org
            for org in self._store.get_many([keys.org_key(str(m["org_id"])) for m in shown])
            if "org_id" in org
        }
        memberships = [
            {
                "org_id": str(m["org_id"]),
                "role": m.get("role"),
                "organization_name": orgs.get(str(m["org_id"]), {}).get("name"),
                **_provenance(m),
            }
            for m in shown
        ]
        return {
            "user": client_view(item) if item else None,
            "provenance": _provenance(item) if item else None,
            "memberships": memberships,
            "memberships_truncated": len(found) > MEMBERSHIPS_SHOWN,
            "history": history,
        }

    def organization_page(self, org_id: str) -> dict[str, Any] | None:
        """The organization as stored, its provenance, its first 200 memberships and its history."""
        item = self._store.get_organization(org_id)
        history = self.history("organization", org_id)
        if item is None and not history["entries"]:
            return None
        found = self._store.organization_memberships_page(org_id, limit=MEMBERSHIPS_SHOWN + 1)
        memberships = [
            {
                "org_id": org_id,
                "user_id": m.get("user_id"),
                "role": m.get("role"),
                "label": _user_label(m.get("public_user_data") or {}) or m.get("user_id"),
                **_provenance(m),
            }
            for m in found[:MEMBERSHIPS_SHOWN]
        ]
        return {
            "organization": client_view(item) if item else None,
            "provenance": _provenance(item) if item else None,
            "memberships": memberships,
            "memberships_truncated": len(found) > MEMBERSHIPS_SHOWN,
            "history": history,
        }

    def history(self, entity: str, entity_id: str, *, before: int | None = None, limit: int = 50) -> dict[str, Any]:
        """One page of an entity's history, newest first; `next_before` continues it (None: the last page)."""
        # One more than asked: whether another page follows, without a second request.
        entries = self._history.entries(entity, entity_id, limit=limit + 1, before_ms=before)
        page = entries[:limit]
        counts = self._history.counts(entity, entity_id)
        return {
            "entries": [entry.as_dict() for entry in page],
            "counts": {
                "stale": counts.stale,
                "duplicate": counts.duplicate,
                "last_stale_at": counts.last_stale_at,
                "last_duplicate_at": counts.last_duplicate_at,
            },
            # Entries are keyed by time then a reference: `before` is exclusive of that millisecond's start.
            "next_before": page[-1].at if len(entries) > limit else None,
            "enabled": self._history.enabled,
        }

    # ---- dead letters and jobs ---------------------------------------------------------------------

    def dead_letters(self, *, deadline: float) -> dict[str, Any]:
        queue = self._queue(deadline)
        letters = queue.peek(DLQ_SHOWN)
        depth = queue.count()
        return {
            "depth": depth,
            "messages": [letter.summary() for letter in letters],
            "truncated": len(letters) < depth,
        }

    def replay(self, message_ids: Sequence[str] | None, *, deadline: float) -> dict[str, Any]:
        """Replays these dead letters (None: every one, up to 100 a call), send-then-delete."""
        queue = self._queue(deadline)
        result = queue.replay_each(DLQ_SHOWN) if message_ids is None else queue.replay_ids(message_ids)
        return {
            "replayed": result.moved,
            "not_found": result.missing,
            "failed": result.failed,
            "left": result.left,
        }

    def _queue(self, deadline: float) -> DeadLetterQueue:
        if self._dead_letters is None:
            raise DeadLettersNotConfiguredError("no dead-letter queue is configured (DLQ_URL)")
        return self._dead_letters(deadline)

    def jobs(self) -> dict[str, Any]:
        recent: list[Job] = self._jobs.recent(RECENT_JOBS)
        runs = [run for kind in RunKind if (run := self._runs.current(kind)) is not None]
        runs.sort(key=lambda run: run.started_at, reverse=True)
        return {
            "jobs": [job.model_dump(mode="json") for job in recent],
            "runs": [run_summary(run, drift=run.kind is RunKind.RECONCILE) for run in runs],
        }
