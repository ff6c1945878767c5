"""Celery beat on every worker host, exactly one of them active (docs/deploy.md, "Workers and beat on
several hosts"): celery-redbeat keeps the schedule and each entry's last run in Redis, and the active
beat holds the lock ``redbeat::lock``, renewed at every tick, that the others wait for.

RedBeat's own scheduler stops the process when Redis does not answer, or when it finds that its lock
expired and another beat took over (cut off from Redis longer than the lock lives), and sends nothing
once Redis has lost its keys. This one stays up: it retries while Redis is away, goes back to waiting
for the lock when it lost it, and writes the schedule again into an emptied Redis, so a Redis restart
never leaves a deployment without beat."""

from __future__ import annotations

import logging

from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, get_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGE_RETRY_SECONDS = 5


class Scheduler(RedBeatScheduler):
    """RedBeat that outlives a Redis outage and a lost lock (see the module's docstring)."""

    def __init__(self, app, *args, **kwargs):
        # RedBeat reads its settings under their bare names (redbeat_redis_url): name them so, or it
        # warns and drops the client options, since portal/celery.py loads them as CELERY_REDBEAT_*.
        for name in ("redbeat_redis_url", "redbeat_redis_options", "redbeat_lock_timeout"):
            app.conf[name] = app.conf.get(name)
        super().__init__(app, *args, **kwargs)

    def tick(self, *args, **kwargs):
        try:
            if self.lock_key and self.lock is None:
                self._wait_for_lock()
            if not get_redis(self.app).exists(self.app.redbeat_conf.schedule_key):
                # A Redis that lost its data (no persistence, a new server): write the schedule again.
                logger.warning("beat: the schedule is missing from Redis; writing it again")
                self.setup_schedule()
            return super().tick(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("beat: Redis unavailable (%s); trying again in %d s", exc, OUTAGE_RETRY_SECONDS)
            return OUTAGE_RETRY_SECONDS
        except LockError as exc:
            # Not ours any more: another beat runs the schedule. Send nothing until we hold it again.
            logger.warning("beat: lost the lock (%s): it expired while this beat could not renew it; "
                           "waiting for it, as another beat may hold it now", exc)
            self.lock = None
            return 0

    def _wait_for_lock(self) -> None:
        """Block until this beat holds the lock (as redbeat's beat_init handler does at start)."""
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval, thread_local=False)
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)  # extend *to* the timeout
        logger.info("beat: waiting for the lock %s", self.lock_key)
        lock.acquire()
        logger.info("beat: Acquired lock")
        self.lock = lock
