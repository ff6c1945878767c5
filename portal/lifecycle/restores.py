"""Restores from archive tiers, once their time has come: the blob is
readable for RESTORE_KEEP_DAYS, and everyone who asked is told (if they
may still read the file)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from portal.audit.actions import Action
from portal.audit.services import record
from portal.core.access import Cap
from portal.core.errors import Forbidden, NotFound
from portal.files.selectors import locate_node
from portal.lifecycle.models import BlobRestore, RestoreState
from portal.notify.dispatch import node_url, notify
from portal.notify.models import Kind


def restores_finish(*, now=None) -> dict[str, int]:
    """Mark due restores ready and tell who waited; forget restores whose
    readable time is over (the next read asks again)."""
    now = now or timezone.now()
    ready = 0
    for restore_id in list(BlobRestore.objects.filter(state=RestoreState.PENDING, ready_at__lte=now)
                           .values_list("pk", flat=True)[:500]):
        ready += _finish(restore_id, now=now)
    expired, _ = BlobRestore.objects.filter(state=RestoreState.READY, until__lte=now).delete()
    return {"ready": ready, "expired": expired}


@transaction.atomic
def _finish(restore_id: int, *, now) -> int:
    restore = BlobRestore.objects.select_for_update().filter(pk=restore_id, state=RestoreState.PENDING).first()
    if restore is None:
        return 0
    restore.state = RestoreState.READY
    restore.save(update_fields=["state"])
    waiters = list(restore.waiters.select_related("user", "node"))
    record(action=Action.BLOB_RESTORED, target=waiters[0].node if waiters else None,
           details={"blob": restore.blob_id, "tier": restore.tier, "waiting": len(waiters)})
    for waiter in waiters:
        try:  # told only if they may still read it
            located = locate_node(waiter.user, waiter.node_id, Cap.FILE_READ)
        except (NotFound, Forbidden):
            continue
        notify(waiter.user, kind=Kind.FILE_READY, key=f"restored:{restore.pk}:{int(restore.ready_at.timestamp())}",
               params={"name": located.node.name}, url=node_url(located.node))
    restore.waiters.all().delete()
    return 1
