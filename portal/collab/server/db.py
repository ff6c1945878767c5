"""Database work from the event loop: each call runs in a worker thread,
with Django's connection hygiene a request would get (a connection that is
too old or broken is replaced before use, and once more on failure)."""

from __future__ import annotations

import functools

import anyio.to_thread
from django.db import InterfaceError, OperationalError, close_old_connections, connection

# Threads for joins, leaves and look-ups of access; the rooms' writers have their own, so that storing
# updates never queues behind them.
_LIMITERS: dict[str, anyio.CapacityLimiter] = {}


def _limiter(kind: str = "call"):
    if kind not in _LIMITERS:
        _LIMITERS[kind] = anyio.CapacityLimiter(6 if kind == "call" else 4)
    return _LIMITERS[kind]


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


async def write(function, /, *args, **kwargs):
    """``function(*args, **kwargs)`` in one of the writers' threads (storing updates)."""
    return await anyio.to_thread.run_sync(functools.partial(_run, function, *args, **kwargs),
                                          limiter=_limiter("write"))

