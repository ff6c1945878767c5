"""Queueing follow-up work through the outbox, publishing it, and the relay.

Who may call: any service, inside the transaction whose change wants the
follow-up (``enqueue``); the beat task ``outbox.relay`` (``relay``).
"""

from __future__ import annotations

import functools
import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import KombuError

from portal.outbox.commit import Pending
from portal.outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

HEADER = "portal_outbox"   # marks messages whose row the worker deletes once the task has run
MAX_ATTEMPTS = 5           # a message the broker took this often and that never ran is left for an operator
RELAY_BATCH = 500


def enqueue(task, *args, countdown: float | None = None, using: str = "default") -> None:
    """Run ``task(*args)`` (a Celery task or its name) once the current
    transaction commits, even if the broker is down then: the call is written
    in the transaction and relayed later if needed. Outside a transaction
    (an audited read, a callback after a commit) there is no change to join:
    the call is published at once and written only if the broker refuses it."""
    enqueue_many(task, [args], countdown=countdown, using=using)


def enqueue_many(task, calls: list, *, countdown: float | None = None, using: str = "default") -> None:
    """``enqueue`` for many argument tuples of one task (one INSERT at commit)."""
    name = getattr(task, "name", task)
    if not calls:
        return
    if current_app.conf.task_always_eager:   # no broker to outlive: run them on commit, as Celery would
        for args in calls:
            transaction.on_commit(functools.partial(_apply_eagerly, name, tuple(args), countdown), using=using)
        return
    now = timezone.now()
    due = now + timedelta(seconds=countdown) if countdown else now
    # Written as accepted by the broker (one INSERT, no UPDATE on the happy
    # path); a refused publish sets sent_at back to None for the relay.
    messages = [OutboxMessage(task=name, args=list(args), created_at=now, due_at=due, sent_at=now, attempts=1)
                for args in calls]
    if connections[using].in_atomic_block:
        for message in messages:
            transaction.on_commit(Pending(message), using=using)
        return
    sent = {message.pk for message in publish(messages)}
    refused = [message for message in messages if message.pk not in sent]
    for message in refused:
        message.sent_at, message.attempts = None, 0
    OutboxMessage.objects.using(using).bulk_create(refused)


def _task(name: str):
    """The registered task, None if no app defines it; tasks modules are
    imported on first need (a web process imports only those it uses)."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks.get(name)


def _apply_eagerly(name: str, args: tuple, countdown: float | None) -> None:
    _task(name)
    task = current_app.tasks[name]
    if countdown:
        task.apply_async(args, countdown=countdown)
    else:
        task.delay(*args)


@functools.cache
def broker_errors() -> tuple[type[BaseException], ...]:
    connection = current_app.connection_for_write()
    return (KombuError, OSError, *connection.connection_errors, *connection.channel_errors)


def publish(messages: list[OutboxMessage]) -> list[OutboxMessage]:
    """Hand ``messages`` to the broker over one connection; the ones it took.
    Stops at the first broker error, logged as one warning line."""
    sent: list[OutboxMessage] = []
    now = timezone.now()
    try:
        with current_app.producer_or_acquire() as producer:
            # One quick try: kombu's own connection retries hold a request for seconds.
            producer.connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.1,
                                                  interval_max=0.1)
            for message in messages:
                _send(message, producer, now)
                sent.append(message)
    except broker_errors() as exc:
        logger.warning("broker unavailable: %d follow-up task(s) stay in the outbox for the relay (%s: %s)",
                       len(messages) - len(sent), type(exc).__name__, exc)
    return sent


def _send(message: OutboxMessage, producer, now) -> None:
    options = {"task_id": str(message.pk), "producer": producer, "retry": False, "headers": {HEADER: True}}
    if message.due_at > now:
        options["eta"] = message.due_at
    task = _task(message.task)
    if task is None:   # no app here defines it (a worker of another version may)
        current_app.send_task(message.task, args=message.args, **options)
    else:
        task.apply_async(message.args, **options)


def publish_committed(messages: list[OutboxMessage], *, using: str, written: bool) -> None:
    """After a commit: publish; what the broker refused waits for the relay."""
    sent = {message.pk for message in publish(messages)}
    refused = [message.pk for message in messages if message.pk not in sent]
    if not refused or not written:
        return
    try:
        OutboxMessage.objects.using(using).filter(pk__in=refused).update(sent_at=None, attempts=0)
    except DatabaseError as exc:   # the rows still go out, after the redelivery window
        logger.warning("could not mark %d follow-up(s) as unsent: %s", len(refused), exc)


def relay(*, batch: int = RELAY_BATCH) -> int:
    """Publish the messages the broker never took, and again those it took
    longer ago than PORTAL_OUTBOX_REDELIVER_MINUTES that no worker started
    (lost with a Redis restart), or that a worker started so long ago that
    the broker would have handed them to another one by now had it kept
    them (PORTAL_TASK_REDELIVERY_SECONDS: the worker died and Redis lost
    the message). Rows locked by another relay are skipped. Returns how
    many were published."""
    now = timezone.now()
    stale = now - timedelta(minutes=settings.OUTBOX_REDELIVER_MINUTES)
    abandoned = stale - timedelta(seconds=settings.TASK_REDELIVERY_SECONDS)
    due = (Q(sent_at__isnull=True) | Q(started_at__isnull=True, sent_at__lt=stale, due_at__lt=stale)
           | Q(started_at__lt=abandoned))
    with transaction.atomic():
        messages = list(OutboxMessage.objects.select_for_update(skip_locked=True)
                        .filter(due, attempts__lt=MAX_ATTEMPTS).order_by("created_at")[:batch])
        sent = [message.pk for message in publish(messages)]
        OutboxMessage.objects.filter(pk__in=sent).update(sent_at=now, started_at=None, attempts=F("attempts") + 1)
    exhausted = [message for message in messages if message.pk in set(sent) and message.attempts + 1 >= MAX_ATTEMPTS]
    for message in exhausted:
        logger.error("outbox message %s (%s) was published %d times and never ran; it is no longer retried",
                     message.pk, message, MAX_ATTEMPTS)
    return len(sent)
