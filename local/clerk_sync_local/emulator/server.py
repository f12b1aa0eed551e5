"""`ClerkEmulator`: the in-process Clerk instance and its uvicorn server on 127.0.0.1, in a background thread."""

from __future__ import annotations

import base64
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any, Self

import httpx

from ..servers import BackgroundServer, HttpService
from . import errors
from .app import ConnectionDropped, build_app
from .knobs import FaultInjector, Knobs, RequestStats
from .seed import seed_state
from .state import (
    JSON,
    ClerkState,
    IdGenerator,
    MembershipCreate,
    MembershipUpdate,
    MsClock,
    OrganizationCreate,
    OrganizationUpdate,
    PendingEvent,
    Role,
    UserCreate,
    UserUpdate,
)
from .tokens import DEFAULT_LIFETIME_S, TokenSigner, session_claims
from .webhooks import WebhookDispatcher

DEFAULT_SECRET_KEY = "sk_test_emulator"  # noqa: S105 - the emulator's own well-known test key
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"clerk-sync-emulator-webhook-key!").decode()
DEFAULT_AUTHORIZED_PARTY = "http://localhost:3000"

_uvicorn_filter_installed = False


class _DropFilter(logging.Filter):
    """Hide uvicorn's traceback for connections the outage knob cuts on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


def _install_log_filter() -> None:
    global _uvicorn_filter_installed  # noqa: PLW0603 - one filter per process, whatever the emulator count
    if not _uvicorn_filter_installed:
        logging.getLogger("uvicorn.error").addFilter(_DropFilter())
        _uvicorn_filter_installed = True


class ClerkEmulator(HttpService):
    """A Clerk instance for tests and the local stack: Backend API subset, admin API, webhooks, tokens."""

    def __init__(
        self,
        *,
        secret_key: str = DEFAULT_SECRET_KEY,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_url: str | None = None,
        instance_id: str = "ins_emulator",
        environment_type: str = "development",
        issuer: str | None = None,
        authorized_party: str | None = DEFAULT_AUTHORIZED_PARTY,
        seed: int | None = None,
        port: int = 0,
        knobs: Knobs | Mapping[str, Any] | None = None,
        signing_key_pem: str | None = None,
        roles: Mapping[str, Role] | None = None,
        webhook_transport: httpx.BaseTransport | None = None,
    ) -> None:
        # seed=None: fresh entropy; an int makes ids, fault dice and shuffles reproducible.
        master = random.Random(seed)
        self.secret_key = secret_key
        # One stable id per emulator: `GET /v1/instance` answers it and every webhook payload carries it.
        self.instance_id = instance_id
        self.environment_type = environment_type
        self.authorized_party = authorized_party
        self._issuer = issuer
        self._ids = IdGenerator(random.Random(master.getrandbits(64)))
        self.state = ClerkState(self._ids, MsClock(), roles)
        initial = knobs if isinstance(knobs, Knobs) else Knobs().with_changes(dict(knobs or {}))
        self.faults = FaultInjector(random.Random(master.getrandbits(64)), initial)
        self.request_stats = RequestStats()
        self.signer = TokenSigner(signing_key_pem)
        self.webhooks = WebhookDispatcher(
            instance_id=instance_id,
            secret=webhook_secret,
            url=webhook_url,
            knobs=lambda: self.faults.knobs,
            ids=self._ids,
            rng=random.Random(master.getrandbits(64)),
            transport=webhook_transport,
        )
        self._http = BackgroundServer(build_app(self), port=port, name="emulator", thread_name="clerk-emulator-http")

    # --- lifecycle ---

    def start(self) -> Self:
        """Bind 127.0.0.1 (port 0 picks a free one), serve in a background thread, start the webhook sender."""
        _install_log_filter()
        super().start()
        self.webhooks.start()
        return self

    def stop(self) -> None:
        """Stop the webhook sender and the HTTP server; idempotent."""
        self.webhooks.stop()
        super().stop()

    @property
    def instance(self) -> dict[str, Any]:
        """`GET /v1/instance`: what Clerk says about the instance the secret key belongs to."""
        return {
            "object": "instance",
            "id": self.instance_id,
            "environment_type": self.environment_type,
            "allowed_origins": [self.authorized_party] if self.authorized_party else None,
            "workspace_id": None,
        }

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def issuer(self) -> str:
        return self._issuer or self.url

    # --- data (every change publishes its webhooks while the state lock is held, so order = version order) ---

    def _publish(self, changes: list[PendingEvent], *, cascade: bool = False) -> None:
        for change in changes:
            if cascade and change.type == "organizationMembership.deleted" and not self.faults.knobs.cascade_webhooks:
                continue
            self.webhooks.publish(change)

    def create_user(
        self,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        external_id: str | None = None,
        email: str | None = None,
        email_addresses: Sequence[str] = (),
        phone_number: str | None = None,
        phone_numbers: Sequence[str] = (),
        public_metadata: JSON | None = None,
        private_metadata: JSON | None = None,
        unsafe_metadata: JSON | None = None,
        password_enabled: bool = False,
    ) -> JSON:
        """Create a user (`user.created`); returns the full Clerk user."""
        spec = UserCreate(
            first_name=first_name,
            last_name=last_name,
            username=username,
            external_id=external_id,
            email=email,
            email_addresses=list(email_addresses),
            phone_number=phone_number,
            phone_numbers=list(phone_numbers),
            public_metadata=public_metadata or {},
            private_metadata=private_metadata or {},
            unsafe_metadata=unsafe_metadata or {},
            password_enabled=password_enabled,
        )
        with self.state.lock:
            user, changes = self.state.create_user(spec)
            self._publish(changes)
            return user

    def update_user(self, user_id: str, **changes: Any) -> JSON:
        """Change the given fields (see `UserUpdate`) and bump `updated_at` (`user.updated`)."""
        spec = UserUpdate.model_validate(changes)
        with self.state.lock:
            user, events = self.state.update_user(user_id, spec)
            self._publish(events)
            return user

    def delete_user(self, user_id: str) -> JSON:
        """Delete a user: `organizationMembership.deleted` per membership, then `user.deleted`."""
        with self.state.lock:
            deleted, events = self.state.delete_user(
                user_id, bump_deleted_membership=self.faults.knobs.bump_deleted_membership
            )
            self._publish(events, cascade=True)
            return deleted

    def create_organization(
        self,
        name: str,
        *,
        slug: str | None = None,
        created_by: str | None = None,
        public_metadata: JSON | None = None,
        private_metadata: JSON | None = None,
        max_allowed_memberships: int = 0,
        admin_delete_enabled: bool = True,
    ) -> JSON:
        """Create an organization (`organization.created`); `created_by` joins as admin."""
        spec = OrganizationCreate(
            name=name,
            slug=slug,
            created_by=created_by,
            public_metadata=public_metadata or {},
            private_metadata=private_metadata or {},
            max_allowed_memberships=max_allowed_memberships,
            admin_delete_enabled=admin_delete_enabled,
        )
        with self.state.lock:
            org, events = self.state.create_organization(spec)
            self._publish(events)
            return org

    def update_organization(self, org_id: str, **changes: Any) -> JSON:
        """Change the given fields (see `OrganizationUpdate`) and bump `updated_at` (`organization.updated`)."""
        spec = OrganizationUpdate.model_validate(changes)
        with self.state.lock:
            org, events = self.state.update_organization(org_id, spec)
            self._publish(events)
            return org

    def delete_organization(self, org_id: str) -> JSON:
        """Delete an organization: `organizationMembership.deleted` per member, then `organization.deleted`."""
        with self.state.lock:
            deleted, events = self.state.delete_organization(
                org_id, bump_deleted_membership=self.faults.knobs.bump_deleted_membership
            )
            self._publish(events, cascade=True)
            return deleted

    def add_membership(
        self,
        org_id: str,
        user_id: str,
        role: str = "org:member",
        *,
        public_metadata: JSON | None = None,
        private_metadata: JSON | None = None,
    ) -> JSON:
        """Add a member (`organizationMembership.created`); re-adding after removal gives a new id."""
        spec = MembershipCreate(
            user_id=user_id, role=role, public_metadata=public_metadata or {}, private_metadata=private_metadata or {}
        )
        with self.state.lock:
            membership, events = self.state.add_membership(org_id, spec)
            self._publish(events)
            return membership

    def update_membership(self, org_id: str, user_id: str, **changes: Any) -> JSON:
        """Change role and/or metadata (`organizationMembership.updated`)."""
        spec = MembershipUpdate.model_validate(changes)
        with self.state.lock:
            membership, events = self.state.update_membership(org_id, user_id, spec)
            self._publish(events)
            return membership

    def remove_membership(self, org_id: str, user_id: str) -> JSON:
        """Remove a member (`organizationMembership.deleted` with the full membership)."""
        with self.state.lock:
            membership, events = self.state.remove_membership(
                org_id, user_id, bump_deleted_membership=self.faults.knobs.bump_deleted_membership
            )
            self._publish(events)
            return membership

    def seed_data(
        self,
        users: int = 10,
        organizations: int = 3,
        memberships_per_org: int = 3,
        seed: int = 0,
        webhooks: bool = True,
    ) -> dict[str, Any]:
        """Demo data, the same for the same seed; `webhooks=False` creates it without events."""
        with self.state.lock:
            return seed_state(
                self.state,
                self._publish if webhooks else (lambda changes: None),
                users=users,
                organizations=organizations,
                memberships_per_org=memberships_per_org,
                seed=seed,
            )

    def state_snapshot(self) -> JSON:
        """All live objects in API shape plus deleted ids."""
        return self.state.snapshot()

    def reset(self) -> None:
        """Forget all data, events, deliveries and stats, and restore default knobs (ids are never reused)."""
        with self.state.lock:
            self.state.reset()
            self.webhooks.clear()
            self.faults.reset()
            self.request_stats.reset()

    # --- session tokens ---

    def mint_token(
        self,
        user_id: str,
        org_id: str | None = None,
        *,
        expires_in: int = DEFAULT_LIFETIME_S,
        session_id: str | None = None,
        version: int = 2,
        **claims: Any,
    ) -> str:
        """An RS256 session token; `org_id` (id or slug) adds the org claim. Extra claims override, None removes."""
        with self.state.lock:
            known = self.state.has_user(user_id) or self.state.is_deleted_user(user_id)
            org = self.state.membership_claim(user_id, org_id) if org_id else None
        if not known:
            raise errors.resource_not_found()
        if org_id and org is None:
            raise errors.UnprocessableError(
                "not a member", "The user is not a member of the organization", "not_a_member_in_organization"
            )
        payload = session_claims(
            user_id=user_id,
            session_id=session_id or self._ids.new("sess"),
            issuer=self.issuer,
            authorized_party=self.authorized_party,
            expires_in=expires_in,
            org=org,
            version=version,
        )
        payload.update(claims)
        return self.signer.sign({k: v for k, v in payload.items() if v is not None})

    @property
    def jwks(self) -> JSON:
        return self.signer.jwks

    @property
    def public_key_pem(self) -> str:
        """The PEM for the networkless CLERK_JWT_KEY path."""
        return self.signer.public_key_pem

    # --- knobs, webhooks, stats ---

    @property
    def knobs(self) -> Knobs:
        return self.faults.knobs

    def set_knobs(self, **changes: Any) -> Knobs:
        """Change some knobs (validated; see `Knobs`); returns all of them."""
        knobs = self.faults.set(changes)
        self.webhooks.wake()
        return knobs

    def set_webhook(self, url: str | None, *, secret: str | None = None, extra_secrets: Sequence[str] = ()) -> None:
        """Where events go from now on (None: record only); `extra_secrets` add signatures, as during rotation."""
        self.webhooks.configure(url, secret, extra_secrets)

    @property
    def webhook_secret(self) -> str:
        return self.webhooks.secret

    @property
    def events(self) -> list[JSON]:
        """Every event published since the last reset, with its `msg_id` and payload."""
        return self.webhooks.events()

    @property
    def deliveries(self) -> list[JSON]:
        """Every delivery (duplicates included) with its status and attempts."""
        return self.webhooks.deliveries()

    def wait_for_deliveries(self, timeout: float = 10.0) -> None:
        """Block until no delivery is pending or in flight; raises TimeoutError."""
        if not self.webhooks.wait_idle(timeout):
            raise TimeoutError(f"webhook deliveries still pending after {timeout} s")

    @property
    def stats(self) -> JSON:
        """Backend API requests: `{"total": n, "routes": {"GET /v1/users/{user_id}": {"count", "by_status"}}}`."""
        return self.request_stats.snapshot()

    def request_count(self, route: str | None = None) -> int:
        """Backend API requests so far, for one route template (`GET /v1/users/{user_id}`) or all."""
        return self.request_stats.count(route)

    def reset_stats(self) -> None:
        self.request_stats.reset()
