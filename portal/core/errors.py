"""One error type for the whole portal.

Services raise these; the API's exception handler renders every one of them as
``{"code": ..., "message": ..., "detail": {...}}`` with the status it carries.
Messages say what happened and what to do about it, in the requester's
language: raising code passes ``gettext("... %(name)s ...") % {...}``, so a
request's active language (LocaleMiddleware) translates it at raise time; the
``code`` stays the stable English identifier clients match on.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext


class PortalError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 detail: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.detail = detail or {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


class InvalidInput(PortalError):
    status = 400
    code = "invalid_input"


class NotAuthenticated(PortalError):
    status = 401
    code = "not_authenticated"


class Forbidden(PortalError):
    status = 403
    code = "forbidden"


class NotFound(PortalError):
    status = 404
    code = "not_found"


class Conflict(PortalError):
    status = 409
    code = "conflict"


class Locked(PortalError):
    status = 423
    code = "locked"


class PreconditionFailed(PortalError):
    status = 412
    code = "precondition_failed"


class QuotaExceeded(PortalError):
    status = 507
    code = "quota_exceeded"


class Throttled(PortalError):
    status = 429
    code = "throttled"


class Restoring(PortalError):
    """The bytes are in an archive tier: a restore was asked for, and a
    read works again in ``minutes`` (sent as Retry-After)."""
    status = 503
    code = "restoring"

    def __init__(self, message: str, *, minutes: int, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.minutes = minutes
        self.detail.setdefault("ready_in_minutes", minutes)

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(60, self.minutes * 60))}


class StorageUnavailable(PortalError):
    status = 503
    code = "storage_unavailable"

    def __init__(self, message: str | None = None, **kwargs: Any):
        if message is None:
            message = gettext("The object store is not answering; nothing was changed. Try again in a moment.")
        super().__init__(message, **kwargs)


class ServiceUnavailable(PortalError):
    """A service Coffer needs for this request (Redis: the guessing limits,
    the cache, the task queue) is not answering. Nothing guarded by it ran;
    the client may try again after ``retry_after`` seconds (sent as Retry-After)."""
    status = 503
    code = "unavailable"

    def __init__(self, message: str | None = None, *, retry_after: int = 30, **kwargs: Any):
        if message is None:
            message = gettext("Coffer cannot reach one of its services right now. "
                              "Try again in a minute; if it persists, tell an administrator.")
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
