"""Access changes reach open co-editing connections at once, not only at
their next periodic re-check. In the transaction of an event that can take
someone's right to a file away (or change what they may do), the space's
participants are marked unchecked, so the server stores none of their
updates until it has looked their right up again; once it commits, the
co-editing servers are told (Redis) to re-check those connections now."""

from __future__ import annotations

import functools
import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.audit.actions import Action
from portal.audit.models import AuditEvent
from portal.audit.signals import events_recorded

logger = logging.getLogger(__name__)

# Events that can take someone's right to edit away: in their own transaction, the space's co-editing
# connections store nothing more until checked again.
RIGHTS_TAKEN = frozenset({
    Action.MEMBER_REMOVED, Action.MEMBER_ROLE_CHANGED, Action.SPACE_GROUP_REMOVED, Action.SPACE_GROUP_ROLE_CHANGED,
    Action.GROUP_MEMBER_REMOVED, Action.GROUP_DELETED, Action.SPACE_ARCHIVED, Action.SPACE_TRASHED,
    Action.USER_DISABLED, Action.SHARE_CHANGED, Action.SHARE_DISABLED, Action.SHARE_REVOKED, Action.SHARE_EXPIRED,
    Action.NODE_UNSHARED, Action.NODE_SHARE_CHANGED, Action.PASSWORD_RESET_DONE,
})
# Events after which the servers look again at once (a file moved to the trash or away from its readers, a lock
# taken or gone): a file being edited cannot be moved or deleted (its coedit locks refuse it), so these concern
# followers, who store nothing anyway.
ACCESS_CHANGES = RIGHTS_TAKEN | {Action.FILE_DELETED, Action.FILE_MOVED, Action.LOCK_ACQUIRED, Action.LOCK_RELEASED,
                                 Action.LOCK_BROKEN, Action.LOCK_EXPIRED}


@receiver(events_recorded, sender=AuditEvent, dispatch_uid="collab_access_changed_many")
def _many_changed(sender, events: list[AuditEvent], **kwargs):
    for event in events:
        _access_changed(sender, event, created=True)


@receiver(post_save, sender=AuditEvent, dispatch_uid="collab_access_changed")
def _access_changed(sender, instance: AuditEvent, created: bool, raw: bool = False, **kwargs):
    if not created or raw or instance.action not in ACCESS_CHANGES:
        return
    if instance.action in RIGHTS_TAKEN:
        from portal.collab.services import participants_recheck

        # In the change's own transaction: no update of those connections is stored until they are checked again.
        participants_recheck(space_id=instance.space_id)
    if settings.REDIS_URL:
        transaction.on_commit(functools.partial(recheck_publish, instance.space_id))


@functools.cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def recheck_publish(space_id: int | None) -> None:
    """Ask every co-editing server to re-check its connections to ``space_id`` (None: all of them, e.g. after
    an account or a group changed). Best effort: the periodic re-check catches anything lost."""
    from portal.collab.server.bus import recheck_channel

    try:
        _redis().publish(recheck_channel(), str(space_id or 0))
    except Exception:  # Redis away: the periodic re-check still comes within COEDIT_RECHECK_SECONDS
        logger.warning("co-editing: could not ask the servers to re-check space %s", space_id, exc_info=True)
