"""The caller as the authorizer saw them: passed to the routes in the authorizer's simple-response context.

API Gateway carries context values as strings, numbers and booleans only, so the model flattens to those.
A request whose token did not verify still reaches the routes (isAuthorized true, `authenticated` false)
because an HTTP API simple response can only deny with 403; the routes answer it with 401 and the reason
(docs/decisions/0008). A deleted user is denied by the authorizer itself (403).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class Caller(BaseModel):
    """Who is calling; an unauthenticated caller carries only `denial`, `status` and `message`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    authenticated: bool
    userId: str = ""  # noqa: N815 - API Gateway context keys, as clients see them in logs
    sessionId: str = ""  # noqa: N815
    orgId: str = ""  # noqa: N815
    orgRole: str = ""  # noqa: N815
    orgSlug: str = ""  # noqa: N815
    platformAdmin: bool = False  # noqa: N815
    provisional: bool = False
    loginSource: str = ""  # noqa: N815
    denial: str = ""
    status: int = 0
    message: str = ""

    @classmethod
    def unauthenticated(cls, code: str, message: str, status: int = 401) -> Caller:
        return cls(authenticated=False, denial=code, status=status, message=message)

    def context(self) -> dict[str, str | int | bool]:
        """The authorizer context: only the fields that say something."""
        return {name: value for name, value in self.model_dump().items() if value not in ("", None)}

    @classmethod
    def from_context(cls, context: Any) -> Caller:
        """The caller from `requestContext.authorizer.lambda`; a route without one is unauthenticated."""
        if not isinstance(context, dict) or "authenticated" not in context:
            return cls.unauthenticated("token_missing", "no session token was verified for this request")
        try:
            return cls.model_validate(context)
        except ValidationError:
            return cls.unauthenticated("token_malformed", "the authorizer context is not readable")
