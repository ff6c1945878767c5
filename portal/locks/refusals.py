"""Writes a lock refused, waiting to be recorded.

A refusal raised inside a transaction rolls that transaction back, and an
audit event written inside would go with it. So the refusal is held here
(per request, or per service call) and recorded once the transaction is
gone, the way token.rejected is recorded outside the request's work.
"""

from __future__ import annotations

import contextvars

_held: contextvars.ContextVar[list | None] = contextvars.ContextVar("lock_refusals", default=None)


def collect() -> contextvars.Token:
    """Start holding refusals (a request begins)."""
    return _held.set([])


def hold(exc) -> None:
    held = _held.get()
    if held is not None:
        held.append(exc)


def release(token: contextvars.Token) -> list:
    """Stop holding; the refusals held meanwhile, to be recorded."""
    held = _held.get() or []
    _held.reset(token)
    return held
