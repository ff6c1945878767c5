"""Guessing protection for link passwords and security codes.

Counters live in the shared cache (Redis in production), so every portal
process sees them:

- per (link, address): the first few failures are free, then each further
  answer must wait twice as long as the last (1 s, 2 s, 4 s, ...), and after
  SHARE_FAILURES_PER_ADDRESS failures in the window the address gets 429
  until the window (counted from its first failure) is over;
- per link, across all addresses: at most SHARE_FAILURES_PER_LINK_HOUR
  failures an hour, so a distributed attack is bounded too. A visitor who
  already unlocked the link keeps access (views check that first), and a
  fresh address is told exactly when to retry.

Throttled answers are not evaluated, so they never count as failures.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache

from portal.core.errors import Throttled

FREE_FAILURES = 3


def _now() -> float:
    return time.time()


def _keys(link_id: int, address: str) -> tuple[str, str, str]:
    base = f"share:fail:{link_id}:{address or 'unknown'}"
    return f"{base}:n", f"{base}:first", f"{base}:last"


def _link_key(link_id: int, now: float) -> tuple[str, float]:
    bucket = int(now // 3600)
    return f"share:fail:{link_id}:hour:{bucket}", (bucket + 1) * 3600.0


def _refuse(retry_at: float, now: float, reason: str) -> Throttled:
    wait = max(1, int(retry_at - now + 0.999))
    when = datetime.fromtimestamp(retry_at, tz=UTC)
    return Throttled(f"Too many wrong answers {reason}. Try again in {wait} seconds "
                     f"(at {when:%H:%M:%S} UTC).", code="throttled",
                     detail={"retry_after": wait, "retry_at": when.isoformat(), "scope": reason})


def check(link_id: int, address: str) -> None:
    """Raise Throttled when this address may not answer for this link yet."""
    now = _now()
    count_key, first_key, last_key = _keys(link_id, address)
    values = cache.get_many([count_key, first_key, last_key])
    failures, first, last = values.get(count_key, 0), values.get(first_key), values.get(last_key)
    window = settings.SHARE_FAILURE_WINDOW_MINUTES * 60
    if first is not None and now - first >= window:
        cache.delete_many([count_key, first_key, last_key])
        failures = 0
    if failures >= settings.SHARE_FAILURES_PER_ADDRESS:
        raise _refuse(first + window, now, "from your address")
    if failures >= FREE_FAILURES and last is not None:
        retry_at = last + 2 ** (failures - FREE_FAILURES)
        if now < retry_at:
            raise _refuse(retry_at, now, "from your address")
    link_key, bucket_end = _link_key(link_id, now)
    if (cache.get(link_key) or 0) >= settings.SHARE_FAILURES_PER_LINK_HOUR:
        raise _refuse(bucket_end, now, "for this link")


def failed(link_id: int, address: str) -> None:
    now = _now()
    count_key, first_key, last_key = _keys(link_id, address)
    window = settings.SHARE_FAILURE_WINDOW_MINUTES * 60
    cache.add(first_key, now, timeout=window)
    cache.add(count_key, 0, timeout=window)
    cache.incr(count_key)
    cache.set(last_key, now, timeout=window)
    link_key, _ = _link_key(link_id, now)
    cache.add(link_key, 0, timeout=7200)
    cache.incr(link_key)


def succeeded(link_id: int, address: str) -> None:
    cache.delete_many(list(_keys(link_id, address)))
