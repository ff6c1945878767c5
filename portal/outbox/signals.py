"""The worker's side of the outbox: a row goes once its task has run, and a
starting worker asks for a relay (what a dead broker kept may be waiting)."""

from __future__ import annotations

import logging

from celery import states
from celery.signals import task_postrun, task_prerun, worker_ready
from django.db import DatabaseError
from django.utils import timezone

logger = logging.getLogger(__name__)


def _from_outbox(task) -> bool:
    from portal.outbox.services import HEADER

    request = task.request
    return bool(getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER))


@task_prerun.connect
def _mark_started(sender=None, task_id=None, task=None, **kwargs):
    """A task that runs longer than the redelivery window is not published again meanwhile."""
    if task is not None and _from_outbox(task):
        _update(task_id, started_at=timezone.now())


@task_postrun.connect
def _forget_finished(sender=None, task_id=None, task=None, state=None, **kwargs):
    """Succeeded or failed for good: done. A retry keeps the row, as just
    sent (its next message may be lost like the first)."""
    if task is None or not _from_outbox(task):
        return
    if state == states.RETRY:
        _update(task_id, started_at=None, sent_at=timezone.now())
        return
    from portal.outbox.models import OutboxMessage

    try:
        OutboxMessage.objects.filter(pk=task_id).delete()
    except DatabaseError as exc:   # the relay publishes it again after the window; tasks run twice safely
        logger.warning("could not delete outbox row %s: %s", task_id, exc)


def _update(task_id, **fields) -> None:
    from portal.outbox.models import OutboxMessage

    try:
        OutboxMessage.objects.filter(pk=task_id).update(**fields)
    except DatabaseError as exc:
        logger.warning("could not update outbox row %s: %s", task_id, exc)


@worker_ready.connect
def _relay_on_start(sender=None, **kwargs):
    from portal.outbox.services import broker_errors
    from portal.outbox.tasks import relay

    try:
        relay.apply_async(expires=60)
    except broker_errors() as exc:
        logger.warning("could not queue the outbox relay at start: %s", exc)
