"""A real Celery worker on the Redis broker consumes the portal's tasks."""

import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app
from portal.core.tasks import ping

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_worker_on_redis_runs_a_queued_task():
    from django.conf import settings

    assert app.conf.broker_url == settings.REDIS_URL
    app.conf.result_backend = settings.REDIS_URL
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            assert ping.apply_async(ignore_result=False).get(timeout=30) == "pong"
    finally:
        app.conf.result_backend = None
