"""Expired locks: the beat task removes them and records lock.expired; a
lock's owner is told when a manager breaks it (and not when it expires)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from portal.audit.actions import Action
from portal.core.errors import Forbidden, NotFound
from portal.locks import tasks
from portal.locks.models import Lock
from portal.locks.services import lock_break, locks_expire
from tests.helpers import events

pytestmark = pytest.mark.django_db


def test_the_beat_task_removes_expired_locks_and_records_each(alice, editor, doc, make_file, root, lock_row):
    now = timezone.now()
    gone = [lock_row(doc, alice, expires_in=timedelta(seconds=-1), now=now),
            lock_row(make_file(root, "b.txt"), editor, expires_in=timedelta(0), now=now)]
    kept = lock_row(make_file(root, "c.txt"), editor, expires_in=timedelta(seconds=1), now=now)
    assert locks_expire(now=now) == 2
    assert list(Lock.objects.all()) == [kept]
    recorded = events(Action.LOCK_EXPIRED)
    assert sorted(event.details["lock"] for event in recorded) == sorted(lock.pk for lock in gone)
    assert all(event.actor is None for event in recorded)
    assert locks_expire(now=now) == 0  # safe to run twice
    assert len(mail.outbox) == 0


def test_the_celery_task_runs_the_expiry(alice, doc, lock_row):
    lock_row(doc, alice, expires_in=timedelta(minutes=-5))
    assert tasks.expire() == 1
    assert not Lock.objects.exists()


def test_beat_schedules_the_expiry(settings):
    assert any(entry["task"] == "locks.expire" for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_breaking_needs_the_capability(alice, editor, bob, doc, lock_row):
    lock = lock_row(doc, alice)
    with pytest.raises(Forbidden):
        lock_break(actor=editor, lock_id=lock.pk)
    with pytest.raises(NotFound):
        lock_break(actor=bob, lock_id=lock.pk)
    with pytest.raises(NotFound):
        lock_break(actor=alice, lock_id="nope")
    assert Lock.objects.filter(pk=lock.pk).exists()
