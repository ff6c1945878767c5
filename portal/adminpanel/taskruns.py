"""A record of every run of a beat-scheduled task (``TaskRun``), for the
admin's maintenance page: Celery's signals around each task, filtered to the
task names in ``CELERY_BEAT_SCHEDULE``. Connected in ``AdminPanelConfig.ready``.
The model stays in the audit app (table ``audit_taskrun``, admin page
/admin/audit/taskrun/); only the code that writes and shows it lives here."""

from __future__ import annotations

import logging

from celery.signals import task_failure, task_postrun, task_prerun
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from portal.audit.models import TaskOutcome, TaskRun

logger = logging.getLogger(__name__)
DETAIL_MAX = 2000


def scheduled_names() -> set[str]:
    return {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def _name(sender) -> str | None:
    name = getattr(sender, "name", None)
    return name if name in scheduled_names() else None


def _task_id(task_id, task) -> str:
    return str(task_id or getattr(getattr(task, "request", None), "id", None) or "")


def _safely(write) -> None:
    """Bookkeeping never breaks the task it watches."""
    try:
        write()
    except DatabaseError:
        logger.warning("could not record a task run", exc_info=True)


def on_prerun(sender=None, task_id=None, task=None, **_):
    name = _name(sender or task)
    if name:
        _safely(lambda: TaskRun.objects.create(name=name, task_id=_task_id(task_id, task)))


def _finish(name: str, task_id: str, outcome: str, detail: str) -> None:
    run = TaskRun.objects.filter(name=name, task_id=task_id, finished_at__isnull=True).order_by("-id").first() \
        if task_id else None
    if run is None:
        run = TaskRun(name=name, task_id=task_id)
    run.finished_at, run.outcome, run.detail = timezone.now(), outcome, detail[:DETAIL_MAX]
    run.save()


def on_postrun(sender=None, task_id=None, task=None, retval=None, state=None, **_):
    name = _name(sender or task)
    if not name or state == "FAILURE":  # on_failure recorded it, with the error
        return
    _safely(lambda: _finish(name, _task_id(task_id, task), TaskOutcome.OK, "" if retval is None else repr(retval)))


def on_failure(sender=None, task_id=None, exception=None, **_):
    name = _name(sender)
    if name:
        _safely(lambda: _finish(name, _task_id(task_id, sender), TaskOutcome.FAILED,
                                f"{type(exception).__name__}: {exception}"))


def connect() -> None:
    task_prerun.connect(on_prerun, weak=False, dispatch_uid="portal.adminpanel.taskruns.prerun")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid="portal.adminpanel.taskruns.postrun")
    task_failure.connect(on_failure, weak=False, dispatch_uid="portal.adminpanel.taskruns.failure")
