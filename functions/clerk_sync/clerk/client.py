"""The Clerk Backend API calls clerk-sync makes, with retries, deadlines and call accounting.

One `ClerkClient` per process (built in `clerk_sync.wiring`), so its keep-alive connection survives between warm
Lambda invocations; each sync works through a `metered()` view of it that counts what that sync spent. Every
call takes a `deadline` (absolute, on the client's clock) or a `timeout_budget` (seconds from now) covering all
its attempts and pages; without either it gets the configured default.

With a `budget` (the shared Clerk rate budget, `clerk_sync.budget.shared`), every request first takes a token at
the view's priority (`metered(priority=...)`), waiting for one as long as the deadline allows; a 429 penalises
the budget. Without one (unit tests, a CLI without a table) requests go out as soon as they are made.

Lists page with `limit` (500, Clerk's maximum) and `offset`, and stop on a short page or when the offset
reaches `total_count`, so M items cost ceil(M/500) requests and an empty list one. Instance-wide lists
(users, organizations, all memberships) return one `Page` per call, so a resumable job can checkpoint the
offset; a user's or an organization's memberships are bounded and come
back whole as a `Listing` that also reports `total_count` and the requests spent.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar
from urllib.parse import quote

import httpx
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from clerk_sync.clerk.errors import (
    ClerkBudgetExhaustedError,
    ClerkDeadlineExceededError,
    ClerkError,
    ClerkRateLimitedError,
    ClerkResponseError,
    ClerkUnauthorizedError,
    ClerkUnavailableError,
    error_for_status,
    redact,
)
from clerk_sync.clerk.instance import ClerkInstance
from clerk_sync.clerk.limits import MAX_PAGE_SIZE, MAX_USER_IDS
from clerk_sync.clerk.retry import (
    Clock,
    RetryPolicy,
    Sleep,
    is_retryable_status,
    parse_retry_after,
    resolve_deadline,
)
from clerk_sync.clerk.settings import ClerkSettings
from clerk_sync.models import Membership, Organization, User
from clerk_sync.observability import child_logger
from clerk_sync.observability import shared_metrics as default_metrics
from clerk_sync.vocabulary import CLERK_API_URL, ClerkPriority

# Of the time left before a call's deadline, what a wait for the budget leaves for the request itself.
BUDGET_REQUEST_SHARE: Final = 0.25
BUDGET_REQUEST_SECONDS_MAX: Final = 1.0

logger = child_logger()

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

Params = Mapping[str, str | int | list[str]]  # a list repeats the parameter (`user_id=a&user_id=b`)


class MetricsSink(Protocol):
    """The part of Powertools `Metrics` the client uses; tests pass a recorder."""

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...


class ClerkBudget(Protocol):
    """The shared Clerk rate budget as the client uses it (`clerk_sync.budget.shared.SharedClerkBudget`)."""

    def take(self, priority: ClerkPriority, max_wait: float) -> float:
        """Takes one request's token, waiting at most `max_wait` seconds; returns the seconds waited.

        Raises `ClerkBudgetExhaustedError` when no token can be had in time; never fails otherwise (fail open).
        """
        ...

    def penalise(self, retry_after: float | None) -> None:
        """Clerk answered 429 (with `retry_after` seconds, if it said): slow every writer down for a while."""
        ...


@dataclass(slots=True)
class ClientStats:
    """Requests (retries included), 429s, retries, backoff spent, and waits for the shared budget: by a client since
    it was built, or by one metered view of it (`ClerkClient.metered`), i.e. one sync's cost against Clerk's rate
    limit."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    backoff_seconds: float = 0.0
    budget_waits: int = 0
    budget_wait_seconds: float = 0.0

    def add(
        self,
        *,
        requests: int = 0,
        rate_limited: int = 0,
        retries: int = 0,
        backoff_seconds: float = 0.0,
        budget_waits: int = 0,
        budget_wait_seconds: float = 0.0,
    ) -> None:
        self.requests += requests
        self.rate_limited += rate_limited
        self.retries += retries
        self.backoff_seconds += backoff_seconds
        self.budget_waits += budget_waits
        self.budget_wait_seconds += budget_wait_seconds


@dataclass(frozen=True)
class Page(Generic[T]):
    """One list response. `total_count` is None for `GET /users`, which returns a bare array."""

    items: list[T]
    limit: int
    offset: int
    total_count: int | None = None

    @property
    def next_offset(self) -> int | None:
        """The offset of the next page, or None when this one is the last."""
        end = self.offset + len(self.items)
        if len(self.items) < self.limit or (self.total_count is not None and end >= self.total_count):
            return None
        return end


@dataclass(frozen=True)
class Listing(Generic[T]):
    """A whole list, walked page by page: the items, Clerk's `total_count`, and what it cost."""

    items: list[T]
    total_count: int
    pages: int
    # HTTP requests made for this listing, retries included: what counts against Clerk's rate limit.
    calls: int

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class ClerkClient:
    """Clerk Backend API client: typed results, typed errors, retries within a deadline, stats."""

    def __init__(
        self,
        secret_key: str,
        *,
        base_url: str = CLERK_API_URL,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        timeout_budget: float = 10.0,
        retry: RetryPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        metrics: MetricsSink | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        budget: ClerkBudget | None = None,
        priority: ClerkPriority = ClerkPriority.MANUAL,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key is empty")
        if timeout_budget <= 0:
            raise ValueError("timeout_budget must be positive")
        self._api = base_url.rstrip("/") + "/v1"
        # Kept only to scrub it from transport error text; never logged or put in a message.
        self._secret_key = secret_key
        # Sent per request so a caller-supplied httpx.Client needs no setup of its own.
        self._headers = {
            "Authorization": f"Bearer {secret_key}",
            "Accept": "application/json",
            "User-Agent": "clerk-sync",
        }
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout),
            # Warm invocations can be minutes apart; httpx's 5 s default would drop the connection
            # between them. A connection Clerk closed meanwhile fails fast and is retried.
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10, keepalive_expiry=60.0),
        )
        self._default_budget = timeout_budget
        self._retry = retry or RetryPolicy()
        self._clock = clock
        self._sleep = sleep
        # Jitter is not security-sensitive; a private generator lets tests seed it.
        self._rng = rng or random.Random()  # noqa: S311
        self._metrics: MetricsSink = default_metrics if metrics is None else metrics
        self._on_unauthorized = on_unauthorized
        self._budget = budget
        self._priority = priority
        # What the client spent since it was built, shared with its metered views; `spent` is this view's own.
        self._totals = ClientStats()
        self.spent = self._totals
        self._meters: tuple[ClientStats, ...] = (self._totals,)

    @classmethod
    def from_settings(cls, settings: ClerkSettings, **overrides: Any) -> ClerkClient:
        """A client configured from `ClerkSettings`; keyword `overrides` win (transport, clock, ...)."""
        options: dict[str, Any] = {
            "base_url": settings.clerk_api_url,
            "connect_timeout": settings.clerk_connect_timeout_seconds,
            "read_timeout": settings.clerk_read_timeout_seconds,
            "timeout_budget": settings.clerk_timeout_budget_seconds,
            "retry": settings.retry_policy,
            **overrides,
        }
        return cls(settings.clerk_secret_key.get_secret_value(), **options)

    def __repr__(self) -> str:
        return f"ClerkClient(api={self._api!r})"

    def __enter__(self) -> ClerkClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool if the client built it."""
        if self._owns_http:
            self._http.close()

    @property
    def clock(self) -> Clock:
        """The clock deadlines are measured on (`time.monotonic` unless injected)."""
        return self._clock

    @property
    def priority(self) -> ClerkPriority:
        """The turn this client's (or view's) requests take at the shared budget."""
        return self._priority

    @property
    def budget(self) -> ClerkBudget | None:
        return self._budget

    @property
    def stats(self) -> ClientStats:
        """A snapshot of what the client spent so far (all its views): requests, 429s, retries, backoff time."""
        return copy.copy(self._totals)

    def metered(self, priority: ClerkPriority | None = None) -> ClerkClient:
        """A view of this client for one sync: same connection pool, settings, budget and totals, its own `spent`,
        and `priority` at the budget (None: this client's).

        One view per sync, so concurrent syncs (the local stack's threads) each count only their own requests.
        """
        view = copy.copy(self)
        view._owns_http = False  # closing a view must not close the shared pool
        if priority is not None:
            view._priority = priority
        view.spent = ClientStats()
        view._meters = (*self._meters, view.spent)  # a view of a view counts in both
        return view

    # --- single resources -------------------------------------------------------------------------

    def get_instance(self, *, deadline: float | None = None, timeout_budget: float | None = None) -> ClerkInstance:
        """`GET /instance`: the instance this secret key belongs to (id, development or production)."""
        operation = "GetInstance"
        response = self._get(operation, "/instance", None, self._deadline(deadline, timeout_budget))
        return _parse_model(operation, ClerkInstance, _json(operation, response))

    def get_user(self, user_id: str, *, deadline: float | None = None, timeout_budget: float | None = None) -> User:
        """`GET /users/{user_id}`; ClerkNotFoundError means the user was deleted."""
        operation = "GetUser"
        response = self._get(operation, f"/users/{_segment(user_id)}", None, self._deadline(deadline, timeout_budget))
        return _parse_model(operation, User, _json(operation, response))

    def get_organization(
        self, org_id_or_slug: str, *, deadline: float | None = None, timeout_budget: float | None = None
    ) -> Organization:
        """`GET /organizations/{id or slug}`; ClerkNotFoundError means the organization was deleted."""
        operation = "GetOrganization"
        response = self._get(
            operation,
            f"/organizations/{_segment(org_id_or_slug)}",
            None,
            self._deadline(deadline, timeout_budget),
        )
        return _parse_model(operation, Organization, _json(operation, response))

    def count_users(self, *, deadline: float | None = None, timeout_budget: float | None = None) -> int:
        """`GET /users/count`: the number of users in the instance."""
        operation = "GetUsersCount"
        payload = _json(operation, self._get(operation, "/users/count", None, self._deadline(deadline, timeout_budget)))
        total = payload.get("total_count") if isinstance(payload, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise ClerkResponseError("response has no integer total_count", operation=operation)
        return total

    # --- instance-wide lists: one page per call, or walked lazily ---------------------------------

    def list_users(
        self,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        starting_after: str | None = None,
        order_by: str | None = None,
        created_at_after: int | None = None,
        user_ids: Sequence[str] = (),
        deadline: float | None = None,
        timeout_budget: float | None = None,
    ) -> Page[User]:
        """One page of `GET /users` (newest first unless `order_by`; a bare array, so `total_count` is None).

        `starting_after` is Clerk's cursor (the last user id of the previous page) and needs `offset` 0;
        it costs the same at any depth, where a large `offset` gets slower. `created_at_after` (Unix ms, strictly
        after) with `order_by="+created_at"` is the stable key a backfill walks by; `user_ids` (at most 100) asks
        for these users only.
        """
        if starting_after is not None and offset:
            raise ValueError("starting_after cannot be combined with a non-zero offset")
        params: dict[str, str | int | list[str]] = {"limit": _limit(limit), "offset": _offset(offset)}
        if starting_after is not None:
            params["starting_after"] = starting_after
        if order_by is not None:
            params["order_by"] = order_by
        if created_at_after is not None:
            params["created_at_after"] = created_at_after
        if user_ids:
            params["user_id"] = _ids(user_ids)
        operation = "GetUserList"
        payload = _json(operation, self._get(operation, "/users", params, self._deadline(deadline, timeout_budget)))
        if not isinstance(payload, list):
            raise ClerkResponseError("expected a JSON array of users", operation=operation)
        return Page(_parse_models(operation, User, payload), limit=limit, offset=offset)

    def find_users_by_email(
        self, email: str, *, limit: int = 10, deadline: float | None = None, timeout_budget: float | None = None
    ) -> list[User]:
        """`GET /users?email_address=`: the users with this email address (Clerk matches it exactly)."""
        params: dict[str, str | int | list[str]] = {"limit": _limit(limit), "email_address": [email]}
        operation = "GetUserList"
        payload = _json(operation, self._get(operation, "/users", params, self._deadline(deadline, timeout_budget)))
        if not isinstance(payload, list):
            raise ClerkResponseError("expected a JSON array of users", operation=operation)
        return _parse_models(operation, User, payload)

    def list_organizations(
        self,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        order_by: str | None = None,
        organization_ids: Sequence[str] = (),
        deadline: float | None = None,
        timeout_budget: float | None = None,
    ) -> Page[Organization]:
        """One page of `GET /organizations` (newest first unless `order_by`) with `total_count`;
        `organization_ids` (at most 100) asks for these organizations only."""
        extra: dict[str, str | int | list[str]] = {}
        if order_by is not None:
            extra["order_by"] = order_by
        if organization_ids:
            extra["organization_id"] = _ids(organization_ids)
        return self._data_page(
            "ListOrganizations",
            "/organizations",
            Organization,
            limit=limit,
            offset=offset,
            deadline=self._deadline(deadline, timeout_budget),
            extra=extra,
        )

    def list_all_memberships(
        self,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        order_by: str | None = None,
        deadline: float | None = None,
        timeout_budget: float | None = None,
    ) -> Page[Membership]:
        """One page of the instance-wide `GET /organization_memberships` (for backfill) with `total_count`."""
        return self._data_page(
            "InstanceGetOrganizationMemberships",
            "/organization_memberships",
            Membership,
            limit=limit,
            offset=offset,
            deadline=self._deadline(deadline, timeout_budget),
            extra={"order_by": order_by} if order_by is not None else {},
        )

    # --- one user's or one organization's memberships: bounded, returned whole --------------------

    def list_user_memberships(
        self, user_id: str, *, deadline: float | None = None, timeout_budget: float | None = None
    ) -> Listing[Membership]:
        """All of a user's memberships, organizations embedded: ceil(M/500) requests, 1 when M is 0."""
        path = f"/users/{_segment(user_id)}/organization_memberships"
        return self._collect("UsersGetOrganizationMemberships", path, self._deadline(deadline, timeout_budget))

    def list_user_memberships_page(
        self,
        user_id: str,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        deadline: float | None = None,
        timeout_budget: float | None = None,
    ) -> Page[Membership]:
        """One page of `GET /users/{user_id}/organization_memberships` (organizations embedded)."""
        return self._data_page(
            "UsersGetOrganizationMemberships",
            f"/users/{_segment(user_id)}/organization_memberships",
            Membership,
            limit=limit,
            offset=offset,
            deadline=self._deadline(deadline, timeout_budget),
        )

    def list_organization_memberships_page(
        self,
        org_id: str,
        *,
        limit: int = MAX_PAGE_SIZE,
        offset: int = 0,
        deadline: float | None = None,
        timeout_budget: float | None = None,
    ) -> Page[Membership]:
        """One page of `GET /organizations/{org_id}/memberships`."""
        return self._data_page(
            "ListOrganizationMemberships",
            f"/organizations/{_segment(org_id)}/memberships",
            Membership,
            limit=limit,
            offset=offset,
            deadline=self._deadline(deadline, timeout_budget),
        )

    def find_organization_membership(
        self, org_id: str, user_id: str, *, deadline: float | None = None, timeout_budget: float | None = None
    ) -> Membership | None:
        """The user's membership in the organization (organization embedded), or None: one request.

        `GET /organizations/{org_id}/memberships?user_id=...`; ClerkNotFoundError means the organization is gone.
        """
        operation = "ListOrganizationMemberships"
        path = f"/organizations/{_segment(org_id)}/memberships"
        params: dict[str, str | int] = {"user_id": user_id, "limit": 1, "offset": 0}
        payload = _json(operation, self._get(operation, path, params, self._deadline(deadline, timeout_budget)))
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise ClerkResponseError("expected {data: [...], total_count: n}", operation=operation)
        found = [m for m in _parse_models(operation, Membership, data) if m.user_id == user_id]
        return found[0] if found else None

    def find_organization_memberships(
        self, org_id: str, user_ids: list[str], *, deadline: float | None = None, timeout_budget: float | None = None
    ) -> list[Membership]:
        """The memberships of these users (at most 100) in the organization, organization embedded: one request.

        `GET /organizations/{org_id}/memberships?user_id=...&user_id=...`; users who are not members are left out;
        ClerkNotFoundError means the organization is gone.
        """
        if not 1 <= len(user_ids) <= MAX_USER_IDS:
            raise ValueError(f"between 1 and {MAX_USER_IDS} user ids")
        if any(not user_id or user_id[0] in "+-" for user_id in user_ids):
            raise ValueError("a user id must not be empty or start with + or -")  # Clerk reads those as filters
        operation = "ListOrganizationMemberships"
        path = f"/organizations/{_segment(org_id)}/memberships"
        params: dict[str, str | int | list[str]] = {"user_id": list(user_ids), "limit": MAX_USER_IDS, "offset": 0}
        payload = _json(operation, self._get(operation, path, params, self._deadline(deadline, timeout_budget)))
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise ClerkResponseError("expected {data: [...], total_count: n}", operation=operation)
        wanted = set(user_ids)
        return [m for m in _parse_models(operation, Membership, data) if m.user_id in wanted]

    def list_organization_memberships(
        self, org_id: str, *, deadline: float | None = None, timeout_budget: float | None = None
    ) -> Listing[Membership]:
        """All of an organization's memberships: ceil(M/500) requests, 1 when M is 0."""
        path = f"/organizations/{_segment(org_id)}/memberships"
        return self._collect("ListOrganizationMemberships", path, self._deadline(deadline, timeout_budget))

    # --- paging ----------------------------------------------------------------------------------

    def _data_page(
        self,
        operation: str,
        path: str,
        model: type[M],
        *,
        limit: int,
        offset: int,
        deadline: float,
        extra: Params | None = None,
    ) -> Page[M]:
        """One `{data, total_count}` page."""
        params: dict[str, str | int | list[str]] = {"limit": _limit(limit), "offset": _offset(offset), **(extra or {})}
        payload = _json(operation, self._get(operation, path, params, deadline))
        data = payload.get("data") if isinstance(payload, dict) else None
        total = payload.get("total_count") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not isinstance(total, int):
            raise ClerkResponseError("expected {data: [...], total_count: n}", operation=operation)
        return Page(_parse_models(operation, model, data), limit=limit, offset=offset, total_count=total)

    def _collect(self, operation: str, path: str, deadline: float) -> Listing[Membership]:
        """Every page of a membership list under one deadline, de-duplicated by id."""
        view = self.metered()
        # Offsets shift if memberships change mid-walk; an item seen twice is kept once.
        by_id: dict[str, Membership] = {}
        offset: int | None = 0
        pages = 0
        total = 0
        while offset is not None:
            page = view._data_page(operation, path, Membership, limit=MAX_PAGE_SIZE, offset=offset, deadline=deadline)
            pages += 1
            total = page.total_count or 0
            for membership in page.items:
                by_id.setdefault(membership.id, membership)
            offset = page.next_offset
        return Listing(list(by_id.values()), total_count=total, pages=pages, calls=view.spent.requests)

    # --- one request, retried ----------------------------------------------------------------------

    def _deadline(self, deadline: float | None, timeout_budget: float | None) -> float:
        return resolve_deadline(
            self._clock, deadline=deadline, timeout_budget=timeout_budget, default_budget=self._default_budget
        )

    def _get(
        self,
        operation: str,
        path: str,
        params: Params | None,
        deadline: float,
    ) -> httpx.Response:
        """A 2xx response to `GET {api}{path}`, retrying 429/5xx/transport errors within policy and deadline."""
        url = self._api + path
        attempts = 0
        last: ClerkError | None = None
        while True:
            started = self._clock()
            remaining = deadline - started
            if remaining > 0 and self._budget is not None:
                started, remaining = self._take_budget(operation, deadline, remaining, attempts)
            if remaining <= 0:
                self._give_up(operation, last, attempts, "deadline")
                if isinstance(last, ClerkRateLimitedError):
                    # A backoff that overslept the deadline: still "slow down", with Clerk's Retry-After.
                    raise last from None
                raise ClerkDeadlineExceededError(
                    "deadline passed before the request could be sent",
                    operation=operation,
                    status=last.status if last else None,
                    attempts=attempts,
                )
            attempts += 1
            self._count(requests=1)
            retry_after: float | None = None
            try:
                response = self._http.get(url, params=params, headers=self._headers, timeout=self._timeout(remaining))
            except httpx.RequestError as exc:
                # Timeouts, refused or dropped connections (a kept-alive one Clerk closed while the Lambda was
                # frozen), corrupt bodies. Type and redacted text go into our message; the original is not
                # chained, so a caller's logger.exception cannot print anything unredacted.
                last = ClerkUnavailableError(
                    redact(f"{type(exc).__name__}: {exc}", self._secret_key), operation=operation, attempts=attempts
                )
                failure: ClerkError = last
            else:
                self._metrics.add_metric("ClerkCallLatency", MetricUnit.Milliseconds, (self._clock() - started) * 1000)
                if response.is_success:
                    return response
                status = response.status_code
                if status == 429:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    self._count(rate_limited=1)
                    self._metrics.add_metric("ClerkRateLimited", MetricUnit.Count, 1)
                    if self._budget is not None:
                        self._budget.penalise(retry_after)
                failure = last = error_for_status(
                    status,
                    _json_or_none(response),
                    operation=operation,
                    attempts=attempts,
                    retry_after=retry_after,
                    reason=response.reason_phrase,
                )
                if not is_retryable_status(status):
                    if isinstance(failure, ClerkUnauthorizedError) and self._on_unauthorized is not None:
                        self._on_unauthorized()
                    raise failure

            decision = self._retry.decide(
                attempts=attempts, now=self._clock(), deadline=deadline, rng=self._rng, retry_after=retry_after
            )
            if decision.action == "give_up":
                self._give_up(operation, failure, attempts, decision.reason)
                if decision.reason == "deadline" and not isinstance(failure, ClerkRateLimitedError):
                    raise ClerkDeadlineExceededError(
                        f"no time left to retry: {failure.message}",
                        operation=operation,
                        status=failure.status,
                        code=failure.code,
                        attempts=attempts,
                        trace_id=failure.trace_id,
                    ) from None
                raise failure from None
            logger.warning(
                "clerk call retrying",
                extra={
                    "operation": operation,
                    "status": failure.status,
                    "error": type(failure).__name__,
                    "attempt": attempts,
                    "wait_seconds": round(decision.wait, 3),
                    "retry_after": retry_after,
                },
            )
            self._metrics.add_metric("ClerkRetries", MetricUnit.Count, 1)
            self._count(retries=1, backoff_seconds=decision.wait)
            self._sleep(decision.wait)

    def _take_budget(self, operation: str, deadline: float, remaining: float, attempts: int) -> tuple[float, float]:
        """One token of the shared budget for the next attempt, waiting at most what leaves the request its time;
        the clock and the time left after the wait."""
        assert self._budget is not None
        max_wait = max(0.0, remaining - min(BUDGET_REQUEST_SECONDS_MAX, remaining * BUDGET_REQUEST_SHARE))
        try:
            waited = self._budget.take(self._priority, max_wait)
        except ClerkBudgetExhaustedError as exhausted:
            self._note_budget_wait(exhausted.waited)
            refused = ClerkBudgetExhaustedError(
                exhausted.message,
                retry_after=exhausted.retry_after,
                waited=exhausted.waited,
                operation=operation,
                attempts=attempts,
            )
            self._give_up(operation, refused, attempts, "budget")
            raise refused from None
        self._note_budget_wait(waited)
        now = self._clock()
        return now, deadline - now

    def _note_budget_wait(self, waited: float) -> None:
        if waited > 0:
            self._count(budget_waits=1, budget_wait_seconds=waited)
            self._metrics.add_metric("ClerkBudgetWait", MetricUnit.Seconds, waited)

    def _timeout(self, remaining: float) -> httpx.Timeout:
        """The configured timeouts, shortened so one attempt cannot outlive the deadline by much."""
        connect = min(self._connect_timeout, remaining)
        read = min(self._read_timeout, remaining)
        return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)

    def _give_up(self, operation: str, failure: ClerkError | None, attempts: int, reason: str) -> None:
        logger.error(
            "clerk call gave up",
            extra={
                "operation": operation,
                "status": failure.status if failure else None,
                "error": type(failure).__name__ if failure else None,
                "attempts": attempts,
                "reason": reason,
            },
        )

    def _count(self, **amounts: Any) -> None:
        for stats in self._meters:
            stats.add(**amounts)


def _segment(value: str) -> str:
    """`value` as exactly one URL path segment, so no id can address another endpoint."""
    # "", "." and ".." would turn `GET /users/{id}` into `GET /users` or `GET /` (URLs drop dot segments).
    if value in ("", ".", ".."):
        raise ValueError("id must be a non-empty string other than '.' or '..'")
    return quote(value, safe="")


def _ids(ids: Sequence[str]) -> list[str]:
    """Ids for a list filter: at most 100, none empty or starting with + or - (Clerk reads those as filters)."""
    if len(ids) > MAX_USER_IDS:
        raise ValueError(f"at most {MAX_USER_IDS} ids")
    if any(not one or one[0] in "+-" for one in ids):
        raise ValueError("an id must not be empty or start with + or -")
    return list(ids)


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return limit


def _offset(offset: int) -> int:
    if offset < 0:
        raise ValueError("offset must not be negative")
    return offset


def _json(operation: str, response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        # Not chained: JSONDecodeError keeps the whole body (maybe emails) in `.doc`.
        raise ClerkResponseError(
            "response body is not JSON", operation=operation, status=response.status_code
        ) from None


def _json_or_none(response: httpx.Response) -> Any:
    """An error body if it is JSON; a proxy's HTML 502 is not."""
    try:
        return response.json()
    except ValueError:
        return None


def _parse_model(operation: str, model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise _shape_error(operation, model, exc) from None


def _parse_models(operation: str, model: type[M], payload: list[Any]) -> list[M]:
    try:
        return [model.model_validate(item) for item in payload]
    except ValidationError as exc:
        raise _shape_error(operation, model, exc) from None


def _shape_error(operation: str, model: type[BaseModel], exc: ValidationError) -> ClerkResponseError:
    # Field locations only: pydantic's own text quotes the input, which may be an email address.
    fields = sorted({".".join(str(part) for part in error["loc"]) or "<root>" for error in exc.errors()})
    return ClerkResponseError(
        f"response does not fit {model.__name__} ({exc.error_count()} errors at {', '.join(fields[:5])})",
        operation=operation,
    )
