"""The one error hierarchy. ``infra.compose.api`` maps it to HTTP status in one place."""

from __future__ import annotations

from typing import Any


class BuildspaceError(Exception):
    status = 500
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["fields"] = [{"field": self.field, "message": self.message}]
        return {"error": body | self.details}


class Invalid(BuildspaceError):
    status = 422
    code = "invalid"


class NotFound(BuildspaceError):
    status = 404
    code = "not_found"


class Conflict(BuildspaceError):
    status = 409
    code = "conflict"

class Malformed(BuildspaceError):
    status = 400
    code = "malformed"


class Unauthorized(BuildspaceError):
    status = 401
    code = "unauthorized"


class Forbidden(BuildspaceError):
    status = 403
    code = "forbidden"


class TooLarge(BuildspaceError):
    status = 413
    code = "too_large"


class RateLimited(BuildspaceError):
    status = 429
    code = "rate_limited"


class Unavailable(BuildspaceError):
    """Infrastructure we depend on did not answer (re-raised ``from None``)."""

    status = 503
    code = "unavailable"


class Undecryptable(BuildspaceError):
    """Build variables that do not decrypt with this platform's key."""

    status = 500
    code = "undecryptable"


class RunnerError(BuildspaceError):
    """A runner could not start a build (refused, misconfigured, no capacity)."""

    status = 503
    code = "runner_error"
