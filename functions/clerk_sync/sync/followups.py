"""The follow-ups port: work a use case leaves for the worker instead of doing it now.

A membership sync after a user webhook, the healing sync of a provisional record, the delayed second pass of a
user delete's cascade, the next step of a membership job. The queue implements it (`clerk_sync.queue.
QueuedFollowUps`); tests may pass their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from clerk_sync.vocabulary import SyncSource

if TYPE_CHECKING:
    from clerk_sync.jobs import Job


class FollowUps(Protocol):
    """Best effort unless said otherwise: a follow-up that cannot be queued is logged and the caller goes on."""

    @property
    def delivered(self) -> bool:
        """Whether follow-ups reach a worker at all (not without a queue: tests, tools)."""

    def sync_user(self, user_id: str, source: SyncSource, requested_at: int) -> None:
        """A real sync of a user written provisionally."""

    def sync_memberships(self, user_id: str, source: SyncSource, requested_at: int) -> None:
        """A sync of all the user's memberships."""

    def sync_membership(self, org_id: str, user_id: str, source: SyncSource, requested_at: int) -> None:
        """A real sync of a membership written provisionally."""

    def cascade_pass(self, user_id: str, source: SyncSource, requested_at: int, *, required: bool = False) -> None:
        """The delayed second pass of a user's cascade; `required` raises QueueUnavailableError when not queued."""

    def job_page(self, job: Job, offset: int, requested_at: int) -> None:
        """The next step of a membership job (at checkpoint `offset`); always required (raises
        QueueUnavailableError when not queued)."""

    def run_step(self, kind: str, run_id: str, step: int, requested_at: int) -> None:
        """The next step of a backfill or reconcile run in the worker; always required (raises
        QueueUnavailableError when not queued)."""
