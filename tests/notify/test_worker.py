"""The whole path on a real Celery worker and real commits: an audit event
committed by a service reaches the worker, which writes the notification."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker

from portal.celery import app
from portal.notify import tasks  # noqa: F401  (registers the notify tasks with the worker)
from portal.notify.models import Kind, Notification
from portal.spaces.services import member_add, space_create

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_committed_event_is_dispatched_by_a_worker(alice, bob):
    space = space_create(actor=alice, name="Legal")
    app.control.purge()  # tasks earlier tests queued in this Redis database for events long gone
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        member_add(actor=alice, space_id=space.pk, username="bob", role="viewer")
        deadline = time.monotonic() + 60
        while not Notification.objects.filter(user=bob).exists():
            assert time.monotonic() < deadline, "no worker dispatched the event within 60 s"
            time.sleep(0.1)  # polling the worker thread's effect until the deadline
    assert Notification.objects.get(user=bob).kind == Kind.SPACE_ADDED
