import json
import socket

import pytest
import redis
from django.conf import settings

from portal.celery import app


def queued_ids() -> list[str]:
    """Ids of the messages waiting in the broker's default queue."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    return [json.loads(raw)["headers"]["id"] for raw in client.lrange("celery", 0, -1)]


def use_broker(url: str) -> None:
    """Point this process's Celery at ``url`` (its pooled connections dropped)."""
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url


def dead_broker_url() -> str:
    with socket.socket() as probe:   # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def empty_queue():
    app.control.purge()
    yield
    app.control.purge()


@pytest.fixture
def broker_down():
    """The broker refuses connections until the test calls the returned ``restore``."""
    original = app.conf.broker_url
    use_broker(dead_broker_url())
    yield lambda: use_broker(original)
    use_broker(original)
