"""Where the current request came from, for audit rows written deep in services.

The middleware sets it per request; Celery tasks and commands leave it empty
(the event then has no address, which is the truth).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    # Who acts when a service is called with actor=None on behalf of a
    # machine client (e.g. "scim:okta"): the event's actor label.
    system_label: str = ""


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("audit_request", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)


def unbind(token: contextvars.Token) -> None:
    _current.reset(token)
