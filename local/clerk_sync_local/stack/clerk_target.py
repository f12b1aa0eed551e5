"""Which Clerk the local stack talks to: its own emulator, or the real instance named in the environment.

`CLERK_SECRET_KEY` in the environment selects real Clerk. That mode then needs a webhook signing secret
(to verify what Clerk sends through a tunnel) and the issuer (to verify session tokens); the JWT key or
JWKS URL, authorized parties, admin ids and instance id are optional and passed through as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from clerk_sync.vocabulary import CLERK_API_URL

REAL_CLERK_SWITCH: Final = "CLERK_SECRET_KEY"
WEBHOOK_SECRET_VARIABLES: Final = ("CLERK_WEBHOOK_SIGNING_SECRET", "CLERK_WEBHOOK_SECRET")
# Passed to the handlers as found; the runtime's own defaults apply to the ones left unset.
OPTIONAL_VARIABLES: Final = (
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "CLERK_AUTHORIZED_PARTIES",
    "ADMIN_USER_IDS",
    "CLERK_INSTANCE_ID",
)


class ClerkTargetError(ValueError):
    """CLERK_SECRET_KEY asks for real Clerk, but the rest of its configuration is missing or malformed."""


@dataclass(frozen=True)
class RealClerk:
    """A real Clerk instance, as configured in the environment."""

    api_url: str
    secret_key: str
    webhook_secret: str
    issuer: str
    optional: tuple[tuple[str, str], ...] = ()

    def environment(self) -> dict[str, str]:
        """The Clerk variables the handlers read."""
        return {
            "CLERK_API_URL": self.api_url,
            "CLERK_SECRET_KEY": self.secret_key,
            "CLERK_WEBHOOK_SIGNING_SECRET": self.webhook_secret,
            "CLERK_ISSUER": self.issuer,
            **dict(self.optional),
        }

    @property
    def admin_user_ids(self) -> list[str]:
        raw = dict(self.optional).get("ADMIN_USER_IDS", "")
        return [part for part in raw.replace(",", " ").split() if part]


def _value(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def real_clerk_from_environment(env: Mapping[str, str]) -> RealClerk | None:
    """None when CLERK_SECRET_KEY is unset (use the emulator); else the instance, or an error naming what is missing."""
    secret_key = _value(env, REAL_CLERK_SWITCH)
    if not secret_key:
        return None
    webhook_secret = next((value for name in WEBHOOK_SECRET_VARIABLES if (value := _value(env, name))), "")
    issuer = _value(env, "CLERK_ISSUER").rstrip("/")
    missing = []
    if not webhook_secret:
        missing.append(" or ".join(WEBHOOK_SECRET_VARIABLES) + " (the endpoint's signing secret, whsec_...)")
    if not issuer:
        missing.append("CLERK_ISSUER (your Frontend API URL, e.g. https://your-app.clerk.accounts.dev)")
    if missing:
        raise ClerkTargetError(
            f"{REAL_CLERK_SWITCH} is set, so the stack uses real Clerk, but these are missing: " + "; ".join(missing)
        )
    problems = []
    if not secret_key.startswith("sk_"):
        problems.append(f"{REAL_CLERK_SWITCH} must be a Clerk secret key (sk_test_... or sk_live_...)")
    if any(not part.startswith("whsec_") for part in webhook_secret.replace(",", " ").split()):
        problems.append("the webhook signing secret must start with whsec_")
    api_url = (_value(env, "CLERK_API_URL") or CLERK_API_URL).rstrip("/")
    if api_url.endswith("/v1") or not api_url.startswith(("https://", "http://")):
        problems.append(f"CLERK_API_URL must be Clerk's base URL without /v1, e.g. {CLERK_API_URL}")
    if not issuer.startswith(("https://", "http://")):
        problems.append("CLERK_ISSUER must be a URL, e.g. https://your-app.clerk.accounts.dev")
    if problems:
        raise ClerkTargetError("; ".join(problems))
    optional = tuple((name, value) for name in OPTIONAL_VARIABLES if (value := _value(env, name)))
    return RealClerk(api_url, secret_key, webhook_secret, issuer, optional)
