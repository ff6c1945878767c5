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

An answer is evaluated only after ``reserve`` counted it as a failure in the
same atomic step that checked the limits (one Lua script on Redis; an
exclusive file lock around the same steps in the embedded mode), so parallel
answers cannot all pass the check before any of them is counted. A right
answer then clears the address's counters and gives the link its slot back.
Throttled answers are not evaluated, so they never count as failures.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.translation import ngettext

from portal.core.errors import Throttled

FREE_FAILURES = 3
LINK_KEY_SECONDS = 7200

# KEYS: count, first, last, link-hour. ARGV: now, window, per-address limit,
# free failures, per-link limit, end of the hour, reserve (1) or check (0).
# Answers {0} (go on), {1, retry_at} (this address waits) or {2, retry_at} (the link does).
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('GET', KEYS[2])
local last = redis.call('GET', KEYS[3])
first = first and tonumber(first)
last = last and tonumber(last)
if first and now - first >= window then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  n, first, last = 0, nil, nil
end
if n >= tonumber(ARGV[3]) then return {1, tostring(first + window)} end
local free = tonumber(ARGV[4])
if n >= free and last then
  local retry_at = last + 2 ^ (n - free)
  if now < retry_at then return {1, tostring(retry_at)} end
end
if tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[5]) then return {2, ARGV[6]} end
if ARGV[7] == '1' then
  if first then
    redis.call('INCR', KEYS[1])
  else
    redis.call('SET', KEYS[1], 1, 'EX', window)
    redis.call('SET', KEYS[2], ARGV[1], 'EX', window)
  end
  redis.call('SET', KEYS[3], ARGV[1], 'EX', window)
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[8]))
end
return {0}
"""


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
    if reason == "for this link":
        text = ngettext("Too many wrong answers for this link. Try again in %(count)d second (at %(time)s UTC).",
                        "Too many wrong answers for this link. Try again in %(count)d seconds (at %(time)s UTC).",
                        wait)
    else:
        text = ngettext("Too many wrong answers from your address. Try again in %(count)d second "
                        "(at %(time)s UTC).",
                        "Too many wrong answers from your address. Try again in %(count)d seconds "
                        "(at %(time)s UTC).", wait)
    return Throttled(text % {"count": wait, "time": f"{when:%H:%M:%S}"}, code="throttled",
                     detail={"retry_after": wait, "retry_at": when.isoformat(), "scope": reason})


def _redis():
    """The Redis client behind the default cache, or None in the embedded mode."""
    backend = caches["default"]
    return backend._cache.get_client(write=True) if isinstance(backend, RedisCache) else None


def _raise_for(verdict: int, retry_at: float, now: float) -> None:
    if verdict == 1:
        raise _refuse(retry_at, now, "from your address")
    if verdict == 2:
        raise _refuse(retry_at, now, "for this link")


def _step(link_id: int, address: str, *, reserve: bool) -> None:
    now = _now()
    window = settings.SHARE_FAILURE_WINDOW_MINUTES * 60
    link_key, bucket_end = _link_key(link_id, now)
    keys = [*_keys(link_id, address), link_key]
    client = _redis()
    if client is not None:
        answer = client.eval(_RESERVE, 4, *(cache.make_key(key) for key in keys), repr(now), window,
                             settings.SHARE_FAILURES_PER_ADDRESS, FREE_FAILURES, settings.SHARE_FAILURES_PER_LINK_HOUR,
                             repr(bucket_end), "1" if reserve else "0", LINK_KEY_SECONDS)
        if int(answer[0]):
            _raise_for(int(answer[0]), float(answer[1]), now)
        return
    with _file_lock():
        verdict, retry_at = _embedded_step(keys, now, window, bucket_end, reserve=reserve)
    _raise_for(verdict, retry_at, now)


def _embedded_step(keys: list[str], now: float, window: int, bucket_end: float, *,
                   reserve: bool) -> tuple[int, float]:
    """The Lua script's steps on the Django cache; the caller holds the lock."""
    count_key, first_key, last_key, link_key = keys
    values = cache.get_many(keys)
    failures, first, last = values.get(count_key, 0), values.get(first_key), values.get(last_key)
    if first is not None and now - first >= window:
        cache.delete_many([count_key, first_key, last_key])
        failures, first, last = 0, None, None
    if failures >= settings.SHARE_FAILURES_PER_ADDRESS:
        return 1, first + window
    if failures >= FREE_FAILURES and last is not None and now < last + 2 ** (failures - FREE_FAILURES):
        return 1, last + 2 ** (failures - FREE_FAILURES)
    if values.get(link_key, 0) >= settings.SHARE_FAILURES_PER_LINK_HOUR:
        return 2, bucket_end
    if reserve:
        if first is None:
            cache.set_many({count_key: 1, first_key: now}, timeout=window)
        else:
            cache.set(count_key, failures + 1, timeout=max(1, int(first + window - now)))
        cache.set(last_key, now, timeout=window)
        cache.set(link_key, values.get(link_key, 0) + 1, timeout=LINK_KEY_SECONDS)
    return 0, 0.0


@contextmanager
def _file_lock():
    """Without Redis the portal runs on one machine: an exclusive lock on a
    file serialises the check and the count across its processes and threads."""
    path = Path(settings.VAR_DIR) / "share-throttle.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check(link_id: int, address: str) -> None:
    """Raise Throttled when this address may not answer for this link yet (counts nothing)."""
    _step(link_id, address, reserve=False)


def reserve(link_id: int, address: str) -> None:
    """Before an answer is evaluated: raise Throttled when this address may
    not answer yet, else count the answer as a failure in the same atomic
    step (``succeeded`` takes it back when the answer is right)."""
    _step(link_id, address, reserve=True)


def failed(link_id: int, address: str) -> None:
    """The reserved answer was wrong: the next delay runs from now, when its
    evaluation ended (never shorter than from when it began)."""
    _, _, last_key = _keys(link_id, address)
    window = settings.SHARE_FAILURE_WINDOW_MINUTES * 60
    client = _redis()
    if client is not None:
        client.set(cache.make_key(last_key), repr(_now()), ex=window, xx=True)
        return
    with _file_lock():
        if cache.get(last_key) is not None:
            cache.set(last_key, _now(), timeout=window)


_GIVE_BACK = "if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end"


def succeeded(link_id: int, address: str) -> None:
    """The reserved answer was right: the address starts afresh and the link gets its slot back."""
    keys = list(_keys(link_id, address))
    link_key, _ = _link_key(link_id, _now())
    client = _redis()
    if client is not None:
        client.delete(*(cache.make_key(key) for key in keys))
        client.eval(_GIVE_BACK, 1, cache.make_key(link_key))
        return
    with _file_lock():
        cache.delete_many(keys)
        taken = cache.get(link_key, 0)
        if taken > 0:
            cache.set(link_key, taken - 1, timeout=LINK_KEY_SECONDS)
