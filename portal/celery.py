import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
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
