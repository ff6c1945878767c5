"""The WebDAV request being served, for code wsgidav calls without its
environ (the lock storage, error translation)."""

from __future__ import annotations

import contextvars

current_environ: contextvars.ContextVar[dict | None] = contextvars.ContextVar("dav_environ", default=None)

# Set when a service already recorded the lock refusal it raised (lock.write_refused).
REFUSAL_RECORDED = "coffer.dav.refusal_recorded"
