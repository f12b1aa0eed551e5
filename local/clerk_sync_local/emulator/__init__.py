"""Clerk emulator: a local Clerk instance (Backend API subset, Svix-signed webhooks, session tokens, faults).

Local tooling only; never shipped to Lambda. Start with `ClerkEmulator().start()` or `with ClerkEmulator() as clerk:`.
"""

from .knobs import Knobs
from .server import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, ClerkEmulator
from .state import DEFAULT_ROLES, Role

__all__ = ["DEFAULT_ROLES", "DEFAULT_SECRET_KEY", "DEFAULT_WEBHOOK_SECRET", "ClerkEmulator", "Knobs", "Role"]
