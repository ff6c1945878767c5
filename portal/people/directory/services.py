"""Writes from the LDAP directory, all audited, all as the system (their
events name "ldap" as the actor):

- ``directory_user_signed_in``: an account brought up to date when its
  owner signs in through the directory (identity, attributes, groups).
- ``directory_sync``: the full sync (beat, ``manage.py ldap_sync``): reads
  the whole directory first (so a directory that does not answer changes
  nothing), then creates, links, updates, enables and disables accounts and
  mirrors groups, in batches of one transaction each. Every batch leaves
  the database consistent, and the next run picks up where a failed one
  stopped. One ``directory.synced`` event sums it up.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext

from portal.accounts.models import User
from portal.audit import context
from portal.audit.actions import Action
from portal.audit.models import Outcome
from portal.audit.services import record
from portal.core.access import is_admin
from portal.core.errors import Conflict, Forbidden
from portal.people.directory import config as directory_config
from portal.people.directory import reader
from portal.people.directory.config import SYSTEM_LABEL, DirectoryUnavailable
from portal.people.directory.plan import SyncReport, sync_apply
from portal.people.models import ExternalIdentity, GroupSource
from portal.people.services import group_ensure, user_groups_set

logger = logging.getLogger(__name__)

LOCK_KEY = "people:ldap-sync:running"
LOCK_SECONDS = 3600


@contextmanager
def as_directory():
    """Events written inside name the directory as their actor."""
    now = context.current()
    token = context.bind(context.RequestContext(ip=now.ip, user_agent=now.user_agent, system_label=SYSTEM_LABEL))
    try:
        yield
    finally:
        context.unbind(token)


@transaction.atomic
def directory_user_signed_in(*, user: User, person: reader.Person, created: bool,
                             groups: list[tuple[str, str]] | None) -> User:
    """The system, when ``user`` signed in through the directory as
    ``person``: the account is linked to the entry (ExternalIdentity), takes
    its attributes and (``groups``: (subject, name) of each of the person's
    groups, nested ones included) exactly its mirrored groups."""
    with as_directory():
        if created:
            ExternalIdentity.objects.create(user=user, source=GroupSource.LDAP, subject=person.subject)
            record(action=Action.USER_CREATED, actor=None, target=user,
                   details={"superuser": False, "source": GroupSource.LDAP, "subject": person.subject})
        elif not ExternalIdentity.objects.filter(source=GroupSource.LDAP, user=user).exists():
            ExternalIdentity.objects.create(user=user, source=GroupSource.LDAP, subject=person.subject)
            record(action=Action.DIRECTORY_USER_LINKED, actor=None, target=user,
                   details={"subject": person.subject, "dn": person.dn})
        changed = sorted(name for name, value in person.fields.items() if getattr(user, name) != value)
        if changed and not created:
            for name in changed:
                setattr(user, name, person.fields[name])
            user.save(update_fields=changed)
            record(action=Action.DIRECTORY_USER_UPDATED, actor=None, target=user,
                   details={"fields": ", ".join(changed)})
        if groups is not None:
            mirrored = [group_ensure(actor=None, source=GroupSource.LDAP, external_id=subject, name=name)
                        for subject, name in groups]
            user_groups_set(actor=None, user=user, groups=mirrored, source=GroupSource.LDAP)
    return user


def directory_sync(*, actor=None) -> SyncReport:
    """The system (beat, the command) or an administrator runs the full
    sync; changes are the directory's (actor "ldap"), the summary names who
    ran it. Raises DirectoryUnavailable (nothing changed) when the directory
    cannot be read, Conflict while another sync runs."""
    if actor is not None and not is_admin(actor):
        raise Forbidden(gettext("Only administrators synchronise the directory."))
    config = directory_config.load()
    if not cache.add(LOCK_KEY, time.time(), LOCK_SECONDS):
        raise Conflict(gettext("A directory sync is already running; try again when it has finished."),
                       code="directory_sync_running")
    started, cpu = time.monotonic(), time.process_time()
    try:
        with as_directory():
            directory = reader.read(config)
            read_seconds = time.monotonic() - started
            report = sync_apply(config, directory)
            report.steps = {"read": round(read_seconds, 3), **report.steps}
    except Exception as exc:  # audited, then raised as it was
        _failed(actor, config, exc, started)
        raise
    finally:
        cache.delete(LOCK_KEY)
    report.seconds = round(time.monotonic() - started, 3)
    report.steps["cpu"] = round(time.process_time() - cpu, 3)  # this process's share: the rest is waiting
    record(action=Action.DIRECTORY_SYNCED, actor=actor, target_label=config.uri, details=report.as_details())
    logger.info("LDAP sync: %s", report.as_details())
    return report


def _failed(actor, config, exc: Exception, started: float) -> None:
    """The failure is audited on its own (what a failed batch wrote rolled back)."""
    message = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    logger.warning("LDAP sync failed: %s", message)
    record(action=Action.DIRECTORY_SYNCED, actor=actor, target_label=config.uri, outcome=Outcome.FAILURE,
           details={"error": message[:1000], "code": getattr(exc, "code", type(exc).__name__),
                    "seconds": round(time.monotonic() - started, 3)})


__all__ = ["DirectoryUnavailable", "SyncReport", "directory_sync", "directory_user_signed_in"]
