"""A real Celery worker on the Redis broker consumes the portal's tasks."""

import secrets
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache

from portal.celery import app
from portal.core.tasks import ping

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def empty_queue():
    """What earlier tests queued (thousands of follow-up tasks over the session) is not these tests' to
    wait behind: the worker starts on an empty queue."""
    app.control.purge()


def test_a_worker_on_redis_runs_a_queued_task():
    from django.conf import settings

    assert app.conf.broker_url == settings.REDIS_URL
    key = f"ping-{secrets.token_hex(8)}"
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        ping.delay(key)
        deadline = time.monotonic() + 30
        while cache.get(key) is None:
            assert time.monotonic() < deadline, "no worker ran the task within 30 s"
            time.sleep(0.1)  # polling the worker thread's effect until the deadline
    assert cache.get(key) == "pong"


def test_fan_out_sends_one_message_that_a_worker_turns_into_one_task_per_id():
    from portal.core.tasks import fan_out

    keys = [f"fan-{secrets.token_hex(8)}" for _ in range(5)]
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        fan_out("core.ping", keys)
        deadline = time.monotonic() + 30
        while any(cache.get(key) is None for key in keys):
            assert time.monotonic() < deadline, "the fanned-out tasks did not all run within 30 s"
            time.sleep(0.1)  # polling the worker thread's effect until the deadline
    assert [cache.get(key) for key in keys] == ["pong"] * 5


@app.task(name="tests.database_gone_once", bind=True)
def database_gone_once(self, key: str, port: int) -> None:
    if not self.request.retries:  # the first run finds no PostgreSQL server where it should be
        import psycopg

        psycopg.connect(f"postgresql://coffer@127.0.0.1:{port}/coffer", connect_timeout=2)
    cache.set(key, self.request.retries, 60)


def test_a_task_cut_off_by_a_database_outage_runs_again_seconds_later():
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = f"gone-{secrets.token_hex(8)}"
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        database_gone_once.delay(key, port)
        deadline = time.monotonic() + 30
        while cache.get(key) is None:
            assert time.monotonic() < deadline, "the task was not run again within 30 s"
            time.sleep(0.1)  # polling the worker thread's effect until the deadline
    assert cache.get(key) == 1
