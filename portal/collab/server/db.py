"""Database work from the event loop: each call runs in a worker thread,
with Django's connection hygiene a request would get (a connection that is
too old or broken is replaced before use, and once more on failure)."""

from __future__ import annotations

import functools

import anyio.to_thread
from django.db import InterfaceError, OperationalError, close_old_connections, connection

# Enough threads for joins, leaves, rechecks and each room's writer at once; few enough for the database.
_LIMITER = None


def _limiter():
    global _LIMITER
    if _LIMITER is None:
        _LIMITER = anyio.CapacityLimiter(8)
    return _LIMITER


def _run(function, *args, **kwargs):
    close_old_connections()
    try:
        return function(*args, **kwargs)
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block:
            raise
        connection.close()  # a connection the database dropped: once more on a fresh one
        return function(*args, **kwargs)


async def call(function, /, *args, **kwargs):
    """``function(*args, **kwargs)`` in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(_run, function, *args, **kwargs), limiter=_limiter())

