import os

import celery
from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# A task cut off by a database outage runs again after 5, 10, 20 ... 300 s, this many times (about 40 min).
DATABASE_OUTAGE_RETRIES = 12


class Task(celery.Task):
    """Every Coffer task. One that PostgreSQL stopped answering to (portal.core.outage: the server is gone,
    not a query that failed) is queued again with a growing delay instead of failing: otherwise its work
    (a hash, a scan, a seal) would wait for the outbox's redelivery window. Tasks are safe to run twice."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            from portal.core.outage import outage_of

            if outage_of(exc) != "PostgreSQL" or self.request.called_directly or self.request.is_eager:
                raise
            retries = self.request.retries
            raise self.retry(exc=exc, countdown=min(5 * 2 ** retries, 300),
                             max_retries=max(self.max_retries or 0, DATABASE_OUTAGE_RETRIES)) from exc


app = Celery("portal", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_djangos_logging(loglevel=None, **kwargs):
    """The worker and beat log through settings.LOGGING, as the portal does: the
    same line format (timestamps, or JSON lines), tokens redacted. Celery then
    leaves the root logger alone; ``--loglevel`` still sets its level."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
