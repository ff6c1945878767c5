"""portal.beat: beat on several hosts with one active, against a Redis of the test's own (the broker
and RedBeat's schedule and lock), with a one-entry schedule of a Celery app of its own."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from celery import Celery

from portal.beat import OUTAGE_RETRY_SECONDS, Scheduler

LOCK = "redbeat::lock"


def beat_app(url: str, every: float) -> Celery:
    app = Celery("beat-test", broker=url, set_as_current=False)
    app.conf.update(beat_schedule={"ping": {"task": "core.ping", "schedule": every}}, redbeat_redis_url=url,
                    redbeat_redis_options={"socket_connect_timeout": 1, "socket_timeout": 2},
                    redbeat_lock_timeout=5, beat_max_loop_interval=0.2, task_always_eager=False)
    return app


def sent(url: str) -> int:
    return redis.Redis.from_url(url).llen("celery")


def until(what: str, done, deadline: float = 10):
    end = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < end, f"{what}: not within {deadline} s"
        time.sleep(0.05)  # polling a thread or a queue until its deadline


@pytest.fixture
def url(private_redis):
    return private_redis.url()


def ticks_until_sent(beat: Scheduler, url: str, count: int) -> None:
    until(f"{count} message(s) sent", lambda: beat.tick() is not None and sent(url) >= count)
    assert sent(url) == count


def test_a_second_beat_waits_for_the_lock_the_first_holds_and_runs_the_schedule_once_it_stops(url):
    first, second = Scheduler(app=beat_app(url, 1)), Scheduler(app=beat_app(url, 1))
    ticks_until_sent(first, url, 1)  # a new entry first runs one interval after it is written
    assert first.lock.owned()

    ticked = threading.Event()
    waiting = threading.Thread(target=lambda: (second.tick(), ticked.set()), daemon=True)
    waiting.start()
    assert not ticked.wait(1.5)  # blocked on the lock the first holds, although the entry is due
    assert sent(url) == 1
    first.close()  # a stopped beat releases the lock at once
    until("the second beat takes the lock", ticked.is_set)
    assert second.lock.owned() and not first.lock
    ticks_until_sent(second, url, 2)
    second.close()


def test_a_beat_that_lost_its_lock_sends_nothing_until_it_holds_it_again(url):
    beat = Scheduler(app=beat_app(url, 0.2))
    ticks_until_sent(beat, url, 1)
    client = redis.Redis.from_url(url)
    client.set(LOCK, "another-beat", px=60_000)  # it expired and another beat took it
    time.sleep(0.3)  # the entry (every 0.2 s) is due again
    assert beat.tick() == 0 and beat.lock is None
    assert sent(url) == 1
    client.delete(LOCK)  # the other beat stopped
    ticks_until_sent(beat, url, 2)
    assert beat.lock.owned()
    beat.close()


def test_a_beat_rides_out_a_redis_outage_and_writes_its_schedule_into_an_emptied_redis(url, private_redis):
    beat = Scheduler(app=beat_app(url, 3600))
    beat.tick()
    private_redis.stop()
    assert beat.tick() == OUTAGE_RETRY_SECONDS  # no exception: the process stays up
    private_redis.start()  # empty: no persistence, the lock and the schedule are gone
    assert beat.tick() == 0 and beat.lock is None  # its lock is gone: wait for it (here: take it at once)
    beat.tick()
    assert beat.lock.owned()
    assert redis.Redis.from_url(url).exists("redbeat::schedule", "redbeat:ping") == 2
    beat.close()
