"""Celery tasks for people: safe to run twice."""

import logging

from celery import shared_task

from portal.core.errors import Conflict
from portal.people.directory import config

logger = logging.getLogger(__name__)


@shared_task(name="people.ldap_sync")
def ldap_sync() -> dict | None:
    """The scheduled full LDAP sync (PORTAL_LDAP_SYNC_MINUTES). A directory
    that does not answer changes nothing and is tried again next time; a
    sync still running makes this run a no-op."""
    if not config.enabled():
        return None
    from portal.people.directory.services import directory_sync

    try:
        return directory_sync(actor=None).as_details()
    except Conflict as exc:
        logger.info("LDAP sync skipped: %s", exc.message)
        return None
